"""A userspace impairment bridge: the faults of a WAN (delay, loss, reordering) between two network
namespaces, for a kernel without netem (`tc qdisc ... netem` says "Specified qdisc kind is
unknown" here).

Run as a process: `impair.py NAME_A NAME_B --delay-ms D --loss P --reorder P --seed S`. It makes two
TAP devices NAME_A and NAME_B in the namespace it starts in, prints "ready" and forwards every
Ethernet frame of one to the other. Its caller moves each device into its namespace and gives it an
address (the fd stays attached across the move). Until SIGUSR1 it forwards at once and without
loss (the clean run); after it, each frame is dropped with probability P, else delivered D ms later
(plus a random extra of up to D ms for the share --reorder of frames, which lets later frames pass
it). ARP and neighbour discovery are impaired like the rest: a host resolves again, as over a WAN.
SIGTERM ends it. Every wait is bounded by the next frame's due time, at most 50 ms.

The project's own tests use it only between namespaces they create (RFC 5737 addresses)."""
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
MAX_FRAME = 65536


def tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main():
    args = sys.argv[1:]
    names, opts = args[:2], dict(zip(args[2::2], args[3::2]))
    delay = float(opts.get("--delay-ms", "0")) / 1000
    loss = float(opts.get("--loss", "0"))
    reorder = float(opts.get("--reorder", "0"))
    rng = random.Random(int(opts.get("--seed", "1")))
    fds = [tap(n) for n in names]
    peer = {fds[0]: fds[1], fds[1]: fds[0]}
    state = {"impaired": False, "stop": False}
    signal.signal(signal.SIGUSR1, lambda *_: state.update(impaired=True))
    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))
    print("ready", flush=True)
    due = []  # (time, sequence, fd, frame)
    seq = 0
    stats = {"frames": 0, "dropped": 0}
    while not state["stop"]:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, out, frame = heapq.heappop(due)
            try:
                os.write(out, frame)
            except OSError:
                pass  # the device went down: the frame is lost, as on a wire
        wait = min(0.05, max(0.0, due[0][0] - now)) if due else 0.05
        try:
            ready, _, _ = select.select(fds, [], [], wait)
        except InterruptedError:
            continue
        for fd in ready:
            try:
                frame = os.read(fd, MAX_FRAME)
            except (BlockingIOError, OSError):
                continue
            stats["frames"] += 1
            if not state["impaired"]:
                heapq.heappush(due, (time.monotonic(), seq, peer[fd], frame))
            elif rng.random() < loss:
                stats["dropped"] += 1
                continue
            else:
                extra = rng.random() * delay if rng.random() < reorder else 0.0
                heapq.heappush(due, (time.monotonic() + delay + extra, seq, peer[fd], frame))
            seq += 1
    print(f"frames {stats['frames']} dropped {stats['dropped']}", flush=True)


if __name__ == "__main__":
    main()
