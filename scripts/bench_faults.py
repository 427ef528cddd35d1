#!/usr/bin/env python3
"""The faults section of scripts/bench (issue 23), printed as figures and same-run ratios:

  wan:      the federation matrix against a real nginx over the clean path, then over a WAN of
            200 ms round trip and 5 % loss (tests/py/impair.py between two network namespaces this
            script makes: the kernel has no netem): verdict agreement with the clean run, false
            accepts and rejects (goal: identical verdicts, 0 and 0), cases probed again, and the
            extra wall time. Needs root, /dev/net/tun and nginx; says so and skips otherwise.
  cabundle: the same matrix against a mock whose policy trusts a CA file of 10,001 certificates
            (the federation CA among 10,000 others), against the same with the CA alone.
            BENCH_BEFORE=/path/to/mtls-harness measures another build too.

Usage: scripts/bench_faults.py BIN WORKDIR. Bounded: each run has --timeout."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "py"))
from conftest import NGINX_CONF  # noqa: E402
from netns import SERVER_V4, ImpairedBed  # noqa: E402

IDENTITIES = ["location-b", "location-c", "none", "wrong-cn", "expired", "not-yet-valid",
              "untrusted", "server-only-eku", "key-mismatch", "self-signed", "intermediate-signed"]
PORT = 8443


def nginx_conf(tmp, fx):
    """The suite's nginx (tests/py/conftest.py's NGINX_CONF), listening in the server namespace."""
    return NGINX_CONF.format(tmp=tmp, port=PORT, fx=fx).replace(
        f"listen 127.0.0.1:{PORT}", f"listen {SERVER_V4}:{PORT}")


def matrix(binary, net, tmp, fx, name, target, extra=()):
    doc = {"name": name, "fixtures": str(ROOT / "fixtures/federation.json"),
           "locations": {"nginx": {"target": target, "server_name": "location-a.semstreams.local",
                                   "ca_files": ["/certs/federation-ca.pem"],
                                   "profile": "nginx-http", "path": "/",
                                   "policy": {"mtls": {"enabled": True,
                                                       "client_ca_files": ["/certs/federation-ca.pem"],
                                                       "require_client_cert": True,
                                                       "allowed_client_cns": [
                                                           "location-b.semstreams.local"]}}}},
           "matrix": {"targets": ["nginx"], "identities": IDENTITIES, "versions": ["1.2", "1.3"],
                      "wrong_server_name": "wrong.semstreams.local", "untrusted_ca": "untrusted-ca"}}
    scen = tmp / f"{name}.json"
    scen.write_text(json.dumps(doc))
    out = tmp / name
    shutil.copytree(fx, out / "fixtures")
    cmd = [str(binary), "run", str(scen), "--out", str(out), "--jobs", "4", "--quiet",
           "--timeout", "600", "--profiles", str(ROOT / "profiles"), *extra]
    t0 = time.monotonic()
    subprocess.run(net.exec_args(net.client, *cmd), capture_output=True, timeout=900)
    wall = time.monotonic() - t0
    return json.loads((out / "report.json").read_text()), wall


def wan(binary, work):
    tmp = work / "wan"
    tmp.mkdir()
    fx = tmp / "fx"
    subprocess.run([str(binary), "pki", str(ROOT / "fixtures/federation.json"), "--out", str(fx)],
                   check=True, capture_output=True, timeout=120)
    net = ImpairedBed(delay_ms=100, loss=0.05, reorder=0.1, seed=7)
    try:
        net.create()
    except (OSError, subprocess.SubprocessError) as e:
        net.destroy()
        print(f"\nwan: skipped: cannot make the impaired namespaces (root, /dev/net/tun, ip): {e}")
        return
    if shutil.which("nginx") is None:
        net.destroy()
        print("\nwan: skipped: no nginx (apt-get install nginx-light)")
        return
    (tmp / "nginx.conf").write_text(nginx_conf(tmp, fx))
    ng = subprocess.Popen(net.exec_args(net.server, "nginx", "-c", tmp / "nginx.conf", "-p", tmp),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        net.wait_listening(SERVER_V4, PORT, ng)
        target = f"{SERVER_V4}:{PORT}"
        clean, t_clean = matrix(binary, net, tmp, fx, "clean", target)
        net.impair()
        lossy, t_lossy = matrix(binary, net, tmp, fx, "lossy", target)
    finally:
        ng.terminate()
        ng.wait(10)
        net.destroy()
    before = {c["id"]: c for c in clean["cases"]}
    same = sum(before[c["id"]]["verdict"] == c["verdict"] for c in lossy["cases"])
    false_accept = sum(c["outcome"]["result"] == "accepted" and c["expected"]["result"] == "reject"
                       for c in lossy["cases"])
    false_reject = sum(c["outcome"]["result"] == "rejected" and c["expected"]["result"] == "accept"
                       for c in lossy["cases"])
    again = [c["id"] for c in lossy["cases"] if c["attempts"] > 1]
    n = len(lossy["cases"])
    print(f"\nwan: nginx matrix of {n} cases, clean path vs 200 ms RTT, 5 % loss, 10 % reordered")
    print(f"  {'clean path (reference)':44} {t_clean:8.2f} s")
    print(f"  {'WAN':44} {t_lossy:8.2f} s   x{t_lossy / t_clean:.1f} of the clean run "
          f"(+{t_lossy - t_clean:.1f} s)")
    print(f"  verdicts identical to the clean run: {same} of {n}; false accepts {false_accept}, "
          f"false rejects {false_reject}; probed again: {len(again)} {again if again else ''}")


def cabundle(binaries, work):
    tmp = work / "cabundle"
    tmp.mkdir()
    binary = binaries[-1][1]
    bulk = tmp / "bulk.json"
    bulk.write_text(json.dumps({"cas": [{"name": f"ca{i}", "subject": {"CN": f"Bulk CA {i}"},
                                         "key": "ecdsa-p256"} for i in range(10000)]}))
    subprocess.run([str(binary), "pki", str(bulk), "--out", str(tmp / "bulk")], check=True,
                   capture_output=True, timeout=600)
    fx = tmp / "fx"
    subprocess.run([str(binary), "pki", str(ROOT / "fixtures/federation.json"), "--out", str(fx)],
                   check=True, capture_output=True, timeout=120)
    one = (fx / "federation-ca.pem").read_text()
    big = tmp / "bundle.pem"
    big.write_text(one + "".join((tmp / "bulk" / f"ca{i}.pem").read_text() for i in range(10000)))
    scen = json.loads((ROOT / "scenarios/federation.json").read_text())
    scen["fixtures"] = str(ROOT / "fixtures/federation.json")
    scen["matrix"]["targets"] = ["location-b"]
    print("\ncabundle: the federation matrix of location B, its policy trusting a CA file of 10,001 "
          "certificates vs the CA alone")
    for label, binary in binaries:
        times = {}
        for name, ca in (("one", fx / "federation-ca.pem"), ("bundle", big)):
            s = json.loads(json.dumps(scen))
            s["locations"]["location-b"]["config"]["security"]["tls"]["server"]["mtls"][
                "client_ca_files"] = [str(ca)]
            path = tmp / f"{label}-{name}.json"
            path.write_text(json.dumps(s))
            out = tmp / f"{label}-{name}"
            shutil.copytree(fx, out / "fixtures")
            t0 = time.monotonic()
            subprocess.run([str(binary), "run", str(path), "--out", str(out), "--quiet",
                            "--timeout", "600"], capture_output=True, timeout=900)
            times[name] = time.monotonic() - t0
            n = len(json.loads((out / "report.json").read_text())["cases"])
        print(f"  {label:20} {n} cases: CA alone {times['one']:7.2f} s, 10,001-certificate file "
              f"{times['bundle']:7.2f} s   x{times['bundle'] / times['one']:.1f} of it")


def main():
    binary, work = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2])
    wan(binary, work)
    binaries = [("this build", binary)]
    if os.environ.get("BENCH_BEFORE"):
        binaries.insert(0, ("BENCH_BEFORE", pathlib.Path(os.environ["BENCH_BEFORE"]).resolve()))
    cabundle(binaries, work)


if __name__ == "__main__":
    main()
