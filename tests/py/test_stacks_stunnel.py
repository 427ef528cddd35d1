"""stunnel 5.68 (Debian's stunnel4), a TLS-terminating TCP service: verifyChain, and checkHost for the
client's name (X509_check_host: the DNS SANs when there are any, else the CN), probed with request
mode "tls" by a strict matrix with the stunnel profile (docs/stacks.md#stunnel)."""
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402

# The identities of the host rule: DNS SAN allowed with another CN (admitted), no SAN and the CN
# allowed (admitted: the CN is read only without DNS SANs), the CN allowed with another DNS SAN
# (refused: the SAN decides).
HOST_IDENTITIES = ["san-only-match", "cn-only", "san-mismatch"]


@pytest.fixture(scope="module")
def stunnel(harness, tmp_path_factory):
    binary = bed.need("stunnel4")
    tmp = tmp_path_factory.mktemp("stunnel")
    fx = bed.make_pki(harness, tmp / "pki")
    port = bed.free_port()
    conf = tmp / "stunnel.conf"
    conf.write_text((ROOT / "tests/stacks/stunnel.conf.in").read_text().format(
        port=port, dir=tmp, fx=fx))
    srv = bed.Server([binary, conf], port, tmp / "srv")
    try:
        yield tmp, fx, port, srv
    finally:
        srv.stop()


def test_stunnel_strict_matrix_passes(harness, stunnel):
    tmp, fx, port, srv = stunnel
    pol = {"client_auth": "require", "client_ca_files": ["/certs/stacks-ca.pem"],
           "identity": {"host": [bed.CLIENT]}}
    # The service speaks first, so an admitted client is seen at once: a long first-read deadline
    # costs no admitted case anything, and a refusal that a loaded machine delays past the
    # default 1000 ms (seen once under ASan, 6 processes on 2 cores) is not taken for silence.
    targets = {"stunnel": bed.target(port, "stunnel", pol, request="tls", first_read_ms=10000)}
    identities = bed.IDENTITIES + HOST_IDENTITIES
    r, report = bed.run_matrix(harness, tmp / "run", fx, targets, identities=identities)
    cases = bed.assert_strict_pass(r, report, len(identities) * 2,
                                   [srv.log, tmp / "stunnel.log"])
    o = {k: c["outcome"] for k, c in cases.items()}
    exp = {k: c["expected"] for k, c in cases.items()}
    # Admitted: the service's line arrives at the first read, no HTTP involved.
    assert o["stunnel/client/tls1.3"]["result"] == "accepted"
    assert o["stunnel/client/tls1.3"]["http_status"] == 0
    assert cases["stunnel/client/tls1.3"]["summary"] == 'accepted (TLSv1.3, request "tls": no HTTP)'
    log = (tmp / "run" / "out" / cases["stunnel/client/tls1.3"]["log"]).read_text()
    assert "after request tls, no HTTP status" in log and "HTTP 0" not in log
    for v in ("1.2", "1.3"):
        assert o[f"stunnel/san-only-match/tls{v}"]["result"] == "accepted"
        assert o[f"stunnel/cn-only/tls{v}"]["result"] == "accepted"
        # checkHost refuses with internal_error, in both versions.
        assert exp[f"stunnel/san-mismatch/tls{v}"]["reason"] == "host_mismatch"
        assert o[f"stunnel/san-mismatch/tls{v}"]["alert_received"]["code"] == 80
        assert o[f"stunnel/other/tls{v}"]["alert_received"]["code"] == 80
    assert o["stunnel/none/tls1.2"]["alert_received"]["code"] == 40
    assert o["stunnel/none/tls1.3"]["alert_received"]["code"] == 116
