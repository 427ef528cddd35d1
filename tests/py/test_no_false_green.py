"""Paths that once led to a green (or green-looking) result while the deployment or the run was not
what the operator thought (issue 22): a typo in a target's policy.mtls, a port that does not speak
TLS, an interrupted run (tests/py/test_interrupt.py holds that one)."""
import copy
import json
import math
import shutil
import subprocess
import sys

import pytest

from conftest import (FED, NGINX_CONF, NGINX_HEAD, ROOT, nginx_running, run, tcp_server,
                      write_scenario)

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402


def NOT_TLS(first_line):
    """What a case says of a peer that does not speak TLS: its first line, when the probe saw the
    bytes before the TLS library took them (a peer that answers within the call that sent the
    ClientHello is read by the library first), else that they were not a TLS record."""
    return {f'the peer answered "{first_line}", not TLS: wrong port, or a service without TLS?',
            "the peer's first bytes are not a TLS record, not TLS: wrong port, or a service "
            "without TLS?"}


def scenario(tmp_path, name, target):
    doc = {"name": "no-false-green", "fixtures": str(bed.SPEC), "locations": {name: target},
           "matrix": {"targets": [name], "identities": ["client", "other", "none"],
                      "versions": ["1.2", "1.3"]}}
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("key,near", [("allowed_client_cn", "allowed_client_cns"),
                                      ("requre_client_cert", "require_client_cert"),
                                      ("client_ca_file", "client_ca_files")])
def test_a_typo_in_the_policy_mtls_is_refused_by_check_and_run(harness, tmp_path, key, near):
    mtls = {"enabled": True, "require_client_cert": True,
            "client_ca_files": ["/certs/stacks-ca.pem"], "allowed_client_cns": [bed.CLIENT]}
    del mtls[near]
    mtls[key] = [bed.CLIENT] if "cn" in key else True if "cert" in key else ["/certs/stacks-ca.pem"]
    if near == "client_ca_files":
        mtls["require_client_cert"] = False  # still valid without the CA files otherwise
    path = scenario(tmp_path, "nginx", bed.target(bed.free_port(), None, {"mtls": mtls}))
    want = f"{path}: $.locations.nginx.policy.mtls.{key}: unknown mtls key: did you mean {near}?"
    r = subprocess.run([str(harness), "check", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and r.stderr.startswith(want), r.stdout + r.stderr
    out = tmp_path / "out"
    r = subprocess.run([str(harness), "run", str(path), "--out", str(out)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith(want), r.stdout + r.stderr
    assert not out.exists(), list(out.iterdir())


def banner_server(banner):
    """127.0.0.1:<port> sends |banner| to each connection, reads a little, and closes."""
    def one(conn, _stop):
        conn.sendall(banner)
        conn.recv(4096)
    return tcp_server(one, hold_s=2)


def run_against(harness, tmp_path, port):
    fx = bed.make_pki(harness, tmp_path / "pki")
    pol = {"client_auth": "require", "client_ca_files": ["/certs/stacks-ca.pem"],
           "identity": {"cn": [bed.CLIENT]}}
    cases = [{"name": f"server-untrusted/tls{v}", "target": "plain", "identity": "client",
              "version": v, "trust_ca": "untrusted-ca"} for v in ("1.2", "1.3")]
    return bed.run_matrix(harness, tmp_path / "run", fx, {"plain": bed.target(port, None, pol)},
                          identities=["client", "other", "none"], cases=cases, strict=False)


def test_a_plain_http_port_is_inconclusive_not_a_refusal(harness, tmp_path):
    """Debian's nginx on a plain HTTP port (the wrong port of a deployment): it answers the
    ClientHello with its 400 page."""
    port = bed.free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_HEAD.format(tmp=tmp_path) + f"""
  server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 "plain\\n"; }}
  }}
}}
""")
    with nginx_running(conf, tmp_path, port):
        r, report = run_against(harness, tmp_path, port)
    assert r.returncode == 1, r.stdout
    assert len(report["cases"]) == 8
    for c in report["cases"]:
        assert c["verdict"] == "inconclusive", (c["id"], c["verdict"], c["outcome"])
        assert c["outcome"]["error"] in NOT_TLS('HTTP/1.1 400 Bad Request'), c["outcome"]


def test_an_ssh_banner_is_inconclusive_not_a_refusal(harness, tmp_path):
    with banner_server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n") as port:
        r, report = run_against(harness, tmp_path, port)
    assert r.returncode == 1, r.stdout
    assert {c["verdict"] for c in report["cases"]} == {"inconclusive"}
    assert {c["outcome"]["error"] for c in report["cases"]} <= NOT_TLS("SSH-2.0-OpenSSH_9.2p1 Debian-2")


def test_load_of_an_external_location_follows_its_policy(harness, tmp_path):
    """`load SCENARIO --location NAME` on an external location (a real nginx that admits only
    location-b's CN): the good identities are those the policy admits, the --bad-share ones those
    it refuses, never mixed, so no refusal of a bad one counts as an error of a good one."""
    fx = tmp_path / "fx"
    assert run([harness, "pki", ROOT / "fixtures" / "federation.json", "--out", fx]).returncode == 0
    port = bed.free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, fx=fx))
    doc = copy.deepcopy(FED)
    doc["locations"]["nginx"] = {
        "target": f"127.0.0.1:{port}", "server_name": "location-a.semstreams.local",
        "ca_files": ["/certs/federation-ca.pem"], "profile": "nginx-http", "path": "/",
        "policy": {"client_auth": "require", "client_ca_files": ["/certs/federation-ca.pem"],
                   "identity": {"cn": ["location-b.semstreams.local"]}}}
    scenario_file = write_scenario(tmp_path, doc)
    out = tmp_path / "out"
    # The load generates the scenario's fixtures in <out>/fixtures, keeping the CA keys it finds
    # there: the ones nginx trusts.
    shutil.copytree(fx, out / "fixtures")
    with nginx_running(conf, tmp_path, port):
        r = run([harness, "load", scenario_file, "--location", "nginx", "--connections", "4",
                 "--duration", "1", "--bad-share", "0.25", "--out", out], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((out / "report.json").read_text())
    assert rep["errors"] == {k: 0 for k in rep["errors"]}, rep["errors"]
    c = rep["counts"]
    assert c["rejected"] == math.floor(c["started"] * 0.25) > 0
    assert c["accepted"] == c["started"] - c["rejected"]
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("load: presenting "))
    good, _, bad = line.partition("; refused ones for --bad-share: ")
    assert good == "load: presenting location-b (those the location's policy admits)", line
    assert "location-c" in bad and "untrusted" in bad and "location-b" not in bad, line


def test_an_ignored_key_of_a_mock_config_is_warned_once_by_check_and_run(harness, tmp_path):
    """A mock's SemStreams config keeps Go's rule (an unknown key is ignored, as the real service
    ignores it), and check and run name each ignored key once, with the key it likely meant."""
    doc = copy.deepcopy(FED)
    loc = doc["locations"]["location-b"]["config"]
    mtls = loc["security"]["tls"]["server"]["mtls"]
    mtls["requre_client_cert"] = mtls.pop("require_client_cert")
    loc["security"]["tls"]["client"]["Insecure_Skip_Verify"] = False  # Go matches case-blind
    loc["components"][0]["config"]["reconect"] = {}
    path = tmp_path / "s.json"
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    path.write_text(json.dumps(doc))
    at = f"{path}: $.locations.location-b.config."
    want = [at + "security.tls.server.mtls.requre_client_cert: warning: unknown tls.server.mtls "
            "key, ignored as SemStreams ignores it (did you mean require_client_cert?)",
            at + "components[0].config.reconect: warning: unknown websocket_input config key, "
            "ignored as SemStreams ignores it (remove it, or check docs/scenarios.md for the keys "
            "the mock reads)"]
    r = subprocess.run([str(harness), "check", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stderr.splitlines() == want, r.stdout + r.stderr
    r = subprocess.run([str(harness), "run", str(path), "--out", str(tmp_path / "out"), "--quiet",
                        "--filter", "location-b/none/*"], capture_output=True, text=True,
                       timeout=120)
    assert [l for l in r.stderr.splitlines() if "warning: unknown" in l] == want, r.stderr
    # Ignored as the real service ignores it: a certificate is not required, so a client without
    # one passes the handshake's request and fails the CN allow-list (Go's VerifyPeerCertificate:
    # no verified chains, alert 42), not the requirement (alert 116 in TLS 1.3).
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [(c["expected"]["reason"], c["verdict"]) for c in report["cases"]] == [
        ("no_verified_chains", "pass")] * 2
    assert r.returncode == 0, r.stdout


def test_the_console_and_reports_say_what_happened_in_plain_words(harness, tmp_path):
    """The small words of issue 22: one case is "1 case", a slow rate keeps its decimal (not
    "(0 cases/s)"), and an explicit expectation without a reason reads "reject by server", not
    "reject (none)"."""
    doc = copy.deepcopy(FED)
    doc.pop("matrix")
    doc["cases"] = [{"name": "b-without-cert", "target": "location-b", "identity": "none",
                     "version": "1.3", "expect": {"result": "reject"}}]
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    r = subprocess.run([str(harness), "run", str(path), "--out", str(tmp_path / "out"),
                        "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith("run: 1 case"))
    rate = line.split("(")[1].split()[0]
    assert line.startswith("run: 1 case in ") and "): 1 pass" in line, line
    assert float(rate) > 0 and ("." in rate or float(rate) >= 10), line
    (c,) = json.loads((tmp_path / "out" / "report.json").read_text())["cases"]
    assert c["expected"]["text"].startswith("reject by server"), c["expected"]
