"""A test bed of two network namespaces joined by a veth pair, made and torn down by the test.

The addresses come from the documentation ranges (RFC 5737, RFC 3849): they are never routed
anywhere, and only exist inside the two namespaces. Names carry the process id and a random
suffix, so that concurrent runs never share one. Every command has a deadline.
"""
import os
import secrets
import signal
import subprocess
import time

SERVER_V4, CLIENT_V4 = "192.0.2.1", "192.0.2.2"
SERVER_V6, CLIENT_V6 = "2001:db8::1", "2001:db8::2"


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Ends |proc| (a subprocess.Popen) with |sig|, then SIGKILL if it has not exited within
    |timeout| s; bounded, and a no-op for one that has exited already."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _ip(*args, timeout=10):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout)


class _Namespaces:
    """What every bed does with its namespaces: make them, run commands in them, delete them."""

    def __init__(self):
        self.tag = f"{os.getpid() % 100000}{secrets.token_hex(2)}"
        self.made = []

    def _must(self, *args):
        r = _ip(*args)
        if r.returncode != 0:
            raise OSError(f"ip {' '.join(args)}: {r.stderr.strip() or r.returncode}")

    def _add(self, *names):
        """Makes the namespaces |names|, remembered for destroy(); raises OSError."""
        for ns in names:
            self._must("netns", "add", ns)
            self.made.append(ns)

    def destroy(self):
        """Deletes the namespaces (and with them their links); never raises."""
        for ns in reversed(self.made):
            _ip("netns", "del", ns)
        self.made = []

    def exec_args(self, ns, *args):
        """The command line that runs |args| inside namespace |ns|."""
        return ["ip", "netns", "exec", ns, *[str(a) for a in args]]

    def run(self, ns, *args, timeout=60):
        return subprocess.run(self.exec_args(ns, *args), capture_output=True, text=True,
                              timeout=timeout)


class NetnsBed(_Namespaces):
    """Two namespaces, "server" and "client", with SERVER_V4/V6 and CLIENT_V4/V6 on a veth pair."""

    def __init__(self):
        super().__init__()
        self.server = f"mhs{self.tag}"
        self.client = f"mhc{self.tag}"
        self.server_if = f"mhvs{self.tag}"[:15]
        self.client_if = f"mhvc{self.tag}"[:15]

    def create(self):
        """Makes the namespaces; raises OSError with the failing command's error."""
        self._add(self.server, self.client)
        self._must("link", "add", self.server_if, "netns", self.server, "type", "veth",
                   "peer", "name", self.client_if, "netns", self.client)
        for ns, dev, v4, v6 in ((self.server, self.server_if, SERVER_V4, SERVER_V6),
                                (self.client, self.client_if, CLIENT_V4, CLIENT_V6)):
            self._must("-n", ns, "link", "set", "lo", "up")
            self._must("-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
            # nodad: the address is usable at once, not after duplicate address detection.
            self._must("-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
            self._must("-n", ns, "link", "set", dev, "up")
        return self

    def wait_listening(self, host, port, proc, timeout=15):
        """Waits (bounded) until |host|:|port| accepts a connection from the client namespace."""
        probe = ("import socket,sys\n"
                 "socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()")
        deadline = time.monotonic() + timeout
        while True:
            r = self.run(self.client, "/usr/bin/python3", "-c", probe, host, port, timeout=10)
            if r.returncode == 0:
                return
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited: {proc.stderr.read()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {host}:{port}: {r.stderr.strip()}")
            time.sleep(0.2)


SHARD_SERVER_V4 = "192.0.2.1"


class ShardBed(_Namespaces):
    """A server namespace with a bridge on SHARD_SERVER_V4/24 and |n| client namespaces, each
    joined to the bridge by its own veth pair with its own address 192.0.2.(11 + i): one host per
    load shard, all reaching one server."""

    def __init__(self, n):
        super().__init__()
        self.server = f"mhS{self.tag}"
        self.clients = [f"mhC{i}{self.tag}" for i in range(n)]
        self.addresses = [f"192.0.2.{11 + i}" for i in range(n)]

    def create(self):
        """Makes the namespaces; raises OSError with the failing command's error."""
        self._add(self.server, *self.clients)
        self._must("-n", self.server, "link", "set", "lo", "up")
        self._must("-n", self.server, "link", "add", "br0", "type", "bridge")
        self._must("-n", self.server, "addr", "add", f"{SHARD_SERVER_V4}/24", "dev", "br0")
        self._must("-n", self.server, "link", "set", "br0", "up")
        for i, (ns, addr) in enumerate(zip(self.clients, self.addresses)):
            near, far = f"mhb{i}{self.tag}"[:15], f"mhe{i}{self.tag}"[:15]
            self._must("link", "add", near, "netns", self.server, "type", "veth", "peer", "name",
                       far, "netns", ns)
            self._must("-n", self.server, "link", "set", near, "master", "br0")
            self._must("-n", self.server, "link", "set", near, "up")
            self._must("-n", ns, "link", "set", "lo", "up")
            self._must("-n", ns, "addr", "add", f"{addr}/24", "dev", far)
            self._must("-n", ns, "link", "set", far, "up")
        return self


class ImpairedBed(_Namespaces):
    """Two namespaces, "server" (SERVER_V4) and "client" (CLIENT_V4), joined through the
    userspace impairment bridge of impair.py instead of a veth pair: clean until impair() (SIGUSR1),
    then |delay_ms| each way, |loss| and |reorder| (see impair.py)."""

    def __init__(self, delay_ms=100, loss=0.05, reorder=0.1, seed=1):
        super().__init__()
        self.server = f"mhIs{self.tag}"
        self.client = f"mhIc{self.tag}"
        self.server_if, self.client_if = f"mhts{self.tag}"[:15], f"mhtc{self.tag}"[:15]
        self.loss = loss
        self.args = ["--delay-ms", str(delay_ms), "--loss", str(loss), "--reorder", str(reorder),
                     "--seed", str(seed)]
        self.bridge = None

    def create(self):
        """Makes the namespaces and starts the bridge; raises OSError when it cannot."""
        self._add(self.server, self.client)
        here = os.path.dirname(os.path.abspath(__file__))
        self.bridge = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(here, "impair.py"), self.server_if, self.client_if,
             *self.args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.bridge.stdout.readline()  # "ready", or EOF when it failed (bounded: it exits)
        if line.strip() != "ready":
            raise OSError(f"impair.py: {self.bridge.stderr.read().strip() or 'did not start'}")
        for ns, dev, v4 in ((self.server, self.server_if, SERVER_V4),
                            (self.client, self.client_if, CLIENT_V4)):
            self._must("link", "set", dev, "netns", ns)
            self._must("-n", ns, "link", "set", "lo", "up")
            self._must("-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
            self._must("-n", ns, "link", "set", dev, "up")
        return self

    def impair(self):
        """From now on the bridge delays, drops and reorders."""
        self.bridge.send_signal(signal.SIGUSR1)

    def destroy(self):
        if self.bridge is not None:
            stop_process(self.bridge, timeout=5)
        super().destroy()

    wait_listening = NetnsBed.wait_listening
