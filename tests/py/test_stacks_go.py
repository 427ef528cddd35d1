"""Go crypto/tls as SemStreams configures it (tests/stacks/goserver: RequireAndVerifyClientCert, a
CN allow-list in VerifyPeerCertificate, MinVersion, the WebSocket upgrade), built with Debian's
golang-go in the test and probed by a strict matrix with the semstreams profile
(docs/stacks.md#go)."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402


def build(tmp):
    """Builds the server offline: caches in |tmp|, no proxy, standard library only."""
    go = bed.need("go")
    env = dict(os.environ, GOCACHE=str(tmp / "gocache"), GOPATH=str(tmp / "gopath"),
               GOPROXY="off", GOSUMDB="off", GOFLAGS="-mod=mod", CGO_ENABLED="0",
               GO111MODULE="on", GOTOOLCHAIN="local")
    binary = tmp / "goserver"
    r = subprocess.run([go, "build", "-o", str(binary), "."], cwd=ROOT / "tests/stacks/goserver",
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return binary


def goserver(binary, fx, port, workdir, *extra):
    return bed.Server([binary, "-addr", f"127.0.0.1:{port}", "-cert", fx / "server-cert.pem",
                       "-key", fx / "server-key.pem", "-ca", fx / "stacks-ca.pem", *extra],
                      port, workdir)


@pytest.fixture(scope="module")
def go(harness, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("go")
    binary = build(tmp)
    fx = bed.make_pki(harness, tmp / "pki")
    ports = {"semstreams": bed.free_port(), "tls13": bed.free_port(), "spiffe": bed.free_port()}
    servers = [goserver(binary, fx, ports["semstreams"], tmp / "semstreams",
                        "-allowed-cns", bed.CLIENT)]
    try:
        servers.append(goserver(binary, fx, ports["tls13"], tmp / "tls13",
                                "-allowed-cns", bed.CLIENT, "-min-version", "1.3"))
        servers.append(goserver(binary, fx, ports["spiffe"], tmp / "spiffe",
                                "-uri-prefix", bed.SPIFFE_PREFIX))
        yield tmp, fx, ports, servers
    finally:
        for s in servers:
            s.stop()


def test_go_semstreams_strict_matrix_passes(harness, go):
    tmp, fx, ports, servers = go
    targets = {"go": bed.target(ports["semstreams"], "semstreams", bed.policy([bed.CLIENT])),
               "go-tls13": bed.target(ports["tls13"], "semstreams",
                                      bed.policy([bed.CLIENT], min_version="1.3")),
               "go-spiffe": bed.target(ports["spiffe"], "semstreams", bed.spiffe_policy())}
    cases = [{"name": f"min-tls13/client/tls{v}", "target": "go-tls13", "identity": "client",
              "version": v} for v in ("1.2", "1.3")] + bed.spiffe_cases("go-spiffe")
    r, report = bed.run_matrix(harness, tmp / "run", fx, targets, cases=cases,
                               matrix_targets=["go"])
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2 + 2 + len(bed.SPIFFE_IDENTITIES) * 2,
                                   [s.log for s in servers])
    o = {k: c["outcome"] for k, c in cases.items()}
    assert o["go/client/tls1.3"]["websocket_upgrade"] and o["go/client/tls1.3"]["http_status"] == 101
    assert o["go/other/tls1.3"]["alert_received"]["code"] == 42
    # Go 1.19 sends bad_certificate for every certificate failure, in both versions (newer
    # releases: certificate_required, unknown_ca, certificate_expired; the profile lists both).
    assert o["go/none/tls1.3"]["alert_received"]["code"] == 42
    assert o["go/untrusted/tls1.2"]["alert_received"]["code"] == 42
    assert o["min-tls13/client/tls1.2"]["alert_received"]["code"] == 70


def test_go_spiffe_allow_list_end_to_end(go):
    """A SPIFFE-style allow-list: the fixture spec gives the workloads URI SANs, the policy says
    identity.uri_san_prefix, the Go server admits only that trust domain path; the strict run of
    the first test judged every case, here what each one proves."""
    tmp = go[0]
    report = json.loads((tmp / "run" / "out" / "report.json").read_text())
    c = {x["id"]: x for x in report["cases"] if x["id"].startswith("spiffe/")}
    assert len(c) == len(bed.SPIFFE_IDENTITIES) * 2
    assert all(x["verdict"] == "pass" for x in c.values())
    for v in ("1.2", "1.3"):
        ok = c[f"spiffe/spiffe-billing/tls{v}"]
        assert ok["expected"]["result"] == "accept" and ok["outcome"]["http_status"] == 101
        for other in ("spiffe-staging", "spiffe-other-domain", "client"):
            x = c[f"spiffe/{other}/tls{v}"]
            assert x["expected"]["reason"] == "identity_not_allowed", x["id"]
            assert x["outcome"]["alert_received"]["code"] == 42, x["id"]
        assert c[f"spiffe/none/tls{v}"]["expected"]["reason"] == "missing_cert"
