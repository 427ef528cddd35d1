"""Hostile input against the real binary: case names that try to act in report.html, report.md,
junit.xml and the terminal, or to share a file; numbers that never end a load run; pki specs and
output directories that try to write outside --out or leave half a PKI; files that follow the umask
or a symlink. Every run is bounded by a subprocess timeout."""
import copy
import json
import os
import re
import urllib.parse
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from conftest import FED, ROOT

HOSTILE = '"><svg onload=alert(1)>\x1b[31mred\x1b]0;title\x07\u009b2J|*_`<b>'


def scenario(tmp_path, cases, matrix=None):
    doc = copy.deepcopy(FED)
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    doc.pop("matrix", None)
    if matrix is not None:
        doc["matrix"] = matrix
    doc["cases"] = cases
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    return path


def one_case(name, **extra):
    return {"name": name, "target": "location-a", "identity": "location-b", "version": "1.3",
            **extra}


def no_raw_controls(text):
    """True when |text| holds no C0 control but newline and tab, no DEL and no C1 control."""
    return not re.search(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]", text)


@pytest.fixture(scope="module")
def hostile_run(harness, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    # The hostile case fails (it expects a rejection), so the terminal shows its name, expectation
    # and outcome; a/b and a_b must get files of their own.
    cases = [one_case(HOSTILE, expect={"result": "reject"}), one_case("a/b"), one_case("a_b")]
    path = scenario(tmp, cases)
    out = tmp / "out"
    r = subprocess_run([harness, "run", path, "--out", out, "--profiles", ROOT / "profiles"])
    return r, out


def subprocess_run(args, timeout=180):
    import subprocess
    return subprocess.run([str(a) for a in args], capture_output=True, timeout=timeout)


def test_hostile_case_name_cannot_act_in_report_html(hostile_run):
    r, out = hostile_run
    assert r.returncode == 1, r.stdout + r.stderr
    html = (out / "report.html").read_text()
    assert "<svg" not in html and "<b>" not in html
    assert no_raw_controls(html)

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.links, self.tags = [], set()

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)
            if tag == "a":
                self.links.append(dict(attrs)["href"])

    p = Links()
    p.feed(html)
    assert "svg" not in p.tags
    # Every link names a file that is there, and no two cases share one.
    files = [urllib.parse.unquote(h) for h in p.links if h.endswith(".log")]
    assert all((out / f).is_file() for f in files)
    report = json.loads((out / "report.json").read_text())
    logs = {c["log"] for c in report["cases"]}
    assert len(logs) == 3 and logs == set(files)


def test_hostile_case_name_cannot_act_in_markdown_junit_or_logs(hostile_run):
    _, out = hostile_run
    md = (out / "report.md").read_text()
    # The rerun command is in a fenced block, which Markdown shows as it is (a '<' there is text):
    # one printable line, which no fence can close. Outside it, nothing can act.
    blocks = re.findall(r"\n```sh\n(.*?)\n```\n", md, re.S)
    assert len(blocks) == 1 and "\n" not in blocks[0] and not blocks[0].startswith("`")
    prose = re.sub(r"\n```sh\n.*?\n```\n", "\n", md, flags=re.S)
    assert no_raw_controls(md) and "<svg" not in prose and "<b>" not in prose
    # The Markdown characters are escaped: the name cannot break out of its table cell.
    assert "\\|\\*\\_\\`" in md and "\\x1b\\[31mred" in md
    junit = (out / "junit.xml").read_text()
    ET.fromstring(junit)  # well-formed XML 1.0: no forbidden control character
    assert no_raw_controls(junit) and "<svg" not in junit
    for log in (out / "cases").glob("*.log"):
        assert no_raw_controls(log.read_text())


def test_hostile_case_name_rerun_command_reproduces_it(hostile_run):
    import shlex
    _, out = hostile_run
    md = (out / "report.md").read_text()
    cmd = re.findall(r"\n```sh\n(.*?)\n```\n", md, re.S)[0]
    args = shlex.split(cmd)
    rerun_out = args[args.index("--out") + 1]
    r = subprocess_run(args)
    assert r.returncode == 1, r.stdout + r.stderr
    again = json.loads((out / "rerun").joinpath(os.path.basename(rerun_out), "report.json")
                       .read_text())
    assert [(c["id"], c["verdict"]) for c in again["cases"]] == [(HOSTILE, "unexpected-accept")]


def test_hostile_case_name_cannot_act_on_the_terminal(hostile_run):
    r, _ = hostile_run
    assert b"\x1b" not in r.stdout and b"\xc2\x9b" not in r.stdout and b"\x07" not in r.stdout
    assert b"\\x1b[31mred" in r.stdout


def test_a_case_name_too_long_for_a_file_is_refused_by_check(mh, tmp_path):
    path = scenario(tmp_path, [one_case("x" * 252)])
    r = mh("check", path)
    assert r.returncode == 2
    assert "$.cases[0].name" in r.stderr and "at most 200" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_matrix_too_long_for_a_file_is_refused_by_check(mh, tmp_path):
    # A location of the matrix with a long name: its cases' file names would not fit.
    doc = copy.deepcopy(FED)
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    text = json.dumps(doc).replace('"location-a"', '"' + "a" * 240 + '"')
    path = tmp_path / "s.json"
    path.write_text(text)
    r = mh("check", path)
    assert r.returncode == 2 and "$.matrix." in r.stderr and "at most 200" in r.stderr, r.stderr


def test_an_explicit_case_cannot_take_a_matrix_case_name(mh, tmp_path):
    path = scenario(tmp_path, [one_case("location-a/none/tls1.3")], matrix=FED["matrix"])
    r = mh("check", path)
    assert r.returncode == 2 and "$.cases[0].name" in r.stderr and "matrix case" in r.stderr


def test_a_rate_no_host_reaches_ends_on_time_with_drops_counted(mh, tmp_path):
    # At 1e12/s the schedule plans more arrivals than any loop could visit one by one: they are
    # dropped in bulk, and the run ends within a bound (the subprocess timeout), not never.
    out = tmp_path / "out"
    r = mh("load", ROOT / "scenarios/federation.json", "--location", "location-a", "--rate", "1e12",
           "--duration", "1", "--timeout-ms", "1000", "--out", out, "--quiet", timeout=90)
    assert r.returncode in (0, 1), r.stderr
    c = json.loads((out / "report.json").read_text())["counts"]
    assert c["planned"] == c["started"] + c["dropped"]
    assert c["dropped"] > 10**11 and c["planned"] >= 10**12 - 2


@pytest.mark.parametrize("option,value", [
    ("--rate", "nan"), ("--rate", "inf"), ("--bad-share", "nan"), ("--resume-share", "-nan"),
    ("--duration", "nan"), ("--sweep-p99-ms", "infinity"), ("--rate", "1e13"),
])
def test_load_refuses_numbers_that_are_not_finite(mh, tmp_path, option, value):
    r = mh("load", ROOT / "scenarios/federation.json", "--location", "location-a", option, value,
           "--out", tmp_path / "out", "--quiet")
    assert r.returncode == 2 and not (tmp_path / "out").exists()
    err = r.stderr.strip()
    assert "\n" not in err and f"{option} takes" in err, err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "", "1x"])
def test_serve_refuses_a_duration_that_is_not_finite(mh, tmp_path, value):
    r = mh("serve", ROOT / "scenarios/federation.json", "--fixtures", tmp_path / "fx",
           "--ephemeral-ports", "--events", tmp_path / "ev.jsonl", "--for", value, timeout=30)
    assert r.returncode == 2 and "--for takes a number of seconds above 0" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["location-a:nan:1", "location-a:1:nan", "location-a:inf:1",
                                   "location-a:1:inf"])
def test_serve_refuses_an_outage_that_is_not_finite(mh, tmp_path, value):
    r = mh("serve", ROOT / "scenarios/federation.json", "--fixtures", tmp_path / "fx",
           "--ephemeral-ports", "--events", tmp_path / "ev.jsonl", "--for", "1", "--outage", value,
           timeout=30)
    assert r.returncode == 2 and "expected LOCATION:START_SECONDS:DURATION_SECONDS" in r.stderr


PKI_SPEC = {"cas": [{"name": "root", "key_file": "ca/root-key.pem"}],
            "identities": [{"name": "leaf", "ca": "root"}]}


@pytest.mark.parametrize("cert_file", [".", "a/./b.pem", "a//b.pem", "", "a/..", "ca/x/.."])
def test_pki_refuses_a_path_that_is_not_a_file_name_and_writes_nothing(mh, tmp_path, cert_file):
    spec = copy.deepcopy(PKI_SPEC)
    spec["identities"][0]["cert_file"] = cert_file
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    r = mh("pki", path, "--out", tmp_path / "out")
    assert r.returncode == 2 and "$.identities[0].cert_file" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_pki_refuses_a_path_used_as_file_and_directory(mh, tmp_path):
    spec = copy.deepcopy(PKI_SPEC)
    spec["identities"][0]["cert_file"] = "ca"  # the CA key goes to ca/root-key.pem
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    r = mh("pki", path, "--out", tmp_path / "out")
    assert r.returncode == 2 and "inside it as a directory" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_pki_never_writes_a_ca_key_through_a_symlink_in_out(mh, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "ca").symlink_to(outside)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(PKI_SPEC))
    r = mh("pki", path, "--out", out)
    assert r.returncode != 0 and "symbolic link" in r.stderr, r.stderr
    assert list(outside.iterdir()) == []  # the target outside stays empty
    assert sorted(p.name for p in out.iterdir()) == ["ca"]  # and nothing was left in --out


def test_pki_never_reads_a_ca_key_through_a_symlink(mh, tmp_path):
    out = tmp_path / "out"
    (out / "ca").mkdir(parents=True)
    (out / "ca" / "root-key.pem").symlink_to(tmp_path / "elsewhere.pem")
    (tmp_path / "elsewhere.pem").write_text("not a key")
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(PKI_SPEC))
    r = mh("pki", path, "--out", out)
    assert r.returncode != 0 and "symbolic link" in r.stderr, r.stderr
    assert (tmp_path / "elsewhere.pem").read_text() == "not a key"


def run_quick(harness, out, *args, env=None):
    import subprocess
    return subprocess.run([str(harness), "run", str(ROOT / "scenarios/federation.json"), "--out",
                           str(out), "--filter", "location-a/location-b/tls1.3", "--quiet", *args],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=120)


def test_events_jsonl_is_0644_whatever_the_umask(harness, tmp_path):
    old = os.umask(0)
    try:
        r = run_quick(harness, tmp_path / "out")
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stdout + r.stderr
    import stat
    assert stat.S_IMODE((tmp_path / "out" / "events.jsonl").stat().st_mode) == 0o644


def test_keylog_option_refuses_a_symlink(harness, tmp_path):
    target = tmp_path / "target"
    link = tmp_path / "keys.log"
    link.symlink_to(target)
    r = run_quick(harness, tmp_path / "out", "--keylog", link)
    assert r.returncode == 2 and "symbolic link" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not target.exists()


def test_sslkeylogfile_symlink_is_not_followed(harness, tmp_path):
    target = tmp_path / "target"
    link = tmp_path / "keys.log"
    link.symlink_to(target)
    r = run_quick(harness, tmp_path / "out", env={"SSLKEYLOGFILE": str(link)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SSLKEYLOGFILE" in r.stderr and "symbolic link" in r.stderr
    assert not target.exists()


def test_a_run_stopped_before_any_event_leaves_no_empty_event_log(harness, tmp_path):
    """The event log appears with its first event: a run interrupted while probing a target that
    never answers (no mock, so no event) leaves no empty events.jsonl behind."""
    import signal
    import socket
    import subprocess
    import time
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts in the kernel and never says a word
    port = silent.getsockname()[1]
    doc = json.loads((ROOT / "scenarios/federation.json").read_text())
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    doc["locations"] = {"silent": {
        "target": f"127.0.0.1:{port}", "server_name": "location-a.semstreams.local",
        "ca_files": ["/certs/federation-ca.pem"],
        "policy": {"mtls": {"enabled": True, "client_ca_files": ["/certs/federation-ca.pem"],
                            "require_client_cert": True}}}}
    doc["matrix"] = {"targets": ["silent"], "identities": ["location-b"], "versions": ["1.3"]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    proc = subprocess.Popen([str(harness), "run", str(path), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (out / "fixtures").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (out / "fixtures").exists(), "the run did not start"
        time.sleep(0.5)  # the case now waits on the silent target's handshake
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        silent.close()
    assert not (out / "events.jsonl").exists()
