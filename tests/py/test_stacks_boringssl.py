"""BoringSSL as a server, verifying as Envoy does (tests/stacks/bssl_server.c: a custom verify
callback, X509_verify_cert with the ssl_client purpose, a name rule failing with BoringSSL's
default alert), probed by a strict matrix with the boringssl profile (docs/stacks.md#boringssl).
Debian's `bssl-tool server` is not used: it can require a client certificate but not verify it."""
import sys

import pytest

from conftest import ROOT, harness_path

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402


def bssl_server(fx, port, workdir, *extra):
    # Built by CMake next to the harness binary under test (build/, build-asan/, ...).
    binary = bed.need(str(harness_path().parent / "mh-bssl-server"))
    return bed.Server([binary, port, fx / "server-cert.pem", fx / "server-key.pem",
                       fx / "stacks-ca.pem", *extra], port, workdir)


@pytest.fixture(scope="module")
def boringssl(harness, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("boringssl")
    fx = bed.make_pki(harness, tmp / "pki")
    ports = {"cn": bed.free_port(), "tls13": bed.free_port(), "spiffe": bed.free_port()}
    servers = [bssl_server(fx, ports["cn"], tmp / "cn", "--allowed-cn", bed.CLIENT)]
    try:
        servers.append(bssl_server(fx, ports["tls13"], tmp / "tls13", "--allowed-cn", bed.CLIENT,
                                   "--min-version", "1.3"))
        # Envoy's match_typed_subject_alt_names with a URI prefix matcher.
        servers.append(bssl_server(fx, ports["spiffe"], tmp / "spiffe", "--uri-prefix",
                                   bed.SPIFFE_PREFIX))
        yield tmp, fx, ports, servers
    finally:
        for s in servers:
            s.stop()


def test_boringssl_strict_matrix_passes(harness, boringssl):
    tmp, fx, ports, servers = boringssl
    targets = {"bssl": bed.target(ports["cn"], "boringssl", bed.policy([bed.CLIENT])),
               "bssl-tls13": bed.target(ports["tls13"], "boringssl",
                                        bed.policy([bed.CLIENT], min_version="1.3")),
               "bssl-spiffe": bed.target(ports["spiffe"], "boringssl", bed.spiffe_policy())}
    cases = [{"name": f"min-tls13/client/tls{v}", "target": "bssl-tls13", "identity": "client",
              "version": v} for v in ("1.2", "1.3")] + bed.spiffe_cases("bssl-spiffe")
    r, report = bed.run_matrix(harness, tmp / "run", fx, targets, cases=cases,
                               matrix_targets=["bssl"])
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2 + 2 + len(bed.SPIFFE_IDENTITIES) * 2,
                                   [s.log for s in servers])
    o = {k: c["outcome"] for k, c in cases.items()}
    assert o["bssl/none/tls1.2"]["alert_received"]["code"] == 40
    assert o["bssl/none/tls1.3"]["alert_received"]["code"] == 116
    # BoringSSL maps "not yet valid" to certificate_expired, where OpenSSL sends bad_certificate.
    assert o["bssl/not-yet-valid/tls1.3"]["alert_received"]["code"] == 45
    # A name the callback refuses: the default alert of a failed custom verification.
    assert o["bssl/other/tls1.3"]["alert_received"]["code"] == 46
    assert o["min-tls13/client/tls1.2"]["alert_received"]["code"] == 70
    assert o["bssl/client/tls1.2"]["http_status"] == 200
    # The URI prefix matcher: the trust domain's workload in, the others out with 46.
    assert o["spiffe/spiffe-billing/tls1.3"]["http_status"] == 200
    assert o["spiffe/spiffe-staging/tls1.3"]["alert_received"]["code"] == 46
    assert cases["spiffe/spiffe-other-domain/tls1.2"]["expected"]["reason"] == "identity_not_allowed"
