"""A Python 3 (ssl module, http.server) HTTPS service for tests/py/test_unprofiled.py: it requires
a client certificate that chains to --ca and answers --refuse-status to a client whose CN is not
--allow-cn (its name check is in the application, as such services usually have it). No profile
ships for it: the harness must judge it by the policy alone."""
import argparse
import http.server
import socket
import ssl
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--allow-cn", required=True)
    ap.add_argument("--refuse-status", type=int, default=403)
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            subject = dict(x[0] for x in self.connection.getpeercert().get("subject", ()))
            ok = subject.get("commonName") == a.allow_cn
            body = b"ok\n" if ok else b"forbidden\n"
            self.send_response(200 if ok else a.refuse_status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            print(fmt % args, flush=True)

    class Server(http.server.ThreadingHTTPServer):
        # The handshake runs on the connection's thread, bounded, so that a stalled client never
        # holds the listener.
        def finish_request(self, request, client_address):
            request.settimeout(5)
            try:
                tls = ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                print(f"handshake from {client_address}: {e}", flush=True)
                return
            self.RequestHandlerClass(tls, client_address, self)

    srv = Server(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
