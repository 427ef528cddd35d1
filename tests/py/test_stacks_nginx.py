"""nginx (Debian's nginx-light) with ssl_verify_client and a map on $ssl_client_s_dn, probed by a
strict matrix with the nginx-http profile (docs/stacks.md#nginx)."""
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402

SERVER = """
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name server.stacks.test;
    ssl_verify_client {mode};
    location / {{
      {check}
      return 200 "ok\\n";
    }}
  }}"""
ON_CHECK = "if ($dn_ok = 0) { return 403; }"


@pytest.fixture(scope="module")
def nginx(harness, tmp_path_factory):
    binary = bed.need("nginx")
    tmp = tmp_path_factory.mktemp("nginx")
    fx = bed.make_pki(harness, tmp / "pki")
    ports = {"on": bed.free_port()}
    servers = SERVER.format(port=ports["on"], mode="on", check=ON_CHECK)
    conf = tmp / "nginx.conf"
    conf.write_text((ROOT / "tests/stacks/nginx.conf.in").read_text().format(
        dir=tmp, fx=fx, servers=servers))
    srv = bed.Server([binary, "-c", conf, "-p", tmp], ports["on"], tmp / "srv")
    try:
        yield tmp, fx, ports
    finally:
        srv.stop()


def test_nginx_on_strict_matrix_passes(harness, nginx):
    tmp, fx, ports = nginx
    targets = {"nginx-on": bed.target(ports["on"], "nginx-http", bed.policy([bed.CLIENT]))}
    r, report = bed.run_matrix(harness, tmp / "on", fx, targets)
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2, [tmp / "error.log"])
    # nginx answers in HTTP: 400 for what its verification refuses, 403 from the map.
    assert cases["nginx-on/none/tls1.3"]["outcome"]["http_status"] == 400
    assert cases["nginx-on/untrusted/tls1.2"]["outcome"]["http_status"] == 400
    assert cases["nginx-on/other/tls1.3"]["outcome"]["http_status"] == 403
    assert cases["nginx-on/client/tls1.3"]["outcome"]["http_status"] == 200
    assert cases["nginx-on/intermediate-signed/tls1.2"]["outcome"]["http_status"] == 200
