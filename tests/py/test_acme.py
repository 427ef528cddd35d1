"""ACME locations against the real pebble and lego (Debian's): the Tier 3 federation, renewals
with and without hot reload, rotation on command, the fallback when the ACME server is down, and
acme.Config.Validate's words. Every wait is bounded; nothing is timed."""
import json
import pathlib
import re
import shutil
import stat
import subprocess
import time

import pytest

from conftest import ROOT, Serve, free_port, run

needs_acme = pytest.mark.skipif(
    shutil.which("pebble") is None or shutil.which("lego") is None
    or shutil.which("pebble-challtestsrv") is None,
    reason="pebble, pebble-challtestsrv or lego is not installed (scripts/deps installs them)")

TIER3 = ROOT / "scenarios" / "tier3-acme.json"
ACME_READY_S = 180  # four certificates from pebble, one lego run after another


def pebble_ports(s):
    """Puts pebble (and the directory URL every ACME role dials) on free loopback ports."""
    p = s["acme_server"]["pebble"]
    p.update(listen=f"127.0.0.1:{free_port()}", management=f"127.0.0.1:{free_port()}",
             http_port=free_port(), tls_port=free_port(), dns=f"127.0.0.1:{free_port()}")
    for loc in s["locations"].values():
        for role in loc["config"]["security"]["tls"].values():
            if "acme" in role:
                role["acme"]["directory_url"] = f"https://{p['listen']}/dir"
    return s


def tier3(**pebble):
    """The Tier 3 scenario with pebble on free loopback ports (and |pebble| settings)."""
    s = json.loads(TIER3.read_text())
    s["fixtures"] = str(ROOT / "fixtures" / "tier3-acme.json")
    pebble_ports(s)
    s["acme_server"]["pebble"].update(pebble)
    return s


def acme_serve(harness, tmp_path, s, *extra, **kw):
    """serve of ACME scenario |s| in tmp_path/run. A port free_port found free can be taken by
    another process before pebble binds it (seen once under CI: "bind: address already in use"):
    that start is retried once on other ports, any other failure is the test's."""
    for attempt in (0, 1):
        try:
            return Serve(harness, write(tmp_path, s), tmp_path / "run", *extra, **kw)
        except RuntimeError as e:
            log = tmp_path / "run" / "fixtures" / "acme" / "pebble" / "pebble.log"
            taken = log.exists() and "address already in use" in log.read_text()
            if attempt == 1 or "pebble exited at start" not in str(e) or not taken:
                raise
            shutil.rmtree(tmp_path / "run")
            pebble_ports(s)


def write(tmp_path, s, name="scenario.json"):
    path = tmp_path / name
    path.write_text(json.dumps(s, indent=2))
    return path


def served_serial(port, host):
    """The serial of the certificate a new handshake on |port| is shown (openssl s_client)."""
    r = run(["timeout", "8", "openssl", "s_client", "-connect", f"127.0.0.1:{port}",
             "-servername", host], timeout=20)
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", r.stdout, re.S)
    assert pem, r.stdout + r.stderr
    proc = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem.group(0),
                          capture_output=True, text=True, timeout=10)
    return norm(proc.stdout.strip().split("=", 1)[1])


def norm(serial):
    return serial.upper().lstrip("0")


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s")


def events_named(fed, name, location=None):
    return [e for e in fed.events()
            if e.get("event") == name and (location is None or e.get("location") == location)]


def wait_rotation(fed, location, timeout=60):
    """The first "rotated" event of |location|. A "rotate_failed" ends the wait at once, and the
    failure names its reason and the tail of the location's lego log."""
    ev = wait_for(lambda: events_named(fed, "rotated", location)
                  or events_named(fed, "rotate_failed", location), timeout, "rotation")[0]
    if ev["event"] != "rotated":
        logs = sorted((fed.fixtures / "acme" / location).glob("*.lego/lego.log"))
        tail = "".join(p.read_text()[-2000:] for p in logs)
        raise AssertionError(f"rotation failed: {ev.get('reason')}\n{tail}")
    return ev


@needs_acme
def test_tier3_federation_comes_up_with_acme_certificates_and_data_flows(harness, tmp_path):
    s = tier3()
    # Both challenge types: A's server answers TLS-ALPN-01 on pebble's tlsPort, the rest HTTP-01.
    s["locations"]["location-a"]["config"]["security"]["tls"]["server"]["acme"][
        "challenge_type"] = "tls-alpn-01"
    fed = acme_serve(harness, tmp_path, s, ready_timeout=ACME_READY_S)
    try:
        got = {(e["location"], e["role"]) for e in events_named(fed, "acme_certificate")
               if e["reason"] == "obtained"}
        assert got == {("location-a", "server"), ("location-b", "server"),
                       ("location-b", "client"), ("location-c", "client")}
        assert not events_named(fed, "acme_fallback")
        # Data from A reaches C through B, over ACME certificates on both hops.
        wait_for(lambda: [e for e in events_named(fed, "recv", "location-c")
                          if e.get("origin") == "location-a"], 30, "message from A at C")
        store = fed.fixtures / "acme" / "location-a" / "acme-certs"
        assert stat.S_IMODE(store.stat().st_mode) == 0o700
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in store.iterdir()}
        assert modes == {"account.json": 0o600, "account.key": 0o600,
                         "certificate.pem": 0o644, "certificate.key": 0o600}
        text = run(["openssl", "x509", "-noout", "-text", "-in", store / "certificate.pem"]).stdout
        assert "Issuer: CN = Pebble Intermediate CA" in text
        assert "id-ecPublicKey" in text and "prime256v1" in text
        assert "DNS:location-a.semstreams.local" in text
        # certificate.pem carries its chain, and the chain verifies to the root pebble served.
        assert (store / "certificate.pem").read_text().count("BEGIN CERTIFICATE") == 2
        v = run(["openssl", "verify", "-CAfile", fed.fixtures / "pebble-root.pem", "-untrusted",
                 store / "certificate.pem", store / "certificate.pem"])
        assert v.returncode == 0, v.stdout + v.stderr
        startup = events_named(fed, "acme_certificate", "location-a")[0]["serial"]
        assert served_serial(fed.ports["location-a"], "location-a.semstreams.local") == \
            norm(startup)
    finally:
        assert fed.stop() == 0, fed.stderr()


def renewing(hot_reload):
    """A and B only (B's input dials A), every check renews: renew_before exceeds the lifetime."""
    s = tier3(validity_s=3600)
    del s["locations"]["location-c"]
    for loc in s["locations"].values():
        loc["acme_check_interval_s"] = 2
        loc["hot_reload"] = hot_reload
        for role in loc["config"]["security"]["tls"].values():
            if "acme" in role:
                role["acme"]["renew_before"] = "2h"
    return s


@needs_acme
@pytest.mark.parametrize("hot_reload", [False, True])
def test_a_renewal_reaches_new_handshakes_only_with_hot_reload(harness, tmp_path, hot_reload):
    # Without hot reload, A also goes down for a second at 40 s: B's input dials again.
    extra = [] if hot_reload else ["--outage", "location-a:40:1"]
    fed = acme_serve(harness, tmp_path, renewing(hot_reload), *extra, ready_timeout=ACME_READY_S)
    try:
        startup = norm(events_named(fed, "acme_certificate", "location-a")[0]["serial"])
        renewed = wait_for(lambda: [e for e in events_named(fed, "acme_renewed", "location-a")],
                           120, "renewal of location-a")
        assert norm(renewed[0]["old_serial"]) == startup
        assert norm(renewed[0]["new_serial"]) != startup
        served = served_serial(fed.ports["location-a"], "location-a.semstreams.local")
        news = {norm(e["new_serial"]) for e in events_named(fed, "acme_renewed", "location-a")}
        if hot_reload:
            assert served in news
            assert "new handshakes" in renewed[0]["serving"]
        else:
            # The real server: net/http cloned the TLS config at ServeTLS.
            assert served == startup
            assert "startup certificate" in renewed[0]["serving"]
        # The client side takes its renewed certificate at its next dial either way.
        client = wait_for(lambda: [e for e in events_named(fed, "acme_renewed", "location-b")
                                   if e["role"] == "client"], 120, "client renewal at location-b")
        assert "from the next dial" in client[0]["serving"]
        if not hot_reload:
            redial_presents_the_renewed_client_certificate(fed)
        # Every renewal succeeds against a healthy pebble: a lego process reaped by the event loop
        # instead of its worker made a successful renewal look failed.
        assert not events_named(fed, "acme_renew_failed"), events_named(fed, "acme_renew_failed")
    finally:
        assert fed.stop() == 0, fed.stderr()


def redial_presents_the_renewed_client_certificate(fed):
    """B's dial after A's outage presents the client certificate of B's last renewal before it
    (gorilla clones the TLS config at each dial), and A accepted it."""
    def redial():
        evs = fed.events()
        ends = [i for i, e in enumerate(evs) if e.get("event") == "outage_end"]
        if not ends:
            return None
        for i in range(ends[0], len(evs)):
            e = evs[i]
            if e.get("location") == "location-b" and e.get("event") == "connected":
                dial = [d for d in evs[:i] if d.get("location") == "location-b"
                        and d.get("event") == "dial"][-1]
                renewals = [r for r in evs[:evs.index(dial)] if r.get("location") == "location-b"
                            and r.get("event") == "acme_renewed" and r.get("role") == "client"]
                return dial, renewals
        return None
    dial, renewals = wait_for(redial, 90, "B's reconnection after A's outage")
    assert renewals, "no client renewal before the redial"
    assert dial["client_cert_serial"] == renewals[-1]["new_serial"]
    startup = [e for e in events_named(fed, "acme_certificate", "location-b")
               if e["role"] == "client"][0]["serial"]
    assert dial["client_cert_serial"] != startup


def accepted_per_loop(fed):
    """The per-loop counts `serve --threads` prints when it stops."""
    m = re.search(r"connections accepted per loop: ([\d ]+)", fed.stdout_path.read_text())
    assert m, fed.stdout_path.read_text()
    return [int(n) for n in m.group(1).split()]


def test_every_loop_of_serve_threads_serves_the_rotated_certificate(harness, tmp_path):
    s = json.loads((ROOT / "scenarios" / "federation.json").read_text())
    s["fixtures"] = str(ROOT / "fixtures" / "federation.json")
    s["locations"]["location-a"]["rotate"] = {"at_s": 2, "new_key": True}
    fed = acme_serve(harness, tmp_path, s, "--threads", "2")
    host, port = "location-a.semstreams.local", fed.ports["location-a"]
    try:
        startup = pem_facts((fed.fixtures / "location-a-cert.pem").read_text())[0]
        followed = wait_for(lambda: events_named(fed, "replicas_followed", "location-a"), 30,
                            "the replica following the rotation")
        rotated = fed.fixtures / "rotated" / "location-a-cert.pem"
        new = pem_facts(rotated.read_text())[0]
        assert new != startup
        f = followed[0]
        assert (norm(f["serial"]), f["loops"], f["failed"]) == (new, 2, 0)
        # Every new handshake, whichever loop the kernel hands it to, sees the new serial only.
        assert [served_serial(port, host) for _ in range(20)] == [new] * 20
    finally:
        assert fed.stop() == 0, fed.stderr()
    # Both loops took some of those handshakes (else the check above proves nothing).
    assert all(n > 0 for n in accepted_per_loop(fed)), accepted_per_loop(fed)
    # One loop rotated: one rotation logged, one hand-over logged, one file written, no .tmp left.
    evs = fed.events()
    assert [e["new_serial"] for e in evs if e.get("event") == "rotated"] == \
        [followed[0]["serial"]]
    assert len([e for e in evs if e.get("event") == "replicas_followed"]) == 1
    assert sorted(p.name for p in rotated.parent.iterdir()) == \
        ["location-a-cert.pem", "location-a-key.pem"]


@needs_acme
@pytest.mark.parametrize("threads", [1, 2])
def test_rotation_on_command_swaps_the_served_certificate(harness, tmp_path, threads):
    s = tier3()
    del s["locations"]["location-c"]
    s["locations"]["location-a"]["rotate"] = {"at_s": 1, "new_key": True}
    fed = acme_serve(harness, tmp_path, s, "--threads", str(threads), ready_timeout=ACME_READY_S)
    try:
        startup = norm(events_named(fed, "acme_certificate", "location-a")[0]["serial"])
        rot = wait_rotation(fed, "location-a")
        assert norm(rot["old_serial"]) == startup and rot["new_not_after"] > 0
        handshakes = 1
        if threads > 1:
            # The other loop follows the renewal from the ACME server (it obtains nothing itself).
            wait_for(lambda: events_named(fed, "replicas_followed", "location-a"), 30,
                     "the replica following the rotation")
            handshakes = 10
        assert [served_serial(fed.ports["location-a"], "location-a.semstreams.local")
                for _ in range(handshakes)] == [norm(rot["new_serial"])] * handshakes
    finally:
        assert fed.stop() == 0, fed.stderr()
    if threads > 1:
        assert all(n > 0 for n in accepted_per_loop(fed)), accepted_per_loop(fed)
        assert len(events_named(fed, "acme_certificate", "location-a")) == 1


def unreachable():
    """Tier 3 without its pebble: the directory is a closed loopback port."""
    s = tier3()
    del s["acme_server"]
    closed = free_port()
    for loc in s["locations"].values():
        for role in loc["config"]["security"]["tls"].values():
            if "acme" in role:
                role["acme"]["directory_url"] = f"https://127.0.0.1:{closed}/dir"
            for key in ("ca_files",):
                if key in role:
                    role[key] = ["/certs/federation-ca.pem"]
            if "mtls" in role and "client_ca_files" in role["mtls"]:
                role["mtls"]["client_ca_files"] = ["/certs/federation-ca.pem"]
    return s


@needs_acme
def test_acme_server_down_serves_the_fallback_and_says_so(harness, tmp_path):
    fed = Serve(harness, write(tmp_path, unreachable()), tmp_path / "run",
                ready_timeout=ACME_READY_S)
    try:
        fb = {e["location"]: e for e in events_named(fed, "acme_fallback") if e["role"] == "server"}
        assert set(fb) == {"location-a", "location-b"}
        assert "obtain ACME certificate failed" in fb["location-a"]["reason"]
        assert "connection refused" in fb["location-a"]["reason"]
        assert "SemStreams falls back silently" in fb["location-a"]["reason"]
        fallback = run(["openssl", "x509", "-noout", "-serial", "-in",
                        fed.fixtures / "location-a-cert.pem"]).stdout.strip().split("=")[1]
        assert served_serial(fed.ports["location-a"], "location-a.semstreams.local") == \
            norm(fallback)
        # The fallback certificates still carry the federation: A -> B -> C.
        wait_for(lambda: [e for e in events_named(fed, "recv", "location-c")
                          if e.get("origin") == "location-a"], 30, "message from A at C")
    finally:
        assert fed.stop() == 0, fed.stderr()


@needs_acme
def test_a_client_without_fallback_fails_with_the_real_error(mh, tmp_path):
    s = unreachable()
    del s["locations"]["location-c"]["config"]["security"]["tls"]["client"]["mtls"]
    r = mh("serve", write(tmp_path, s), "--ephemeral-ports", "--fixtures", tmp_path / "fx",
           "--events", tmp_path / "ev.jsonl", "--for", "1", timeout=120)
    assert r.returncode == 2
    assert "tlsutil.LoadClientTLSConfigWithACME: obtain ACME certificate failed: " in r.stderr
    assert r.stderr.count("\n") == 1


@pytest.mark.parametrize("drop,words", [
    ("directory_url", "directory_url is required"),
    ("email", "email is required"),
    ("domains", "at least one domain is required"),
    ("storage_path", "storage_path is required"),
])
def test_bad_acme_config_gives_the_real_validation_words(mh, tmp_path, drop, words):
    s = tier3()
    del s["locations"]["location-a"]["config"]["security"]["tls"]["server"]["acme"][drop]
    r = mh("check", write(tmp_path, s))
    assert r.returncode == 2
    assert words in r.stderr
    assert "$.locations.location-a.config.security.tls.server.acme" in r.stderr
    assert f"set tls.server.acme.{drop}" in r.stderr


def test_challenge_type_words_and_renew_before_falls_back_silently(mh, tmp_path):
    s = tier3()
    acme = s["locations"]["location-a"]["config"]["security"]["tls"]["server"]["acme"]
    acme["challenge_type"] = "dns-01"
    r = mh("check", write(tmp_path, s))
    assert r.returncode == 2
    assert "challenge_type must be 'http-01' or 'tls-alpn-01'" in r.stderr
    acme["challenge_type"] = "tls-alpn-01"
    acme["renew_before"] = "eight hours"  # the real code takes 8h without a word
    r = mh("check", write(tmp_path, s, "ok.json"))
    assert r.returncode == 0, r.stderr
    assert "renew_before" not in r.stderr


def served_pem(port, host):
    r = run(["timeout", "8", "openssl", "s_client", "-connect", f"127.0.0.1:{port}",
             "-servername", host], timeout=20)
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", r.stdout, re.S)
    assert pem, r.stdout + r.stderr
    return pem.group(0)


def pem_facts(pem):
    """(serial, public key, issuer) of a PEM certificate, with openssl."""
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-pubkey", "-issuer"],
                         input=pem, capture_output=True, text=True, timeout=10).stdout
    serial = norm(re.search(r"serial=(\w+)", out).group(1))
    pub = re.search(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", out, re.S).group(0)
    return serial, pub, re.search(r"issuer=(.*)", out).group(1)


@pytest.mark.parametrize("new_key", [False, True])
def test_manual_rotation_renews_from_the_same_ca_and_swaps_for_new_handshakes(harness, tmp_path,
                                                                              new_key):
    s = json.loads((ROOT / "scenarios" / "federation.json").read_text())
    s["fixtures"] = str(ROOT / "fixtures" / "federation.json")
    s["locations"]["location-a"]["rotate"] = {"at_s": 1, "new_key": new_key}
    fed = acme_serve(harness, tmp_path, s)
    try:
        host = "location-a.semstreams.local"
        before = pem_facts(served_pem(fed.ports["location-a"], host))
        rot = wait_for(lambda: events_named(fed, "rotated", "location-a"), 30, "rotation")[0]
        assert norm(rot["old_serial"]) == before[0]
        after_pem = served_pem(fed.ports["location-a"], host)
        after = pem_facts(after_pem)
        assert after[0] == norm(rot["new_serial"]) != before[0]
        assert after[2] == before[2]  # the same CA
        assert (after[1] != before[1]) == new_key
        assert rot["key"] == ("new" if new_key else "same")
        ca = fed.fixtures / "federation-ca.pem"
        v = subprocess.run(["openssl", "verify", "-CAfile", str(ca)], input=after_pem,
                           capture_output=True, text=True, timeout=10)
        assert v.returncode == 0, v.stdout + v.stderr
        # Data still flows to B, whose session began before the rotation.
        wait_for(lambda: events_named(fed, "recv", "location-b"), 30, "data at location-b")
    finally:
        assert fed.stop() == 0, fed.stderr()


@needs_acme
def test_a_rotation_due_during_a_renewal_starts_when_it_ends(harness, tmp_path):
    """A rotation that comes due while a renewal check runs is started when that check ends, never
    dropped: here every check renews, from 2 s on, and a lego order takes over 5 s (lego polls
    pebble's challenge after 5 s when no Retry-After comes), so the rotation due at 3 s always
    finds a renewal under way. The rotation then renews the renewed certificate."""
    s = renewing(True)
    del s["locations"]["location-b"]  # A alone: no other orders to wait behind at pebble
    s["matrix"]["targets"] = ["location-a"]
    s["locations"]["location-a"]["rotate"] = {"at_s": 3, "new_key": True}
    fed = acme_serve(harness, tmp_path, s, ready_timeout=ACME_READY_S)
    try:
        rot = wait_rotation(fed, "location-a")
        evs = fed.events()
        before = evs[:evs.index(rot)]
        renewed = [e for e in before if e.get("location") == "location-a"
                   and e.get("event") == "acme_renewed" and e.get("role") == "server"]
        assert renewed, "no renewal came before the rotation"
        assert norm(rot["old_serial"]) == norm(renewed[-1]["new_serial"])
        assert norm(rot["new_serial"]) not in {norm(e["new_serial"]) for e in renewed}
        # Against a healthy pebble no order fails (the loop once reaped lego before its worker
        # could, and a renewal that succeeded was logged as failed).
        assert not events_named(fed, "acme_renew_failed"), events_named(fed, "acme_renew_failed")
    finally:
        assert fed.stop() == 0, fed.stderr()


@needs_acme
def test_kill_9_of_serve_leaves_no_pebble_and_lego_writes_its_keys_0600(harness, tmp_path):
    """`kill -9` of serve once left pebble and pebble-challtestsrv running (parent 1, holding their
    ports): they die with it now (PR_SET_PDEATHSIG). What lego writes, its account key above all,
    is 0600 (it was 0644 inside 0700 directories)."""
    s = tier3()
    fed = acme_serve(harness, tmp_path, s, ready_timeout=ACME_READY_S)
    children = [int(p) for p in (pathlib.Path(f"/proc/{fed.proc.pid}/task") / str(fed.proc.pid) /
                                 "children").read_text().split()]
    names = {pathlib.Path(f"/proc/{c}/comm").read_text().strip() for c in children}
    assert {"pebble", "pebble-challtes"} <= names, names  # comm: 15 bytes
    keys = [p for p in (fed.fixtures / "acme").rglob("*.key") if ".lego" in str(p)]
    assert keys and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys), [
        (str(p), oct(p.stat().st_mode)) for p in keys]
    fed.proc.kill()
    fed.proc.wait(10)
    wait_for(lambda: not [c for c in children if pathlib.Path(f"/proc/{c}").exists()
                          and "Z" not in pathlib.Path(f"/proc/{c}/stat").read_text().split()[2]],
             10, "pebble gone after serve's kill -9")
