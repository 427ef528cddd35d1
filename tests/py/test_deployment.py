"""The walkthrough of docs/deployments.md, as an operator would follow it: a PKI made by the openssl
CLI, the shipped example (scenarios/external-nginx.json with fixtures/external-nginx.json) copied
next to it unchanged, a real nginx on another host (a network namespace of this test) reached by
its name pinned with --resolve, then a CI job that catches a policy regression with --baseline, and
load against the same host counting nginx's HTTP 400s as rejections."""
import json
import shutil
import subprocess

import pytest

from conftest import NGINX_HEAD, ROOT, run
from netns import SERVER_V4, NetnsBed, stop_process

HOST, PORT = "nginx.staging.example", 8443
CLIENT_CN = "client.staging.example"

NGINX = NGINX_HEAD + """  map $ssl_client_s_dn $cn_ok {{
    default 0;
    "~(^|,)CN={cn}(,|$)" 1;
  }}
  server {{
    listen {addr}:{port} ssl;
    server_name {host};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {pki}/server.pem;
    ssl_certificate_key {pki}/server.key;
    ssl_client_certificate {pki}/ca.pem;
    ssl_verify_client on;
    location / {{
      {check}
      return 200 "ok\\n";
    }}
  }}
}}
"""
CN_CHECK = "if ($cn_ok = 0) { return 403; }"


def openssl(d, *args):
    r = run(["openssl", *args], cwd=d)
    assert r.returncode == 0, r.stderr


def operator_pki(d):
    """What an operator has: a CA, the server's certificate and the real client certificate."""
    d.mkdir(parents=True)
    openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "60", "-subj",
            "/O=Operator/CN=Operator Root CA")
    for name, cn, eku in (("server", HOST, "serverAuth"), ("client", CLIENT_CN, "clientAuth")):
        openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/O=Operator/CN={cn}")
        (d / f"{name}.ext").write_text(f"extendedKeyUsage={eku}\nsubjectAltName=DNS:{cn}\n")
        openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "30", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    for key in d.glob("*.key"):
        key.chmod(0o600)


@pytest.fixture(scope="module")
def staging(tmp_path_factory):
    """The example copied as shipped next to an operator PKI, and the namespaces: nginx runs in
    the server one, the harness in the client one."""
    tmp = tmp_path_factory.mktemp("deployment")
    for sub in ("scenarios", "fixtures"):
        (tmp / sub).mkdir()
        shutil.copy(ROOT / sub / "external-nginx.json", tmp / sub)
    operator_pki(tmp / "fixtures" / "operator")
    net = NetnsBed()
    try:
        net.create()
    except (OSError, subprocess.SubprocessError) as e:
        net.destroy()
        pytest.skip(f"cannot make network namespaces: {e}")
    try:
        yield tmp, net
    finally:
        net.destroy()


class Nginx:
    """nginx in the server namespace, with or without its CN check."""

    def __init__(self, tmp, net, cn_check):
        self.dir = tmp / ("nginx" if cn_check else "nginx-regressed")
        self.dir.mkdir(exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX.format(tmp=self.dir, addr=SERVER_V4, port=PORT, host=HOST,
                                     pki=tmp / "fixtures" / "operator", cn=CLIENT_CN,
                                     check=CN_CHECK if cn_check else ""))
        self.proc = subprocess.Popen(net.exec_args(net.server, "nginx", "-c", conf, "-p", self.dir),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        net.wait_listening(SERVER_V4, PORT, self.proc)

    def stop(self):
        stop_process(self.proc)


def harness_in(net, harness, *args):
    return net.run(net.client, harness, *args, "--resolve", f"{HOST}:{PORT}:{SERVER_V4}",
                   timeout=180)


def test_walkthrough_from_a_ca_file_to_a_ci_job_that_catches_a_regression(harness, staging):
    tmp, net = staging
    scenario = tmp / "scenarios" / "external-nginx.json"
    assert run([harness, "check", scenario]).returncode == 0
    nginx = Nginx(tmp, net, cn_check=True)
    try:
        good = harness_in(net, harness, "run", scenario, "--out", tmp / "good", "--strict")
    finally:
        nginx.stop()
    assert good.returncode == 0, good.stdout + good.stderr
    report = json.loads((tmp / "good" / "report.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in report["cases"]}
    assert set(verdicts.values()) == {"pass"} and len(verdicts) == 7 * 2 + 2
    outcome = {c["id"]: c["outcome"] for c in report["cases"]}
    assert outcome["staging/client/tls1.3"]["http_status"] == 200  # the real client is admitted
    assert outcome["staging/wrong-cn/tls1.3"]["http_status"] == 403
    assert outcome["staging/expired/tls1.2"]["http_status"] == 400
    assert outcome["staging/untrusted/tls1.3"]["http_status"] == 400
    assert not report.get("warnings")
    # The operator's files are used where they are, never rewritten.
    assert (tmp / "fixtures" / "operator" / "client.key").stat().st_mode & 0o777 == 0o600

    # A later deployment drops the CN check: the CI job, run with the first report as baseline,
    # fails and names what changed.
    nginx = Nginx(tmp, net, cn_check=False)
    try:
        ci = harness_in(net, harness, "run", scenario, "--out", tmp / "ci", "--baseline",
                        tmp / "good" / "report.json")
    finally:
        nginx.stop()
    assert ci.returncode == 1, ci.stdout + ci.stderr
    report = json.loads((tmp / "ci" / "report.json").read_text())
    failed = {c["id"] for c in report["cases"] if c["fails"]}
    assert failed == {"staging/wrong-cn/tls1.2", "staging/wrong-cn/tls1.3"}
    assert all(c["verdict"] == "unexpected-accept" for c in report["cases"] if c["fails"])
    assert "changed since baseline: staging/wrong-cn/tls1.3" in ci.stdout


def test_load_by_name_counts_the_http_400s_as_rejections(harness, staging):
    tmp, net = staging
    fx = tmp / "load-fixtures"
    nginx = Nginx(tmp, net, cn_check=True)
    try:
        r = harness_in(net, harness, "load", "--target", f"{HOST}:{PORT}", "--ca",
                       tmp / "fixtures" / "operator" / "ca.pem", "--identities-from",
                       tmp / "fixtures" / "external-nginx.json", "--fixtures", fx, "--identity",
                       "client", "--bad-identity", "expired", "--bad-share", "0.2",
                       "--profile", "nginx-http", "--rate", "50", "--duration", "2",
                       "--threads", "1", "--out", tmp / "load")
    finally:
        nginx.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((tmp / "load" / "report.json").read_text())
    counts = rep["counts"]
    assert counts["errors"] == 0 and counts["started"] > 0
    assert counts["rejected"] == int(counts["started"] * 0.2)
    assert counts["accepted"] == counts["started"] - counts["rejected"]
    assert set(rep["rejection_statuses"]) == {"400"}
