"""Packet captures per case: pcapng with the TLS secrets inside, read back with tshark."""
import json
import os
import re
import stat
import subprocess

import jsonschema
import pytest

from conftest import ROOT, SCHEMA, own_loopback, run


def tshark(path, *args):
    r = run(["tshark", "-r", path, *args], timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def pcap_run(harness, tmp_path_factory):
    out = tmp_path_factory.mktemp("pcap") / "run"
    keylog = out.parent / "keys.log"
    r = run(own_loopback([harness, "run", ROOT / "scenarios/federation.json", "--out", out,
                          "--pcap", "--jobs", "2", "--keylog", keylog]), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((out / "report.json").read_text())
    return r, report, out, keylog


def md_text(s):
    """|s| as report.md writes text (harness/report/escape.c, mh_escape_md)."""
    return "".join("\\" + ch if ch in "\\`*_[]|#!~" else
                   {"<": "&lt;", ">": "&gt;", "&": "&amp;"}.get(ch, ch) for ch in s)


def case(report, cid):
    return next(c for c in report["cases"] if c["id"] == cid)


def test_every_case_has_its_capture_and_the_report_validates(pcap_run):
    r, report, out, _ = pcap_run
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    for c in report["cases"]:
        cap = c["capture"]
        assert cap["status"] == "captured" and cap["consistent"], c
        f = out / cap["file"]
        assert f.is_file() and stat.S_IMODE(f.stat().st_mode) == 0o600  # TLS secrets inside
    assert "52 written" in r.stdout and "0 disagree" in r.stdout


def test_tls13_missing_cert_alert_116_is_decrypted_by_tshark(pcap_run):
    _, report, out, _ = pcap_run
    c = case(report, "location-a/none/tls1.3")
    port = int(c["endpoint"].split(":")[1])
    # No key file is given to tshark: the secrets travel in the pcapng itself.
    rows = tshark(out / c["capture"]["file"], "-Y", "tls.alert_message", "-T", "fields",
                  "-e", "tcp.srcport", "-e", "tls.alert_message.level",
                  "-e", "tls.alert_message.desc").split()
    assert rows == [str(port), "2", "116"]
    # Without the secrets it is only an encrypted record.
    assert c["capture"]["alerts"] == [{"from": "server", "level": 2, "code": 116,
                                       "name": "certificate_required", "encrypted": True}]


def test_tls12_expired_alert_45_is_plaintext(pcap_run):
    _, report, out, _ = pcap_run
    c = case(report, "location-a/expired/tls1.2")
    assert c["capture"]["alerts"][0] == {"from": "server", "level": 2, "code": 45,
                                         "name": "certificate_expired", "encrypted": False}
    f = out / c["capture"]["file"]
    assert tshark(f, "-Y", "tls.alert_message.desc == 45", "-T", "fields",
                  "-e", "tls.alert_message.desc").split() == ["45"]


def test_sni_and_server_certificate_are_on_the_wire(pcap_run):
    _, report, out, _ = pcap_run
    for cid in ("location-a/location-b/tls1.3", "location-a/location-b/tls1.2"):
        f = out / case(report, cid)["capture"]["file"]
        sni = tshark(f, "-Y", "tls.handshake.type == 1", "-T", "fields",
                     "-e", "tls.handshake.extensions_server_name").split()
        assert sni == ["location-a.semstreams.local"]
        certs = tshark(f, "-Y", "tls.handshake.type == 11", "-V")
        assert "location-a.semstreams.local" in certs, cid  # decrypted in TLS 1.3
        assert case(report, cid)["capture"]["server_certificate"]


def test_concurrent_cases_capture_only_their_own_connection(pcap_run):
    _, report, out, _ = pcap_run
    for c in report["cases"]:
        f = out / c["capture"]["file"]
        rows = tshark(f, "-T", "fields", "-e", "tcp.stream", "-e", "tcp.srcport",
                      "-e", "tcp.dstport").split("\n")
        streams = {r.split("\t")[0] for r in rows if r}
        ports = {p for r in rows if r for p in r.split("\t")[1:]}
        server_port = c["endpoint"].split(":")[1]
        client_port = c["server"]["peer"].split(":")[1]
        assert streams == {"0"}, c["id"]
        assert ports == {server_port, client_port}, c["id"]


def test_keylog_file_holds_the_secrets_0600(pcap_run):
    _, _, _, keylog = pcap_run
    assert stat.S_IMODE(keylog.stat().st_mode) == 0o600
    text = keylog.read_text()
    assert re.search(r"^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]+$", text, re.M)
    assert re.search(r"^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$", text, re.M)  # TLS 1.2


def test_sslkeylogfile_is_honoured(harness, tmp_path):
    keys = tmp_path / "env-keys.log"
    r = subprocess.run([str(harness), "run", str(ROOT / "scenarios/federation.json"), "--out",
                        str(tmp_path / "out"), "--filter", "location-a/location-b/*", "--quiet"],
                       env={**os.environ, "SSLKEYLOGFILE": str(keys)}, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0
    assert keys.read_text().count("SERVER_TRAFFIC_SECRET_0") >= 1


@pytest.mark.parametrize("existing", [False, True], ids=["created", "existing-0644"])
def test_sslkeylogfile_is_made_0600(harness, tmp_path, existing):
    # The key log holds secrets: from SSLKEYLOGFILE as from --keylog it is 0600, also when it was
    # there before with a wider mode (the harness appends secrets to it).
    keys = tmp_path / "env-keys.log"
    if existing:
        keys.write_text("")
        keys.chmod(0o644)
    r = subprocess.run([str(harness), "run", str(ROOT / "scenarios/federation.json"), "--out",
                        str(tmp_path / "out"), "--filter", "location-a/location-b/tls1.3",
                        "--quiet"],
                       env={**os.environ, "SSLKEYLOGFILE": str(keys)}, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert "SERVER_TRAFFIC_SECRET_0" in keys.read_text()


def test_without_capture_permission_the_run_completes(harness, tmp_path):
    cmd = ["setpriv", "--bounding-set", "-net_raw,-net_admin", "--inh-caps", "-net_raw,-net_admin",
           str(harness), "run", str(ROOT / "scenarios/federation.json"), "--out",
           str(tmp_path / "out"), "--pcap", "--filter", "location-a/*/tls1.3", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr  # the exit code is the verdicts'
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    n = len(report["cases"])
    assert n == 14 and f"0 written (cases/<case>.pcapng, TLS secrets inside), {n} skipped: " \
        "capture on lo:" in r.stdout
    for c in report["cases"]:
        assert c["capture"]["status"] == "skipped" and c["capture"]["file"] is None
        assert "CAP_NET_RAW" in c["capture"]["reason"]
    assert not list((tmp_path / "out" / "cases").glob("*.pcapng"))


def test_rst_on_reject_is_seen_and_never_hidden(harness, tmp_path):
    """A server that closes at once after its alert: the client's unread data turns the close into
    a RST. Whatever the client's library then saw, the report must agree with the wire or say
    where it does not."""
    doc = json.loads((ROOT / "scenarios/federation.json").read_text())
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    doc["locations"]["location-a"]["faults"] = ["rst_on_reject"]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    r = run(own_loopback([harness, "run", path, "--out", tmp_path / "out", "--pcap", "--filter",
                          "location-a/*/tls1.3"]), timeout=120)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    rejected = [c for c in report["cases"] if c["outcome"]["result"] == "rejected"
                and c["outcome"]["rejected_by"] == "server"]
    assert rejected
    assert any("rst" in (c["capture"]["server_end"], c["outcome"]["transport_end"])
               for c in rejected), [c["capture"] for c in rejected]
    for c in rejected:
        wire = [a["code"] for a in c["capture"]["alerts"] if a["from"] == "server" and a["level"] == 2]
        lib = c["outcome"]["alert_received"]
        alerts_agree = (lib is not None and wire[:1] == [lib["code"]]) or (lib is None and not wire)
        ends_agree = c["capture"]["server_end"] != "rst" or c["outcome"]["transport_end"] == "rst"
        assert (alerts_agree and ends_agree) == c["capture"]["consistent"], c
        if not c["capture"]["consistent"]:
            assert "capture disagrees: " + c["id"] in r.stdout
            # report.md escapes it as Markdown: "bad_certificate" is "bad\_certificate" there.
            assert md_text(c["capture"]["mismatch"]) in (tmp_path / "out" / "report.md").read_text()
