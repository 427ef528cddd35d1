"""Targets anywhere: a DNS name, an IPv4 or an [IPv6] address, --resolve pins, in `run`, `load`
and captures; against a real nginx on loopback, and inside a test bed of network namespaces where
the harness and nginx are two hosts on a veth pair (no loopback shortcut)."""
import copy
import json
import shutil
import socket
import subprocess

import pytest

from conftest import FED, NGINX_CONF, ROOT, external_target, free_port, nginx_running, run
from netns import SERVER_V4, SERVER_V6, NetnsBed, stop_process

NAME = "location-a.semstreams.local"  # the name on nginx's certificate
NS_PORT = 8443  # inside the server namespace: nobody else is there


def scenario(tmp_path, target, server_name=NAME, extra=None):
    """The federation's fixtures with one external target "nginx" (nginx-http) as the matrix."""
    doc = copy.deepcopy(FED)
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    t = external_target(0, "nginx-http")
    t["target"] = target
    if server_name is None:
        del t["server_name"]
    else:
        t["server_name"] = server_name
    doc["locations"]["nginx"] = t
    doc["matrix"]["targets"] = ["nginx"]
    doc.update(extra or {})
    path = tmp_path / f"s-{abs(hash(target))}.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def out_with_fixtures(fx, out):
    """A run directory whose fixtures start as |fx|: the run re-issues them with the same CA key,
    so the nginx that loaded |fx| trusts the run's identities."""
    shutil.copytree(fx, out / "fixtures")
    return out


def report_of(out):
    p = out / "report.json"
    return json.loads(p.read_text()) if p.exists() else None


def verdicts(report):
    return {c["id"]: c["verdict"] for c in report["cases"]}


def nginx_conf(tmp, fx, port, listens):
    head = "    listen 127.0.0.1:{port} ssl;\n"
    conf = NGINX_CONF.replace(head, "".join(f"    listen {a}:{{port}} ssl;\n" for a in listens))
    return conf.format(tmp=tmp, port=port, fx=fx)


# --- on loopback ---


@pytest.fixture(scope="module")
def loopback_nginx(harness, tmp_path_factory):
    """nginx on 127.0.0.1 and [::1], with the federation's fixtures in fx."""
    tmp = tmp_path_factory.mktemp("lo-nginx")
    fx = tmp / "fx"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_conf(tmp, fx, port, ["127.0.0.1", "[::1]"]))
    with nginx_running(conf, tmp, port):
        yield fx, port


def test_localhost_is_resolved_not_rewritten(harness, loopback_nginx, tmp_path):
    fx, port = loopback_nginx
    out = out_with_fixtures(fx, tmp_path / "out")
    path = scenario(tmp_path, f"localhost:{port}", server_name=NAME)
    r = run([harness, "run", path, "--out", out, "--filter", "nginx/location-b/*"], timeout=120)
    report = report_of(out)
    assert r.returncode == 0, r.stdout + r.stderr
    addrs = {a[4][0] for a in socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)}
    for c in report["cases"]:
        assert c["verdict"] == "pass"
        # The endpoint keeps the name and shows what the resolver gave for it.
        host, _, rest = c["endpoint"].partition(" ")
        assert host == f"localhost:{port}" and rest.strip("()") in addrs, c["endpoint"]


def test_unresolvable_name_is_inconclusive_with_the_resolvers_words(harness, tmp_path):
    with pytest.raises(socket.gaierror) as e:
        socket.getaddrinfo("nosuch.invalid", 443, type=socket.SOCK_STREAM)
    words = e.value.args[1]  # gai_strerror's text, as the harness quotes it
    out = tmp_path / "out"
    path = scenario(tmp_path, "nosuch.invalid:443", server_name=None)
    r = run([harness, "run", path, "--out", out, "--filter", "nginx/location-b/*"], timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    report = report_of(out)
    assert report["cases"]
    for c in report["cases"]:
        assert c["verdict"] == "inconclusive"
        assert c["outcome"]["phase"] == "tcp"
        assert c["outcome"]["error"] == f"dial tcp: lookup nosuch.invalid: {words}", c
        assert c["server_name"] == "nosuch.invalid"  # defaulted to the host, a name


def test_refused_ipv6_port_is_inconclusive(harness, tmp_path):
    out = tmp_path / "out"
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    path = scenario(tmp_path, f"[::1]:{port}")
    r = run([harness, "run", path, "--out", out, "--filter", "nginx/none/*"], timeout=120)
    assert r.returncode == 1
    for c in report_of(out)["cases"]:
        assert c["verdict"] == "inconclusive" and c["outcome"]["tcp"] == "refused", c
        assert c["endpoint"] == f"[::1]:{port}"
        assert "connection refused" in c["outcome"]["error"].lower()


def test_load_accepts_a_bracketed_ipv6_target(harness, loopback_nginx, tmp_path):
    fx, port = loopback_nginx
    r = run([harness, "load", "--target", f"[::1]:{port}", "--server-name", NAME,
             "--ca", fx / "federation-ca.pem", "--identities-from", ROOT / "fixtures/federation.json",
             "--fixtures", fx, "--identity", "location-b", "--connections", "2", "--duration", "1",
             "--out", tmp_path / "out"], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"at [::1]:{port}" in r.stderr + r.stdout
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["counts"]["accepted"] == rep["counts"]["started"] > 0


def test_load_unresolvable_target_is_one_line_exit_2(harness, tmp_path):
    r = run([harness, "load", "--target", "nosuch.invalid:443", "--ca", tmp_path / "ca.pem",
             "--identities-from", ROOT / "fixtures/federation.json", "--fixtures", tmp_path,
             "--duration", "1", "--out", tmp_path / "out"])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--target nosuch.invalid:443: lookup nosuch.invalid" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, want", [
    (["--resolve", "web.test:443"], "is not NAME:PORT:ADDR"),
    (["--resolve", "web.test:443:not-an-ip"], "is not a numeric IPv4 or IPv6 address"),
])
def test_bad_resolve_option_is_exit_2(harness, tmp_path, args, want):
    path = scenario(tmp_path, "web.test:443")
    r = run([harness, "run", path, "--out", tmp_path / "out", *args])
    assert r.returncode == 2 and want in r.stderr and "--resolve" in r.stderr


def test_target_and_resolve_keys_are_checked(harness, tmp_path):
    ok = scenario(tmp_path, "[2001:db8::10]:443", extra={"resolve": ["web.test:443:[2001:db8::1]"]})
    assert run([harness, "check", ok]).returncode == 0
    for target, sn, extra, want in [
        ("192.0.2.10:443", None, None, "is an address: give \"server_name\""),
        ("2001:db8::10:443", NAME, None, "an IPv6 address is written in brackets"),
        ("web.test:443", NAME, {"resolve": ["web.test:443"]}, "$.resolve[0]: \"web.test:443\""),
    ]:
        r = run([harness, "check", scenario(tmp_path, target, sn, extra)])
        assert r.returncode == 2 and want in r.stderr, r.stderr


def test_mock_beyond_loopback_only_when_asked(harness, tmp_path):
    doc = copy.deepcopy(FED)
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    doc["locations"]["location-a"]["address"] = "192.0.2.1"
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    r = run([harness, "check", path])
    assert r.returncode == 2 and "bind_beyond_loopback" in r.stderr
    doc["locations"]["location-a"]["bind_beyond_loopback"] = True
    path.write_text(json.dumps(doc))
    r = run([harness, "check", path])
    assert r.returncode == 0, r.stderr


# --- two hosts: network namespaces joined by a veth pair ---


@pytest.fixture(scope="module")
def bed(harness, tmp_path_factory):
    """The namespaces, with nginx listening on SERVER_V4 and [SERVER_V6] in the server one."""
    tmp = tmp_path_factory.mktemp("netns")
    net = NetnsBed()
    try:
        net.create()
    except (OSError, subprocess.SubprocessError) as e:
        net.destroy()
        pytest.skip(f"cannot make network namespaces: {e}")
    proc = None
    try:
        fx = tmp / "fx"
        assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_conf(tmp, fx, NS_PORT, [SERVER_V4, f"[{SERVER_V6}]"]))
        proc = subprocess.Popen(net.exec_args(net.server, "nginx", "-c", conf, "-p", tmp),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        net.wait_listening(SERVER_V4, NS_PORT, proc)
        net.wait_listening(SERVER_V6, NS_PORT, proc)
        yield net, fx
    finally:
        if proc is not None:
            stop_process(proc)
        net.destroy()


def run_in_client(net, harness, *args, timeout=180):
    return net.run(net.client, harness, *args, timeout=timeout)


@pytest.fixture(scope="module")
def remote_runs(harness, bed, tmp_path_factory):
    """The nginx matrix run from the client namespace, the target given three ways."""
    net, fx = bed
    runs = {}
    for kind, target, sn, args in [
        ("name", f"{NAME}:{NS_PORT}", None, ["--resolve", f"{NAME}:{NS_PORT}:{SERVER_V4}"]),
        ("ipv4", f"{SERVER_V4}:{NS_PORT}", NAME, []),
        ("ipv6", f"[{SERVER_V6}]:{NS_PORT}", NAME, []),
    ]:
        tmp = tmp_path_factory.mktemp(kind)
        out = out_with_fixtures(fx, tmp / "out")
        r = run_in_client(net, harness, "run", scenario(tmp, target, sn), "--out", out, *args)
        runs[kind] = (r, report_of(out))
    return runs


@pytest.mark.parametrize("kind", ["name", "ipv4", "ipv6"])
def test_remote_target_every_verdict_passes(remote_runs, kind):
    r, report = remote_runs[kind]
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(report["cases"]) == 11 * 2 + 2
    assert set(verdicts(report).values()) == {"pass"}
    want = {"name": f"{NAME}:{NS_PORT} ({SERVER_V4})", "ipv4": f"{SERVER_V4}:{NS_PORT}",
            "ipv6": f"[{SERVER_V6}]:{NS_PORT}"}[kind]
    assert {c["endpoint"] for c in report["cases"]} == {want}


def test_remote_verdicts_are_the_same_however_the_target_is_named(remote_runs):
    v = {kind: verdicts(report) for kind, (_, report) in remote_runs.items()}
    assert v["name"] == v["ipv4"] == v["ipv6"]
    o = {kind: {c["id"]: (c["outcome"]["result"], c["outcome"]["http_status"])
                for c in report["cases"]} for kind, (_, report) in remote_runs.items()}
    assert o["name"] == o["ipv4"] == o["ipv6"]


def test_remote_ipv6_capture_is_read_by_tshark(harness, bed, tmp_path):
    net, fx = bed
    out = out_with_fixtures(fx, tmp_path / "out")
    path = scenario(tmp_path, f"[{SERVER_V6}]:{NS_PORT}")
    r = run_in_client(net, harness, "run", path, "--out", out, "--pcap",
                      "--filter", "nginx/key-mismatch/tls1.3")
    assert r.returncode == 0, r.stdout + r.stderr
    c = report_of(out)["cases"][0]
    assert c["capture"]["alerts"][0]["code"] == 51, c["capture"]
    t = run(["tshark", "-r", out / c["capture"]["file"], "-Y", "tls.alert_message", "-T", "fields",
             "-e", "ipv6.src", "-e", "tls.alert_message.desc"], timeout=60)
    assert t.returncode == 0, t.stderr
    assert t.stdout.split() == [SERVER_V6, "51"]


def test_remote_load_by_name_with_resolve(harness, bed, tmp_path):
    net, fx = bed
    r = run_in_client(net, harness, "load", "--target", f"{NAME}:{NS_PORT}",
                      "--resolve", f"{NAME}:{NS_PORT}:[{SERVER_V6}]",
                      "--ca", fx / "federation-ca.pem",
                      "--identities-from", ROOT / "fixtures/federation.json", "--fixtures", fx,
                      "--identity", "location-b", "--connections", "4", "--duration", "2",
                      "--out", tmp_path / "out")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"at [{SERVER_V6}]:{NS_PORT}" in r.stderr + r.stdout
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["counts"]["accepted"] == rep["counts"]["started"] > 0
