"""The conformance runner: truthful outcomes, verdicts, exit codes and reports, against the mocks,
a real nginx, and targets that misbehave or are not there."""
import copy
import datetime
import json
import shlex
import socket
import urllib.parse
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pathlib

import jsonschema
import pytest

from conftest import (B, FED, NGINX_CONF, ROOT, SCHEMA, external_target, free_port, nginx_running,
                     run, run_harness, write_scenario)


def case(report, cid):
    return next(c for c in report["cases"] if c["id"] == cid)


@pytest.fixture(scope="module")
def default_run(harness, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "federation"
    r = run([harness, "run", ROOT / "scenarios/federation.json", "--out", out], timeout=180)
    return r, json.loads((out / "report.json").read_text()), out


def test_default_matrix_passes_and_exits_0(default_run):
    r, report, out = default_run
    assert r.returncode == 0, r.stdout + r.stderr
    assert report["summary"]["total"] == 52 and report["summary"]["failed"] == 0
    assert {c["verdict"] for c in report["cases"]} == {"pass"}
    assert "run: 52 cases" in r.stdout and str(out) in r.stdout
    # Cases expect acceptance and the rejections differ: nothing to warn about.
    assert report["warnings"] == [] and "warning" not in r.stdout


def test_report_json_validates_against_its_schema(default_run):
    _, report, _ = default_run
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    # The schema is not vacuous: a broken report fails it.
    broken = copy.deepcopy(report)
    broken["cases"][0]["verdict"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_junit_is_valid_xml_with_one_testcase_per_case(default_run):
    _, report, out = default_run
    root = ET.parse(out / "junit.xml").getroot()
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 52 == int(root.get("tests"))
    assert {c.get("name") for c in cases} == {c["id"] for c in report["cases"]}
    assert not root.findall(".//failure") and root.get("failures") == "0"


def test_human_reports_link_every_cell_to_its_log(default_run):
    _, report, out = default_run
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    # The links are URLs: a file name's '%' (base/case_file.h) is "%25" there.
    url = {c["id"]: urllib.parse.quote(c["log"]) for c in report["cases"]}
    for c in report["cases"]:
        assert (out / c["log"]).is_file()
        assert f"({url[c['id']]})" in md and f'href="{url[c["id"]]}"' in html
    assert "## location-a" in md and "| identity | TLS 1.2 | TLS 1.3 |" in md

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.links, self.coloured = [], 0

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "a":
                self.links.append(a["href"])
            if tag == "td" and "background" in a.get("style", ""):
                self.coloured += 1

    p = Cells()
    p.feed(html)
    assert set(p.links) == set(url.values())
    # Each case once: in its matrix (two of 11 identities by 2 versions), or with the other cases.
    assert p.coloured == 52
    # No --pcap, no capture column.
    assert "capture</th>" not in html


def test_tls13_missing_cert_is_rejected_on_the_first_read_with_116(default_run):
    _, report, _ = default_run
    c = case(report, "location-a/none/tls1.3")
    o = c["outcome"]
    assert o["handshake"] == "ok"  # the client's handshake returned first
    assert (o["result"], o["rejected_by"], o["phase"]) == ("rejected", "server", "first_read")
    assert o["alert_received"] == {"code": 116, "name": "certificate_required"}
    assert c["server"]["reason"] == "tls: client didn't provide a certificate"
    assert c["server"]["alert_sent"]["code"] == 116


def test_case_log_prints_no_alert_as_none(default_run):
    """"No alert" is a placeholder, not a code: the log says "none", never "-1 none"."""
    _, report, out = default_run
    c = case(report, "location-a/none/tls1.3")  # the client sends no alert, receives 116
    assert c["outcome"]["alert_sent"] is None
    log = (out / c["log"]).read_text()
    lines = [ln.strip() for ln in log.splitlines() if ln.strip().startswith("alert ")]
    assert "alert sent     none" in lines, log
    assert "alert received 116 certificate_required" in lines, log
    assert not any("-1" in ln for ln in lines), log


@pytest.mark.parametrize("cid,phase,alert,by", [
    ("location-a/none/tls1.2", "client_flight", 42, "server"),
    ("location-a/expired/tls1.2", "client_flight", 45, "server"),
    ("location-a/untrusted/tls1.3", "first_read", 48, "server"),
    ("location-a/key-mismatch/tls1.3", "first_read", 51, "server"),
    ("location-b/location-b/tls1.3", "first_read", 42, "server"),  # CN not allowed at B
    ("location-a/tls1.2-only-client-vs-tls1.3-minimum", "server_flight", 70, "server"),
    ("location-a/server-check:cn-only-certificate/tls1.3", "server_flight", 42, "client"),
    ("location-a/server-check:wrong-name/tls1.3", "server_flight", 42, "client"),
])
def test_phases_and_alerts(default_run, cid, phase, alert, by):
    _, report, _ = default_run
    o = case(report, cid)["outcome"]
    assert (o["rejected_by"], o["phase"]) == (by, phase), o
    got = o["alert_sent"] if by == "client" else o["alert_received"]
    assert got["code"] == alert, o


def test_key_mismatch_is_refused_in_gos_words(default_run):
    """The probe signs with a key that is not its certificate's: the mock says what Go says."""
    _, report, _ = default_run
    for version in ("tls1.2", "tls1.3"):
        srv = case(report, f"location-a/key-mismatch/{version}")["server"]
        assert srv["reason"] == ("tls: invalid signature by the client certificate: "
                                 "ECDSA verification failure"), srv
        assert srv["alert_sent"]["code"] == 51


def test_accepted_cases_upgraded(default_run):
    _, report, _ = default_run
    c = case(report, "location-a/location-b/tls1.3")
    assert c["outcome"]["result"] == "accepted" and c["outcome"]["http_status"] == 101
    assert c["outcome"]["websocket_upgrade"] and c["server"]["client_cn"] == B
    assert case(report, "location-a/intermediate-signed/tls1.3")["outcome"]["result"] == "accepted"


def test_a_mock_that_ignores_its_allow_list_fails_the_run(mh, tmp_path):
    doc = copy.deepcopy(FED)
    doc["locations"]["location-a"]["faults"] = ["ignore_allowlist"]
    r, report = run_harness(mh, write_scenario(tmp_path, doc), tmp_path / "out",
                            "--filter", "location-a/*")
    assert r.returncode == 1, r.stdout
    bad = {c["id"] for c in report["cases"] if c["verdict"] == "unexpected-accept"}
    assert bad == {"location-a/wrong-cn/tls1.2", "location-a/wrong-cn/tls1.3",
                   "location-a/location-c/tls1.2", "location-a/location-c/tls1.3"}
    assert "unexpected-accept" in r.stdout and "expected reject (cn_not_allowed)" in r.stdout
    junit = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    failures = junit.findall(".//failure")
    assert len(failures) == 4 and all(f.get("type") == "unexpected-accept" for f in failures)


ODD = "c-at-a: it's *admitted* [?]"


@pytest.fixture(scope="module")
def failing_run(harness, tmp_path_factory):
    """A run with one failure (an explicit expectation the mock does not meet), a passing explicit
    case and a small matrix; its case name holds a quote and glob characters."""
    tmp = tmp_path_factory.mktemp("failing")
    doc = copy.deepcopy(FED)
    doc["matrix"]["targets"] = ["location-a"]
    doc["matrix"]["identities"] = ["location-b", "none"]
    doc["cases"] = [
        {"name": ODD, "target": "location-a", "identity": "location-c", "version": "1.3",
         "expect": {"result": "accept"}},
        {"name": "no-cert-alert-116", "target": "location-a", "version": "1.3",
         "expect": {"result": "reject", "layer": "tls", "alerts": [116]}},
    ]
    out = tmp / "out"
    r = run([harness, "run", write_scenario(tmp, doc), "--out", out, "--profiles",
             ROOT / "profiles"], timeout=180)
    return r, json.loads((out / "report.json").read_text()), out


def test_failing_run_reports_lead_with_the_answer(failing_run):
    r, report, out = failing_run
    assert r.returncode == 1, r.stdout + r.stderr
    assert [c["id"] for c in report["cases"] if c["fails"]] == [ODD]
    n = len(report["cases"])
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    # The same order in both: the answer, the counts, the failure (expected, actual, why, the
    # server's flight, its log, the rerun command), then the matrices and the other cases.
    md_marks = [f"**1 of {n} failed**", "| verdict | cases | meaning |", "| unexpected-reject | 1 |",
                "## Failures (1)", "### c-at-a: it's \\*admitted\\* \\[?\\]", "- expected: accept",
                "- actual: rejected by server", "- server's flight: ServerHello TLSv1.3; "
                "CertificateRequest seen, 1 CA name: CN=SemStreams Federation CA",
                "[case log](cases/", "```sh\n", "## location-a\n", "## Other cases"]
    html_marks = [f"<strong>1 of {n} failed</strong>", "<th>verdict</th><th>cases</th>",
                  "<tr><td>unexpected-reject</td><td>1</td>", "Failures (1)</h2>",
                  "<h3>c-at-a: it&apos;s *admitted* [?]</h3>", "expected: accept",
                  "actual: rejected by server", "server's flight: ServerHello TLSv1.3; "
                  "CertificateRequest seen, 1 CA name: CN=SemStreams Federation CA", ">case log</a>", "<pre class=\"rerun\"><code>",
                  "<h2>location-a</h2>", "<h2>Other cases</h2>"]
    for text, marks in ((md, md_marks), (html, html_marks)):
        at = 0
        for m in marks:
            i = text.find(m, at)
            assert i >= 0, f"{m!r} missing or out of order"
            at = i + len(m)
    assert "capture</th>" not in html  # no --pcap, no capture column
    # The verdict's reason, where the oracle gave one, is there too.
    reason = case(report, ODD)["verdict_reason"]
    assert not reason or "- why: " in md and "<li>why: " in html


def test_rerun_command_reproduces_just_that_case(failing_run):
    _, report, out = failing_run
    md = (out / "report.md").read_text()
    cmd = md.split("```sh\n", 1)[1].split("\n```", 1)[0]
    assert "\n" not in cmd
    args = shlex.split(cmd)
    assert args[1] == "run" and pathlib.Path(args[2]).is_absolute()
    assert args[args.index("--filter") + 1] == "c-at-a: it's \\*admitted\\* \\[\\?\\]"
    assert "--profiles" in args
    rerun_out = pathlib.Path(args[args.index("--out") + 1])
    assert rerun_out.parent == out.resolve() / "rerun"
    # Run as printed, from another directory: the paths are absolute.
    r = run(args, timeout=180, cwd="/")
    again = json.loads((rerun_out / "report.json").read_text())
    assert [(c["id"], c["verdict"]) for c in again["cases"]] == [(ODD, "unexpected-reject")]
    assert r.returncode == 1, r.stdout + r.stderr


def test_junit_has_what_ci_reads(failing_run):
    _, report, out = failing_run
    root = ET.parse(out / "junit.xml").getroot()
    assert root.tag == "testsuites" and float(root.get("time")) >= 0
    suites = root.findall("testsuite")
    assert len(suites) == 1
    s = suites[0]
    when = datetime.datetime.fromisoformat(s.get("timestamp"))
    assert when.tzinfo is not None and s.get("timestamp") == report["started"]
    assert s.get("hostname") == socket.gethostname()
    assert float(s.get("time")) == pytest.approx(report["duration_ms"] / 1000, abs=0.01)
    assert int(s.get("tests")) == len(report["cases"]) and s.get("failures") == "1"
    assert s.get("errors") == "0" and s.get("skipped") == "0"
    cases = s.findall("testcase")
    assert len(cases) == len(report["cases"])
    for t in cases:
        assert t.get("classname") and t.get("name") and float(t.get("time")) >= 0
    failed = [t for t in cases if t.find("failure") is not None]
    assert [t.get("name") for t in failed] == [ODD]
    f = failed[0].find("failure")
    assert f.get("type") == "unexpected-reject" and f.get("message").startswith("expected accept")


def test_unreachable_target_is_inconclusive_not_rejected(mh, tmp_path):
    doc = copy.deepcopy(FED)
    doc["locations"]["gone"] = external_target(free_port())
    doc["matrix"]["targets"] = ["gone"]
    doc["matrix"]["identities"] = ["location-b", "none"]
    r, report = run_harness(mh, write_scenario(tmp_path, doc), tmp_path / "out")
    assert r.returncode == 1
    for c in report["cases"]:
        assert c["verdict"] == "inconclusive", c
        assert c["outcome"]["result"] == "inconclusive" and c["outcome"]["tcp"] == "refused"
        assert c["outcome"]["phase"] == "tcp"
    assert ET.parse(tmp_path / "out" / "junit.xml").getroot().findall(".//error")


def test_baseline_lists_changed_cases(mh, tmp_path):
    path = write_scenario(tmp_path, FED)
    r, _ = run_harness(mh, path, tmp_path / "before", "--filter", "location-a/*/tls1.3")
    assert r.returncode == 0
    doc = copy.deepcopy(FED)
    doc["locations"]["location-a"]["faults"] = ["ignore_allowlist"]
    r, report = run_harness(mh, write_scenario(tmp_path, doc, "s2.json"), tmp_path / "after",
                            "--filter", "location-a/*/tls1.3",
                            "--baseline", tmp_path / "before" / "report.json")
    changed = {c["id"]: c for c in report["baseline"]["changed"]}
    assert set(changed) == {"location-a/wrong-cn/tls1.3", "location-a/location-c/tls1.3"}
    c = changed["location-a/wrong-cn/tls1.3"]
    assert c["before"].startswith("pass: rejected by server")
    assert c["after"].startswith("unexpected-accept: accepted")
    assert "changed since baseline: location-a/wrong-cn/tls1.3" in r.stdout
    # CI's headline: right after the answer, before the failures and the certificates.
    for name in ("report.md", "report.html"):
        text = (tmp_path / "after" / name).read_text()
        assert text.index("Changes since") < text.index("Failures") < text.index("Certificates"), name


def test_pass_conceptual_fails_only_under_strict(mh, tmp_path):
    doc = copy.deepcopy(FED)
    doc["locations"]["location-a"]["profile"] = "boringssl"  # the mock is Go: 42, not 40
    path = write_scenario(tmp_path, doc)
    r, report = run_harness(mh, path, tmp_path / "lax", "--filter", "location-a/none/tls1.2")
    assert r.returncode == 0
    assert report["cases"][0]["verdict"] == "pass-conceptual"
    r, report = run_harness(mh, path, tmp_path / "strict", "--filter", "location-a/none/tls1.2",
                            "--strict")
    assert r.returncode == 1 and report["cases"][0]["fails"]


def test_explicit_case_expectation_overrides_the_oracle(mh, tmp_path):
    doc = copy.deepcopy(FED)
    doc["cases"] = [
        {"name": "c-at-a-should-be-admitted", "target": "location-a", "identity": "location-c",
         "version": "1.3", "expect": {"result": "accept"}},
        {"name": "no-cert-alert-116", "target": "location-a", "version": "1.3",
         "expect": {"result": "reject", "layer": "tls", "alerts": [116]}},
    ]
    del doc["matrix"]
    r, report = run_harness(mh, write_scenario(tmp_path, doc), tmp_path / "out")
    assert r.returncode == 1
    assert case(report, "c-at-a-should-be-admitted")["verdict"] == "unexpected-reject"
    assert case(report, "no-cert-alert-116")["verdict"] == "pass"
    assert case(report, "no-cert-alert-116")["expected"]["source"] == "explicit"


def test_bad_scenario_and_empty_filter_exit_2(mh, tmp_path):
    doc = copy.deepcopy(FED)
    doc["matrix"]["identities"] = ["nobody"]
    r, _ = run_harness(mh, write_scenario(tmp_path, doc), tmp_path / "out")
    assert r.returncode == 2 and "$.matrix.identities[0]: \"nobody\" is not an identity" in r.stderr
    r, _ = run_harness(mh, write_scenario(tmp_path, FED, "ok.json"), tmp_path / "out2",
                       "--filter", "no-such-case")
    assert r.returncode == 2 and "no case to run" in r.stderr


# --- a real nginx, probed as an external target with the nginx-http profile ---

def test_real_nginx_every_verdict_right(harness, mh, tmp_path):
    out = tmp_path / "out"
    fx = out / "fixtures"
    # The run re-issues the CA certificate with the same key, so nginx may load these files now.
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, fx=fx))
    with nginx_running(conf, tmp_path, port):
        doc = copy.deepcopy(FED)
        doc["locations"]["nginx"] = external_target(port, "nginx-http")
        doc["matrix"]["targets"] = ["nginx"]
        r, report = run_harness(mh, write_scenario(tmp_path, doc), out)
        assert r.returncode == 0, r.stdout
        assert {c["verdict"] for c in report["cases"]} == {"pass"}
        o = {c["id"]: c["outcome"] for c in report["cases"]}
        # nginx completes the handshake and answers in HTTP...
        assert o["nginx/none/tls1.3"]["http_status"] == 400
        assert o["nginx/none/tls1.3"]["phase"] == "application"
        assert o["nginx/expired/tls1.2"]["http_status"] == 400
        assert o["nginx/location-c/tls1.3"]["http_status"] == 403
        assert o["nginx/location-b/tls1.3"]["http_status"] == 200
        # ...except for what OpenSSL itself refuses in the handshake.
        assert o["nginx/key-mismatch/tls1.3"]["alert_received"]["code"] == 51
        assert len(report["cases"]) == 11 * 2 + 2  # no variants of an external target
