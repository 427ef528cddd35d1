"""Revocation: the CRLs the generator writes (read by openssl), the policy's "revocation" block and
the oracle's verdicts for a revoked client, a client under a revoked intermediate, a CA of the
chain without a CRL, and an expired CRL, proven against real nginx, haproxy, Apache and stunnel
from Debian by strict matrices with their profiles (docs/deployments.md, "Does my deployment
honour revocation?")."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, run

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402

CHAIN_CRLS = ["stacks-ca-crl.pem", "intermediate-ca-crl.pem", "revoked-intermediate-ca-crl.pem"]
# Each server has three endpoints, one per CRL set it loads: every CA's CRL ("all"), the root's
# only ("root-only": the intermediates have none), and two client CAs, one of whose CRL has
# expired ("stale": its clients are all refused, the other CA's admitted).
ENDPOINTS = [("all", ["stacks-ca.pem"], CHAIN_CRLS),
             ("root-only", ["stacks-ca.pem"], CHAIN_CRLS[:1]),
             ("stale", ["stacks-ca.pem", "stale-crl-ca.pem"],
              ["stacks-ca-crl.pem", "stale-crl-ca-crl.pem"])]
MATRIX_IDS = ["client", "revoked", "intermediate-signed", "under-revoked-intermediate", "none"]
# What each endpoint's explicit cases present, and the reason the oracle must give.
EXPLICIT = {"root-only": {"client": None, "revoked": "revoked", "intermediate-signed": "crl_missing"},
            "stale": {"stale-crl-client": "crl_expired", "client": None}}


def crl_policy(cas, crls, check=None):
    rev = {"crl_files": [f"/certs/{c}" for c in crls]}
    if check:
        rev["check"] = check
    return {"client_auth": "require", "client_ca_files": [f"/certs/{c}" for c in cas],
            "revocation": rev}


def bundle(fx, tmp, files, name):
    """One file holding |files| (CRLs, or CA certificates): what the servers load."""
    path = tmp / name
    path.write_text("".join((fx / f).read_text() for f in files))
    return path


def nginx_conf(tmp, fx, ports, files, cas):
    servers = "".join(f"""
  server {{
    listen 127.0.0.1:{p} ssl;
    ssl_client_certificate {ca};
    ssl_crl {f};
    ssl_verify_client on;
    ssl_verify_depth 2;
    location / {{ return 200 "ok\\n"; }}
  }}""" for p, ca, f in zip(ports, cas, files))
    conf = tmp / "nginx.conf"
    conf.write_text(f"""worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate {fx}/server-cert.pem;
  ssl_certificate_key {fx}/server-key.pem;
{servers}
}}
""")
    return [bed.need("nginx"), "-c", conf, "-p", tmp], None


def haproxy_conf(tmp, fx, ports, files, cas):
    pem = tmp / "server.pem"
    pem.write_text((fx / "server-cert.pem").read_text() + (fx / "server-key.pem").read_text())
    pem.chmod(0o600)
    frontends = "".join(f"""frontend {name}
  bind 127.0.0.1:{p} ssl crt {pem} ca-file {ca} crl-file {f} verify required ssl-min-ver TLSv1.2
  http-request return status 200 content-type text/plain string "ok"
""" for p, (name, _, _), ca, f in zip(ports, ENDPOINTS, cas, files))
    conf = tmp / "haproxy.cfg"
    conf.write_text("global\n  maxconn 64\ndefaults\n  mode http\n  timeout connect 5s\n"
                    "  timeout client 10s\n  timeout server 10s\n" + frontends)
    return [bed.need("haproxy"), "-f", conf, "-db"], None


def apache_conf(tmp, fx, ports, files, cas):
    sites = "".join(f"""
Listen 127.0.0.1:{p} https
<VirtualHost 127.0.0.1:{p}>
  SSLEngine on
  SSLCACertificateFile {ca}
  SSLCARevocationFile {f}
  SSLCARevocationCheck chain
  SSLVerifyClient require
  SSLVerifyDepth 2
  <Location />
    SetHandler server-status
  </Location>
</VirtualHost>
""" for p, ca, f in zip(ports, cas, files))
    conf = tmp / "apache2.conf"
    conf.write_text(f"""ServerRoot /usr/lib/apache2
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule status_module modules/mod_status.so
LoadModule ssl_module modules/mod_ssl.so
User www-data
Group www-data
PidFile {tmp}/httpd.pid
ErrorLog {tmp}/error.log
LogLevel info ssl:info
ServerName server.stacks.test
DocumentRoot /usr/lib/apache2
SSLProtocol -all +TLSv1.2 +TLSv1.3
SSLCertificateFile {fx}/server-cert.pem
SSLCertificateKeyFile {fx}/server-key.pem
SSLSessionCache none
<Directory />
  AllowOverride None
</Directory>
{sites}""")
    env = dict(os.environ, APACHE_LOCK_DIR=str(tmp), APACHE_RUN_DIR=str(tmp),
               APACHE_PID_FILE=str(tmp / "httpd.pid"), APACHE_LOG_DIR=str(tmp))
    return [bed.need("apache2"), "-f", conf, "-DFOREGROUND"], env


def stunnel_conf(tmp, fx, ports, files, cas):
    services = "".join(f"""
[{name}]
accept = 127.0.0.1:{p}
exec = /bin/echo
execArgs = echo ok
cert = {fx}/server-cert.pem
key = {fx}/server-key.pem
CAfile = {ca}
CRLfile = {f}
sslVersionMin = TLSv1.2
verifyChain = yes
""" for p, (name, _, _), ca, f in zip(ports, ENDPOINTS, cas, files))
    conf = tmp / "stunnel.conf"
    conf.write_text(f"foreground = yes\npid =\ndebug = info\noutput = {tmp}/stunnel.log\n" + services)
    return [bed.need("stunnel4"), conf], None


# stack -> (its config, its profile, the target keys its probe needs, the revocation check it
# performs, the alerts (TLS) or status (HTTP) measured for revoked, crl_expired, crl_missing)
STACKS = {
    "nginx": (nginx_conf, "nginx-http", {}, "chain", {"revoked": 400, "crl_expired": 400,
                                                      "crl_missing": 400}),
    "haproxy": (haproxy_conf, "haproxy", {}, "chain", {"revoked": 44, "crl_expired": 45,
                                                       "crl_missing": 48}),
    "apache": (apache_conf, "apache", {}, "chain", {"revoked": 44, "crl_expired": 46,
                                                    "crl_missing": 48}),
    # stunnel speaks first: an admitted client reads "ok" at once, so a long first read costs
    # nothing and a refusal a loaded machine delays is not taken for silence.
    "stunnel": (stunnel_conf, "stunnel", {"request": "tls", "first_read_ms": 10000}, "leaf",
                {"revoked": 44, "crl_expired": 45, "crl_missing": 48}),
}


def start(harness, tmp, stack):
    make, _, _, _, _ = STACKS[stack]
    fx = bed.make_pki(harness, tmp / "pki")
    files = [bundle(fx, tmp, crls, f"{name}-crls.pem") for name, _, crls in ENDPOINTS]
    cas = [bundle(fx, tmp, ca, f"{name}-cas.pem") for name, ca, _ in ENDPOINTS]
    ports = [bed.free_port() for _ in ENDPOINTS]
    args, env = make(tmp, fx, ports, files, cas)
    # One process serves the three endpoints: listening on the first, it listens on all.
    srv = bed.Server(args, ports[0], tmp / "srv", env=env)
    return fx, ports, srv


def revocation_targets(stack, ports, check):
    _, profile, extra, _, _ = STACKS[stack]
    return {name: bed.target(p, profile, crl_policy(ca, crls, check), **extra)
            for p, (name, ca, crls) in zip(ports, ENDPOINTS)}


def explicit_cases():
    return [{"name": f"{t}/{i}/tls{v}", "target": t, "identity": i, "version": v}
            for t, ids in EXPLICIT.items() for i in ids for v in ("1.2", "1.3")]


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_strict_revocation_matrix_passes_against_the_real_server(harness, tmp_path, stack):
    """A revoked client, a client under a revoked intermediate, an intermediate without a CRL
    and an expired CRL are refused by the real server as the policy says and the way its
    profile says, and the good clients are admitted: --strict passes, every outcome read from
    what the probe recorded."""
    _, _, _, check, measured = STACKS[stack]
    fx, ports, srv = start(harness, tmp_path, stack)
    try:
        targets = revocation_targets(stack, ports, check)
        r, report = bed.run_matrix(harness, tmp_path / "run", fx, targets, identities=MATRIX_IDS,
                                   cases=explicit_cases(), matrix_targets=["all"])
        logs = [srv.log, tmp_path / "error.log", tmp_path / "stunnel.log"]
        total = len(MATRIX_IDS) * 2 + sum(len(v) for v in EXPLICIT.values()) * 2
        cases = bed.assert_strict_pass(r, report, total, logs)
    finally:
        srv.stop()
    exp = {k: c["expected"] for k, c in cases.items()}
    o = {k: c["outcome"] for k, c in cases.items()}
    for v in ("1.2", "1.3"):
        assert exp[f"all/revoked/tls{v}"]["reason"] == "revoked"
        assert exp[f"all/client/tls{v}"]["result"] == "accept"
        assert o[f"all/client/tls{v}"]["result"] == "accepted"
        assert o[f"all/intermediate-signed/tls{v}"]["result"] == "accepted"
        assert exp[f"stale/stale-crl-client/tls{v}"]["reason"] == "crl_expired"
        assert exp[f"root-only/intermediate-signed/tls{v}"]["reason"] == "crl_missing"
        assert o[f"root-only/client/tls{v}"]["result"] == "accepted"
        assert o[f"stale/client/tls{v}"]["result"] == "accepted"
        for case, reason in ((f"all/revoked/tls{v}", "revoked"),
                             (f"stale/stale-crl-client/tls{v}", "crl_expired"),
                             (f"root-only/intermediate-signed/tls{v}", "crl_missing")):
            got = o[case]["http_status"] if measured[reason] >= 100 else \
                (o[case].get("alert_received") or {}).get("code")
            assert got == measured[reason], (case, o[case])
        under = f"all/under-revoked-intermediate/tls{v}"
        if check == "chain":
            assert exp[under]["reason"] == "revoked"
            assert o[under]["result"] == "rejected"
        else:
            # Checking the leaf's issuer's CRL only, the server admits a client whose
            # intermediate its root revoked; the policy that says so expects it.
            assert exp[under]["result"] == "accept"
            assert o[under]["result"] == "accepted"


def test_stunnel_checks_only_the_leafs_crl_and_a_chain_policy_says_so(harness, tmp_path):
    """stunnel's CRLfile checks the leaf's issuer's CRL only: judged by a policy that asks for
    every CA's, the client under a revoked intermediate is an unexpected-accept and the run
    fails (never a green for a revocation the deployment does not enforce)."""
    fx, ports, srv = start(harness, tmp_path, "stunnel")
    try:
        targets = {"all": revocation_targets("stunnel", ports, "chain")["all"]}
        r, report = bed.run_matrix(harness, tmp_path / "run", fx, targets,
                                   identities=["client", "under-revoked-intermediate"])
    finally:
        srv.stop()
    v = {c["id"]: c for c in report["cases"]}
    assert r.returncode == 1, r.stdout
    for ver in ("1.2", "1.3"):
        bad = v[f"all/under-revoked-intermediate/tls{ver}"]
        assert bad["verdict"] == "unexpected-accept", bad
        assert bad["expected"]["reason"] == "revoked"
        assert v[f"all/client/tls{ver}"]["verdict"] == "pass"


# --- the fixtures ---


@pytest.fixture(scope="module")
def crl_fx(harness, tmp_path_factory):
    return bed.make_pki(harness, tmp_path_factory.mktemp("crl-fx") / "pki")


def openssl(*args):
    return run(["openssl", *args], timeout=30)


def test_openssl_reads_every_generated_crl(crl_fx):
    fx = crl_fx
    for ca in ("stacks-ca", "intermediate-ca", "revoked-intermediate-ca", "untrusted-ca",
               "stale-crl-ca"):
        crl = fx / f"{ca}-crl.pem"
        assert oct(crl.stat().st_mode & 0o777) == "0o644"
        r = openssl("crl", "-in", crl, "-noout", "-text")
        assert r.returncode == 0, r.stderr
        assert "Version 2" in r.stdout and "X509v3 CRL Number" in r.stdout, r.stdout
        assert "X509v3 Authority Key Identifier" in r.stdout
        # Signed by its CA.
        r = openssl("crl", "-in", crl, "-noout", "-CAfile", fx / f"{ca}.pem")
        assert "verify OK" in r.stdout + r.stderr, r.stdout + r.stderr
    text = openssl("crl", "-in", fx / "stacks-ca-crl.pem", "-noout", "-text").stdout
    serial = openssl("x509", "-in", fx / "revoked-cert.pem", "-noout", "-serial").stdout
    assert serial.strip().split("=")[1] in text.replace(":", "").upper()
    assert "Key Compromise" in text and "CA Compromise" in text
    good = openssl("x509", "-in", fx / "client-cert.pem", "-noout", "-serial").stdout
    assert good.strip().split("=")[1] not in text.replace(":", "").upper()


def test_openssl_verify_crl_check_agrees_with_the_fixtures(crl_fx, tmp_path):
    fx = crl_fx
    chain = tmp_path / "ca-and-crls.pem"
    chain.write_text("".join((fx / f).read_text() for f in ["stacks-ca.pem"] + CHAIN_CRLS))

    def verify(leaf, *extra):
        return openssl("verify", "-crl_check_all", "-CAfile", chain, *extra, fx / leaf)
    assert verify("client-cert.pem").returncode == 0
    r = verify("revoked-cert.pem")
    assert r.returncode != 0 and "certificate revoked" in r.stdout + r.stderr
    r = verify("under-revoked-intermediate-cert.pem", "-untrusted",
               fx / "revoked-intermediate-ca.pem")
    assert r.returncode != 0 and "certificate revoked" in r.stdout + r.stderr
    assert verify("intermediate-signed-cert.pem", "-untrusted", fx / "intermediate-ca.pem"
                  ).returncode == 0
    stale = tmp_path / "stale.pem"
    stale.write_text((fx / "stale-crl-ca.pem").read_text() + (fx / "stale-crl-ca-crl.pem").read_text())
    r = openssl("verify", "-crl_check", "-CAfile", stale, fx / "stale-crl-client-cert.pem")
    assert r.returncode != 0 and "CRL has expired" in r.stdout + r.stderr


def test_a_revoked_serial_survives_reissue_and_extra_entries_pad_the_crl(harness, tmp_path):
    """Every run issues its certificates again: a revoked one keeps its serial (derived from
    its CA's key and its name), so the CRL a server loaded before still lists it. extra_entries
    adds made-up serials."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "cas": [{"name": "ca", "crl": {"extra_entries": 1000, "next_update": "2d"}}],
        "identities": [{"name": "gone", "ca": "ca", "revoked": True},
                       {"name": "kept", "ca": "ca"}]}))
    serials = []
    for _ in range(2):
        r = run([harness, "pki", spec, "--out", tmp_path / "fx"])
        assert r.returncode == 0, r.stderr
        assert "revoked: on its issuer's CRL" in r.stdout
        assert "crl      ca-crl.pem             1 revoked (and made-up serials)" in r.stdout
        serials.append(openssl("x509", "-in", tmp_path / "fx/gone-cert.pem", "-noout",
                               "-serial").stdout)
    assert serials[0] == serials[1]
    text = openssl("crl", "-in", tmp_path / "fx/ca-crl.pem", "-noout", "-text").stdout
    assert text.count("Serial Number:") == 1001
    assert serials[0].strip().split("=")[1] in text.replace(":", "").upper()


@pytest.mark.parametrize("ca,ident,where,words", [
    ({"name": "r", "revoked": True}, None, "$.cas[0].revoked", "a self-signed certificate is on no CA's CRL"),
    ({"name": "r"}, {"revoked_at": "-1h"}, "$.identities[0].revoked_at", "only a revoked certificate"),
    ({"name": "r"}, {"revoked": True, "revocation_reason": "stolen"},
     "$.identities[0].revocation_reason", "unknown revocation reason \"stolen\""),
    ({"name": "r"}, {"revoked": True, "revoked_at": "+1d"}, "$.identities[0].revoked_at",
     "revoked now or in the past"),
    ({"name": "r", "crl": {"next_updat": "1d"}}, None, "$.cas[0].crl.next_updat", "unknown key"),
    ({"name": "r", "crl": {"extra_entries": -1}}, None, "$.cas[0].crl.extra_entries", ""),
])
def test_bad_revocation_keys_are_refused_with_their_path(harness, tmp_path, ca, ident, where, words):
    ids = [dict({"name": "i", "ca": "r"}, **ident)] if ident else []
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"cas": [ca], "identities": ids}))
    r = run([harness, "pki", spec, "--out", tmp_path / "fx"])
    assert r.returncode != 0
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and f"{spec}: {where}: " in line and words in line, line
    assert not (tmp_path / "fx").exists()


def test_an_imported_ca_brings_its_crl_and_a_foreign_one_is_refused(harness, tmp_path, crl_fx):
    fx = crl_fx
    ok = {"cas": [{"name": "op", "import_cert": str(fx / "stacks-ca.pem"),
                   "import_crl": str(fx / "stacks-ca-crl.pem")}], "identities": []}
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(ok))
    r = run([harness, "pki", spec, "--out", tmp_path / "fx"])
    assert r.returncode == 0, r.stderr
    # Used where it is: nothing written for it.
    assert not (tmp_path / "fx" / "op-crl.pem").exists()
    ok["cas"][0]["import_crl"] = str(fx / "untrusted-ca-crl.pem")  # same subject, other key
    spec.write_text(json.dumps(ok))
    r = run([harness, "pki", spec, "--out", tmp_path / "fx2"])
    assert r.returncode != 0
    assert "$.cas[0]: the CRL" in r.stderr and "is not signed by this CA" in r.stderr, r.stderr
    assert not (tmp_path / "fx2").exists()


# --- the policy ---


def scenario(tmp_path, pol, identities=("client",)):
    doc = {"name": "rev", "fixtures": str(bed.SPEC),
           "locations": {"t": bed.target(1, None, pol)},
           "matrix": {"targets": ["t"], "identities": list(identities), "versions": ["1.3"]}}
    path = tmp_path / "rev.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("rev,words", [
    ({}, "\"crl_files\" is required"),
    ({"crl_files": []}, "an empty list checks no revocation"),
    ({"crl_files": ["/certs/stacks-ca-crl.pem"], "check": "all"}, "is no revocation check"),
    ({"crl_files": ["/certs/stacks-ca-crl.pem"], "crl": 1}, "unknown key"),
    ({"crl_files": ["/certs/nothing-crl.pem"]}, "generates no \"nothing-crl.pem\""),
])
def test_bad_revocation_policies_are_refused_by_check(harness, tmp_path, rev, words):
    pol = {"client_auth": "require", "client_ca_files": ["/certs/stacks-ca.pem"], "revocation": rev}
    r = run([harness, "check", scenario(tmp_path, pol)])
    assert r.returncode != 0
    assert "$.locations.t.policy.revocation" in r.stderr and words in r.stderr, r.stderr


def test_an_operator_crl_file_that_is_not_a_crl_is_named(harness, tmp_path, crl_fx):
    pol = {"client_auth": "require", "client_ca_files": ["/certs/stacks-ca.pem"],
           "revocation": {"crl_files": [str(crl_fx / "stacks-ca.pem")]}}
    r = run([harness, "check", scenario(tmp_path, pol)])
    assert r.returncode != 0
    assert "holds no CRL, only certificates" in r.stderr, r.stderr


def test_a_crl_its_ca_did_not_sign_stops_the_run_before_any_probe(harness, tmp_path):
    """untrusted-ca has stacks-ca's subject and another key: its CRL names stacks-ca as issuer
    but stacks-ca did not sign it. An input error, one line, nothing probed."""
    pol = {"client_auth": "require", "client_ca_files": ["/certs/stacks-ca.pem"],
           "revocation": {"crl_files": ["/certs/untrusted-ca-crl.pem"]}}
    out = tmp_path / "out"
    r = run([harness, "run", scenario(tmp_path, pol), "--out", out, "--quiet"], timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "untrusted-ca-crl.pem: CRL 1 names issuer" in r.stderr
    assert "that CA's key did not sign it" in r.stderr, r.stderr
    assert not (out / "report.json").exists()


def test_semstreams_checks_no_revocation_and_the_report_says_so(harness, tmp_path):
    """A real SemStreams (the mock, served) with a policy that requires revocation: Go's
    crypto/tls checks none, so the revoked identity is admitted. The profile's cannot is a
    warning before the run, and the verdict names it: unexpected-accept, exit 1."""
    fx = tmp_path / "fx"
    serve = subprocess.Popen([str(harness), "serve", str(ROOT / "scenarios/tier2-mtls.json"),
                              "--ephemeral-ports", "--fixtures", str(fx), "--for", "60",
                              "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
    try:
        port = None
        for line in serve.stdout:
            if line.startswith("endpoint location-a "):
                port = line.split("listen=127.0.0.1:")[1].split()[0]
            if line.startswith("serve: ready"):
                break
        assert port, "serve did not print its endpoint"
        pol = {"mtls": {"enabled": True, "require_client_cert": True,
                        "client_ca_files": ["/certs/federation-ca.pem"]},
               "revocation": {"crl_files": ["/certs/federation-ca-crl.pem"]}}
        doc = {"name": "go-rev", "fixtures": str(ROOT / "fixtures/federation.json"),
               "locations": {"sem": {"target": f"127.0.0.1:{port}",
                                     "server_name": "location-a.semstreams.local",
                                     "ca_files": ["/certs/federation-ca.pem"],
                                     "profile": "semstreams", "path": "/ws", "policy": pol}},
               "matrix": {"targets": ["sem"], "identities": ["location-b", "revoked"],
                          "versions": ["1.3"]}}
        path = tmp_path / "go-rev.json"
        path.write_text(json.dumps(doc))
        out = tmp_path / "out"
        out.mkdir()
        shutil.copytree(fx, out / "fixtures")
        r = run([harness, "run", path, "--out", out, "--profiles", ROOT / "profiles", "--quiet"],
                timeout=120)
    finally:
        serve.terminate()
        serve.wait(timeout=10)
    report = json.loads((out / "report.json").read_text())
    v = {c["id"]: c for c in report["cases"]}
    assert r.returncode == 1, r.stdout
    bad = v["sem/revoked/tls1.3"]
    assert bad["verdict"] == "unexpected-accept" and bad["expected"]["reason"] == "revoked", bad
    assert "checks no revocation" in bad["verdict_reason"], bad
    assert v["sem/location-b/tls1.3"]["verdict"] == "pass"
    assert ("cannot_enforce", "sem") in {(w["kind"], w.get("target")) for w in report["warnings"]}
