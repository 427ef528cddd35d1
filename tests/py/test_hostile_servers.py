"""The runner against broken servers: a rejection counts against the client certificate only when
the server asked for one (a CertificateRequest) and the client sent it; everything else is
not-attributable or inconclusive with the reason, never a pass. Each server is a small hostile
peer on loopback (Python's ssl module, a raw socket, openssl s_server), used as an external
target; every server and every wait is bounded."""
import contextlib
import copy
import json
import shutil
import socket
import ssl
import subprocess
import time

import jsonschema
import pytest

from conftest import A, FED, ROOT, SCHEMA, external_target, free_port, run, tcp_server

HOLD_S = 5  # the longest a hostile server keeps one connection


@pytest.fixture(scope="module")
def fx(harness, tmp_path_factory):
    """The federation's fixtures, for the hostile servers' certificates."""
    d = tmp_path_factory.mktemp("hostile") / "fx"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", d]).returncode == 0
    return d


def serving(handler):
    """Accepts on 127.0.0.1:<port> until the block ends; each connection goes to |handler| on a
    thread of its own, with a socket timeout of HOLD_S (conftest.tcp_server)."""
    def one(conn, _stop):
        with contextlib.suppress(ssl.SSLError):
            handler(conn)
    return tcp_server(one, HOLD_S)


def tls_context(fx, chain=None, ask_cert=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain or fx / "location-a-cert.pem", fx / "location-a-key.pem")
    if ask_cert:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(fx / "federation-ca.pem")
    return ctx


def read_head(s):
    """Reads a request head (at most 64 KiB)."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def run_against(harness, fx, tmp_path, port, identities=("location-b", "none")):
    """Runs the federation's matrix for |identities| against 127.0.0.1:|port| as target
    "hostile" (SemStreams' policy: mTLS required, allow-list B); returns the run and its report,
    checked against the schema."""
    doc = copy.deepcopy(FED)
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    doc["locations"]["hostile"] = external_target(port)
    doc["matrix"] = {"targets": ["hostile"], "identities": list(identities),
                     "versions": ["1.2", "1.3"]}  # no server checks: identities x versions
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc, indent=2))
    out = tmp_path / "out"
    shutil.copytree(fx, out / "fixtures")  # the run keeps the CA that signed the servers' certs
    r = run([harness, "run", path, "--out", out, "--profiles", ROOT / "profiles"], timeout=120)
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    return r, report, out


def cases(report):
    return {c["id"]: c for c in report["cases"]}


def test_silent_server_without_certificate_request_is_no_pass(harness, fx, tmp_path):
    """TLS completes, no CertificateRequest, then silence after the GET: no answer is no admission
    (it once counted as one, "accepted (HTTP 0)", and the good identity's cases passed), nor a
    refusal: every case is inconclusive, saying what the server did and did not do."""
    ctx = tls_context(fx)

    def silent(conn):
        with ctx.wrap_socket(conn, server_side=True) as s:
            while s.recv(4096):  # reads the request, answers nothing, until the client leaves
                pass

    with serving(silent) as port:
        r, report, out = run_against(harness, fx, tmp_path, port)
    assert r.returncode == 1, r.stdout
    by_id = cases(report)
    assert len(by_id) == 4
    for cid, c in by_id.items():
        assert c["verdict"] == "inconclusive", (cid, c)
        assert c["outcome"]["result"] == "inconclusive" and c["outcome"]["http_status"] == 0
        assert c["outcome"]["certificate_request"] == {"seen": False, "cas": [], "cas_total": 0}
        assert c["outcome"]["server_hello"] is True
        assert c["outcome"]["error"] == (
            "no HTTP answer within 3000 ms: the handshake completed without a CertificateRequest "
            "and the server said nothing, neither admitting nor refusing (a slow server: raise "
            "first_read_ms)"), c
    ok = by_id["hostile/location-b/tls1.3"]
    assert ok["outcome"]["version"] == "TLSv1.3" and "HTTP 0" not in ok["summary"]
    log = (out / ok["log"]).read_text()
    assert "cert request   none" in log and "no HTTP status" in log


def test_reset_after_client_hello_is_not_attributable(harness, fx, tmp_path):
    def reset(conn):
        conn.recv(4096)  # the ClientHello
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    with serving(reset) as port:
        r, report, out = run_against(harness, fx, tmp_path, port)
    assert r.returncode == 1, r.stdout
    by_id = cases(report)
    for version in ("tls1.2", "tls1.3"):
        c = by_id[f"hostile/none/{version}"]
        o = c["outcome"]
        assert c["verdict"] == "not-attributable", c
        assert c["verdict_reason"] == ("the server reset the connection after the ClientHello, "
                                       "before asking for a client certificate")
        assert (o["transport_end"], o["server_hello"], o["version"]) == ("rst", False, "")
        assert o["certificate_request"]["seen"] is False
        assert "TLSv1.2" not in c["summary"] and c["summary"].endswith("(-)"), c["summary"]
        ok = by_id[f"hostile/location-b/{version}"]
        assert ok["verdict"] == "unexpected-reject" and "reset the connection" in ok["verdict_reason"]
    assert report["summary"]["verdicts"]["not-attributable"] == 2
    log = (out / by_id["hostile/none/tls1.3"]["log"]).read_text()
    assert "server hello   none" in log and "handshake      failed" in log


def test_tls10_only_server_is_a_version_failure(harness, fx, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("no openssl CLI")
    port = free_port()
    cmd = ["openssl", "s_server", "-quiet", "-tls1", "-cipher", "DEFAULT@SECLEVEL=0",
           "-cert", fx / "location-a-cert.pem", "-key", fx / "location-a-key.pem",
           "-accept", f"127.0.0.1:{port}"]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        for _ in range(50):  # until it listens, 5 s at most
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            time.sleep(0.1)
        else:
            pytest.skip("openssl s_server -tls1 did not start: " + p.stderr.read1(400).decode())
        probe = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1",
                                "-cipher", "DEFAULT@SECLEVEL=0"], input=b"", capture_output=True,
                               timeout=10)
        if b"TLSv1" not in probe.stdout:
            pytest.skip("this OpenSSL build does not speak TLS 1.0 even at SECLEVEL=0")
        r, report, _ = run_against(harness, fx, tmp_path, port)
    finally:
        p.kill()
        p.wait(5)
    assert r.returncode == 1, r.stdout
    by_id = cases(report)
    c12 = by_id["hostile/none/tls1.2"]
    assert c12["verdict"] == "not-attributable", c12
    assert c12["verdict_reason"] == (
        "the server offered only TLSv1.0 (to a client offering TLSv1.2 only)")
    assert c12["outcome"]["server_hello_version"] == "TLSv1.0"
    assert c12["outcome"]["version"] == ""
    c13 = by_id["hostile/none/tls1.3"]
    assert c13["verdict"] == "not-attributable", c13
    assert "no version in common" in c13["verdict_reason"] or "TLSv1.0" in c13["verdict_reason"]
    for cid in ("hostile/location-b/tls1.2", "hostile/location-b/tls1.3"):
        assert by_id[cid]["verdict"] == "unexpected-reject"
    assert "offered only TLSv1.0" in by_id["hostile/location-b/tls1.2"]["verdict_reason"]
    assert "pass" not in {c["verdict"] for c in report["cases"]}
    assert "pass-conceptual" not in {c["verdict"] for c in report["cases"]}


def test_ten_megabyte_response_head_is_bounded(harness, fx, tmp_path):
    ctx = tls_context(fx, ask_cert=True)
    line = b"X-Pad: " + b"a" * 1000 + b"\r\n"

    def huge(conn):
        with ctx.wrap_socket(conn, server_side=True) as s:
            read_head(s)
            s.sendall(b"HTTP/1.1 101 Switching Protocols\r\n")
            for _ in range(10 * 1024 * 1024 // len(line)):  # 10 MB, unless the client leaves
                s.sendall(line)

    with serving(huge) as port:
        r, report, out = run_against(harness, fx, tmp_path, port, identities=("location-b",))
    assert r.returncode == 1, r.stdout
    for c in report["cases"]:
        o = c["outcome"]
        assert c["verdict"] == "inconclusive", c
        assert o["error"] == "HTTP head over 16 KiB (status 101)", o
        assert o["http_status"] == 101 and o["http_head_too_large"] is True
        assert o["certificate_request"]["seen"] is True
        assert o["layer"] != "http" and "HTTP 0" not in c["summary"]
    log = (out / report["cases"][0]["log"]).read_text()
    assert "head over 16 KiB" in log


def test_200k_certificate_chain_is_refused_by_the_tls_layer(harness, fx, tmp_path):
    """Our own TLS library refuses a chain over its limit: that is no refusal by the server (only
    a server's refusal may be judged as one), so the case is inconclusive, in the library's words."""
    ca = (fx / "federation-ca.pem").read_bytes()
    chain = tmp_path / "chain.pem"
    copies = 200 * 1024 // len(ca) + 1
    chain.write_bytes((fx / "location-a-cert.pem").read_bytes() + ca * copies)
    ctx = tls_context(fx, chain=chain, ask_cert=True)

    def big(conn):
        with ctx.wrap_socket(conn, server_side=True) as s:
            s.recv(1)

    with serving(big) as port:
        r, report, _ = run_against(harness, fx, tmp_path, port, identities=("none",))
    assert r.returncode == 1, r.stdout
    for c in report["cases"]:
        o = c["outcome"]
        assert c["verdict"] == "inconclusive" and o["result"] == "inconclusive", c
        assert o["rejected_by"] == "none", o
        assert o["error"].startswith(
            "the harness's own TLS client refused a message of the server (no refusal by the "
            "server): tls: the server sent a handshake message over 100 KiB (excessive message "
            "size: e.g. a certificate chain over the TLS library's limit) (we sent alert "), o
    # TLS 1.3 sends the CertificateRequest before the Certificate, TLS 1.2 after it.
    assert cases(report)["hostile/none/tls1.3"]["outcome"]["certificate_request"]["seen"] is True
    assert cases(report)["hostile/none/tls1.2"]["outcome"]["certificate_request"]["seen"] is False


def test_mock_certificate_request_names_its_client_cas(harness, tmp_path):
    """A well-behaved server (the mock): the CertificateRequest is recorded with its CA names."""
    out = tmp_path / "out"
    r = run([harness, "run", ROOT / "scenarios/federation.json", "--out", out,
             "--filter", "location-a/location-b/*", "--filter", "location-a/none/*"], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    ca = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in",
                         out / "fixtures" / "federation-ca.pem"], capture_output=True, text=True,
                        check=True).stdout.strip().removeprefix("subject=")
    for c in report["cases"]:
        cr = c["outcome"]["certificate_request"]
        assert cr["seen"] is True and cr["cas"] == [ca] and cr["cas_total"] == 1, cr
        assert c["verdict"] == "pass" and c["verdict_reason"] == ""
    log = (out / report["cases"][0]["log"]).read_text()
    assert f"    CA           {ca}" in log


def test_a_server_name_in_latin1_keeps_every_report_valid_utf8(harness, fx, tmp_path):
    """Old PKIs issue T61String names holding Latin-1 bytes; the harness copies the CN as the
    server sent it. report.json must stay UTF-8 that a CI's JSON reader accepts (bytes outside
    UTF-8 become the text "\\xNN", as in report.md), and every other report must too."""
    d = tmp_path / "t61"
    d.mkdir()
    (d / "req.cnf").write_bytes(
        b"[req]\ndistinguished_name=dn\nprompt=no\nstring_mask=nombstr\n"
        b"[dn]\nCN=M\xfcnchen\xff\n"
        b"[ext]\nsubjectAltName=DNS:location-a.semstreams.local\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", d / "key.pem", "-out",
                    d / "req.csr", "-config", d / "req.cnf"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", d / "req.csr", "-CA",
                    fx / "federation-ca.pem", "-CAkey", fx / "federation-ca-key.pem", "-days", "2",
                    "-extfile", d / "req.cnf", "-extensions", "ext", "-out", d / "cert.pem"],
                   check=True, capture_output=True)
    asn1 = subprocess.run(["openssl", "asn1parse", "-in", d / "cert.pem"], check=True,
                          capture_output=True).stdout
    assert b"T61STRING         :M\xfcnchen\xff" in asn1  # the bytes really are on the wire
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.load_verify_locations(fx / "federation-ca.pem")

    def answer(conn):
        with ctx.wrap_socket(conn, server_side=True) as s:
            read_head(s)
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    with serving(answer) as port:
        r, report, out = run_against(harness, fx, tmp_path, port, identities=("location-b",))
    text = (out / "report.json").read_bytes().decode("utf-8")  # strict: raises on a stray byte
    for c in json.loads(text)["cases"]:
        assert c["outcome"]["server_cn"] == "M\\xfcnchen\\xff", c["outcome"]
    for name in ("report.md", "report.html", "junit.xml"):
        (out / name).read_bytes().decode("utf-8")
    log = (out / report["cases"][0]["log"]).read_bytes().decode("utf-8")
    assert "server cert    CN=M\\xfcnchen\\xff (verified)" in log


def test_a_ticket_over_our_library_limit_is_ours_not_the_servers_refusal(harness, tmp_path):
    """A client certificate with 1,000 SANs: an OpenSSL server (nginx's library; here Python's)
    puts it in its TLS 1.3 session ticket, over the 16 KiB BoringSSL allows a post-handshake
    message. The server admitted the client; our library refused its ticket: inconclusive, in the
    library's words, never unexpected-reject."""
    spec = json.loads((ROOT / "fixtures/federation.json").read_text())
    spec.pop("zips", None)
    many = next(i for i in spec["identities"] if i["name"] == "location-b")
    many["dns"] = many["dns"] + [f"alias-{k}.semstreams.local" for k in range(1000)]
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    fx = tmp_path / "fx"
    assert run([harness, "pki", spec_path, "--out", fx]).returncode == 0
    ctx = tls_context(fx, ask_cert=True)

    def admits(conn):
        with ctx.wrap_socket(conn, server_side=True) as s:
            read_head(s)
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            s.recv(1)

    doc = copy.deepcopy(FED)
    doc["fixtures"] = str(spec_path)
    with serving(admits) as port:
        doc["locations"]["hostile"] = external_target(port)
        doc["matrix"] = {"targets": ["hostile"], "identities": ["location-b"], "versions": ["1.3"]}
        path = tmp_path / "s.json"
        path.write_text(json.dumps(doc))
        out = tmp_path / "out"
        shutil.copytree(fx, out / "fixtures")
        r = run([harness, "run", path, "--out", out], timeout=120)
        # load with that identity: the same refusal is ours, never the target's error.
        lr = run([harness, "load", "--target", f"127.0.0.1:{port}", "--server-name", A,
                  "--ca", fx / "federation-ca.pem", "--identities-from", spec_path,
                  "--fixtures", fx, "--identity", "location-b", "--connections", "2",
                  "--duration", "1", "--out", tmp_path / "load", "--quiet"], timeout=60)
    (c,) = json.loads((out / "report.json").read_text())["cases"]
    assert r.returncode == 1 and c["verdict"] == "inconclusive", c
    assert c["outcome"]["error"].startswith(
        "the harness's own TLS client refused a message of the server (no refusal by the server): "
        "tls: the server sent a post-handshake message (a NewSessionTicket) over 16 KiB, "
        "BoringSSL's fixed limit for them (Go and OpenSSL clients accept it)"), c["outcome"]
    rep = json.loads((tmp_path / "load" / "report.json").read_text())
    errors = rep["errors"]
    assert errors["client_refused"] > 0 and errors["tls_error"] == 0, (errors, lr.stderr)
    assert errors["client_refused"] == sum(errors.values()), errors


def test_a_case_a_network_fault_may_have_spoilt_is_probed_again(harness, fx, tmp_path):
    """The first connection is reset after the ClientHello, as a lossy path leaves a refusal whose
    alert was lost; the next one is served properly. With --retries (default 1 for an external
    target) the case is probed again and judged by the second probe, and the report says so;
    with --retries 0 the reset is judged."""
    ctx = tls_context(fx, ask_cert=True)
    seen = []

    def flaky(conn):
        seen.append(1)
        if len(seen) % 2 == 1:  # every other connection: reset after the ClientHello
            conn.recv(4096)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return
        with ctx.wrap_socket(conn, server_side=True) as s:
            read_head(s)
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            s.recv(1)

    def one_case(out, *args):
        doc = copy.deepcopy(FED)
        doc["fixtures"] = str(ROOT / "fixtures/federation.json")
        doc["locations"]["hostile"] = external_target(port)
        doc["matrix"] = {"targets": ["hostile"], "identities": ["location-b"],
                         "versions": ["1.3"]}
        path = tmp_path / "s.json"
        path.write_text(json.dumps(doc))
        shutil.copytree(fx, out / "fixtures")
        r = run([harness, "run", path, "--out", out, "--jobs", "1", *args], timeout=120)
        report = json.loads((out / "report.json").read_text())
        jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
        return r, report

    with serving(flaky) as port:
        r, report = one_case(tmp_path / "again")
        seen.clear()
        r0, report0 = one_case(tmp_path / "once", "--retries", "0")
    (c,) = report["cases"]
    assert r.returncode == 0 and c["verdict"] == "pass", (r.stdout, c)
    assert c["attempts"] == 2 and c["first_attempt"].endswith(": rst, no alert (-)"), c
    (w,) = [w for w in report["warnings"] if w["kind"] == "probed_again"]
    assert not w["fails"] and w["message"].startswith(
        "target hostile: 1 case was probed again (--retries) after an outcome a network fault may "
        "have made; the last probe is judged: hostile/location-b/tls1.3 (first: "), w
    (c0,) = report0["cases"]
    assert r0.returncode == 1 and c0["attempts"] == 1 and c0["first_attempt"] is None, c0
    assert c0["verdict"] in {"unexpected-reject", "not-attributable"}, c0
