"""OpenSSL servers: Debian's `openssl s_server -Verify 2 -verify_return_error -www`, probed by a
strict matrix with the openssl profile (docs/stacks.md#openssl). s_server verifies the chain but
has no name check: the policy still says which client is meant (a CN allow-list), the profile says
the stack cannot enforce it, so the oracle expects acceptance of another name, and the run warns."""
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402


def s_server(binary, fx, port, workdir, *extra):
    # -Verify: SSL_VERIFY_PEER|SSL_VERIFY_FAIL_IF_NO_PEER_CERT with depth 2; -verify_return_error:
    # a verification error ends the handshake with its alert instead of being logged only.
    return bed.Server([binary, "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "1000",
                       "-cert", fx / "server-cert.pem", "-key", fx / "server-key.pem",
                       "-CAfile", fx / "stacks-ca.pem", "-Verify", "2", "-verify_return_error",
                       "-www", "-quiet", *extra], port, workdir)


@pytest.fixture(scope="module")
def openssl(harness, tmp_path_factory):
    binary = bed.need("openssl")
    tmp = tmp_path_factory.mktemp("openssl")
    fx = bed.make_pki(harness, tmp / "pki")
    ports = {"any": bed.free_port(), "tls13": bed.free_port(), "tls12": bed.free_port()}
    servers = [s_server(binary, fx, ports["any"], tmp / "any")]
    try:
        servers.append(s_server(binary, fx, ports["tls13"], tmp / "tls13",
                                "-min_protocol", "TLSv1.3"))
        servers.append(s_server(binary, fx, ports["tls12"], tmp / "tls12",
                                "-max_protocol", "TLSv1.2"))
        yield tmp, fx, ports, servers
    finally:
        for s in servers:
            s.stop()


def test_openssl_s_server_strict_matrix_passes(harness, openssl):
    tmp, fx, ports, servers = openssl
    # No name rule: s_server has none (the next test gives it one).
    targets = {"s_server": bed.target(ports["any"], "openssl", bed.policy()),
               "s_server-tls13": bed.target(ports["tls13"], "openssl",
                                            bed.policy(min_version="1.3")),
               "s_server-tls12": bed.target(ports["tls12"], "openssl",
                                            bed.policy(max_version="1.2"))}
    # The TLS 1.3-minimum server: the admitted client offering each version (oracle: `version`).
    # The TLS 1.2-maximum server: a client offering only TLS 1.3 (`version_too_high`).
    cases = [{"name": f"{n}/client/tls{v}", "target": f"s_server-{t}", "identity": "client",
              "version": v} for n, t in (("min-tls13", "tls13"), ("max-tls12", "tls12"))
             for v in ("1.2", "1.3")]
    r, report = bed.run_matrix(harness, tmp / "run", fx, targets, cases=cases,
                               matrix_targets=["s_server"])
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2 + 4,
                                   [s.log for s in servers])
    o = {k: c["outcome"] for k, c in cases.items()}
    # OpenSSL 3.0: handshake_failure for a missing certificate in TLS 1.2, certificate_required
    # in TLS 1.3 (the reference document's source reading said 116 for both).
    assert o["s_server/none/tls1.2"]["alert_received"]["code"] == 40
    assert o["s_server/none/tls1.3"]["alert_received"]["code"] == 116
    assert o["s_server/not-yet-valid/tls1.3"]["alert_received"]["code"] == 42
    assert o["s_server/none/tls1.2"]["phase"] == "client_flight"
    assert o["s_server/none/tls1.3"]["phase"] == "first_read"
    assert o["min-tls13/client/tls1.2"]["alert_received"]["code"] == 70
    assert o["s_server/client/tls1.3"]["http_status"] == 200
    assert cases["max-tls12/client/tls1.3"]["expected"]["reason"] == "version_too_high"
    assert o["max-tls12/client/tls1.3"]["alert_received"]["code"] == 70
    assert o["max-tls12/client/tls1.2"]["http_status"] == 200
    assert cases["s_server/other/tls1.3"]["expected"]["result"] == "accept"


def test_a_name_rule_s_server_cannot_enforce_fails_the_run(harness, openssl):
    """The policy is the contract: its CN rule is one s_server cannot enforce (profile openssl
    says so), so the wrong CN is admitted and judged unexpected-accept, the profile's reason on
    the case, the warning before the run; a profile never makes that green."""
    tmp, fx, ports, servers = openssl
    targets = {"s_server": bed.target(ports["any"], "openssl", bed.policy([bed.CLIENT]))}
    r, report = bed.run_matrix(harness, tmp / "run-cn", fx, targets,
                               identities=["client", "other", "none"])
    assert r.returncode == 1, r.stdout
    v = {c["id"]: c for c in report["cases"]}
    for ver in ("1.2", "1.3"):
        other = v[f"s_server/other/tls{ver}"]
        assert other["expected"]["reason"] == "cn_not_allowed"
        assert other["outcome"]["http_status"] == 200
        assert other["verdict"] == "unexpected-accept"
        assert "profile openssl says its stack cannot enforce identity.cn" in \
            other["verdict_reason"]
        assert v[f"s_server/client/tls{ver}"]["verdict"] == "pass"
        assert v[f"s_server/none/tls{ver}"]["verdict"] == "pass"
    (w,) = report["warnings"]
    assert w["kind"] == "cannot_enforce" and w["fails"] is False
    assert "expect unexpected-accept" in w["message"]
    head = r.stdout.split("unexpected-accept s_server/")[0]
    assert f"warning: {w['message']}" in head, r.stdout
