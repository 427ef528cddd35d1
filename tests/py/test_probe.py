"""The probe's request modes (websocket, http, tls) against real peers, the transport end recorded
without idling (a server that closes, a keep-alive one that does not), and --jobs N giving the same
outcomes as --jobs 1 (docs/runner.md, "Probes")."""
import copy
import json
import socket
import ssl
import subprocess
import threading

import pytest

from conftest import (FED, NGINX_CONF, ROOT, external_target, free_port, harness_path, nginx_running,
                     own_loopback, run, run_harness, write_scenario)

NAME = "location-a.semstreams.local"


def outcomes(report):
    """What each case saw, without timings: the facts that must not depend on --jobs. One is the
    server's race, not ours: after a TLS 1.3 alert, nginx closes at once, and the request the
    client already sent then meets a closed socket (RST) or not (FIN)."""
    keys = ("result", "rejected_by", "layer", "phase", "transport_end", "tcp", "handshake", "version",
            "server_hello", "certificate_request", "alert_sent", "alert_received", "http_status",
            "websocket_upgrade", "error", "request")
    seen = {}
    for c in report["cases"]:
        o = {k: c["outcome"][k] for k in keys}
        if o["alert_received"] is not None and o["transport_end"] in ("fin", "rst"):
            o["transport_end"] = "fin or rst"
        seen[c["id"]] = (o, c["verdict"])
    return seen


def fresh_fixtures(harness, tmp_path):
    """Fixtures a real server loads before the run; the run re-issues them with the same CA key."""
    out = tmp_path / "out"
    fx = out / "fixtures"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    return out, fx


def target_scenario(tmp_path, port, profile, name="s.json", **keys):
    doc = copy.deepcopy(FED)
    t = external_target(port, profile)
    t.update(keys)
    doc["locations"] = {"t": t}
    doc["matrix"]["targets"] = ["t"]
    return write_scenario(tmp_path, doc, name)


# --- websocket (the mock) and --jobs ---


def test_jobs_n_runs_the_same_outcomes_as_jobs_1_and_keeps_captures_apart(mh, tmp_path):
    """The default federation matrix (WebSocket upgrades against the mocks): 16 cases in flight on
    the probe loops give case for case what one at a time gives, and with --pcap each case's
    capture holds its own connection only, though 16 share the loopback at once."""
    path = write_scenario(tmp_path, FED)
    r1, one = run_harness(mh, path, tmp_path / "one", "--jobs", "1")
    # In a namespace of its own: the 16 cases share its loopback with each other only.
    r16 = run(own_loopback([harness_path(), "run", path, "--out", tmp_path / "many", "--profiles",
                            ROOT / "profiles", "--jobs", "16", "--pcap"]), timeout=180)
    many = json.loads((tmp_path / "many" / "report.json").read_text())
    assert r1.returncode == 0 and r16.returncode == 0, r16.stdout
    assert many["jobs"] == 16 and one["jobs"] == 1
    assert outcomes(many) == outcomes(one)
    ok = next(c for c in many["cases"] if c["id"] == "location-a/location-b/tls1.3")["outcome"]
    assert ok["request"] == "websocket" and ok["websocket_upgrade"] and ok["http_status"] == 101
    assert ok["transport_end"] == "client_close"  # an accepted upgrade: the probe closes at once
    for c in many["cases"]:
        assert c["capture"]["status"] == "captured" and c["capture"]["consistent"], c
    for c in many["cases"][::7]:
        streams = run(["tshark", "-r", tmp_path / "many" / c["capture"]["file"], "-T", "fields",
                       "-e", "tcp.stream"], timeout=60).stdout.split()
        assert streams and set(streams) == {"0"}, (c["id"], set(streams))


# --- http (a real nginx) ---


@pytest.fixture(scope="module")
def nginx(harness, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("probe-nginx")
    out, fx = fresh_fixtures(harness, tmp)
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, fx=fx))
    with nginx_running(conf, tmp, port):
        yield fx, port


def test_http_against_nginx_records_its_close_and_does_not_depend_on_jobs(mh, nginx, tmp_path):
    """request "http" (the default for an nginx-http target): GET with Connection: close; nginx
    closes after every answer (200, 403 from the CN check, 400 for a certificate it refused), and
    that close is recorded, not a timeout."""
    fx, port = nginx
    path = target_scenario(tmp_path, port, "nginx-http")
    reports = []
    for jobs in ("1", "12"):
        out = tmp_path / f"out{jobs}"
        (out / "fixtures").mkdir(parents=True)
        subprocess.run(["cp", "-r", f"{fx}/.", str(out / "fixtures")], check=True)
        r, report = run_harness(mh, path, out, "--jobs", jobs)
        assert r.returncode == 0, r.stdout
        reports.append(report)
    assert outcomes(reports[0]) == outcomes(reports[1])
    o = {c["id"]: c["outcome"] for c in reports[1]["cases"]}
    for cid, status in (("t/location-b/tls1.3", 200), ("t/location-c/tls1.3", 403),
                        ("t/none/tls1.2", 400), ("t/expired/tls1.3", 400)):
        assert o[cid]["http_status"] == status, (cid, o[cid])
        assert o[cid]["transport_end"] in ("close_notify", "fin"), (cid, o[cid])
    assert not o["t/location-b/tls1.3"]["websocket_upgrade"]
    assert {c["request"] for c in o.values()} == {"http"}


class KeepAliveServer:
    """A TLS server that answers every request 403 and keeps the connection (it ignores
    Connection: close), as a keep-alive server might; it closes only when the client does. With
    |stream| it then sends bytes without end, as fast as it can."""

    def __init__(self, fx, stream=False):
        self.stream = stream
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(fx / "location-a-cert.pem", fx / "location-a-key.pem")
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn):
        try:
            conn.settimeout(10)
            with self.ctx.wrap_socket(conn, server_side=True) as s:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                s.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno\n")
                while self.stream and not self.stop.is_set():
                    s.sendall(b"x" * 65536)
                while s.recv(4096):  # keep the connection until the client ends it
                    pass
        except (OSError, ssl.SSLError):
            pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.mark.parametrize("stream", [False, True], ids=["silent", "streaming"])
def test_keep_alive_server_ends_as_client_close_after_the_bound(mh, harness, tmp_path, stream):
    """A server that keeps the connection after its answer, silent or streaming without end (which
    must hold neither the probe past its bound nor the loop its neighbours share)."""
    out, fx = fresh_fixtures(harness, tmp_path)
    with KeepAliveServer(fx, stream) as srv:
        doc = copy.deepcopy(FED)
        doc["locations"] = {"t": external_target(srv.port, "nginx-http")}
        doc["locations"]["t"]["close_wait_ms"] = 200
        doc["matrix"] = {"targets": ["t"], "identities": ["location-b", "location-c"],
                         "versions": ["1.2", "1.3"]}
        r, report = run_harness(mh, write_scenario(tmp_path, doc), out, "--jobs", "4")
    cases = [c for c in report["cases"] if "server-check" not in c["id"]]
    assert len(cases) == 4
    for c in cases:
        o = c["outcome"]
        assert (o["result"], o["layer"], o["http_status"]) == ("rejected", "http", 403), o
        # The server kept the connection: the probe ended it after close_wait_ms, and says so.
        assert o["transport_end"] == "client_close", o


# --- tls (openssl s_server: a TLS-terminated TCP service that says nothing) ---


@pytest.fixture
def s_server(harness, tmp_path):
    out, fx = fresh_fixtures(harness, tmp_path)
    port = free_port()
    # Without -www: after the handshake it sends nothing (it would echo its stdin); -Verify
    # requires a client certificate, -verify_return_error rejects one that fails verification.
    proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-quiet",
                             "-cert", fx / "location-a-cert.pem", "-key", fx / "location-a-key.pem",
                             "-CAfile", fx / "federation-ca.pem", "-Verify", "2", "-verify_return_error"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "openssl s_server exited"
                threading.Event().wait(0.1)
        yield out, port
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_tls_mode_first_read_decides(mh, s_server, tmp_path):
    out, port = s_server
    doc = copy.deepcopy(FED)
    t = external_target(port, "openssl")
    t["request"] = "tls"
    # Long enough for s_server to send its alert on a loaded machine; an acceptance costs this.
    t["first_read_ms"] = 1500
    del t["policy"]["mtls"]["allowed_client_cns"]  # s_server checks the chain, not the name
    doc["locations"] = {"t": t}
    doc["matrix"] = {"targets": ["t"], "identities": ["location-b", "none", "expired"],
                     "versions": ["1.2", "1.3"]}
    r, report = run_harness(mh, write_scenario(tmp_path, doc), out, "--jobs", "1")
    o = {c["id"]: c["outcome"] for c in report["cases"]}
    for v in ("1.2", "1.3"):
        ok = o[f"t/location-b/tls{v}"]
        # Nothing was sent and nothing came back by first_read_ms: accepted, and recorded so.
        assert (ok["result"], ok["phase"], ok["http_status"]) == ("accepted", "none", 0), ok
        assert ok["transport_end"] == "timeout" and "no answer within 1500 ms" in ok["error"], ok
        assert ok["request"] == "tls"
    # TLS 1.3: the client's handshake returns before the server judges the certificate; the
    # first read brings the alert.
    for ident in ("none", "expired"):
        rej = o[f"t/{ident}/tls1.3"]
        assert (rej["result"], rej["layer"], rej["phase"]) == ("rejected", "tls", "first_read"), rej
        assert rej["alert_received"] is not None, rej
        rej12 = o[f"t/{ident}/tls1.2"]
        assert (rej12["result"], rej12["phase"]) == ("rejected", "client_flight"), rej12
    assert o["t/none/tls1.3"]["alert_received"]["code"] == 116  # certificate_required


# --- input errors ---


@pytest.mark.parametrize("key,value,words", [
    ("request", "ftp", "is not a request mode"),
    ("first_read_ms", 0, "out of range"),
    ("close_wait_ms", 1.5, "a fraction"),
])
def test_request_options_are_checked(mh, tmp_path, key, value, words):
    path = target_scenario(tmp_path, 1, "nginx-http", **{key: value})
    r = mh("check", path)
    assert r.returncode == 2
    line = r.stderr.strip()
    assert f"locations.t.{key}" in line and words in line and "\n" not in line, line
