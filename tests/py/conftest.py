"""Shared pytest fixtures and helpers: the binary under test, a bounded way to run it and real
peers, the federation scenario (a fresh copy for each use: no test edits a shared one), free
loopback ports, and Debian's nginx over the federation's fixtures."""
import contextlib
import copy
import itertools
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The report schemas (docs/runner.md, docs/load.md).
SCHEMA = json.loads((ROOT / "docs/report-schema.json").read_text())
LOAD_SCHEMA = json.loads((ROOT / "docs/load-report-schema.json").read_text())
# The federation's names.
A = "location-a.semstreams.local"
B = "location-b.semstreams.local"


def federation():
    """scenarios/federation.json, parsed anew: the caller may edit it."""
    return json.loads((ROOT / "scenarios/federation.json").read_text())


# One parsed copy for the tests that only read it, or copy it before an edit (write_scenario does).
FED = federation()

# The fixtures cache (docs/pki-spec.md, "The fixtures cache") of every command a test runs: one for
# the whole session, shared by its xdist workers (as concurrent runs share a user's), never the
# user's own ~/.cache. A test of the cache itself names its own with --fixtures-cache.
# The controller imports this first and its environment reaches the workers it starts.
FIXTURES_CACHE = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"mh-test-fixtures-{os.getpid()}"
os.environ.setdefault("MH_FIXTURES_CACHE", str(FIXTURES_CACHE))


def pytest_unconfigure(config):
    """The session's fixtures cache goes with the session (from the controller, once the workers
    are done; a worker is a process of its own with PYTEST_XDIST_WORKER set)."""
    if "PYTEST_XDIST_WORKER" not in os.environ and os.environ.get("MH_FIXTURES_CACHE") == str(
            FIXTURES_CACHE):
        subprocess.run(["rm", "-rf", str(FIXTURES_CACHE)], check=False)


# free_port's ports: below the kernel's ephemeral range (32768 and up on Linux, where every
# outgoing connection takes its source port, so a port the kernel handed out and this process closed
# can be taken by another test's connection before a server binds it), a slice of PORTS_PER_WORKER
# for each pytest-xdist worker (PYTEST_XDIST_WORKER: gw0, gw1, ...) from MH_TEST_PORT_BASE, which
# scripts/test sets apart for each of its concurrent passes. Ports are never handed out twice
# within a slice of one process until it wraps, and each is checked free before it is handed out.
PORTS_PER_WORKER = 300
_port_count = itertools.count()


def _port_slice():
    base = int(os.environ.get("MH_TEST_PORT_BASE", "20000"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    return base + index * PORTS_PER_WORKER


def free_port():
    """A loopback port nobody holds now, of this worker's slice (see PORTS_PER_WORKER)."""
    start = _port_slice()
    for _ in range(PORTS_PER_WORKER):
        port = start + next(_port_count) % PORTS_PER_WORKER
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}..{start + PORTS_PER_WORKER - 1}")


def write_scenario(tmp_path, doc, name="s.json"):
    """|doc| (copied, never changed) as a scenario file in |tmp_path|, its fixtures the
    federation's spec."""
    doc = copy.deepcopy(doc)
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2))
    return path


def fed_with(edit):
    """A fresh copy of the federation scenario, changed by |edit| (a function of the document)."""
    doc = federation()
    edit(doc)
    return doc


def identities_spec(tmp_path, *names):
    """fixtures/federation.json with its CAs and only the identities |names|, as a spec file in
    |tmp_path|: what a load shard issues (--identities-from) into a copy of fixtures generated from
    the whole spec, which holds the CA keys it signs with. Issuing two ECDSA leaves takes
    milliseconds; the whole spec's RSA keys took seconds on a busy machine, and a shard that was
    not ready by its --start-at started late."""
    spec = json.loads((ROOT / "fixtures/federation.json").read_text())
    spec["identities"] = [i for i in spec["identities"] if i["name"] in names]
    assert sorted(i["name"] for i in spec["identities"]) == sorted(names), names
    spec.pop("zips", None)
    path = tmp_path / f"spec-{'-'.join(names)}.json"
    part = path.with_suffix(".part")  # renamed: a shard never reads a half-written spec
    part.write_text(json.dumps(spec, indent=2))
    part.rename(path)
    return path


def own_loopback(args):
    """|args| run in a network namespace of their own whose loopback is up: a capture on lo there
    sees this command's traffic only, not that of the tests other workers run at once (their
    packets, before libpcap attaches a capture's filter, filled its buffer, and a case's own
    packets were lost). As root only; elsewhere |args| unchanged."""
    if os.geteuid() != 0:
        return [str(a) for a in args]
    return ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
            *[str(a) for a in args]]


def external_target(port, profile="semstreams"):
    """A target on 127.0.0.1:|port| that presents location-a's certificate and admits location-b."""
    return {"target": f"127.0.0.1:{port}", "server_name": A,
            "ca_files": ["/certs/federation-ca.pem"], "profile": profile, "path": "/",
            "policy": {"mtls": {"enabled": True, "client_ca_files": ["/certs/federation-ca.pem"],
                                "require_client_cert": True,
                                "allowed_client_cns": [B]}}}


def harness_path():
    return pathlib.Path(os.environ.get("MH_BIN", ROOT / "build" / "mtls-harness"))


@pytest.fixture(scope="session")
def harness():
    path = harness_path()
    if not path.is_file():
        raise RuntimeError(f"{path}: binary not built; run scripts/test (or set MH_BIN)")
    return path


# A fixture of this suite that every test may share at no cost: it makes nothing.
_FREE_FIXTURES = {"harness"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist with --dist loadgroup (scripts/test), the tests that share a module- or
    session-scoped fixture (a real server, a run whose report several tests read, a network
    namespace bed) go to one worker, which makes the fixture once; every other test goes to
    whichever worker is free. Without the group each worker that ran one of those tests made the
    fixture again: four `sharded` runs of four shards each at once, on two cores. Before
    xdist's own hook, which reads the marker (tryfirst)."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        shared = set()
        for name, defs in info.name2fixturedefs.items():
            if (name in _FREE_FIXTURES or not defs or defs[-1].scope == "function"
                    or not defs[-1].func.__module__.startswith(("conftest", "test_"))):
                continue  # pytest's own (tmp_path_factory) are made lazily, cheaply
            shared.add(name if defs[-1].scope == "session" else item.module.__name__)
        if shared:
            item.add_marker(pytest.mark.xdist_group("+".join(sorted(shared))))


def run(args, timeout=60, check=False, cwd=None):
    """Runs a command with a deadline; returns the CompletedProcess (text mode)."""
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, check=check, cwd=cwd)


@pytest.fixture(scope="session")
def sweep_run(harness, tmp_path_factory):
    """One `load --sweep` against the mock of location-a (from 50/s, 0.5 s a step, two threads, a
    p99 limit of 500 ms that the first step holds on any machine, even a loaded one), shared by
    the tests of a sweep's steps, schema and chart: a sweep takes 15 s, and the three read the
    same run. Returns the CompletedProcess, report.json (None if missing) and the out directory,
    which the tests only read."""
    out = tmp_path_factory.mktemp("sweep") / "out"
    r = run([harness, "load", ROOT / "scenarios/federation.json", "--location", "location-a",
             "--sweep", "--rate", "50", "--duration", "0.5", "--threads", "2",
             "--sweep-p99-ms", "500", "--out", out, "--quiet"], timeout=180)
    rep = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else None
    return r, rep, out


def run_harness(mh, scenario, out, *args):
    """`run` of |scenario| into |out| with the shipped profiles; returns (process, report or None)."""
    r = mh("run", scenario, "--out", out, "--profiles", ROOT / "profiles", *args, timeout=180)
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else None
    return r, report


@pytest.fixture
def mh(harness):
    """Runs mtls-harness with the given arguments."""
    def _run(*args, timeout=60, cwd=None):
        return run([harness, *args], timeout=timeout, cwd=cwd)
    return _run


def read_jsonl(path):
    """The complete lines of a JSON-lines file that another process may be appending to: a last
    line without its newline is still being written, and is left for the next read (parsing it
    made a test fail on half an event)."""
    data = pathlib.Path(path).read_bytes()
    complete = data[:data.rfind(b"\n") + 1]
    return [json.loads(l) for l in complete.decode().splitlines() if l.strip()]


class Serve:
    """mtls-harness serve in the background: ephemeral ports, its own fixtures and event log.

    Waits (bounded) for 'serve: ready'; stop() sends SIGTERM and waits for a clean exit.
    """

    def __init__(self, harness, scenario, workdir, *extra, ready_timeout=30):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.fixtures = self.workdir / "fixtures"
        self.events_path = self.workdir / "events.jsonl"
        self.stdout_path = self.workdir / "serve.out"
        self.stderr_path = self.workdir / "serve.err"
        self._out = open(self.stdout_path, "w")
        self._err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [str(harness), "serve", str(scenario), "--ephemeral-ports", "--fixtures",
             str(self.fixtures), "--events", str(self.events_path), "--for", "300", *extra],
            stdout=self._out, stderr=self._err)
        deadline = time.monotonic() + ready_timeout
        while "serve: ready" not in self.stdout_path.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve did not become ready:\n{self.stdout_path.read_text()}"
                                   f"\n{self.stderr_path.read_text()}")
            time.sleep(0.05)
        self.ports = {}
        for line in self.stdout_path.read_text().splitlines():
            if line.startswith("endpoint "):
                loc = line.split()[1]
                self.ports[loc] = int(re.search(r"listen=[^ ]+:(\d+)", line).group(1))

    def events(self):
        return read_jsonl(self.events_path)

    def stderr(self):
        return self.stderr_path.read_text()

    def wait_for(self, predicate, timeout=15):
        """Polls the event log until predicate(events) is true; returns the events."""
        deadline = time.monotonic() + timeout
        while True:
            evs = self.events()
            if predicate(evs):
                return evs
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s; last events: {evs[-10:]}")
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                raise
        self._out.close()
        self._err.close()
        return self.proc.returncode


@contextlib.contextmanager
def nginx_running(conf, prefix, port, timeout=10):
    """Runs Debian's nginx with |conf| until the block ends; waits (bounded) for |port|."""
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(prefix)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"nginx exited: {proc.stderr.read().decode()}")
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start")
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# Debian's nginx as a federation location: location-a's certificate, the federation CA, only
# location-b's CN admitted (403 for another, 400 for a certificate it refuses).
# The top of every nginx.conf the tests write (a .format template: {tmp} is the test's directory,
# where nginx keeps its pid, log and temporary files); the http block stays open.
NGINX_HEAD = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
"""

NGINX_CONF = NGINX_HEAD + """  map $ssl_client_s_dn $cn_ok {{
    default 0;
    "~(^|,)CN=location-b\\.semstreams\\.local(,|$)" 1;
  }}
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name location-a.semstreams.local;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {fx}/location-a-cert.pem;
    ssl_certificate_key {fx}/location-a-key.pem;
    ssl_client_certificate {fx}/federation-ca.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    location / {{
      if ($cn_ok = 0) {{ return 403; }}
      return 200 "ok\\n";
    }}
  }}
}}
"""


@contextlib.contextmanager
def tcp_server(handler, hold_s=5):
    """A hostile or plain TCP peer on 127.0.0.1:<port> (yielded) until the block ends: each
    connection goes to |handler|(conn, stop) on a thread of its own, with a socket timeout of
    |hold_s|; |stop| is set when the block ends, so a handler that holds a connection waits on it.
    Bounded: the acceptor polls |stop| every 0.2 s, and each handler thread is joined for at most
    |hold_s| + 1 s."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    ls.settimeout(0.2)
    stop = threading.Event()
    threads = []

    def one(conn):
        conn.settimeout(hold_s)
        with contextlib.suppress(OSError), conn:
            handler(conn, stop)

    def loop():
        while not stop.is_set():
            try:
                conn, _ = ls.accept()
            except (socket.timeout, OSError):
                continue
            t = threading.Thread(target=one, args=(conn,), daemon=True)
            t.start()
            threads.append(t)

    acceptor = threading.Thread(target=loop, daemon=True)
    acceptor.start()
    try:
        yield ls.getsockname()[1]
    finally:
        stop.set()
        acceptor.join(5)
        for t in threads:
            t.join(hold_s + 1)
        ls.close()
