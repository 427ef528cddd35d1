"""Certificate rotation under load: `load` reports which server certificate each accepted handshake
saw, every switch, and the handshakes that failed around it. Against the in-process mock told to
rotate (same key and new key), against a real nginx whose certificate is replaced and reloaded
mid-run, and across shards merged. Serials are checked with real OpenSSL; failure counts against
the run's own --latency-log."""
import datetime
import json
import re
import shutil
import subprocess
import threading
import time

import jsonschema
import pytest

from conftest import (LOAD_SCHEMA, NGINX_CONF, ROOT, Serve, free_port, identities_spec,
                      nginx_running, run)

HOST = "location-a.semstreams.local"


def openssl_facts(pem_path):
    """(serial, public key) of a PEM certificate file, read by openssl."""
    out = run(["openssl", "x509", "-in", pem_path, "-noout", "-serial", "-pubkey"]).stdout
    serial = re.search(r"serial=(\w+)", out).group(1).lstrip("0").upper()
    return serial, re.search(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", out, re.S)[0]


def openssl_serial(pem_path):
    out = run(["openssl", "x509", "-in", pem_path, "-noout", "-serial"]).stdout
    return out.strip().removeprefix("serial=")


def norm(serial):
    return serial.lstrip("0").upper()


def errors_in_window(log, sw):
    """The handshakes of --latency-log that ended in an error inside |sw|'s window."""
    lo, hi = round(sw["window_from_s"] * 1e6), round(sw["window_to_s"] * 1e6)
    n = 0
    for line in log.read_text().splitlines():
        planned, latency, kind, _ = line.split()
        if kind == "error" and lo <= int(planned) + int(latency) < hi:
            n += 1
    return n


def check_certificates(rep):
    jsonschema.validate(rep, LOAD_SCHEMA, cls=jsonschema.Draft202012Validator)
    c = rep["certificates"]
    # Every accepted full handshake saw one certificate (no resumption in these runs).
    assert sum(e["handshakes"] for e in c["seen"]) + c["other_handshakes"] == \
        rep["counts"]["accepted"]
    # The timeline holds the same handshakes and every error.
    seen = sum(sum(row[3::2]) for row in c["timeline"])
    assert seen == rep["counts"]["accepted"]
    assert sum(row[1] for row in c["timeline"]) == rep["counts"]["errors"]
    return c


def rotating_scenario(tmp_path, at_s, new_key):
    s = json.loads((ROOT / "scenarios" / "federation.json").read_text())
    s["fixtures"] = str(ROOT / "fixtures" / "federation.json")
    s["locations"]["location-a"]["rotate"] = {"at_s": at_s, "new_key": new_key}
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(s))
    return path


@pytest.mark.parametrize("new_key,server_threads", [(False, 1), (True, 1), (True, 2)])
def test_mock_rotation_at_second_2_is_one_switch_without_failures(harness, tmp_path, new_key,
                                                                  server_threads):
    out = tmp_path / "out"
    log = tmp_path / "latency.log"
    r = run([harness, "load", rotating_scenario(tmp_path, 2, new_key), "--location", "location-a",
             "--rate", "200", "--duration", "4", "--threads", "2", "--out", out,
             "--server-threads", str(server_threads), "--keep-fixtures", "--latency-log", log,
             "--quiet"], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    if server_threads > 1:
        # Every mock loop took handshakes: the loops after the first follow its rotation (one
        # certificate written, no other serial seen, no mixed period to the end of the run).
        m = re.search(r"accepted per server thread: ([\d ]+)", r.stdout)
        assert m and all(int(n) > 0 for n in m.group(1).split()), r.stdout
        assert sorted(p.name for p in (out / "fixtures" / "rotated").iterdir()) == \
            ["location-a-cert.pem", "location-a-key.pem"]
    rep = json.loads((out / "report.json").read_text())
    c = check_certificates(rep)
    # The certificate the mock started with, and the one it wrote when it rotated.
    before = openssl_facts(out / "fixtures" / "location-a-cert.pem")
    after = openssl_facts(out / "fixtures" / "rotated" / "location-a-cert.pem")
    assert before[0] != after[0]
    assert (before[1] != after[1]) == new_key
    assert [norm(e["serial"]) for e in c["seen"]] == [before[0], after[0]]
    # Written as run writes serials (and openssl x509 -serial): upper case, two digits a byte.
    assert [e["serial"] for e in c["seen"]] == [
        openssl_serial(out / "fixtures" / "location-a-cert.pem"),
        openssl_serial(out / "fixtures" / "rotated" / "location-a-cert.pem")]
    assert all(e["subject"] == "CN=location-a.semstreams.local,O=SemStreams Federation"
               for e in c["seen"])
    assert len(c["switches"]) == 1 and c["mixed"] == [] and c["changes_not_listed"] == 0
    sw = c["switches"][0]
    assert (norm(sw["from"]), norm(sw["to"])) == (before[0], after[0])
    # The mock's timer started just before the run: the switch is in the run's third second.
    assert 1.5 < sw["at_s"] < 3.0
    assert sw["at_s"] == c["seen"][1]["first_seen_s"]
    assert c["seen"][0]["last_seen_s"] <= sw["until_s"]
    assert sw["window_to_s"] - sw["window_from_s"] >= 2.0
    assert sw["failures"] == 0 == errors_in_window(log, sw) == rep["counts"]["errors"]
    md = (out / "report.md").read_text()
    assert "## Server certificates" in md and "No handshake failed around a certificate" in md
    assert f"certificate switch {sw['from']} -> {sw['to']}" in r.stderr


def reissue(fx, dest, serial):
    """A second server certificate for location-a from the federation CA, with the same key, made
    by openssl."""
    ext = dest.with_suffix(".ext")
    ext.write_text(f"subjectAltName=DNS:{HOST}\nextendedKeyUsage=serverAuth\n")
    csr = dest.with_suffix(".csr")
    assert run(["openssl", "req", "-new", "-key", fx / "location-a-key.pem", "-subj",
                f"/O=SemStreams Federation/CN={HOST}", "-out", csr]).returncode == 0
    r = run(["openssl", "x509", "-req", "-in", csr, "-CA", fx / "federation-ca.pem", "-CAkey",
             fx / "federation-ca-key.pem", "-set_serial", str(serial), "-days", "30",
             "-extfile", ext, "-out", dest])
    assert r.returncode == 0, r.stderr


def test_nginx_reload_mid_run_is_reported_with_its_failures(harness, tmp_path):
    fx = tmp_path / "fx"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    srv = tmp_path / "srv"
    srv.mkdir()
    # nginx's own copies: load --identities-from issues fx's leaves again (their keys too).
    shutil.copy(fx / "location-a-cert.pem", srv / "cert.pem")
    shutil.copy(fx / "location-a-key.pem", srv / "key.pem")
    reissue(fx, srv / "next.pem", 0x5EED0123)
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, fx=fx).replace(
        f"{fx}/location-a-cert.pem", f"{srv}/cert.pem").replace(
        f"{fx}/location-a-key.pem", f"{srv}/key.pem"))
    before = openssl_facts(srv / "cert.pem")[0]
    after = openssl_facts(srv / "next.pem")[0]
    out, log = tmp_path / "out", tmp_path / "latency.log"
    with nginx_running(conf, tmp_path, port):
        p = subprocess.Popen(
            [str(a) for a in (harness, "load", "--target", f"127.0.0.1:{port}", "--server-name",
                              HOST, "--ca", fx / "federation-ca.pem", "--identities-from",
                              ROOT / "fixtures/federation.json", "--fixtures", fx, "--identity",
                              "location-b", "--rate", "200", "--duration", "4", "--threads", "1",
                              "--out", out, "--latency-log", log)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(p.stderr), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 30
            while not any(re.match(r"load:\s+1s ", l) for l in lines):
                assert p.poll() is None and time.monotonic() < deadline, "".join(lines)
                time.sleep(0.05)
            # The progress line of second 1 is out: replace the certificate and reload.
            shutil.copy(srv / "next.pem", srv / "cert.pem")
            r = run(["nginx", "-c", conf, "-p", tmp_path, "-s", "reload"], timeout=20)
            assert r.returncode == 0, r.stderr
            p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        reader.join(timeout=10)
    stderr = "".join(lines)
    assert p.returncode in (0, 1), stderr  # 1: the reload dropped handshakes
    rep = json.loads((out / "report.json").read_text())
    c = check_certificates(rep)
    assert [norm(e["serial"]) for e in c["seen"]] == [before, after]
    assert len(c["switches"]) == 1, c
    sw = c["switches"][0]
    assert (norm(sw["from"]), norm(sw["to"])) == (before, after)
    assert sw["at_s"] >= 1.0
    # Whatever nginx dropped (or not), the report counts exactly the errors of the window.
    assert sw["failures"] == errors_in_window(log, sw)
    assert (p.returncode == 1) == (rep["counts"]["errors"] > 0)
    assert f"{sw['failures']} handshakes failed within 1 s" in stderr


def test_merge_carries_certificates_and_switches_across_shards(harness, tmp_path):
    fed = Serve(harness, rotating_scenario(tmp_path, 6, True), tmp_path / "serve")
    try:
        port = fed.ports["location-a"]
        # Each shard issues its identities into a fixtures directory of its own (the same CA):
        # two processes writing one directory would race.
        fxs = [tmp_path / f"fx{i}" for i in range(2)]
        for fx in fxs:
            shutil.copytree(fed.fixtures, fx)
        # From serve's ready: the shards have 3 s to start and issue their one identity
        # (milliseconds, see identities_spec; an ASan process on a machine running two pytest
        # passes once took 1.9 s), and the rotation lands in the run's fourth second.
        start = time.time() + 3
        reports = []
        procs = []
        for i in range(2):
            out = tmp_path / f"shard{i}"
            reports.append(out)
            procs.append(subprocess.Popen(
                [str(a) for a in (harness, "load", "--target", f"127.0.0.1:{port}",
                                  "--server-name", HOST, "--ca",
                                  fed.fixtures / "federation-ca.pem", "--identities-from",
                                  identities_spec(tmp_path, "location-b"), "--fixtures", fxs[i],
                                  "--identity", "location-b", "--rate", "200", "--duration", "5",
                                  "--threads", "1", "--shard", f"{i}/2", "--start-at",
                                  f"@{start:.3f}", "--out", out, "--quiet")],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        for p in procs:
            assert p.wait(timeout=60) == 0, p.stderr.read()
    finally:
        assert fed.stop() == 0, fed.stderr()
    rot = [e for e in fed.events() if e.get("event") == "rotated"]
    assert len(rot) == 1
    shards = [json.loads((d / "report.json").read_text()) for d in reports]
    merged = tmp_path / "merged"
    r = run([harness, "merge", "--out", merged, *reports], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((merged / "report.json").read_text())
    c = check_certificates(rep)
    # Union by serial, the counts added; the switch read again from the merged timeline.
    assert [norm(e["serial"]) for e in c["seen"]] == [norm(rot[0]["old_serial"]),
                                                        norm(rot[0]["new_serial"])]
    for k in range(2):
        assert c["seen"][k]["handshakes"] == sum(s["certificates"]["seen"][k]["handshakes"]
                                                 for s in shards)
    assert len(c["switches"]) == 1 and c["switches"][0]["failures"] == 0
    assert all(len(s["certificates"]["switches"]) == 1 for s in shards)
    # Reported once, at the first handshake any shard saw with the new certificate, by the wall
    # clock (a shard that started late counts its seconds from its own start).
    def ms(utc):
        return datetime.datetime.fromisoformat(utc.replace("Z", "+00:00")).timestamp() * 1000

    first = min(ms(s["certificates"]["switches"][0]["at_utc"]) for s in shards)
    assert abs(ms(c["switches"][0]["at_utc"]) - first) <= 2
    for s in shards:
        sw = s["certificates"]["switches"][0]
        assert abs(ms(sw["at_utc"]) - (s["started"]["unix_ms"] + sw["at_s"] * 1000)) <= 1
