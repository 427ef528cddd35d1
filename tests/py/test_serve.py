"""The mock federation, driven by real clients (curl, openssl s_client, Python websockets) against
`mtls-harness serve` on loopback."""
import asyncio
import json
import re
import ssl

import pytest

from conftest import A, B, ROOT, Serve, run


@pytest.fixture(scope="module")
def fed(harness, tmp_path_factory):
    s = Serve(harness, ROOT / "scenarios/federation.json", tmp_path_factory.mktemp("fed"))
    yield s
    assert s.stop() == 0, s.stderr()


def curl(fed, *args, identity="location-b", path="/ws", port=None, host=A):
    """The guide's curl test, with the name resolved to the mock like curl --resolve does."""
    fx = fed.fixtures
    port = port or fed.ports["location-a"]
    cmd = ["curl", "-sS", "--max-time", "5", "--resolve", f"{host}:{port}:127.0.0.1",
           "--cacert", fx / "federation-ca.pem"]
    if identity:
        cmd += ["--cert", fx / f"{identity}-cert.pem", "--key", fx / f"{identity}-key.pem"]
    return run(cmd + list(args) + [f"https://{host}:{port}{path}"], timeout=20)


def s_client(fed, *args, identity=None, port=None, chain=False):
    """openssl s_client that reads after the handshake (-ign_eof), as a TLS 1.3 client must to
    see a rejection of its certificate."""
    fx = fed.fixtures
    port = port or fed.ports["location-a"]
    cmd = ["timeout", "8", "openssl", "s_client", "-connect", f"127.0.0.1:{port}",
           "-servername", A, "-CAfile", fx / "federation-ca.pem", "-ign_eof"]
    if identity:
        cmd += ["-cert", fx / f"{identity}-cert.pem", "-key", fx / f"{identity}-key.pem"]
        if chain:
            cmd += ["-cert_chain", fx / f"{identity}-chain.pem"]
    r = run(cmd + list(args), timeout=20)
    return r.stdout + r.stderr


def log_line(fed, reason):
    pat = r"location-a: \d{4}/\d\d/\d\d \d\d:\d\d:\d\d http: TLS handshake error from " \
          r"127\.0\.0\.1:\d+: " + re.escape(reason) + "$"
    return re.search(pat, fed.stderr(), re.M)


# --- the guide's own curl commands ---

def test_curl_valid_cert_plain_get_is_400_from_the_websocket_handler(fed):
    r = curl(fed, "-i")
    assert r.returncode == 0, r.stderr
    head, body = r.stdout.split("\n\n", 1)  # text mode folds CRLF
    assert head.startswith("HTTP/1.1 400 Bad Request")
    assert "Sec-Websocket-Version: 13" in head
    assert body == "Bad Request\n"


def test_curl_upgrade_is_101(fed):
    r = curl(fed, "-o", "/dev/null", "-w", "%{http_code}", "--http1.1", "-H", "Connection: Upgrade",
             "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
             "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "--max-time", "2")
    assert r.stdout == "101"  # curl then times out waiting on the WebSocket: exit 28 is expected
    assert r.returncode == 28


def test_other_paths_are_404(fed):
    r = curl(fed, "-i", path="/wsx")
    assert r.stdout.startswith("HTTP/1.1 404 Not Found") and r.stdout.endswith("404 page not found\n")


def test_curl_without_cert_tls13_certificate_required(fed):
    r = curl(fed, identity=None)
    assert r.returncode == 56, r
    assert "tlsv13 alert certificate required" in r.stderr
    assert log_line(fed, "tls: client didn't provide a certificate")


def test_curl_without_cert_tls12_bad_certificate(fed):
    r = curl(fed, "--tls-max", "1.2", identity=None)
    assert r.returncode == 35, r
    assert "sslv3 alert bad certificate" in r.stderr


def test_curl_unauthorized_cn_fails(fed):
    r = curl(fed, identity="wrong-cn")
    assert r.returncode != 0
    assert "alert bad certificate" in r.stderr
    assert log_line(fed, "client certificate CN 'intruder.semstreams.local' not in allowed list")


def test_plain_http_on_the_tls_port_gets_gos_answer(fed):
    port = fed.ports["location-a"]
    r = run(["curl", "-sS", "-i", "--max-time", "5", f"http://127.0.0.1:{port}/ws"])
    assert r.stdout.startswith("HTTP/1.0 400 Bad Request")
    assert "Client sent an HTTP request to an HTTPS server." in r.stdout


# --- openssl s_client: the alert the real server sends for each client certificate failure ---

@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
@pytest.mark.parametrize("identity,alert,reason", [
    ("expired", "certificate expired", "tls: failed to verify certificate: x509: certificate has "
     "expired or is not yet valid: current time"),
    ("not-yet-valid", "certificate expired", "is before"),
    ("untrusted", "unknown ca", "x509: certificate signed by unknown authority (possibly because "
     "of \"x509: ECDSA verification failure\" while trying to verify candidate authority "
     "certificate \"SemStreams Federation CA\")"),
    ("self-signed", "unknown ca", "x509: certificate signed by unknown authority"),
    ("server-only-eku", "bad certificate", "x509: certificate specifies an incompatible key usage"),
    ("wrong-cn", "bad certificate", "client certificate CN 'intruder.semstreams.local' not in "
     "allowed list"),
])
def test_s_client_sees_the_real_alert(fed, version, identity, alert, reason):
    before = fed.stderr().count("TLS handshake error")
    out = s_client(fed, version, identity=identity)
    assert f"alert {alert}" in out, out
    fed.wait_for(lambda _: fed.stderr().count("TLS handshake error") > before, timeout=5)
    last = [l for l in fed.stderr().splitlines() if "TLS handshake error" in l][-1]
    assert reason in last, last


@pytest.mark.parametrize("version,alert", [("-tls1_3", "certificate required"),
                                           ("-tls1_2", "bad certificate")])
def test_s_client_without_certificate(fed, version, alert):
    assert f"alert {alert}" in s_client(fed, version)


def test_tls13_rejection_arrives_after_the_client_handshake(fed):
    """In TLS 1.3 the client finishes its handshake before the server judges its certificate."""
    out = s_client(fed, "-tls1_3", identity="expired")
    assert "Verify return code: 0 (ok)" in out  # the client completed and verified the server
    assert "alert certificate expired" in out


def test_intermediate_signed_is_accepted_with_its_chain(fed):
    out = s_client(fed, "-tls1_3", identity="intermediate-signed", chain=True)
    assert "alert" not in out, out
    out = s_client(fed, "-tls1_3", identity="intermediate-signed")
    assert "alert unknown ca" in out


def test_rejections_are_in_the_event_log(fed):
    s_client(fed, "-tls1_2", identity="untrusted")
    evs = fed.wait_for(lambda evs: any(e["event"] == "tls_reject" and e["alert_sent"] == 48
                                       and e["version"] == "TLSv1.2" for e in evs))
    rej = [e for e in evs if e["event"] == "tls_reject" and e["alert_sent"] == 48][-1]
    assert rej["location"] == "location-a" and rej["alert_sent_name"] == "unknown_ca"
    assert rej["client_cn"] == B and rej["reason"].startswith("tls: failed to verify certificate")


# --- WebSocket data from a real client library ---

def test_python_websockets_client_receives_data_frames(fed):
    import websockets

    fx = fed.fixtures
    ctx = ssl.create_default_context(cafile=str(fx / "federation-ca.pem"))
    ctx.load_cert_chain(str(fx / "location-b-cert.pem"), str(fx / "location-b-key.pem"))

    async def receive():
        async with websockets.connect(f"wss://{A}:{fed.ports['location-a']}/ws", ssl=ctx,
                                      host="127.0.0.1", port=fed.ports["location-a"],
                                      server_hostname=A, open_timeout=5) as ws:
            got = []
            for _ in range(3):
                msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                got.append(msg)
                await ws.send(json.dumps({"type": "ack", "id": msg["id"], "timestamp": 0}))
            return got

    msgs = asyncio.run(asyncio.wait_for(receive(), 20))
    for m in msgs:
        assert set(m) == {"type", "id", "timestamp", "payload"}
        assert m["type"] == "data"
        assert re.fullmatch(r"msg-(\d{13})-\d+", m["id"]) and int(m["id"].split("-")[1]) == m["timestamp"]
        assert m["payload"]["origin"] == "location-a" and "subject" in m["payload"]
    seqs = [m["payload"]["seq"] for m in msgs]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    ids = {m["id"] for m in msgs}
    fed.wait_for(lambda evs: ids <= {e.get("id") for e in evs if e["event"] == "ack"})


def test_finished_request_and_frame_in_one_segment_are_all_served(fed):
    """A TLS 1.3 client may send its Finished, the upgrade request and its first frame at once.
    The mock reads a whole flight per read(2), so those bytes wait in its buffer rather than in the
    kernel: it must go on from them without another readiness event (no hang, frame acked)."""
    import base64
    import os
    import socket

    fx = fed.fixtures
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(str(fx / "federation-ca.pem"))
    ctx.load_cert_chain(str(fx / "location-b-cert.pem"), str(fx / "location-b-key.pem"))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=A)
    sock = socket.create_connection(("127.0.0.1", fed.ports["location-a"]), timeout=5)
    try:
        for _ in range(10):  # bounded: a TLS 1.3 handshake needs two round trips at most
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if outgoing.pending:
                    sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        key = base64.b64encode(os.urandom(16)).decode()
        tls.write((f"GET /ws HTTP/1.1\r\nHost: {A}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        ack_id = "msg-1700000000000-424242"
        payload = json.dumps({"type": "ack", "id": ack_id, "timestamp": 0}).encode()
        mask = os.urandom(4)
        tls.write(bytes([0x81, 0x80 | len(payload)]) + mask +
                  bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        sock.sendall(outgoing.read())  # Finished, request and frame in one segment
        reply = b""
        for _ in range(20):  # bounded; each recv has the socket's 5 s timeout
            try:
                reply += tls.read(65536)
            except ssl.SSLWantReadError:
                incoming.write(sock.recv(65536))
            if b"\r\n\r\n" in reply:
                break
        assert reply.startswith(b"HTTP/1.1 101 "), reply[:200]
        fed.wait_for(lambda evs: any(e["event"] == "ack" and e.get("id") == ack_id for e in evs))
    finally:
        sock.close()


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_a_resumed_connection_keeps_its_client_identity(fed, version):
    """Sessions keep only the client certificate's hash; the mock still knows who resumed."""
    import socket

    fx = fed.fixtures
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
    ctx.load_verify_locations(str(fx / "federation-ca.pem"))
    ctx.load_cert_chain(str(fx / "location-b-cert.pem"), str(fx / "location-b-key.pem"))
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    upgrade = (f"GET /ws HTTP/1.1\r\nHost: {A}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()

    def connect(session=None):
        raw = socket.create_connection(("127.0.0.1", fed.ports["location-a"]), timeout=5)
        s = ctx.wrap_socket(raw, server_hostname=A, session=session)
        s.sendall(upgrade)
        head = s.recv(4096)  # also reads the TLS 1.3 ticket that came before it
        assert head.startswith(b"HTTP/1.1 101 "), head
        return s

    first = connect()
    session = first.session
    first.close()
    second = connect(session)
    try:
        assert second.session_reused
        port = second.getsockname()[1]
    finally:
        second.close()
    evs = fed.wait_for(lambda evs: any(e["event"] == "ws_open" and e["peer"] == f"127.0.0.1:{port}"
                                       for e in evs))
    opened = [e for e in evs if e["event"] == "ws_open" and e["peer"] == f"127.0.0.1:{port}"]
    assert opened[0]["client_cn"] == B


def test_messages_flow_from_a_through_b_to_c(fed):
    evs = fed.wait_for(lambda evs: sum(1 for e in evs if e["location"] == "location-c"
                                       and e["event"] == "recv") >= 10)
    emitted = [e["seq"] for e in evs if e["location"] == "location-a" and e["event"] == "emit"]
    at_b = [e["seq"] for e in evs if e["location"] == "location-b" and e["event"] == "recv"]
    at_c = [e["seq"] for e in evs if e["location"] == "location-c" and e["event"] == "recv"]
    origins = {e["origin"] for e in evs if e["location"] == "location-c" and e["event"] == "recv"}
    assert origins == {"location-a"}
    assert at_c == sorted(at_c) and set(at_c) <= set(at_b) <= set(emitted)
    # B forwards with its own envelope ids, and C acks them to B.
    b_sent = {e["id"] for e in evs if e["location"] == "location-b" and e["event"] == "send"}
    b_acked = {e["id"] for e in evs if e["location"] == "location-b" and e["event"] == "ack"}
    assert b_acked and b_acked <= b_sent
    conn = [e for e in evs if e["event"] == "ws_open"]
    assert {(e["location"], e["client_cn"]) for e in conn} >= {
        ("location-a", B), ("location-b", "location-c.semstreams.local")}


def test_stalled_and_idle_clients_do_not_block_others(fed):
    import socket
    port = fed.ports["location-a"]
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(500)]
    try:
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # half a ClientHello
        r = curl(fed, "-o", "/dev/null", "-w", "%{http_code}")
        assert r.stdout == "400"
        stalled.close()
    finally:
        for s in idle:
            s.close()


# --- C reconnects after B goes away and comes back ---

def test_c_reconnects_with_the_real_backoff_after_b_restarts(harness, tmp_path):
    s = Serve(harness, ROOT / "scenarios/federation.json", tmp_path, "--outage", "location-b:2:3")
    try:
        evs = s.wait_for(lambda evs: any(e["event"] == "outage_end" for e in evs)
                         and sum(1 for e in evs if e["location"] == "location-c"
                                 and e["event"] == "connected") >= 2, timeout=20)
        c = [e for e in evs if e["location"] == "location-c"]
        names = [e["event"] for e in c]
        i = names.index("disconnected")
        # The established session dropped: redial at once (fails: B is down), then 2 s, 4 s, ...
        assert names[i + 1] == "dial" and names[i + 2] == "dial_failed"
        waits = [e["wait_ms"] for e in c if e["event"] == "reconnect_wait"]
        assert waits[:2] == [2000, 4000][:len(waits[:2])] and waits[0] == 2000
        # After reconnecting, A's messages reach C again.
        t_back = max(e["ts_ms"] for e in c if e["event"] == "connected")
        s.wait_for(lambda evs: any(e["location"] == "location-c" and e["event"] == "recv"
                                   and e["ts_ms"] > t_back for e in evs))
    finally:
        assert s.stop() == 0


# --- several loops ---

def test_serve_on_several_loops_spreads_clients_and_feeds_them_all(harness, tmp_path):
    """serve --threads 3: each output has one SO_REUSEPORT listener per loop. Clients land on
    every loop, and each receives the data frames the first loop's emitter publishes; the data
    flow A -> B -> C goes on."""
    import websockets

    s = Serve(harness, ROOT / "scenarios/federation.json", tmp_path / "fed", "--threads", "3")
    try:
        fx = s.fixtures
        ctx = ssl.create_default_context(cafile=str(fx / "federation-ca.pem"))
        ctx.load_cert_chain(str(fx / "location-b-cert.pem"), str(fx / "location-b-key.pem"))
        port = s.ports["location-a"]

        async def one():
            async with websockets.connect(f"wss://{A}:{port}/ws", ssl=ctx, host="127.0.0.1",
                                          port=port, server_hostname=A, open_timeout=5) as ws:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                return msg["type"], msg["payload"]["origin"]

        async def many():
            return await asyncio.gather(*(one() for _ in range(24)))

        got = asyncio.run(asyncio.wait_for(many(), 30))
        assert got == [("data", "location-a")] * 24
        s.wait_for(lambda evs: sum(1 for e in evs if e["location"] == "location-c"
                                   and e["event"] == "recv") >= 3)
    finally:
        assert s.stop() == 0, s.stderr()
    out = (tmp_path / "fed" / "serve.out").read_text()
    per_loop = [int(n) for n in out.split("accepted per loop:")[1].split("\n")[0].split()]
    # 24 clients and B's input over three loops: the kernel spread them (all on one loop would
    # happen with probability 3 * 3^-25).
    assert len(per_loop) == 3 and sum(per_loop) >= 25 and sum(1 for n in per_loop if n) >= 2
