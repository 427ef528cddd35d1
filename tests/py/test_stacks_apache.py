"""Apache httpd 2.4 mod_ssl (Debian's apache2) with SSLVerifyClient require, SSLVerifyDepth and a
`Require expr` on the client's CN, probed by a strict matrix with the apache profile; two more
sites with SSLVerifyClient optional and optional_no_ca, each probed by its own strict matrix
(docs/stacks.md#apache)."""
import os
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402


@pytest.fixture(scope="module")
def apache(harness, tmp_path_factory):
    binary = bed.need("apache2")
    tmp = tmp_path_factory.mktemp("apache")
    fx = bed.make_pki(harness, tmp / "pki")
    port, port2 = bed.free_port(), bed.free_port()
    port_optional, port_no_ca, port_no_root = bed.free_port(), bed.free_port(), bed.free_port()
    port_reneg = bed.free_port()
    conf = tmp / "apache2.conf"
    conf.write_text((ROOT / "tests/stacks/apache2.conf.in").read_text().format(
        port=port, port2=port2, port_optional=port_optional, port_no_ca=port_no_ca,
        port_no_root=port_no_root, port_reneg=port_reneg, dir=tmp, fx=fx))
    # Debian's apache2 reads its run directories from these variables (/etc/apache2/envvars);
    # the private configuration names its own files, so only the lock directory is needed.
    env = dict(os.environ, APACHE_LOCK_DIR=str(tmp), APACHE_RUN_DIR=str(tmp),
               APACHE_PID_FILE=str(tmp / "httpd.pid"), APACHE_LOG_DIR=str(tmp))
    srv = bed.Server([binary, "-f", conf, "-DFOREGROUND"], port, tmp / "srv", env=env)
    try:
        yield tmp, fx, (port, port2, port_optional, port_no_ca, port_no_root, port_reneg), srv
    finally:
        srv.stop()


def test_apache_strict_matrix_passes(harness, apache):
    tmp, fx, (port, port2, _, _, _, _), srv = apache
    # The second site: SSLVerifyDepth 1 counts the CA levels, so OpenSSL's depth (the
    # intermediates allowed) that the policy states is 0; the name is a DNS SAN.
    san = {"client_auth": "require", "client_ca_files": ["/certs/stacks-ca.pem"],
           "identity": {"dns_san": [bed.CLIENT]}, "verify_depth": 0}
    targets = {"apache": bed.target(port, "apache", bed.policy([bed.CLIENT])),
               "apache-san": bed.target(port2, "apache", san)}
    ids = ["client", "intermediate-signed", "other", "san-only-match", "san-mismatch", "cn-only"]
    cases = [{"name": f"san/{i}/tls{v}", "target": "apache-san", "identity": i, "version": v}
             for i in ids for v in ("1.2", "1.3")]
    r, report = bed.run_matrix(harness, tmp / "run", fx, targets, cases=cases,
                               matrix_targets=["apache"])
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2 + len(ids) * 2,
                                   [srv.log, tmp / "error.log"])
    o = {k: c["outcome"] for k, c in cases.items()}
    assert o["apache/none/tls1.2"]["alert_received"]["code"] == 40
    assert o["apache/none/tls1.3"]["alert_received"]["code"] == 116
    assert o["apache/other/tls1.3"]["http_status"] == 403
    assert o["apache/client/tls1.3"]["http_status"] == 200
    assert o["apache/intermediate-signed/tls1.2"]["http_status"] == 200
    # SSLVerifyDepth 1: the intermediate is one CA level too many, refused in TLS by mod_ssl
    # with internal_error (its verify callback fails without an X509 error to map).
    assert cases["san/intermediate-signed/tls1.3"]["expected"]["reason"] == "chain_too_long"
    assert o["san/intermediate-signed/tls1.3"]["alert_received"]["code"] == 80
    # The DNS SAN decides, not the CN.
    assert o["san/san-only-match/tls1.3"]["http_status"] == 200
    assert o["san/san-mismatch/tls1.2"]["http_status"] == 403
    assert o["san/cn-only/tls1.3"]["http_status"] == 403


def optional_policy(client_auth):
    return {"client_auth": client_auth, "client_ca_files": ["/certs/stacks-ca.pem"],
            "identity": {"cn": [bed.CLIENT]}}


def test_apache_verify_optional_strict_matrix_passes(harness, apache):
    """SSLVerifyClient optional, policy client_auth optional, the apache profile: no certificate
    is let in, a certificate sent is verified in TLS as with require."""
    tmp, fx, (_, _, port, _, _, _), srv = apache
    targets = {"apache-optional": bed.target(port, "apache", optional_policy("optional"))}
    r, report = bed.run_matrix(harness, tmp / "run-optional", fx, targets)
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2,
                                   [srv.log, tmp / "error.log"])
    o = {k: c["outcome"] for k, c in cases.items()}
    for v in ("1.2", "1.3"):
        assert cases[f"apache-optional/none/tls{v}"]["expected"]["result"] == "accept"
        assert o[f"apache-optional/none/tls{v}"]["http_status"] == 200
    assert o["apache-optional/untrusted/tls1.2"]["alert_received"]["code"] == 48
    assert o["apache-optional/self-signed/tls1.3"]["alert_received"]["code"] == 48
    assert o["apache-optional/expired/tls1.3"]["alert_received"]["code"] == 45
    assert o["apache-optional/key-mismatch/tls1.3"]["alert_received"]["code"] == 51
    assert o["apache-optional/other/tls1.2"]["http_status"] == 403
    assert o["apache-optional/client/tls1.3"]["http_status"] == 200
    assert o["apache-optional/intermediate-signed/tls1.2"]["http_status"] == 200


def test_apache_verify_optional_no_ca_strict_matrix_passes(harness, apache):
    """SSLVerifyClient optional_no_ca, policy client_auth optional_no_ca, the apache profile: an
    unknown issuer or a self-signed certificate is let in (mod_ssl's
    ssl_verify_error_is_optional; the Require expr still judges its CN), an expired one is
    not, and neither is a chain to a CA file's intermediate whose root is missing."""
    tmp, fx, (_, _, _, port, port_no_root, _), srv = apache
    no_root = optional_policy("optional_no_ca")
    no_root["client_ca_files"] = ["/certs/intermediate-ca.pem"]
    targets = {"apache-no-ca": bed.target(port, "apache", optional_policy("optional_no_ca")),
               "apache-no-root": bed.target(port_no_root, "apache", no_root)}
    ids = ["intermediate-signed", "client", "none"]
    extra = [{"name": f"no-root/{i}/tls{v}", "target": "apache-no-root", "identity": i,
              "version": v} for i in ids for v in ("1.2", "1.3")]
    r, report = bed.run_matrix(harness, tmp / "run-no-ca", fx, targets, cases=extra,
                               matrix_targets=["apache-no-ca"])
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2 + len(extra),
                                   [srv.log, tmp / "error.log"])
    o = {k: c["outcome"] for k, c in cases.items()}
    for v in ("1.2", "1.3"):
        assert o[f"apache-no-ca/none/tls{v}"]["http_status"] == 200
        assert o[f"apache-no-ca/untrusted/tls{v}"]["http_status"] == 200
        assert o[f"apache-no-ca/self-signed/tls{v}"]["http_status"] == 200
    assert o["apache-no-ca/expired/tls1.2"]["alert_received"]["code"] == 45
    assert o["apache-no-ca/not-yet-valid/tls1.3"]["alert_received"]["code"] == 42
    assert o["apache-no-ca/server-only-eku/tls1.3"]["alert_received"]["code"] == 43
    assert o["apache-no-ca/key-mismatch/tls1.2"]["alert_received"]["code"] == 51
    assert o["apache-no-ca/other/tls1.3"]["http_status"] == 403
    assert o["apache-no-ca/client/tls1.2"]["http_status"] == 200
    # A CA file holding only the intermediate: its missing root (X509 error 2, "unable to get
    # issuer certificate") is not forgiven, unknown_ca in TLS; a leaf of the root finds no issuer
    # at all (error 20), which is.
    for v in ("1.2", "1.3"):
        assert cases[f"no-root/intermediate-signed/tls{v}"]["expected"]["reason"] == "unknown_ca"
        assert o[f"no-root/intermediate-signed/tls{v}"]["alert_received"]["code"] == 48
        assert o[f"no-root/client/tls{v}"]["http_status"] == 200
        assert o[f"no-root/none/tls{v}"]["http_status"] == 200


def test_apache_per_directory_client_auth(harness, apache):
    """SSLVerifyClient require in a <Location> only: in TLS 1.2 mod_ssl renegotiates to ask for
    the certificate, and the probe follows (once), so what is judged is Apache's decision; in TLS
    1.3 it would need post-handshake authentication, which our client does not offer, and Apache
    answers 403 without having judged any certificate."""
    tmp, fx, (_, _, _, _, _, port), srv = apache
    targets = {"apache-reneg": bed.target(port, "apache", bed.policy([bed.CLIENT]))}
    r, report = bed.run_matrix(harness, tmp / "run-reneg", fx, targets,
                               identities=["client", "other", "untrusted", "none"], strict=False)
    v = {c["id"]: c for c in report["cases"]}
    for ident in ("client", "other", "untrusted", "none"):
        c = v[f"apache-reneg/{ident}/tls1.2"]
        assert c["outcome"]["renegotiations"] == 1, (c["id"], c["outcome"], srv.log.read_text()[-2000:])
        assert c["outcome"]["certificate_request"]["seen"], c["id"]
    assert v["apache-reneg/client/tls1.2"]["verdict"] == "pass"
    assert v["apache-reneg/client/tls1.2"]["outcome"]["http_status"] == 200
    assert v["apache-reneg/other/tls1.2"]["verdict"] == "pass"
    assert v["apache-reneg/other/tls1.2"]["outcome"]["http_status"] == 403
    assert v["apache-reneg/untrusted/tls1.2"]["verdict"] in ("pass", "pass-conceptual")
    assert v["apache-reneg/untrusted/tls1.2"]["outcome"]["result"] == "rejected"
    # TLS 1.3: 403 with no CertificateRequest ever seen. No refusal is the certificate's; the
    # client the policy admits was refused, and the reason says why.
    for ident in ("client", "other", "untrusted", "none"):
        c = v[f"apache-reneg/{ident}/tls1.3"]
        assert not c["outcome"]["certificate_request"]["seen"] and \
            c["outcome"]["http_status"] == 403, c
        assert "post-handshake authentication, which our client does not offer" in \
            c["verdict_reason"], c["verdict_reason"]
        assert c["verdict"] == ("unexpected-reject" if ident == "client" else "not-attributable")
