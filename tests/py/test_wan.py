"""Faults never change a verdict (issue 23): a real nginx reached over a WAN, 200 ms round trip,
5 % or 20 % loss and reordering (tests/py/impair.py between two network namespaces of this test, the
kernel having no netem), gives the verdicts of the same matrix over the clean path: no false
accept, no false reject. What a lost segment took is probed again (--retries) and said so."""
import json
import shutil
import subprocess

import pytest

from conftest import A, NGINX_CONF, ROOT, external_target, run
from netns import SERVER_V4, ImpairedBed, stop_process

PORT = 8443
IDENTITIES = ["location-b", "location-c", "none", "expired", "untrusted", "self-signed"]


@pytest.fixture(scope="module", params=[0.05, 0.20], ids=["5%-loss", "20%-loss"])
def wan(harness, tmp_path_factory, request):
    """nginx in the server namespace, the federation's fixtures, the bridge clean until impaired
    (200 ms round trip, request.param loss, 10 % of frames reordered)."""
    tmp = tmp_path_factory.mktemp("wan")
    fx = tmp / "fx"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    net = ImpairedBed(delay_ms=100, loss=request.param, reorder=0.1, seed=23)
    try:
        net.create()
    except (OSError, subprocess.SubprocessError) as e:
        net.destroy()
        pytest.skip(f"cannot make the impaired namespaces (needs root, /dev/net/tun, ip): {e}")
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=PORT, fx=fx).replace(
        f"listen 127.0.0.1:{PORT}", f"listen {SERVER_V4}:{PORT}"))
    nginx = subprocess.Popen(net.exec_args(net.server, "nginx", "-c", conf, "-p", tmp),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        net.wait_listening(SERVER_V4, PORT, nginx)
        yield tmp, fx, net
    finally:
        stop_process(nginx)
        net.destroy()


def matrix(harness, tmp, fx, net, name, *args):
    doc = {"name": "wan", "fixtures": str(ROOT / "fixtures/federation.json"),
           "locations": {"nginx": {**external_target(PORT, "nginx-http"),
                                   "target": f"{SERVER_V4}:{PORT}"}},
           "matrix": {"targets": ["nginx"], "identities": IDENTITIES, "versions": ["1.2", "1.3"],
                      "wrong_server_name": "wrong.semstreams.local",
                      "untrusted_ca": "untrusted-ca"}}
    scen = tmp / f"{name}.json"
    scen.write_text(json.dumps(doc))
    out = tmp / name
    shutil.copytree(fx, out / "fixtures")  # the CA that issued nginx's certificate
    r = net.run(net.client, harness, "run", scen, "--out", out, "--jobs", "4", "--profiles",
                ROOT / "profiles", "--quiet", *args, timeout=300)
    report = json.loads((out / "report.json").read_text())
    return r, report


def test_a_wan_with_loss_changes_no_verdict(harness, wan):
    tmp, fx, net = wan
    r, clean = matrix(harness, tmp, fx, net, "clean")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {c["verdict"] for c in clean["cases"]} == {"pass"}
    net.impair()
    # 20 % loss costs a TCP dial now and then (its SYN lost twice): an operator on such a path
    # gives more retries; the default (1) is for the 5 % a WAN may have.
    lossy_args = ["--retries", "3"] if net.loss > 0.1 else []
    r, lossy = matrix(harness, tmp, fx, net, "lossy", *lossy_args)
    # The path was the WAN's: no TCP connect is faster than the 200 ms round trip.
    assert min(c["outcome"]["timings_ms"]["tcp"] for c in lossy["cases"]) >= 199
    verdicts = {c["id"]: c["verdict"] for c in lossy["cases"]}
    assert verdicts == {c["id"]: c["verdict"] for c in clean["cases"]}, (r.stdout, [
        (c["id"], c["verdict"], c["summary"], c["attempts"]) for c in lossy["cases"]
        if c["verdict"] != "pass"])
    assert r.returncode == 0, r.stdout + r.stderr
    # The outcomes too: who refused, at which layer, with which status.
    def seen(c):
        o = c["outcome"]
        return o["result"], o["rejected_by"], o["layer"], o["http_status"]
    assert {c["id"]: seen(c) for c in lossy["cases"]} == {c["id"]: seen(c) for c in clean["cases"]}
    # Whatever needed a second probe is named, with its first outcome.
    again = [c for c in lossy["cases"] if c["attempts"] > 1]
    warned = [w for w in lossy["warnings"] if w["kind"] == "probed_again"]
    assert bool(again) == bool(warned) and all(c["id"] in warned[0]["message"] for c in again)
    assert A in {c["server_name"] for c in lossy["cases"]}
