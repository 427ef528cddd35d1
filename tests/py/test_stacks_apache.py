"""Apache httpd 2.4 mod_ssl (Debian's apache2) with SSLVerifyClient require, SSLVerifyDepth and a
`Require expr` on the client's CN, probed by a strict matrix with the apache profile
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
    port = bed.free_port()
    conf = tmp / "apache2.conf"
    conf.write_text((ROOT / "tests/stacks/apache2.conf.in").read_text().format(
        port=port, dir=tmp, fx=fx))
    # Debian's apache2 reads its run directories from these variables (/etc/apache2/envvars);
    # the private configuration names its own files, so only the lock directory is needed.
    env = dict(os.environ, APACHE_LOCK_DIR=str(tmp), APACHE_RUN_DIR=str(tmp),
               APACHE_PID_FILE=str(tmp / "httpd.pid"), APACHE_LOG_DIR=str(tmp))
    srv = bed.Server([binary, "-f", conf, "-DFOREGROUND"], port, tmp / "srv", env=env)
    try:
        yield tmp, fx, port, srv
    finally:
        srv.stop()


def test_apache_strict_matrix_passes(harness, apache):
    tmp, fx, port, srv = apache
    targets = {"apache": bed.target(port, "apache", bed.policy([bed.CLIENT]))}
    r, report = bed.run_matrix(harness, tmp / "run", fx, targets)
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2,
                                   [srv.log, tmp / "error.log"])
    o = {k: c["outcome"] for k, c in cases.items()}
    assert o["apache/none/tls1.2"]["alert_received"]["code"] == 40
    assert o["apache/none/tls1.3"]["alert_received"]["code"] == 116
    assert o["apache/other/tls1.3"]["http_status"] == 403
    assert o["apache/client/tls1.3"]["http_status"] == 200
    assert o["apache/intermediate-signed/tls1.2"]["http_status"] == 200
