"""mtls-harness load: sane reports from short closed- and open-loop runs against the mock and a real
nginx. Only counts and invariants that hold on any machine are asserted; speed is measured by
scripts/bench, never asserted here."""
import json
import math
import re

import jsonschema
import pytest

from conftest import LOAD_SCHEMA, NGINX_CONF, ROOT, free_port, nginx_running, run


def load(harness, out, *args):
    r = run([harness, "load", *args, "--out", out, "--quiet"], timeout=120)
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else None
    return r, report


def check_sane(rep):
    jsonschema.validate(rep, LOAD_SCHEMA, cls=jsonschema.Draft202012Validator)
    c = rep["counts"]
    errors = sum(rep["errors"].values())
    assert c["errors"] == errors
    # Every started handshake ended exactly one way.
    assert c["started"] == c["accepted"] + c["rejected"] + errors
    assert c["planned"] == c["started"] + c["dropped"]
    for name, h in rep["latency"].items():
        if h["count"]:
            assert h["p50_us"] <= h["p90_us"] <= h["p99_us"] <= h["p999_us"] <= h["max_us"], name
    assert rep["latency"]["total_accepted"]["count"] == c["accepted"]
    assert rep["latency"]["total_rejected"]["count"] == c["rejected"]
    # Resumption as the TLS library reports it: only offered sessions, only accepted handshakes.
    if c["resume_offered"] is None:  # no --resume: null, not 0
        assert c["resumed"] is None
    else:
        assert c["resumed"] <= c["resume_offered"] and c["resumed"] <= c["accepted"]
    # What does not apply to the mode is null.
    if rep["mode"] == "open":
        assert rep["rate"] > 0 and rep["connections"] is None
    else:
        assert rep["rate"] is None and rep["connections"] > 0
    assert rep["started"]["utc"].endswith("Z") and rep["started"]["unix_ms"] > 0
    # The generator threads are part of the process: their CPU is at most its (with --location,
    # the process's includes the mock's).
    cpu = rep["cpu"]
    assert 0 <= cpu["generator_s"] <= cpu["process_s"] == rep["cpu_s"]
    assert rep["exit_code"] == (1 if errors and rep["sweep"] is None else 0)
    # Per second: what completed adds up to the run's totals, the last partial second included.
    secs = rep["seconds"]
    assert [s["second"] for s in secs] == list(range(1, len(secs) + 1))
    for key in ("accepted", "rejected", "errors"):
        assert sum(s[key] for s in secs) == c[key], key
    assert all(s["p50_us"] <= s["p99_us"] for s in secs)


def bad_share_holds(rep, share):
    """Of the n handshakes started, exactly floor(n * share) used a bad identity (the run's
    handshake count decides, whatever the number of threads), and each was rejected with a
    certificate alert: the bad identities are all those the location's policy refuses (wrong CN:
    bad_certificate; untrusted, self-signed: unknown_ca; ...), none of them counted as an error."""
    c = rep["counts"]
    assert c["errors"] == 0, rep["errors"]
    assert c["rejected"] == math.floor(c["started"] * share), c
    alerts = rep["rejection_alerts"]
    assert sum(a["count"] for a in alerts.values()) == c["rejected"], alerts
    assert set(alerts) <= {"42", "43", "45", "48"}, alerts
    assert c["rejected"] < 4 or "42" in alerts, alerts
    # The mock's semstreams profile rejects at TLS: confirmed there, as before profiles counted.
    assert (rep["profile"], rep["confirmation"], rep["rejection_statuses"]) == (
        "semstreams", "tls", {})


def test_closed_loop_against_the_mock(harness, tmp_path):
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--connections", "8", "--duration", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    c = rep["counts"]
    assert rep["mode"] == "closed" and c["accepted"] > 0 and c["accepted"] == c["started"]
    assert c["rejected"] == 0 and c["dropped"] == 0 and c["planned"] == c["started"]
    assert "load: report in" in r.stdout and (tmp_path / "out" / "report.md").is_file()


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_open_loop_rate_and_bad_share(harness, tmp_path, tls):
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--rate", "100", "--duration", "3", "--bad-share", "0.2",
                  "--tls", tls)
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    c = rep["counts"]
    # Open loop: the schedule, not the server, decides how many are planned: each thread plans at
    # most one arrival more than its share of rate x duration (a stalled loop plans fewer).
    assert rep["mode"] == "open" and 0 < c["planned"] <= 300 + rep["threads"]
    # A fifth were made with a CN the location does not allow, and were rejected as such, in
    # TLS 1.3 too (where the rejection arrives after the client's handshake).
    bad_share_holds(rep, 0.2)
    assert c["rejected"] > 0


@pytest.mark.parametrize("threads", [2, 65])
def test_bad_share_holds_whatever_the_thread_count(harness, tmp_path, threads):
    """With 65 threads at 100/s each thread starts one or two handshakes: a share decided per
    thread gave no bad one at all. More than 64 threads is allowed (a big host's default)."""
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--rate", "100", "--duration", "1", "--threads", str(threads),
                  "--bad-share", "0.2")
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    assert rep["threads"] == threads
    bad_share_holds(rep, 0.2)
    assert rep["counts"]["started"] >= 10  # at least two bad ones


def test_bad_share_holds_in_closed_loop(harness, tmp_path):
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--connections", "6", "--threads", "6", "--duration", "1",
                  "--bad-share", "0.3")
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    bad_share_holds(rep, 0.3)


def test_unreachable_target_counts_errors_and_exits_1(harness, tmp_path):
    fx = tmp_path / "fx"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    r, rep = load(harness, tmp_path / "out", "--target", f"127.0.0.1:{free_port()}",
                  "--server-name", "location-a.semstreams.local", "--ca", fx / "federation-ca.pem",
                  "--identities-from", ROOT / "fixtures/federation.json", "--fixtures", fx,
                  "--identity", "location-b", "--rate", "50", "--duration", "1")
    assert r.returncode == 1
    check_sane(rep)
    assert rep["counts"]["accepted"] == 0 and rep["errors"]["refused"] == rep["counts"]["started"] > 0


def test_bad_ca_file_is_an_input_error(harness, tmp_path):
    r, rep = load(harness, tmp_path / "out", "--target", f"127.0.0.1:{free_port()}",
                  "--server-name", "location-a.semstreams.local",
                  "--ca", ROOT / "fixtures/federation.json",  # not PEM
                  "--identities-from", ROOT / "fixtures/federation.json", "--fixtures",
                  tmp_path / "none", "--identity", "location-b", "--connections", "2",
                  "--duration", "1")
    assert r.returncode == 2 and rep is None
    assert f"{ROOT}/fixtures/federation.json: the CA is not PEM" in r.stderr


def load_nginx(harness, tmp_path, specs, identities_from, *args, verify="on"):
    """A real nginx (ssl_verify_client |verify|) on loopback, loaded for 2 s with 4 in flight; the
    fixture |specs| are generated into one directory (so they share the CA key)."""
    fx = tmp_path / "fx"
    for spec in specs:
        assert run([harness, "pki", ROOT / "fixtures" / spec, "--out", fx]).returncode == 0
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, fx=fx).replace(
        "ssl_verify_client on;", f"ssl_verify_client {verify};"))
    with nginx_running(conf, tmp_path, port):
        return load(harness, tmp_path / "out", "--target", f"127.0.0.1:{port}", "--server-name",
                    "location-a.semstreams.local", "--ca", fx / "federation-ca.pem",
                    "--identities-from", ROOT / "fixtures" / identities_from, "--fixtures", fx,
                    "--connections", "4", "--duration", "2", *args)


def test_against_a_real_nginx(harness, tmp_path):
    r, rep = load_nginx(harness, tmp_path, ["federation.json"], "federation.json",
                        "--identity", "location-b")
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    # OpenSSL sends its tickets: each handshake confirmed.
    assert rep["counts"]["accepted"] == rep["counts"]["started"] > 0


@pytest.mark.parametrize("verify,tls", [("on", "1.3"), ("optional", "1.3"), ("optional", "1.2")])
def test_nginx_rejecting_at_http_counts_rejections_by_status(harness, tmp_path, verify, tls):
    """nginx completes the handshake for every client and answers 400 (untrusted certificate) or
    403 (CN refused by the map) to the request: with the nginx-http profile those are rejections,
    counted by status, not acceptances followed by errors."""
    r, rep = load_nginx(harness, tmp_path, ["federation.json"], "federation.json",
                        "--identity", "location-b", "--bad-identity", "untrusted,location-c",
                        "--bad-share", "0.2", "--profile", "nginx-http", "--tls", tls,
                        verify=verify)
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    c = rep["counts"]
    assert rep["errors"] == {k: 0 for k in rep["errors"]}, rep["errors"]
    assert (rep["profile"], rep["confirmation"]) == ("nginx-http", "http")
    # Exactly the bad ones were rejected (the share is count-based), the good ones accepted.
    bad = math.floor(c["started"] * 0.2)
    assert c["rejected"] == bad > 0 and c["accepted"] == c["started"] - bad
    # Each thread alternates its bad identities: untrusted (400) first, then location-c (403).
    statuses = rep["rejection_statuses"]
    assert "400" in statuses and set(statuses) <= {"400", "403"}, statuses
    assert sum(s["count"] for s in statuses.values()) == bad
    assert rep["rejection_alerts"] == {}
    assert "load: confirmed at HTTP (profile nginx-http): rejected by status: 400 x" in r.stdout


def test_without_its_profile_nginx_seems_to_accept_the_bad_identities(harness, tmp_path):
    """The same load confirmed at TLS: OpenSSL sends its tickets to everyone, so each bad
    identity counts as accepted and as an error at once; what the profile above avoids."""
    r, rep = load_nginx(harness, tmp_path, ["federation.json"], "federation.json",
                        "--identity", "location-b", "--bad-identity", "untrusted",
                        "--bad-share", "0.2")
    assert r.returncode == 1
    assert rep["confirmation"] == "tls" and rep["profile"] is None
    c = rep["counts"]
    assert c["accepted"] == c["started"] and c["rejected"] == 0
    assert rep["errors"]["bad_identity_accepted"] == math.floor(c["started"] * 0.2)


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_resumed_runs_really_resume(harness, tmp_path, tls):
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--connections", "4", "--duration", "2", "--tls", tls, "--resume")
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    c = rep["counts"]
    # Resumed as the TLS library reports it: every session offered was resumed. Only the first
    # handshakes of each slot (no session kept yet) and, in TLS 1.3, a slot whose single-use ticket
    # has not arrived yet are full: how many depends on timing, so only the bounds are asserted.
    assert 0 < c["resumed"] == c["resume_offered"] <= c["accepted"]
    lat = rep["latency"]
    assert lat["tls_handshake_resumed"]["count"] == c["resumed"]
    assert lat["tls_handshake"]["count"] == c["accepted"] - c["resumed"]


def test_resume_share_mixes(harness, tmp_path):
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--rate", "100", "--duration", "2", "--tls", "1.2",
                  "--resume-share", "0.5")
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    c = rep["counts"]
    # Half the handshakes are picked to offer a session: those that found one kept offer it (the
    # first picks of a thread may find none yet), and every one offered resumes.
    assert 0 < c["resumed"] == c["resume_offered"] <= math.floor(c["started"] * 0.5)
    assert rep["latency"]["tls_handshake_resumed"]["count"] == c["resumed"]


SWEEP_LIMITS = {"p99", "errors", "drops", "achieved_rate"}


def test_sweep_finds_the_highest_sustained_rate_and_charts_it(sweep_run):
    import xml.etree.ElementTree as ET
    # The first step (50/s, p99 limit 500 ms) holds on any machine that can run the harness, even
    # a loaded one (ASan, other suites), so a sweep that sustains nothing fails this test.
    r, rep, out = sweep_run
    assert r.returncode == 0, r.stdout + r.stderr
    steps = rep["sweep"]["steps"]
    # A failed step is retried once at the same rate; a rate moves up by half after a step held.
    assert steps[0]["offered"] == 50 and not steps[0]["retry"]
    coarse = [x for x in steps if not x["refine"]]
    for k, (prev, s) in enumerate(zip(coarse, coarse[1:])):
        assert s["retry"] == (not prev["sustained"] and not prev["retry"])
        held = sum(x["sustained"] for x in coarse[:k + 1])  # the rate's index
        assert s["offered"] == round(50 * 1.5 ** held, 1)
    # After the rate failed twice, each narrowing step runs at the midpoint of the highest rate
    # that held and the lowest that failed, until they are within 5 % (at most 5 steps).
    refine = steps[len(coarse):]
    assert all(x["refine"] and not x["retry"] for x in refine) and len(refine) <= 5
    good = max((x["offered"] for x in coarse if x["sustained"]), default=0)
    bad = coarse[-1]["offered"]
    for x in refine:
        assert x["offered"] == pytest.approx((good + bad) / 2, abs=0.06)
        good, bad = (x["offered"], bad) if x["sustained"] else (good, x["offered"])
    if refine:
        assert len(refine) == 5 or bad - good <= 0.05 * good + 0.1
    sustained = [s["offered"] for s in steps if s["sustained"]]
    assert rep["sweep"]["sustainable_rate"] == max(sustained) > 0
    # The report's run is that step's (rates are written with one and three decimals: the two
    # roundings differ by at most 0.05, and the subtraction adds its own last bit).
    assert math.isclose(rep["rate"], rep["sweep"]["sustainable_rate"], abs_tol=0.0501)
    # The sweep stops when a rate fails on its retry too (or after 16 rates), and says why.
    last = steps[-1]
    assert len(coarse) >= 16 or refine or (not last["sustained"] and last["retry"] and last["broke"])
    md = (out / "report.md").read_text()
    # report.md opens with the answer: the sustained rate and the step that limited it.
    head = md.split("\n\n")[1]
    failed = [x for x in steps if not x["sustained"]]
    # (report.json keeps one decimal: the two roundings may differ by one)
    m = re.match(r"\*\*Highest sustained rate: (\d+) handshakes/s\*\*", head)
    assert m and abs(int(m.group(1)) - rep["sweep"]["sustainable_rate"]) <= 1, head
    if failed:
        lowest = min(failed, key=lambda x: x["offered"])
        m = re.search(r"limited at (\d+)/s by (.*)\. The figures below are that step's\.", head)
        assert m and abs(int(m.group(1)) - lowest["offered"]) <= 1, head
        assert m.group(2) == lowest["why"], head
    for s in steps:
        assert set(s["broke"]) <= SWEEP_LIMITS and s["sustained"] == (s["broke"] == [])
        assert ("p99" in s["broke"]) == (s["p99_us"] > 500_000)
        assert (s["why"] is None) == s["sustained"]
        if not s["sustained"]:
            assert f"not sustained ({s['why']})" in r.stderr
            retry = "yes" if s["retry"] else "no"
            narrowing = "yes" if s["refine"] else "no"
            assert f"| no | {','.join(s['broke'])} | {s['why']} | {retry} | {narrowing} |" in md
            for limit in s["broke"]:
                assert {"p99": "p99 ", "errors": "errors ", "drops": "drops ",
                        "achieved_rate": "achieved "}[limit] in s["why"]
    assert f"highest sustained rate {rep['sweep']['sustainable_rate']:.0f}" in r.stdout
    # The charts (drawn by gnuplot; tests/py/test_charts.py checks them), or the line saying why
    # they are not there.
    for name in ("load", "percentiles", "sweep"):
        assert (out / f"{name}.dat").is_file() and (out / f"{name}.gp").is_file()
        if "charts not drawn" not in r.stderr:
            root = ET.parse(out / f"{name}.svg").getroot()
            assert root.tag.endswith("svg") and root.findall(".//{http://www.w3.org/2000/svg}path")
    assert len(rep["seconds"]) >= 1 and rep["seconds"][0]["accepted"] > 0


def test_mock_scales_with_server_threads(harness, tmp_path):
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--server-threads", "2", "--connections", "8", "--duration", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    per_thread = [int(n) for n in r.stdout.split("accepted per server thread:")[1].split("\n")[0].split()]
    # One SO_REUSEPORT listener per loop: the kernel spreads the connections over both.
    assert len(per_thread) == 2 and min(per_thread) > 0
    assert sum(per_thread) >= rep["counts"]["accepted"]


def test_tickets_resume_on_every_server_thread(harness, tmp_path):
    """The loops of one mock location share their ticket keys: a session issued by one loop
    resumes on the other (SO_REUSEPORT sends the next connection wherever it hashes)."""
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--server-threads", "2", "--connections", "4", "--duration", "2",
                  "--tls", "1.2", "--resume")
    assert r.returncode == 0, r.stdout + r.stderr
    per_thread = [int(n) for n in r.stdout.split("accepted per server thread:")[1].split("\n")[0].split()]
    assert min(per_thread) > 0
    c = rep["counts"]
    # A ticket one loop issued and another did not honour would be a full handshake: every
    # session offered resumed.
    assert 0 < c["resumed"] == c["resume_offered"] <= c["accepted"]


REPLICAS = [f"replica-b{i:02d}" for i in range(1, 9)]


def test_identities_from_a_spec_against_a_mock_location(harness, tmp_path):
    """--identities-from generates the spec beside the scenario's fixtures (the federation CA keeps
    its key); the location's policy sorts its identities into accepted and refused ones."""
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--identities-from", ROOT / "fixtures/load-identities.json",
                  "--rate", "200", "--duration", "1", "--bad-share", "0.2")
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    assert rep["identities"] == REPLICAS
    assert rep["bad_identities"] == ["rogue-01", "rogue-02"]
    bad_share_holds(rep, 0.2)


def test_identities_from_a_spec_against_a_real_nginx(harness, tmp_path):
    r, rep = load_nginx(harness, tmp_path, ["federation.json", "load-identities.json"],
                        "load-identities.json")
    assert r.returncode == 0, r.stdout + r.stderr
    check_sane(rep)
    # Every identity fit for client authentication, round-robin; nginx verifies the chain only.
    assert rep["identities"] == REPLICAS + ["rogue-01", "rogue-02"]
    assert rep["counts"]["accepted"] == rep["counts"]["started"] > 0 and rep["counts"]["errors"] == 0


def test_fixtures_with_a_location_is_refused(harness, tmp_path):
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--fixtures", tmp_path, "--duration", "1")
    assert r.returncode == 2 and rep is None
    assert r.stderr.strip().count("\n") == 0 and "--fixtures is for --target" in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option,value,valid", [
    ("--bad-share", "2", "from 0 to 1"),
    ("--resume-share", "half", "from 0 to 1"),
    ("--rate", "0", "above 0"),
    ("--connections", "1.5", "from 1 to 100000"),
    ("--duration", "abc", "above 0 and at most 3600"),
    ("--threads", "0", "from 1 to 1024"),
    ("--threads", "1025", "from 1 to 1024"),
    ("--timeout-ms", "5", "from 10 to"),
    ("--sweep-p99-ms", "-1", "above 0"),
    ("--server-threads", "17", "from 1 to 16"),
])
def test_a_bad_number_names_its_option_and_a_valid_value(harness, tmp_path, option, value, valid):
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "location-a", option, value)
    assert r.returncode == 2 and rep is None
    err = r.stderr.strip()
    assert "\n" not in err and f"{option} takes" in err and valid in err and "(e.g. " in err, err
    assert f"got '{value}'" in err


def test_option_combinations_are_named(harness, tmp_path):
    r, _ = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                "location-a", "--rate", "10", "--connections", "2")
    assert r.returncode == 2 and "--rate R (open loop) or --connections N" in r.stderr
    r, _ = load(harness, tmp_path / "out", "--target", "127.0.0.1:1", "--server-threads", "2")
    assert r.returncode == 2 and "--server-threads needs --location" in r.stderr


def test_unknown_names_list_the_valid_ones(harness, tmp_path):
    r, rep = load(harness, tmp_path / "out", ROOT / "scenarios/federation.json", "--location",
                  "nowhere", "--duration", "1")
    assert r.returncode == 2 and rep is None and r.stderr.strip().count("\n") == 0
    assert "--location nowhere" in r.stderr and "location-a, location-b" in r.stderr
    r, rep = load(harness, tmp_path / "out2", ROOT / "scenarios/federation.json", "--location",
                  "location-a", "--identity", "location-b,nobody", "--duration", "1")
    assert r.returncode == 2 and rep is None and r.stderr.strip().count("\n") == 0
    assert 'no identity "nobody"' in r.stderr and "location-a, location-b, location-c" in r.stderr


@pytest.mark.parametrize("kind", ["open", "closed", "sweep", "target"])
def test_report_json_validates_against_its_schema(harness, tmp_path, kind, request):
    """docs/load-report-schema.json holds for each kind of run; what does not apply is null; with
    --location the generator threads' CPU is at most the process's (which includes the mock's)."""
    jsonschema.Draft202012Validator.check_schema(LOAD_SCHEMA)
    loc = [ROOT / "scenarios/federation.json", "--location", "location-a", "--duration", "0.5"]
    if kind == "target":
        r, rep = load_nginx(harness, tmp_path, ["federation.json"], "federation.json",
                            "--identity", "location-b")
    elif kind == "sweep":
        r, rep, _ = request.getfixturevalue("sweep_run")  # the same options, run once
    else:
        args = {"open": ["--rate", "50"], "closed": ["--connections", "2"]}[kind]
        r, rep = load(harness, tmp_path / "out", *loc, "--threads", "2", *args)
    assert r.returncode == rep["exit_code"] == 0, r.stdout + r.stderr
    jsonschema.validate(rep, LOAD_SCHEMA, cls=jsonschema.Draft202012Validator)
    check_sane(rep)
    assert (rep["sweep"] is None) == (kind != "sweep")
    assert rep["counts"]["resume_offered"] is None and rep["counts"]["resumed"] is None
    cpu = rep["cpu"]
    assert cpu["process_includes_mock"] == (kind != "target")
    assert cpu["generator_s"] <= cpu["process_s"]
    if rep["counts"]["accepted"]:
        assert cpu["generator_us_per_handshake"] <= cpu["process_us_per_handshake"]
    # The schema is not vacuous: an unknown key, or a count where null belongs, fails it.
    for broken in (dict(rep, extra=1), dict(rep, connections=3 if rep["mode"] == "open" else None)):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, LOAD_SCHEMA, cls=jsonschema.Draft202012Validator)


def test_refused_connections_are_errors_not_handshakes(harness, tmp_path):
    """A target that refuses every connection: the progress lines and the summary count no
    handshake per second; the refusals are errors, shown apart."""
    import re
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: every connect is refused
    fx = tmp_path / "fx"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    r = run([harness, "load", "--target", f"127.0.0.1:{port}", "--server-name",
             "location-a.semstreams.local", "--ca", fx / "federation-ca.pem",
             "--identities-from", ROOT / "fixtures/federation.json", "--fixtures", fx,
             "--identity", "location-b", "--rate", "50", "--duration", "2",
             "--out", tmp_path / "out"], timeout=120)
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["counts"]["accepted"] == rep["counts"]["rejected"] == 0
    assert rep["counts"]["errors"] == rep["counts"]["started"] > 0
    rates = [int(m) for m in re.findall(r"load:\s+\d+s\s+(\d+) hs/s", r.stderr)]
    assert rates and all(x == 0 for x in rates), r.stderr
    assert re.search(r"load: 0 handshakes in [\d.]+ s: 0\.0/s", r.stdout), r.stdout


def test_a_non_empty_out_is_refused_unless_force(harness, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old-chart.svg").write_text("<svg/>")
    args = [harness, "load", ROOT / "scenarios/federation.json", "--location", "location-a",
            "--connections", "2", "--duration", "0.5", "--out", out]
    r = run(args, timeout=120)
    assert r.returncode == 2 and "--force" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert (out / "old-chart.svg").exists() and not (out / "report.json").exists()
    r = run([*args, "--force"], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (out / "old-chart.svg").exists() and (out / "report.json").exists()
