"""Servers of stacks no profile ships for, as operators run them: Python's ssl with http.server,
Node.js https, Ruby's openssl, lighttpd (mod_openssl, mod_auth), each with its name check in the
application; and gnutls-serv (GnuTLS), which checks no name (docs/stacks.md, "Stacks without a
profile"). Without a profile every admission verdict must be right; the profile the run observes,
pinned, must pass --strict against the unchanged server; a change of manner then shows as
pass-conceptual and in --baseline's changes; and a server that admits a wrong CN fails whatever
profile it is given."""
import json
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402

U = ROOT / "tests" / "stacks" / "unprofiled"
POLICY = {"client_auth": "require", "client_ca_files": ["/certs/stacks-ca.pem"],
          "identity": {"cn": [bed.CLIENT]}}
# The refusal status each name-checking service answers a CN the policy does not allow.
STATUS = {"python": 403, "node": 401, "ruby": 403, "lighttpd": 401}


@pytest.fixture(scope="module")
def pki(harness, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("unprofiled")
    return tmp, bed.make_pki(harness, tmp / "pki")


def start(stack, tmp, fx, status=None):
    """Starts |stack|'s server on a free loopback port; returns (server, port)."""
    port = bed.free_port()
    status = str(status or STATUS.get(stack, 403))
    cert, key, ca = fx / "server-cert.pem", fx / "server-key.pem", fx / "stacks-ca.pem"
    work = tmp / f"{stack}-{port}"
    work.mkdir()
    if stack == "python":
        args = [sys.executable, U / "pyhttps.py", "--port", port, "--cert", cert, "--key", key,
                "--ca", ca, "--allow-cn", bed.CLIENT, "--refuse-status", status]
    elif stack == "node":
        args = [bed.need("node"), U / "nodehttps.js", port, cert, key, ca, bed.CLIENT, status]
    elif stack == "ruby":
        args = [bed.need("ruby"), U / "rubytls.rb", port, cert, key, ca, bed.CLIENT, status]
    elif stack == "lighttpd":
        (work / "www").mkdir()
        (work / "www" / "index.html").write_text("ok\n")
        conf = work / "lighttpd.conf"
        conf.write_text((U / "lighttpd.conf.in").read_text().format(
            dir=work, port=port, fx=fx, cn=bed.CLIENT))
        args = [bed.need("lighttpd"), "-D", "-f", conf]
    else:
        # gnutls-serv: chain verified, no name check; --http answers any GET with 200, --echo
        # sends back what it reads. It has no option to bind one address: it listens on every
        # one, and the tests reach it on loopback only.
        args = [bed.need("gnutls-serv"), "-p", port, "--x509certfile", cert, "--x509keyfile", key,
                "--x509cafile", ca, "--require-client-cert", "--verify-client-cert",
                "--http" if stack == "gnutls" else "--echo"]
    return bed.Server(args, port, work / "srv"), port


def run(harness, workdir, fx, name, port, profile=None, strict=False, extra=(), policy=POLICY,
        identities=bed.IDENTITIES):
    """One matrix against the server, its target naming |profile| (None: no profile and no
    request, as an operator's first run would); returns (process, report, out)."""
    r, report = bed.run_matrix(harness, workdir, fx, {name: bed.target(port, profile, policy)},
                               identities=identities, name=f"unprofiled-{name}",
                               extra_args=extra, strict=strict, quiet=False)
    return r, report, workdir / "out"


def verdicts(report):
    return {c["id"]: c["verdict"] for c in report["cases"]}


@pytest.mark.parametrize("stack", ["python", "node", "ruby", "lighttpd"])
def test_a_stack_without_profile_is_judged_by_the_policy_then_pinned(harness, pki, stack):
    tmp, fx = pki
    srv, port = start(stack, tmp, fx)
    try:
        r, report, out = run(harness, tmp / f"{stack}-first", fx, stack, port)
        assert r.returncode == 0, r.stdout + r.stderr + srv.log.read_text()[-2000:]
        assert set(verdicts(report).values()) == {"pass"}, verdicts(report)
        assert len(report["cases"]) == len(bed.IDENTITIES) * 2
        cases = {c["id"]: c for c in report["cases"]}
        for c in report["cases"]:
            assert c["profile"] is None and c["outcome"]["request"] == "http", c["id"]
            assert c["manner"] == "not-judged", c["id"]
            want = "accepted" if c["expected"]["result"] == "accept" else "rejected"
            assert c["outcome"]["result"] == want, c["id"]
        for v in ("1.2", "1.3"):
            # The name check is the application's: refused at HTTP with the service's status.
            o = cases[f"{stack}/other/tls{v}"]["outcome"]
            assert (o["layer"], o["http_status"]) == ("http", STATUS[stack]), o
            assert cases[f"{stack}/client/tls{v}"]["outcome"]["http_status"] == 200
        assert f"run: target {stack}: no profile (how it refuses is recorded, not judged), " \
               "request http" in r.stdout
        assert "No profile: how it refuses is recorded, not judged. Request http." in \
            (out / "report.md").read_text()
        observed_file = out / "profiles" / f"{stack}.json"
        assert f"observed profile (7 reasons) in {observed_file}" in r.stdout, r.stdout
        observed = json.loads(observed_file.read_text())
        assert observed["reasons"]["cn_not_allowed"] == {"layer": "http",
                                                         "status": STATUS[stack]}
        assert observed["reasons"]["missing_cert"]["layer"] == "tls"
        # Pinned by path (relative to the scenario), the unchanged server passes --strict, each
        # refusal as the observed profile predicts.
        pinned = tmp / f"{stack}-pinned"
        pinned.mkdir()
        shutil.copy(observed_file, pinned / "observed.json")
        r, report, _ = run(harness, pinned, fx, stack, port, profile="observed.json", strict=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert set(verdicts(report).values()) == {"pass"}, verdicts(report)
        for c in report["cases"]:
            assert c["manner"] == ("as-predicted" if c["expected"]["result"] == "reject"
                                   else "not-judged"), c["id"]
        assert f"run: target {stack}: profile observed.json, request http" in r.stdout
        assert "Profile observed.json, request http." in (pinned / "out" / "report.html").read_text()
    finally:
        srv.stop()


def test_a_change_of_manner_is_pass_conceptual_and_a_baseline_change(harness, pki):
    """The service moves its name refusal from 403 to 401 (an upgrade): admission is unchanged,
    so the run passes; the pinned manner differs, so --strict fails and the baseline shows it."""
    tmp, fx = pki
    srv, port = start("python", tmp, fx, status=403)
    try:
        r, first, out = run(harness, tmp / "py-before", fx, "python", port)
        assert r.returncode == 0, r.stdout
    finally:
        srv.stop()
    work = tmp / "py-after"
    work.mkdir()
    shutil.copy(out / "profiles" / "python.json", work / "observed.json")
    srv, port2 = start("python", tmp, fx, status=401)
    try:
        r, report, _ = run(harness, work, fx, "python", port2, profile="observed.json",
                           extra=["--baseline", str(out / "report.json")])
        assert r.returncode == 0, r.stdout
        v = {c["id"]: c for c in report["cases"]}
        for ver in ("1.2", "1.3"):
            c = v[f"python/other/tls{ver}"]
            assert c["verdict"] == "pass-conceptual" and c["manner"] == "differs", c
            assert c["verdict_reason"] == \
                "refused at HTTP 401 where the profile predicts HTTP 403", c["verdict_reason"]
        assert {k for k, c in v.items() if c["verdict"] != "pass"} == \
            {"python/other/tls1.2", "python/other/tls1.3"}
        changed = {ch["id"] for ch in report["baseline"]["changed"]}
        assert {"python/other/tls1.2", "python/other/tls1.3"} == changed, report["baseline"]
        r, _, _ = run(harness, work, fx, "python", port2, profile="observed.json", strict=True)
        assert r.returncode == 1, r.stdout
    finally:
        srv.stop()


@pytest.mark.parametrize("profile", [None, "openssl", "nginx-http"])
def test_a_server_that_admits_a_wrong_cn_fails_whatever_its_profile(harness, pki, profile):
    """gnutls-serv verifies the chain and checks no name: the wrong CN (and, as measured, a
    certificate without clientAuth EKU) is admitted where the policy refuses. No profile, one
    that says its stack cannot check names, or one of another stack: the run fails."""
    tmp, fx = pki
    srv, port = start("gnutls", tmp, fx)
    try:
        r, report, _ = run(harness, tmp / f"gnutls-{profile}", fx, "gnutls", port,
                           profile=profile)
        assert r.returncode == 1, r.stdout
        v = {c["id"]: c for c in report["cases"]}
        for ver in ("1.2", "1.3"):
            other = v[f"gnutls/other/tls{ver}"]
            assert other["expected"]["reason"] == "cn_not_allowed"
            assert other["outcome"]["result"] == "accepted"
            assert other["verdict"] == "unexpected-accept"
            assert v[f"gnutls/server-only-eku/tls{ver}"]["verdict"] == "unexpected-accept"
            assert v[f"gnutls/client/tls{ver}"]["verdict"] == "pass"
            assert v[f"gnutls/untrusted/tls{ver}"]["outcome"]["result"] == "rejected"
        if profile == "openssl":
            assert "profile openssl says its stack cannot enforce identity.cn" in \
                v["gnutls/other/tls1.3"]["verdict_reason"]
            assert "expect unexpected-accept" in r.stdout.split("unexpected-accept gnutls/")[0]
        r, _, _ = run(harness, tmp / f"gnutls-{profile}-strict", fx, "gnutls", port,
                      profile=profile, strict=True)
        assert r.returncode == 1, r.stdout
    finally:
        srv.stop()


def test_a_service_that_speaks_no_http_is_judged_by_the_tls_result(harness, pki):
    """gnutls-serv without --http echoes what it reads: our GET comes back, which is no HTTP
    answer. The admitted client is judged by TLS (the server kept it and spoke), not
    inconclusive; the refusals are the handshake's."""
    tmp, fx = pki
    srv, port = start("gnutls-echo", tmp, fx)
    try:
        pol = {"client_auth": "require", "client_ca_files": ["/certs/stacks-ca.pem"]}
        r, report, _ = run(harness, tmp / "echo", fx, "echo", port, policy=pol,
                           identities=["client", "none", "untrusted"])
        assert r.returncode == 0, r.stdout
        v = {c["id"]: c for c in report["cases"]}
        for ver in ("1.2", "1.3"):
            ok = v[f"echo/client/tls{ver}"]
            assert ok["verdict"] == "pass" and ok["outcome"]["result"] == "accepted", ok
            assert ok["outcome"]["http_status"] == 0
            assert "answered without HTTP" in ok["outcome"]["error"], ok["outcome"]
            assert v[f"echo/none/tls{ver}"]["verdict"] == "pass"
            assert v[f"echo/untrusted/tls{ver}"]["verdict"] == "pass"
    finally:
        srv.stop()


def test_check_refuses_a_profile_that_does_not_exist(harness, tmp_path):
    doc = json.loads((ROOT / "scenarios" / "federation.json").read_text())
    doc["fixtures"] = str((ROOT / "scenarios" / doc["fixtures"]).resolve())
    doc["locations"]["ext"] = {"target": "127.0.0.1:9", "server_name": "ext.test", "profile": "go",
                               "ca_files": ["/certs/federation-ca.pem"],
                               "policy": {"client_auth": "require",
                                          "client_ca_files": ["/certs/federation-ca.pem"]}}
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(doc))
    r = subprocess.run([str(harness), "check", str(scenario)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert str(scenario) in line and "$.locations.ext.profile" in line, line
    for shipped in ("apache", "haproxy", "nginx-http", "openssl", "semstreams", "stunnel"):
        assert shipped in line, line
