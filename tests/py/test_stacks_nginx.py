"""nginx (Debian's nginx-light) with each ssl_verify_client mode that asks for a certificate (on,
optional, optional_no_ca), ssl_verify_depth, and a map on $ssl_client_s_dn answering 403, probed by
one strict matrix with the nginx-http profile; one more optional_no_ca server whose client CA file
holds only the intermediate, probed by its own strict cases (docs/stacks.md#nginx).

One profile serves the three modes: nginx answers the same way in each (HTTP 400 for what its
verification refuses, 403 from the map, an alert only for what OpenSSL refuses in the handshake);
what differs between them is which certificates are refused, and that is the policy's
`client_auth`, which the oracle judges."""
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
    ssl_verify_depth {depth};
    location / {{
      if ($dn_ok = 0) {{ return 403; }}
      return 200 "ok\\n";
    }}
  }}"""
# optional_no_ca at TLS, and only verified certificates admitted by the application: the pattern
# the policy's "verified_only" states (docs/scenarios.md).
VERIFIED_ONLY = """
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name server.stacks.test;
    ssl_verify_client optional_no_ca;
    ssl_verify_depth 2;
    location / {{
      if ($ssl_client_verify != SUCCESS) {{ return 403; }}
      if ($dn_ok = 0) {{ return 403; }}
      return 200 "ok\n";
    }}
  }}"""
# The map's regular expression, as the policy states it (POSIX ERE on the RFC 2253 DN).
DN_REGEX = "^CN=client\\.example,O=Stacks Test$"
# name -> (ssl_verify_client, ssl_verify_depth, the policy's client_auth, its verify_depth)
MODES = {"on": ("on", 2, "require", None), "optional": ("optional", 2, "optional", None),
         "optional-no-ca": ("optional_no_ca", 2, "optional_no_ca", None),
         "depth": ("on", 0, "require", 0)}


def nginx_policy(client_auth, depth, ca_file="/certs/stacks-ca.pem"):
    p = {"client_auth": client_auth, "client_ca_files": [ca_file],
         "identity": {"dn_regex": DN_REGEX}}
    if depth is not None:
        p["verify_depth"] = depth
    return p


@pytest.fixture(scope="module")
def nginx(harness, tmp_path_factory):
    binary = bed.need("nginx")
    tmp = tmp_path_factory.mktemp("nginx")
    fx = bed.make_pki(harness, tmp / "pki")
    ports = {name: bed.free_port() for name in [*MODES, "no-root", "verified-only"]}
    servers = "".join(SERVER.format(port=ports[n], mode=m[0], depth=m[1])
                      for n, m in MODES.items())
    servers += VERIFIED_ONLY.format(port=ports["verified-only"])
    conf = tmp / "nginx.conf"
    conf.write_text((ROOT / "tests/stacks/nginx.conf.in").read_text().format(
        dir=tmp, fx=fx, servers=servers, port_no_root=ports["no-root"]))
    srv = bed.Server([binary, "-c", conf, "-p", tmp], ports["on"], tmp / "srv")
    try:
        yield tmp, fx, ports
    finally:
        srv.stop()


def test_nginx_every_mode_strict_matrix_passes(harness, nginx):
    tmp, fx, ports = nginx
    targets = {f"nginx-{n}": bed.target(ports[n], "nginx-http", nginx_policy(m[2], m[3]))
               for n, m in MODES.items()}
    # The depth server: a leaf under the intermediate is one intermediate too many for depth 0.
    cases = [{"name": f"depth/{i}/tls{v}", "target": "nginx-depth", "identity": i, "version": v}
             for i in ("client", "intermediate-signed") for v in ("1.2", "1.3")]
    r, report = bed.run_matrix(harness, tmp / "run", fx, targets, cases=cases,
                               matrix_targets=["nginx-on", "nginx-optional",
                                               "nginx-optional-no-ca"])
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2 * 3 + 4,
                                   [tmp / "error.log"])
    o = {k: c["outcome"] for k, c in cases.items()}
    # on: 400 for what verification refuses, 403 from the map.
    assert o["nginx-on/none/tls1.3"]["http_status"] == 400
    assert o["nginx-on/untrusted/tls1.2"]["http_status"] == 400
    assert o["nginx-on/other/tls1.3"]["http_status"] == 403
    assert o["nginx-on/client/tls1.3"]["http_status"] == 200
    assert o["nginx-on/intermediate-signed/tls1.2"]["http_status"] == 200
    # optional: no certificate is let in, a bad one is not.
    assert o["nginx-optional/none/tls1.3"]["http_status"] == 200
    assert o["nginx-optional/untrusted/tls1.3"]["http_status"] == 400
    assert o["nginx-optional/other/tls1.2"]["http_status"] == 403
    # optional_no_ca: an unknown issuer or a self-signed certificate is let in (the map still
    # judges its DN), an expired one is not.
    assert o["nginx-optional-no-ca/untrusted/tls1.3"]["http_status"] == 200
    assert o["nginx-optional-no-ca/self-signed/tls1.2"]["http_status"] == 200
    assert o["nginx-optional-no-ca/expired/tls1.3"]["http_status"] == 400
    assert o["nginx-optional-no-ca/none/tls1.2"]["http_status"] == 200
    # ssl_verify_depth 0: one intermediate is too many, and nginx says so in HTTP.
    assert o["depth/intermediate-signed/tls1.3"]["http_status"] == 400
    assert o["depth/client/tls1.3"]["http_status"] == 200
    expected = {c["id"]: c["expected"]["reason"] for c in report["cases"]}
    assert expected["depth/intermediate-signed/tls1.2"] == "chain_too_long"
    assert expected["nginx-on/other/tls1.2"] == "identity_not_allowed"


def test_nginx_optional_no_ca_intermediate_only_ca_file_strict_matrix_passes(harness, nginx):
    """ssl_verify_client optional_no_ca with ssl_client_certificate holding only the intermediate,
    policy client_auth optional_no_ca with that file: a leaf under the intermediate reaches a CA
    whose root is missing (X509 error 2), which nginx does not forgive (400); a leaf of the root
    finds no issuer in the file (error 20), which it does, and the map judges its DN."""
    tmp, fx, ports = nginx
    pol = nginx_policy("optional_no_ca", None, ca_file="/certs/intermediate-ca.pem")
    targets = {"nginx-no-root": bed.target(ports["no-root"], "nginx-http", pol)}
    r, report = bed.run_matrix(harness, tmp / "run-no-root", fx, targets,
                               identities=["intermediate-signed", "client", "none"])
    cases = bed.assert_strict_pass(r, report, 6, [tmp / "error.log"])
    o = {k: c["outcome"] for k, c in cases.items()}
    for v in ("1.2", "1.3"):
        refused = f"nginx-no-root/intermediate-signed/tls{v}"
        assert cases[refused]["expected"]["reason"] == "unknown_ca"
        assert o[refused]["http_status"] == 400
        assert cases[f"nginx-no-root/client/tls{v}"]["expected"]["result"] == "accept"
        assert o[f"nginx-no-root/client/tls{v}"]["http_status"] == 200
        assert o[f"nginx-no-root/none/tls{v}"]["http_status"] == 200
    # Only this server's CA file lacks a root: the error is nginx's reason for the 400s above.
    assert "(2:unable to get issuer certificate)" in (tmp / "error.log").read_text()


def test_nginx_optional_no_ca_with_verified_only_at_http_strict_matrix_passes(harness, nginx):
    """optional_no_ca and `if ($ssl_client_verify != SUCCESS) { return 403; }`: no certificate
    and an unknown CA pass TLS and are refused by the application with 403, which the policy
    states with "verified_only" (the oracle would otherwise expect acceptance); what nginx's own
    verification refuses (expired) is still its 400."""
    tmp, fx, ports = nginx
    pol = nginx_policy("optional_no_ca", None)
    pol["verified_only"] = {"refusal_statuses": [403]}
    targets = {"verified-only": bed.target(ports["verified-only"], "nginx-http", pol)}
    r, report = bed.run_matrix(harness, tmp / "run-verified-only", fx, targets)
    failing = [(c["id"], c["verdict"], c["verdict_reason"]) for c in report["cases"]
               if c["verdict"] != "pass"]
    assert not failing and r.returncode == 0, (failing, r.stdout[-3000:])
    v = {c["id"]: c for c in report["cases"]}
    for ver in ("1.2", "1.3"):
        for ident, reason in (("none", "missing_cert"), ("untrusted", "unknown_ca"),
                              ("self-signed", "unknown_ca")):
            c = v[f"verified-only/{ident}/tls{ver}"]
            assert c["expected"]["reason"] == reason, c["expected"]
            assert c["expected"]["layer"] == "http" and c["expected"]["http_status"] == 403
            assert (c["outcome"]["layer"], c["outcome"]["http_status"]) == ("http", 403)
            assert c["manner"] == "as-predicted"
        assert v[f"verified-only/expired/tls{ver}"]["outcome"]["http_status"] == 400
        assert v[f"verified-only/client/tls{ver}"]["outcome"]["http_status"] == 200
    # Without "verified_only" the policy (optional_no_ca alone) admits a client without a
    # certificate, which this deployment refuses: that fails the run.
    del pol["verified_only"]
    r, report = bed.run_matrix(harness, tmp / "run-optional-only", fx, targets, strict=False)
    assert r.returncode == 1
    assert {c["id"]: c["verdict"] for c in report["cases"]}["verified-only/none/tls1.3"] == \
        "unexpected-reject"
