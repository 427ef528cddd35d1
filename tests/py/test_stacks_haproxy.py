"""haproxy 2.6 (Debian): `verify required` decides in TLS (OpenSSL's alerts), an ACL on the client's
CN answers 403 in HTTP; a second frontend with `verify optional` admits a client without a
certificate and still refuses a bad one in TLS. Each is probed by a strict matrix with the haproxy
profile (docs/stacks.md#haproxy)."""
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402


@pytest.fixture(scope="module")
def haproxy(harness, tmp_path_factory):
    binary = bed.need("haproxy")
    tmp = tmp_path_factory.mktemp("haproxy")
    fx = bed.make_pki(harness, tmp / "pki")
    # haproxy's crt is one file holding the certificate and its key.
    pem = tmp / "server.pem"
    pem.write_text((fx / "server-cert.pem").read_text() + (fx / "server-key.pem").read_text())
    pem.chmod(0o600)
    port, port_optional = bed.free_port(), bed.free_port()
    conf = tmp / "haproxy.cfg"
    conf.write_text((ROOT / "tests/stacks/haproxy.cfg.in").read_text().format(
        port=port, port_optional=port_optional, dir=tmp, fx=fx))
    srv = bed.Server([binary, "-f", conf, "-db"], port, tmp / "srv")
    try:
        yield tmp, fx, (port, port_optional), srv
    finally:
        srv.stop()


def test_haproxy_strict_matrix_passes(harness, haproxy):
    tmp, fx, (port, _), srv = haproxy
    targets = {"haproxy": bed.target(port, "haproxy", bed.policy([bed.CLIENT]))}
    r, report = bed.run_matrix(harness, tmp / "run", fx, targets)
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2, [srv.log])
    o = {k: c["outcome"] for k, c in cases.items()}
    # Verification in TLS, with OpenSSL 3.0's alerts...
    assert o["haproxy/none/tls1.2"]["alert_received"]["code"] == 40
    assert o["haproxy/none/tls1.3"]["alert_received"]["code"] == 116
    assert o["haproxy/untrusted/tls1.3"]["alert_received"]["code"] == 48
    # ...the name in HTTP.
    assert o["haproxy/other/tls1.3"]["http_status"] == 403
    assert o["haproxy/other/tls1.3"]["layer"] == "http"
    assert o["haproxy/client/tls1.2"]["http_status"] == 200


def test_haproxy_with_another_stacks_profile_fails_only_the_manner(harness, haproxy):
    """Judged with nginx's profile (HTTP 400 where haproxy sends an alert), haproxy refuses whom
    the policy refuses: the admission question passes (exit 0), the manner differs
    (pass-conceptual, predicted and seen named), and --strict fails the run on that."""
    tmp, fx, (port, _), srv = haproxy
    targets = {"haproxy": bed.target(port, "nginx-http", bed.policy([bed.CLIENT]))}
    ids = ["client", "none", "untrusted"]
    r, report = bed.run_matrix(harness, tmp / "wrong", fx, targets, identities=ids, strict=False)
    assert r.returncode == 0, r.stdout
    v = {c["id"]: c for c in report["cases"]}
    for k in ("haproxy/none/tls1.2", "haproxy/untrusted/tls1.3"):
        assert v[k]["verdict"] == "pass-conceptual", v[k]
        assert v[k]["manner"] == "differs"
        assert "where the profile predicts HTTP 400" in v[k]["verdict_reason"], v[k]
    assert "refused at alert 48 unknown_ca" in v["haproxy/untrusted/tls1.3"]["verdict_reason"]
    assert v["haproxy/client/tls1.3"]["verdict"] == "pass"
    r, report = bed.run_matrix(harness, tmp / "wrong-strict", fx, targets, identities=ids)
    assert r.returncode == 1, r.stdout
    assert {c["verdict"] for c in report["cases"]} == {"pass", "pass-conceptual"}


def test_haproxy_verify_optional_strict_matrix_passes(harness, haproxy):
    """`verify optional` with policy client_auth optional: the same profile as `verify required`
    (the same alerts for what is refused); which clients are refused is the policy's word."""
    tmp, fx, (_, port), srv = haproxy
    pol = {"client_auth": "optional", "client_ca_files": ["/certs/stacks-ca.pem"],
           "identity": {"cn": [bed.CLIENT]}}
    targets = {"haproxy-optional": bed.target(port, "haproxy", pol)}
    r, report = bed.run_matrix(harness, tmp / "run-optional", fx, targets)
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2, [srv.log])
    o = {k: c["outcome"] for k, c in cases.items()}
    # No certificate: the handshake completes and the ACL lets the request through.
    for v in ("1.2", "1.3"):
        assert cases[f"haproxy-optional/none/tls{v}"]["expected"]["result"] == "accept"
        assert o[f"haproxy-optional/none/tls{v}"]["http_status"] == 200
    # A certificate sent is verified in TLS, with the alerts of `verify required`.
    assert o["haproxy-optional/untrusted/tls1.2"]["alert_received"]["code"] == 48
    assert o["haproxy-optional/untrusted/tls1.3"]["alert_received"]["code"] == 48
    assert o["haproxy-optional/self-signed/tls1.3"]["alert_received"]["code"] == 48
    assert o["haproxy-optional/expired/tls1.3"]["alert_received"]["code"] == 45
    assert o["haproxy-optional/key-mismatch/tls1.2"]["alert_received"]["code"] == 51
    # The CN of a verified certificate is judged in HTTP.
    assert o["haproxy-optional/other/tls1.3"]["http_status"] == 403
    assert o["haproxy-optional/client/tls1.2"]["http_status"] == 200
    assert o["haproxy-optional/intermediate-signed/tls1.3"]["http_status"] == 200
