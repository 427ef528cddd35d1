"""load --shard I/N and merge: N shards as separate processes, each in its own network namespace
with its own source address, load one mock (`serve` in a server namespace, behind a bridge); their
merged report adds up to one generator's schedule, its percentiles are those of every sample, its
seconds line up, and a shard that fails or starts late is named. Counts and invariants only: no
speed is asserted (scripts/bench measures)."""
import copy
import json
import math
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import jsonschema
import pytest

from conftest import FED, LOAD_SCHEMA, ROOT, identities_spec, run
from netns import SHARD_SERVER_V4, ShardBed, stop_process

PORT = 9000  # inside the server namespace: nobody else is there
NAME = "location-a.semstreams.local"
N = 4
# 200/s: the mock (under ASan too) keeps up while other tests load the machine; each second's
# count is checked against the rate below.
RATE, DURATION, BAD_SHARE = 200, 4, 0.25


def validate(rep):
    jsonschema.validate(rep, LOAD_SCHEMA, cls=jsonschema.Draft202012Validator)


def bucket_top(i, sub_bits):
    """The largest value bucket i holds, from the layout docs/load.md describes."""
    linear = 2 << sub_bits
    if i < linear:
        return i
    k = i - linear
    exp = sub_bits + 1 + (k >> sub_bits)
    width = 1 << (exp - sub_bits)
    return (1 << exp) + ((k & ((1 << sub_bits) - 1)) + 1) * width - 1


def percentile(buckets, sub_bits, p, maximum):
    """p percent of the values of the sparse histogram |buckets| are at or below the result."""
    counts = {}
    for i, c in buckets:
        counts[i] = counts.get(i, 0) + c
    total = sum(counts.values())
    rank = max(1, math.ceil(p / 100 * total - 1e-6))
    seen = 0
    for i in sorted(counts):
        seen += counts[i]
        if seen >= rank:
            return min(bucket_top(i, sub_bits), maximum)
    return maximum


@pytest.fixture(scope="module")
def bed(harness, tmp_path_factory):
    """The namespaces, and the mock location-a listening on SHARD_SERVER_V4 in the server one."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("no ip(8) (iproute2) to make network namespaces")
    tmp = tmp_path_factory.mktemp("shard")
    fx = tmp / "fixtures"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    doc = copy.deepcopy(FED)
    doc["fixtures"] = str(ROOT / "fixtures/federation.json")
    loc = doc["locations"]["location-a"]
    loc["address"], loc["bind_beyond_loopback"] = SHARD_SERVER_V4, True
    scenario = tmp / "scenario.json"
    scenario.write_text(json.dumps(doc))
    net = ShardBed(N)
    try:
        net.create()
    except OSError as e:
        net.destroy()
        pytest.skip(f"cannot make network namespaces here: {e}")
    out = open(tmp / "serve.out", "w")
    proc = subprocess.Popen(net.exec_args(net.server, harness, "serve", scenario, "--fixtures", fx,
                                          "--for", "600"), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "serve: ready" not in (tmp / "serve.out").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp / "serve.out").read_text()
            time.sleep(0.1)
        net.fx, net.tmp, net.harness = fx, tmp, harness
        yield net
    finally:
        stop_process(proc, timeout=15)
        out.close()
        net.destroy()


def shard_cmd(net, i, n, out, start_at, duration=DURATION):
    """Shard i of n, in client namespace i, with its own copy of the fixtures (each shard issues
    its two identities there, signed by the one CA the mock trusts)."""
    fx = net.tmp / f"fx-{out.name}"
    if not fx.exists():
        shutil.copytree(net.fx, fx)
    return net.exec_args(
        net.clients[i], net.harness, "load", "--target", f"{SHARD_SERVER_V4}:{PORT}",
        "--server-name", NAME, "--ca", fx / "federation-ca.pem", "--identities-from",
        identities_spec(net.tmp, "location-b", "wrong-cn"), "--fixtures", fx, "--identity", "location-b",
        "--bad-identity", "wrong-cn", "--bad-share", str(BAD_SHARE), "--rate", str(RATE),
        "--duration", str(duration), "--threads", "1", "--shard", f"{i}/{n}", "--start-at",
        f"@{start_at}", "--out", out, "--latency-log", f"{out}.log", "--quiet")


# Each shard issues its two identities before it waits for the start: milliseconds (see
# identities_spec), a little more for a sanitizer build on a busy machine.
LEAD = 3


def start_shards(net, name, n, lead=LEAD):
    """Starts n shards at once, their shared start |lead| seconds ahead; returns (procs, outs)."""
    start_at = round(time.time() + lead, 3)
    outs = [net.tmp / f"{name}-{i}" for i in range(n)]
    procs = [subprocess.Popen(shard_cmd(net, i, n, outs[i], start_at), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(n)]
    return procs, outs, start_at


def wait_all(procs, timeout=120):
    return [(p.wait(timeout=timeout), p.stdout.read(), p.stderr.read()) for p in procs]


def merge(net, out, *reports, max_skew=None):
    extra = ["--max-skew", str(max_skew)] if max_skew else []
    return run([net.harness, "merge", "--out", out, *extra, *reports], timeout=60)


@pytest.fixture(scope="module")
def sharded(bed):
    """N shards of one load, each in its namespace, and their merged report."""
    procs, outs, start_at = start_shards(bed, "ok", N)
    for rc, so, se in wait_all(procs):
        assert rc == 0, so + se
    shards = [json.loads((o / "report.json").read_text()) for o in outs]
    # How late a shard starts depends on the machine: not asserted here (a late shard is, below).
    r = merge(bed, bed.tmp / "merged", *outs, max_skew=60000)
    assert r.returncode == 0, r.stdout + r.stderr
    merged = json.loads((bed.tmp / "merged/report.json").read_text())
    return shards, merged, outs, start_at


def test_each_shard_ran_its_part_from_its_own_address(sharded, bed):
    shards, _, _, start_at = sharded
    # The mock logs each rejected handshake with its peer, as Go's net/http does: every shard's
    # namespace address, and only those, appear.
    peers = set(re.findall(r"TLS handshake error from (192\.0\.2\.\d+):",
                           (bed.tmp / "serve.out").read_text()))
    assert peers == set(bed.addresses), peers
    for i, rep in enumerate(shards):
        validate(rep)
        assert rep["shard"] == {"index": i, "count": N, "total_rate": float(RATE)}
        assert rep["rate"] == RATE / N
        assert rep["start_at"]["unix_ms"] == round(start_at * 1000)
        assert rep["start_skew_ms"] is not None
        # Fewer identities than shards: shard i uses identity i mod 1, the only one.
        assert rep["identities"] == ["location-b"] and rep["bad_identities"] == ["wrong-cn"]
        # The arrivals k mod N == i of the schedule k / RATE < DURATION.
        assert rep["counts"]["planned"] == len(range(i, RATE * DURATION, N))
        # The bad picks fall on every shard, not all on the one whose arrivals line up with them.
        assert 0 < rep["counts"]["rejected"] < rep["counts"]["planned"]


def test_merged_counts_are_the_sum_of_the_shards_and_one_schedule(sharded):
    shards, merged, outs, _ = sharded
    validate(merged)
    for key in ("planned", "started", "accepted", "rejected", "errors", "dropped", "late"):
        assert merged["counts"][key] == sum(s["counts"][key] for s in shards), key
    for key in merged["errors"]:
        assert merged["errors"][key] == sum(s["errors"][key] for s in shards), key
    # The union of the shards is one generator's schedule: RATE * DURATION arrivals, and the bad
    # share holds exactly over it (the global arrival index picks, not a per-shard count).
    assert merged["counts"]["planned"] == RATE * DURATION
    assert merged["counts"]["dropped"] == 0 and merged["counts"]["errors"] == 0, merged["errors"]
    assert merged["counts"]["rejected"] == math.floor(RATE * DURATION * BAD_SHARE)
    assert merged["rate"] == RATE and merged["shard"] is None
    assert merged["merged_from"] == [str(o) for o in outs]
    assert [s["index"] for s in merged["shards"]] == list(range(N))
    for s, rep in zip(merged["shards"], shards):
        assert s["accepted"] == rep["counts"]["accepted"] and s["problem"] is None
        assert s["start_skew_ms"] == rep["start_skew_ms"]


def test_merged_percentiles_are_those_of_every_sample(sharded):
    shards, merged, _, _ = sharded
    for phase, h in merged["latency"].items():
        hist = h["histogram"]
        # Every bucket of the merged histogram is the sum of the shards' counts in it.
        want = {}
        for rep in shards:
            for i, c in rep["latency"][phase]["histogram"]["buckets"]:
                want[i] = want.get(i, 0) + c
        assert dict(map(tuple, hist["buckets"])) == want, phase
        assert hist["total"] == h["count"] == sum(r["latency"][phase]["count"] for r in shards)
        if hist["total"] == 0:
            continue
        every = [b for r in shards for b in r["latency"][phase]["histogram"]["buckets"]]
        top = max(r["latency"][phase]["max_us"] for r in shards)
        for p, key in ((50, "p50_us"), (90, "p90_us"), (99, "p99_us"), (99.9, "p999_us")):
            assert h[key] == percentile(every, hist["sub_bits"], p, top), (phase, key)
    # Not an average of the shards' p99s, unless by coincidence: the worst shard's p99 bounds it.
    p99s = [r["latency"]["total_accepted"]["p99_us"] for r in shards]
    assert min(p99s) <= merged["latency"]["total_accepted"]["p99_us"] <= max(p99s)


def bucket_index(v, sub_bits, max_exp):
    """The bucket of v microseconds in the layout docs/load.md describes."""
    v = min(v, (1 << max_exp) - 1)
    if v < (2 << sub_bits):
        return v
    x = v.bit_length() - 1
    return (2 << sub_bits) + ((x - sub_bits - 1) << sub_bits) + ((v - (1 << x)) >> (x - sub_bits))


def test_merged_p99_is_that_of_one_histogram_of_every_sample(sharded):
    """Every handshake of every shard, from their --latency-log, bucketed here in one histogram:
    its percentiles are the merged report's."""
    _, merged, outs, _ = sharded
    samples = {"accepted": [], "rejected": []}
    for out in outs:
        for line in open(f"{out}.log"):
            planned_us, latency_us, outcome, _ = line.split()
            if outcome in samples:
                samples[outcome].append(int(latency_us))
    for outcome, phase in (("accepted", "total_accepted"), ("rejected", "total_rejected")):
        h = merged["latency"][phase]
        s, e = h["histogram"]["sub_bits"], h["histogram"]["max_exp"]
        assert len(samples[outcome]) == h["count"] == merged["counts"][outcome]
        buckets = {}
        for v in samples[outcome]:
            buckets[bucket_index(v, s, e)] = buckets.get(bucket_index(v, s, e), 0) + 1
        assert dict(map(tuple, h["histogram"]["buckets"])) == buckets
        every = list(buckets.items())
        for p, key in ((50, "p50_us"), (99, "p99_us"), (99.9, "p999_us")):
            assert h[key] == percentile(every, s, p, max(samples[outcome])), (phase, key)
        assert h["max_us"] == max(samples[outcome])


def test_merged_seconds_line_up_and_add_up(sharded):
    shards, merged, _, _ = sharded
    secs = merged["seconds"]
    layout = merged["second_histogram_layout"]
    for k, s in enumerate(secs):
        parts = [r["seconds"][k] for r in shards if k < len(r["seconds"])]
        for key in ("accepted", "rejected", "errors"):
            assert s[key] == sum(p[key] for p in parts), (k, key)
        buckets = [b for p in parts for b in p["accepted_buckets"]]
        assert sorted(map(tuple, s["accepted_buckets"])) == sorted(
            {i: sum(c for j, c in buckets if j == i) for i, _ in buckets}.items())
        if s["accepted"]:
            assert s["p99_us"] == percentile(buckets, layout["sub_bits"], 99, 1 << 62)
    # Shards started at the same instant: each full second holds about RATE handshakes, each
    # shard's about RATE / N. Seconds count completions: a handshake finishing after its second's
    # end moves to the next, and a stall of the shared machine moves more (the schedule itself is
    # checked exactly below, from the latency logs).
    for k in range(DURATION - 1):
        total = secs[k]["accepted"] + secs[k]["rejected"]
        assert abs(total - RATE) <= RATE * 0.25, [s["accepted"] + s["rejected"] for s in secs]
        for rep in shards:
            part = rep["seconds"][k]["accepted"] + rep["seconds"][k]["rejected"]
            assert abs(part - RATE / N) <= RATE / N * 0.4, (k, rep["shard"])
    assert sum(s["accepted"] + s["rejected"] for s in secs) == RATE * DURATION


def test_the_shards_planned_times_are_one_schedule(sharded):
    """From each shard's --latency-log: shard i planned the arrivals (i + jN) / RATE, so that the
    union is one generator's schedule at RATE, even in every second, each shard offset by 1 / RATE
    from the one before."""
    _, _, outs, _ = sharded
    union = []
    for i, out in enumerate(outs):
        planned = sorted(int(line.split()[0]) for line in pathlib.Path(f"{out}.log").read_text()
                         .splitlines())
        want = [(i + j * N) * 1_000_000 / RATE for j in range(RATE * DURATION // N)]
        assert len(planned) == len(want), i
        assert all(abs(a - b) <= 1 for a, b in zip(planned, want)), i
        union += planned
    per_second = [0] * DURATION
    for t in union:
        per_second[t // 1_000_000] += 1
    assert per_second == [RATE] * DURATION


def test_a_failed_and_a_late_shard_are_named(bed):
    """Of 3 shards, shard 1 is launched four seconds after the shared start and shard 2 is stopped
    by SIGTERM while it runs (a second later, three before its end): the merged report names
    both, in report.json, report.md and stderr."""
    n, duration = 3, 8
    start_at = round(time.time() + LEAD, 3)
    outs = [bed.tmp / f"bad-{i}" for i in range(n)]
    procs = {i: subprocess.Popen(shard_cmd(bed, i, n, outs[i], start_at, duration),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in (0, 2)}
    time.sleep(max(0.0, start_at + 4 - time.time()))
    procs[1] = subprocess.Popen(shard_cmd(bed, 1, n, outs[1], start_at, duration),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    procs[2].send_signal(signal.SIGTERM)
    rcs = {i: p.wait(timeout=120) for i, p in procs.items()}
    assert rcs == {0: 0, 1: 0, 2: 143}, {i: p.stderr.read() for i, p in procs.items()}
    r = merge(bed, bed.tmp / "merged-bad", *outs, max_skew=3000)
    assert r.returncode == 1, r.stdout + r.stderr
    merged = json.loads((bed.tmp / "merged-bad/report.json").read_text())
    validate(merged)
    problems = {s["index"]: s["problem"] for s in merged["shards"]}
    assert problems[0] is None
    assert "late" in problems[1] and "interrupted by SIGTERM" in problems[2], problems
    assert merged["shards"][1]["start_skew_ms"] >= 4000
    md = (bed.tmp / "merged-bad/report.md").read_text()
    assert "Shard 1/3" in md and "Shard 2/3" in md and "Shard 0/3" not in md
    assert "shard 1/3" in r.stderr and "shard 2/3" in r.stderr and "shard 0/3" not in r.stderr
    # The late shard's seconds land where they happened: it was launched four seconds after the
    # shared start, so the merged first four seconds are the two others' alone.
    shards = [json.loads((o / "report.json").read_text()) for o in outs]

    def done(rep, k):
        secs = rep["seconds"]
        return secs[k]["accepted"] + secs[k]["rejected"] if k < len(secs) else 0

    for k in range(4):
        assert done(merged, k) == done(shards[0], k) + done(shards[2], k), k
    assert sum(done(merged, k) for k in range(len(merged["seconds"]))) == sum(
        done(rep, k) for rep in shards for k in range(len(rep["seconds"])))
    # Counts are still the sums of what each shard did.
    assert merged["counts"]["accepted"] == sum(s["counts"]["accepted"] for s in shards)


def edited(tmp, src, name, change):
    rep = json.loads((src / "report.json").read_text())
    change(rep)
    path = tmp / name
    path.write_text(json.dumps(rep))
    return path


@pytest.mark.parametrize("field,change,want", [
    ("target", lambda r: r.update(target="elsewhere (192.0.2.9:1)"), "target is"),
    ("tls_version", lambda r: r.update(tls_version="1.2"), "tls_version is"),
    ("mode", lambda r: r.update(mode="closed"), "mode is"),
    ("shard count", lambda r: r["shard"].update(count=5), "shard.count is"),
    ("schema", lambda r: r.update(schema="mtls-harness/load/1"), "schema is \"mtls-harness/load/1\""),
    ("not a shard", lambda r: r.update(shard=None), "not a shard's report"),
    # Numbers no run writes, out of the integer's range: refused by name, never converted (a
    # double outside an integer's range is undefined behaviour; libFuzzer found not_after_unix).
    ("exit code", lambda r: r.update(exit_code=1e300), "exit_code: 1e+300 is out of range"),
    ("threads", lambda r: r.update(threads=0), "threads: 0 is out of range"),
    ("started", lambda r: r["started"].update(unix_ms=1e19), "started.unix_ms: 1e+19 is out"),
    ("not_after", lambda r: r["certificates"]["seen"][0].update(not_after_unix=1.8e32),
     "certificates.seen[0].not_after_unix: 1.8e+32 is out of range"),
])
def test_mismatched_reports_fail_naming_the_file_and_field(harness, sharded, tmp_path, field,
                                                          change, want):
    _, _, outs, _ = sharded
    bad = edited(tmp_path, outs[3], "odd.json", change)
    r = run([harness, "merge", "--out", tmp_path / "m", *outs[:3], bad])
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert want in r.stderr and str(bad) in r.stderr, r.stderr
    assert not (tmp_path / "m").exists()


def test_missing_and_repeated_shards_are_named(harness, sharded, tmp_path):
    _, _, outs, _ = sharded
    r = run([harness, "merge", "--out", tmp_path / "m", outs[0], outs[1], outs[3]])
    assert r.returncode == 2 and "shard 2/4 missing" in r.stderr
    r = run([harness, "merge", "--out", tmp_path / "m", outs[0], outs[1], outs[2], outs[2]])
    assert r.returncode == 2 and "shard 2/4 given twice" in r.stderr
    assert not (tmp_path / "m").exists()


def test_bad_shard_and_start_at_options_are_one_line_errors(harness, tmp_path):
    base = [harness, "load", ROOT / "scenarios/federation.json", "--location", "location-a",
            "--out", tmp_path / "o", "--duration", "0.2"]
    for args, want in ((["--shard", "4/4"], "e.g. --shard 2/4"),
                       (["--shard", "1"], "e.g. --shard 2/4"),
                       (["--start-at", "tomorrow"], "e.g. 2026-11-30T12:00:00Z"),
                       (["--start-at", f"@{time.time() + 3 * 86400:.0f}"], "within 24 hours"),
                       (["--shard", "3/4", "--connections", "3"], "leaves shard 3 none"),
                       (["--shard", "0/2", "--sweep"], "--sweep and --shard"),
                       (["--sweep", "--latency-log", tmp_path / "l"], "not --sweep")):
        r = run([*base, *args])
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and want in r.stderr, r.stderr
    assert not (tmp_path / "o" / "report.json").exists()


def test_the_wait_for_start_at_ends_on_sigint(harness, tmp_path):
    """A shard waiting for a start a minute ahead stops at once on SIGINT: exit 130, a report
    marked interrupted with nothing run."""
    proc = subprocess.Popen(
        [harness, "load", ROOT / "scenarios/federation.json", "--location", "location-a",
         "--rate", "50", "--duration", "1", "--threads", "1", "--shard", "0/2", "--start-at",
         f"@{time.time() + 60:.3f}", "--out", tmp_path / "o"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line, deadline = "", time.monotonic() + 30
    while "starts at" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
        assert line or proc.poll() is None
    assert "starts at" in line
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 130
    rep = json.loads((tmp_path / "o/report.json").read_text())
    validate(rep)
    assert rep["interrupted"] and rep["signal"] == "SIGINT" and rep["counts"]["planned"] == 0
