"""Scenario files: validation in the real system's words, both config forms, the tier examples,
nginx emulation, version floors and ports in use."""
import asyncio
import copy
import json
import re
import socket
import ssl
import threading

import pytest

from conftest import A, FED, ROOT, Serve, fed_with, run
from conftest import write_scenario as scenario

WRAP = "invalid configuration: security configuration: "


def srv(doc, loc="location-a"):
    return doc["locations"][loc]["config"]["security"]["tls"]["server"]


def cli(doc, loc="location-b"):
    return doc["locations"][loc]["config"]["security"]["tls"]["client"]


def drop(d, key):
    d.pop(key)


LA = "$.locations.location-a.config.security.tls.server"
LB = "$.locations.location-b.config.security.tls.client"

BAD = [
    ("cert-file-required", lambda d: drop(srv(d), "cert_file"),
     f"{LA}: {WRAP}tls.server.cert_file is required when TLS is enabled"),
    ("key-file-required", lambda d: drop(srv(d), "key_file"),
     f"{LA}: {WRAP}tls.server.key_file is required when TLS is enabled"),
    ("server-min-version", lambda d: srv(d).update(min_version="1.1"),
     f"{LA}.min_version: {WRAP}tls.server.min_version: invalid TLS version \"1.1\" "
     "(must be \"1.2\" or \"1.3\")"),
    ("client-min-version", lambda d: cli(d).update(min_version="1.0"),
     f"{LB}.min_version: {WRAP}tls.client.min_version: invalid TLS version \"1.0\" "
     "(must be \"1.2\" or \"1.3\")"),
    ("cert-not-generated", lambda d: srv(d).update(cert_file="/certs/nope.pem"),
     f"{LA}.cert_file: {WRAP}tls.server.cert_file: stat /certs/nope.pem: no such file or directory"),
    ("ca-file-missing", lambda d: cli(d).update(ca_files=["/nonexistent/ca.pem"]),
     f"{LB}.ca_files[0]: {WRAP}tls.client.ca_files[0]: stat /nonexistent/ca.pem: no such file or "
     "directory"),
    ("unknown-scenario-key", lambda d: d.update(colour="blue"),
     "$.colour: unknown key (a scenario has: name, description, fixtures, certs_dir, locations, matrix, cases, resolve, acme_server)"),
    ("unknown-location-key", lambda d: d["locations"]["location-a"].update(hots="x"),
     "$.locations.location-a.hots: unknown key"),
    ("not-loopback", lambda d: d["locations"]["location-a"].update(address="10.0.0.1"),
     "$.locations.location-a.address: \"10.0.0.1\" is not a loopback address: mocks bind only "
     "127.0.0.0/8 or ::1 unless the location says \"bind_beyond_loopback\": true"),
    ("unknown-host", lambda d: d["locations"]["location-c"]["config"]["components"][0]["config"]
     .update(url="wss://example.com:9001/ws"),
     "host \"example.com\" is not a location of this scenario"),
    ("same-port", lambda d: d["locations"]["location-b"]["config"]["components"][1]["config"]
     .update(port=9000), "port 9000 on 127.0.0.1 is also used by"),
    ("low-port", lambda d: d["locations"]["location-a"]["config"]["components"][0]["config"]
     .update(port=80), "invalid port 80: the websocket output accepts 1024-65535"),
    ("unknown-type", lambda d: d["locations"]["location-a"]["config"]["components"][0]
     .update(type="websocket_outptu"),
     "$.locations.location-a.config.components[0].type: unknown component type \"websocket_outptu\""),
    ("bad-url", lambda d: d["locations"]["location-c"]["config"]["components"][0]["config"]
     .update(url="https://x/ws"), "the URL must start with ws:// or wss://"),
    ("no-config", lambda d: d["locations"]["location-a"].pop("config"),
     "$.locations.location-a: \"config\" is required"),
    ("wrong-type", lambda d: srv(d).update(enabled="yes"),
     f"{LA}.enabled: expected true or false, found a string"),
]


@pytest.mark.parametrize("name,edit,want", BAD, ids=[b[0] for b in BAD])
def test_bad_scenario(mh, tmp_path, name, edit, want):
    path = scenario(tmp_path, fed_with(edit))
    r = mh("check", path)
    assert r.returncode == 2, r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"{path}: $"), lines[0]
    assert want in lines[0], lines[0]
    # serve validates the same way, before anything is generated or opened.
    r = mh("serve", path, "--fixtures", tmp_path / "fx", "--events", tmp_path / "ev.jsonl")
    assert r.returncode == 2 and want in r.stderr
    assert not (tmp_path / "fx").exists() and not (tmp_path / "ev.jsonl").exists()


def test_malformed_scenario(mh, tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"name": "x",\n "locations": {\n')
    r = mh("check", path)
    assert r.returncode == 2
    assert re.fullmatch(rf"{re.escape(str(path))}: \$: malformed JSON at line 2, column \d+ .*\n",
                        r.stderr)


def test_insecure_skip_verify_prints_the_real_warning(mh, tmp_path):
    path = scenario(tmp_path, fed_with(lambda d: cli(d).update(insecure_skip_verify=True)))
    r = mh("check", path)
    assert r.returncode == 0
    assert r.stderr == ("WARNING: TLS certificate verification is disabled "
                        "(insecure_skip_verify=true). This should only be used in "
                        "development/testing!\n")


def test_shipped_scenarios_are_valid(mh):
    for name in ("federation", "tier1-plaintext", "tier2-tls", "tier2-mtls"):
        r = mh("check", ROOT / "scenarios" / f"{name}.json")
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""


# --- the real system's config form (components as a map, type "websocket") ---

def real_form():
    def out(port):
        return {"type": "websocket", "name": "out", "enabled": True,
                "config": {"ports": {"outputs": [{"subject": f"http://0.0.0.0:{port}/ws"}]},
                           "delivery_mode": "at-most-once"}}

    def inp(url):
        return {"type": "websocket_input", "name": "in", "enabled": True,
                "config": {"mode": "client", "client": {"url": url, "reconnect": {
                    "enabled": True, "max_retries": 0, "initial_interval": 1000000000,
                    "max_interval": 60000000000, "multiplier": 2.0}}}}

    doc = copy.deepcopy(FED)
    L = doc["locations"]
    L["location-a"]["config"]["components"] = {"sensor-output": out(9000)}
    L["location-b"]["config"]["components"] = {
        "receive-from-a": inp(f"wss://{A}:9000/ws"), "send-to-c": out(9001),
        "graph": {"type": "graph_processor", "enabled": True, "config": {}}}
    L["location-c"]["config"]["components"] = {
        "receive-from-b": inp("wss://location-b.semstreams.local:9001/ws")}
    # Go's encoding/json ignores unknown keys and matches names case-insensitively.
    L["location-a"]["config"]["security"]["tls"]["server"]["Cert_File"] = \
        L["location-a"]["config"]["security"]["tls"]["server"].pop("cert_file")
    L["location-a"]["config"]["platform"] = {"id": "edge-a"}
    return doc


def test_real_form_federation_flows(harness, tmp_path):
    path = scenario(tmp_path, real_form())
    s = Serve(harness, path, tmp_path / "run")
    try:
        assert 'component type "graph_processor" is not emulated; ignored' in s.stderr()
        s.wait_for(lambda evs: sum(1 for e in evs if e["location"] == "location-c"
                                   and e["event"] == "recv" and e["origin"] == "location-a") >= 3)
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("edit,want", [
    (lambda c: c["client"]["reconnect"].update(initial_interval="1s"),
     "json: cannot unmarshal string into Go struct field ReconnectConfig.initial_interval of type "
     "time.Duration"),
    (lambda c: c.pop("mode"), "invalid mode: "),
    (lambda c: c.pop("client"), "client config required for client mode"),
    (lambda c: c.update(mode="server"), "websocket_input server mode is not emulated"),
])
def test_real_form_input_errors(mh, tmp_path, edit, want):
    doc = real_form()
    edit(doc["locations"]["location-c"]["config"]["components"]["receive-from-b"]["config"])
    r = mh("check", scenario(tmp_path, doc))
    assert r.returncode == 2 and want in r.stderr, r.stderr
    assert "$.locations.location-c.config.components.receive-from-b.config" in r.stderr


def test_real_form_disabled_component_is_not_started(mh, tmp_path):
    doc = real_form()
    doc["locations"]["location-c"]["config"]["components"]["receive-from-b"]["enabled"] = False
    r = mh("check", scenario(tmp_path, doc))
    assert r.returncode == 0
    assert 'component "receive-from-b" is not enabled; not started' in r.stderr


# --- the tier examples of the guide ---

@pytest.mark.parametrize("name,receiver", [("tier1-plaintext", "client"), ("tier2-tls", "client"),
                                           ("tier2-mtls", "location-b")])
def test_tier_examples_deliver_data(harness, tmp_path, name, receiver):
    s = Serve(harness, ROOT / "scenarios" / f"{name}.json", tmp_path)
    try:
        s.wait_for(lambda evs: sum(1 for e in evs if e["location"] == receiver
                                   and e["event"] == "recv") >= 3)
    finally:
        assert s.stop() == 0


# --- minimum version ---

def test_client_below_minimum_version_gets_protocol_version(harness, tmp_path):
    doc = fed_with(lambda d: srv(d).update(min_version="1.3"))
    s = Serve(harness, scenario(tmp_path, doc), tmp_path / "run")
    try:
        port = s.ports["location-a"]
        r = run(["timeout", "8", "openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2",
                 "-ign_eof"], timeout=20)
        assert "alert protocol version" in r.stdout + r.stderr
        # Go: supportedVersionsFromMax(legacy_version) when the hello has no supported_versions.
        s.wait_for(lambda _: "tls: client offered only unsupported versions: [303 302 301]"
                   in s.stderr(), timeout=5)
        evs = s.wait_for(lambda evs: any(e["event"] == "tls_reject" for e in evs))
        assert [e["alert_sent"] for e in evs if e["event"] == "tls_reject"][-1] == 70
    finally:
        assert s.stop() == 0


# --- nginx emulation (seed 000's wiring) ---

def test_nginx_emulation_answers_in_http(harness, tmp_path):
    def edit(d):
        d["locations"]["location-a"]["emulate"] = "nginx"
        d["locations"]["location-a"]["nginx"] = {"dn_regex": "^CN=location-b\\.semstreams\\.local,"}
    s = Serve(harness, scenario(tmp_path, fed_with(edit)), tmp_path / "run")
    try:
        port = s.ports["location-a"]
        fx = s.fixtures

        def get(identity):
            cmd = ["curl", "-sS", "-i", "--max-time", "5", "--resolve", f"{A}:{port}:127.0.0.1",
                   "--cacert", fx / "federation-ca.pem"]
            if identity:
                cmd += ["--cert", fx / f"{identity}-cert.pem", "--key", fx / f"{identity}-key.pem"]
            r = run(cmd + [f"https://{A}:{port}/ws"])
            assert r.returncode == 0, r.stderr  # the handshake always completes
            return r.stdout

        out = get(None)
        assert out.startswith("HTTP/1.1 400 Bad Request") and "Server: nginx" in out
        assert "<title>400 No required SSL certificate was sent</title>" in out
        for bad in ("expired", "untrusted", "server-only-eku"):
            assert "<title>400 The SSL certificate error</title>" in get(bad), bad
        assert get("wrong-cn").startswith("HTTP/1.1 403 Forbidden")
        ok = get("location-b")
        assert ok.startswith("HTTP/1.1 400 Bad Request") and "Sec-Websocket-Version: 13" in ok
        # B's own input still connects through the emulated nginx.
        s.wait_for(lambda evs: any(e["location"] == "location-b" and e["event"] == "recv"
                                   for e in evs))
        assert "TLS handshake error" not in s.stderr()
    finally:
        assert s.stop() == 0


# --- ports ---

@pytest.mark.parametrize("threads", ["1", "3"])
def test_port_in_use_is_reported_and_nothing_runs(mh, tmp_path, threads):
    """With several loops the listeners share their port (SO_REUSEPORT); another process's port
    must still be refused, not shared: even a listener that allows SO_REUSEPORT itself."""
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        doc = fed_with(lambda d: d["locations"]["location-a"]["config"]["components"][0]["config"]
                       .update(port=port))
        path = scenario(tmp_path, doc)
        r = mh("serve", path, "--fixtures", tmp_path / "fx", "--events", tmp_path / "ev.jsonl",
               "--threads", threads, timeout=30)
        assert r.returncode == 2
        assert f"$.locations.location-a.config.components[0]: listen tcp 127.0.0.1:{port}: bind: " \
               "address already in use (another process has the port: stop it, or run with " \
               "--ephemeral-ports)" in r.stderr
        assert "serve: ready" not in r.stdout
    finally:
        busy.close()


# --- the client role (websocket_input) checks the server as a Go client does ---

def b_dial_errors(s):
    return [e["error"] for e in s.events()
            if e["location"] == "location-b" and e["event"] == "dial_failed"]


def test_input_rejects_cn_only_server_certificate(harness, tmp_path):
    def edit(d):
        srv(d).update(cert_file="/certs/cn-only-server-cert.pem",
                      key_file="/certs/cn-only-server-key.pem")
    s = Serve(harness, scenario(tmp_path, fed_with(edit)), tmp_path / "run")
    try:
        s.wait_for(lambda _: b_dial_errors(s))
        assert b_dial_errors(s)[0] == ("tls: failed to verify certificate: x509: certificate relies "
                                       "on legacy Common Name field, use SANs instead")
        # A Go client sends bad_certificate; A logs it as Go's server would.
        s.wait_for(lambda _: "http: TLS handshake error from" in s.stderr()
                   and "remote error: tls: bad certificate" in s.stderr(), timeout=5)
    finally:
        assert s.stop() == 0


def test_input_rejects_untrusted_server(harness, tmp_path):
    s = Serve(harness, scenario(tmp_path, fed_with(
        lambda d: cli(d).update(ca_files=["/certs/untrusted-ca.pem"]))), tmp_path / "run")
    try:
        s.wait_for(lambda _: b_dial_errors(s))
        assert b_dial_errors(s)[0].startswith(
            "tls: failed to verify certificate: x509: certificate signed by unknown authority")
    finally:
        assert s.stop() == 0


def test_insecure_skip_verify_is_honoured(harness, tmp_path):
    def edit(d):
        srv(d).update(cert_file="/certs/cn-only-server-cert.pem",
                      key_file="/certs/cn-only-server-key.pem")
        cli(d).update(insecure_skip_verify=True)
    s = Serve(harness, scenario(tmp_path, fed_with(edit)), tmp_path / "run")
    try:
        s.wait_for(lambda evs: any(e["location"] == "location-b" and e["event"] == "recv"
                                   for e in evs))
        assert "WARNING: TLS certificate verification is disabled" in s.stderr()
        assert not b_dial_errors(s)
    finally:
        assert s.stop() == 0


def test_stalled_handshake_is_closed_at_the_deadline(harness, tmp_path):
    s = Serve(harness, ROOT / "scenarios/tier2-tls.json", tmp_path)
    try:
        stalled = socket.create_connection(("127.0.0.1", s.ports["server"]))
        stalled.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # half a ClientHello
        evs = s.wait_for(lambda evs: any(e["event"] == "timeout" for e in evs), timeout=20)
        t = [e for e in evs if e["event"] == "timeout"][0]
        assert t["phase"] == "tls_handshake"
        stalled.settimeout(5)
        assert stalled.recv(100) == b""  # the mock closed it
        stalled.close()
    finally:
        assert s.stop() == 0


def test_an_input_acks_a_hostile_message_id_as_valid_json(harness, tmp_path):
    """The ack echoes the id of the peer's message: quotes, backslashes and newlines in it stay
    inside the JSON string (the ack was once built with printf)."""
    import websockets
    keys = tmp_path / "server-keys"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", keys]).returncode == 0
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(keys / "location-a-cert.pem", keys / "location-a-key.pem")
    hostile = 'msg-1","type":"evil\\"\n{'
    acks, ready, done = [], threading.Event(), threading.Event()
    port = []

    async def handler(ws, path=None):
        await ws.send(json.dumps({"type": "data", "id": hostile, "timestamp": 1,
                                  "payload": {"origin": "peer", "seq": 1}}))
        acks.append(await asyncio.wait_for(ws.recv(), 10))

    async def serve():
        async with websockets.serve(handler, "127.0.0.1", 0, ssl=ctx) as server:
            port.append(server.sockets[0].getsockname()[1])
            ready.set()
            while not done.is_set():
                await asyncio.sleep(0.05)

    t = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    t.start()
    assert ready.wait(10)
    doc = json.loads((ROOT / "scenarios/tier2-mtls.json").read_text())
    del doc["locations"]["location-a"]
    b = doc["locations"]["location-b"]["config"]
    b["components"][0]["config"]["url"] = f"wss://127.0.0.1:{port[0]}/ws"
    b["security"]["tls"]["client"]["insecure_skip_verify"] = True
    s = Serve(harness, scenario(tmp_path, doc), tmp_path / "run")
    try:
        s.wait_for(lambda evs: acks, timeout=15)
    finally:
        done.set()
        assert s.stop() == 0
        t.join(10)
    ack = json.loads(acks[0])
    assert ack["type"] == "ack" and ack["id"] == hostile and set(ack) == {"type", "id", "timestamp"}
