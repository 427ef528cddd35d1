"""Go crypto/tls as SemStreams configures it (tests/stacks/goserver: RequireAndVerifyClientCert, a
CN allow-list in VerifyPeerCertificate, MinVersion, the WebSocket upgrade), built with Debian's
golang-go in the test and probed by a strict matrix with the semstreams profile
(docs/stacks.md#go)."""
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
               GOPROXY="off", GOFLAGS="", CGO_ENABLED="0", GO111MODULE="on")
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
    ports = {"semstreams": bed.free_port(), "tls13": bed.free_port()}
    servers = [goserver(binary, fx, ports["semstreams"], tmp / "semstreams",
                        "-allowed-cns", bed.CLIENT)]
    try:
        servers.append(goserver(binary, fx, ports["tls13"], tmp / "tls13",
                                "-allowed-cns", bed.CLIENT, "-min-version", "1.3"))
        yield tmp, fx, ports, servers
    finally:
        for s in servers:
            s.stop()


def test_go_semstreams_strict_matrix_passes(harness, go):
    tmp, fx, ports, servers = go
    targets = {"go": bed.target(ports["semstreams"], "semstreams", bed.policy([bed.CLIENT])),
               "go-tls13": bed.target(ports["tls13"], "semstreams",
                                      bed.policy([bed.CLIENT], min_version="1.3"))}
    cases = [{"name": f"min-tls13/client/tls{v}", "target": "go-tls13", "identity": "client",
              "version": v} for v in ("1.2", "1.3")]
    r, report = bed.run_matrix(harness, tmp / "run", fx, targets, cases=cases,
                               matrix_targets=["go"])
    cases = bed.assert_strict_pass(r, report, len(bed.IDENTITIES) * 2 + 2,
                                   [s.log for s in servers])
    o = {k: c["outcome"] for k, c in cases.items()}
    assert o["go/client/tls1.3"]["websocket_upgrade"] and o["go/client/tls1.3"]["http_status"] == 101
    assert o["go/other/tls1.3"]["alert_received"]["code"] == 42
    # Go 1.19 sends bad_certificate for every certificate failure, in both versions (newer
    # releases: certificate_required, unknown_ca, certificate_expired; the profile lists both).
    assert o["go/none/tls1.3"]["alert_received"]["code"] == 42
    assert o["go/untrusted/tls1.2"]["alert_received"]["code"] == 42
    assert o["min-tls13/client/tls1.2"]["alert_received"]["code"] == 70
