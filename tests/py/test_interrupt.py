"""What a run or a load leaves when it is stopped: SIGINT/SIGTERM and --timeout against a target
that stalls (a socket that accepts and says nothing) end with the reports of what completed,
marked, exit 130/143 (1 for a timeout), and no private key left behind; the progress line on
stderr; --out that is not empty refused unless --force; an input error after the fixtures were
generated leaves nothing. Every wait is bounded; no assertion is on a duration."""
import copy
import json
import os
import queue
import re
import signal
import stat
import subprocess
import threading

import jsonschema
import pytest

from conftest import FED, ROOT, SCHEMA, external_target, run, tcp_server, write_scenario

STOP_BOUND_S = 20  # generous: the harness promises a few seconds


def stalling():
    """127.0.0.1:<port> accepts every connection and says nothing until the block ends."""
    return tcp_server(lambda conn, stop: stop.wait(60), hold_s=60)


def stalled_scenario(tmp_path, port, identities=("location-b", "none")):
    doc = copy.deepcopy(FED)
    doc["locations"]["stall"] = external_target(port)
    doc["matrix"] = {"targets": ["stall"], "identities": list(identities),
                     "versions": ["1.2", "1.3"]}
    return write_scenario(tmp_path, doc)


def private_keys(root):
    """Files below |root| named *-key.pem or with mode 0600."""
    found = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            mode = stat.S_IMODE(os.lstat(p).st_mode)
            if f.endswith("-key.pem") or mode == 0o600:
                found.append(p)
    return found


class Proc:
    """A background mtls-harness whose stderr lines are read as they come."""

    def __init__(self, harness, *args):
        self.p = subprocess.Popen([str(harness), *map(str, args)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.err = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stderr:
            self.err.append(line)
            self.lines.put(line)

    def wait_line(self, needle, timeout=60):
        """Waits (bounded) for a stderr line holding |needle|; returns it."""
        deadline = timeout
        while deadline > 0:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                deadline -= 1
                if self.p.poll() is not None:
                    break
                continue
            if needle in line:
                return line
        raise AssertionError(f"no stderr line with {needle!r}: {''.join(self.err)}")

    def finish(self, timeout=STOP_BOUND_S):
        try:
            out, _ = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.communicate()
            raise
        self.t.join(5)
        return self.p.returncode, out, "".join(self.err)


def report_of(out):
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    return report


@pytest.mark.parametrize("sig,code,name", [(signal.SIGINT, 130, "SIGINT"),
                                           (signal.SIGTERM, 143, "SIGTERM")])
def test_signal_stops_run_with_reports_and_no_keys(harness, tmp_path, sig, code, name):
    out = tmp_path / "out"
    with stalling() as port:
        p = Proc(harness, "run", stalled_scenario(tmp_path, port), "--out", out, "--jobs", "1",
                 "--profiles", ROOT / "profiles")
        # Progress on stderr (a pipe: a plain line every few seconds), naming the stalled case.
        line = p.wait_line("slowest running: stall/")
        assert "0/4 cases done" in line or "1/4 cases done" in line, line
        p.wait_line("1/4 cases done")  # the first case's handshake timed out: completed
        p.p.send_signal(sig)
        rc, stdout, stderr = p.finish()
    assert rc == code, (stdout, stderr)
    report = report_of(out)
    assert report["interrupted"] is True and report["signal"] == name
    assert report["exit_code"] == code
    assert report["cases_planned"] == 4
    # Every planned case is in the report: the completed ones (the stalled handshake:
    # inconclusive) and the others as errors of the run, never a green subset.
    assert len(report["cases"]) == 4
    assert {c["verdict"] for c in report["cases"]} == {"inconclusive"}
    not_run = [c for c in report["cases"] if c["verdict_reason"].startswith("not run:")]
    assert 1 <= len(not_run) <= 3
    for c in not_run:
        assert c["verdict_reason"] == f"not run: interrupted by {name} before this case finished"
    junit = (out / "junit.xml").read_text()
    assert 'tests="4"' in junit and 'errors="4"' in junit, junit[:400]
    assert junit.count(f"not run: interrupted by {name}") >= len(not_run)
    stopped = f"Interrupted by {name}: {len(not_run)} of 4 cases not run"
    md = (out / "report.md").read_text().splitlines()
    assert md[2].startswith(f"> **{stopped}"), md[:4]  # right under the title
    html = (out / "report.html").read_text()
    assert stopped in html and html.index(stopped) < html.index("<p>Scenario ")
    assert f"run: interrupted by {name}: {len(not_run)} of 4 cases not run" in stdout
    assert private_keys(tmp_path) == []
    assert not (out / "fixtures").exists()


def test_signal_keep_fixtures_keeps_them(harness, tmp_path):
    out = tmp_path / "out"
    with stalling() as port:
        p = Proc(harness, "run", stalled_scenario(tmp_path, port, ("none",)), "--out", out,
                 "--jobs", "1", "--keep-fixtures", "--profiles", ROOT / "profiles")
        p.wait_line("slowest running: stall/")
        p.p.send_signal(signal.SIGINT)
        rc, stdout, stderr = p.finish()
    assert rc == 130, (stdout, stderr)
    cases = report_of(out)["cases"]
    assert len(cases) == 2 and all(c["verdict_reason"].startswith("not run: interrupted by SIGINT")
                                   for c in cases), cases
    assert (out / "fixtures" / "location-b-key.pem").exists()


def test_timeout_abandons_unfinished_cases(harness, tmp_path):
    out = tmp_path / "out"
    with stalling() as port:
        r = run([harness, "run", stalled_scenario(tmp_path, port), "--out", out, "--jobs", "2",
                 "--timeout", "2", "--profiles", ROOT / "profiles"], timeout=STOP_BOUND_S + 30)
    assert r.returncode == 1, (r.stdout, r.stderr)
    report = report_of(out)
    assert report["timed_out"] is True and report["interrupted"] is False
    assert report["exit_code"] == 1 and len(report["cases"]) == 4
    for c in report["cases"]:
        assert c["verdict"] == "inconclusive"
        assert "run timed out" in c["verdict_reason"]
    assert "Timed out (--timeout): 4 cases did not finish" in (out / "report.md").read_text()
    assert "run: timed out" in r.stdout
    # A run that ends by itself (here: out of time) keeps its fixtures, as tests and docs rely on.
    assert (out / "fixtures").is_dir()


def test_out_not_empty_is_refused_unless_force(harness, tmp_path):
    out = tmp_path / "out"
    (out / "cases").mkdir(parents=True)
    (out / "cases" / "old.log").write_text("an earlier run\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the harness's\n")
    (out / "link").symlink_to(outside)
    args = [harness, "run", ROOT / "scenarios/federation.json", "--out", out, "--filter",
            "location-a/none/*"]
    r = run(args, timeout=120)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and "--force" in r.stderr and "not empty" in r.stderr
    assert (out / "cases" / "old.log").exists()
    r = run([*args, "--force"], timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert not (out / "cases" / "old.log").exists() and not (out / "link").exists()
    assert (outside / "keep.txt").exists()  # a symbolic link is removed, never followed
    assert (out / "report.json").exists()


def test_input_error_after_fixtures_leaves_no_keys(harness, tmp_path):
    """A baseline that is not a report is found after the fixtures and cases: nothing stays."""
    bad = tmp_path / "baseline.json"
    bad.write_text("{not json")
    out = tmp_path / "new" / "out"
    r = run([harness, "run", ROOT / "scenarios/federation.json", "--out", out, "--filter",
             "location-a/none/*", "--baseline", bad], timeout=120)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert not out.exists()
    assert private_keys(tmp_path) == []
    given = tmp_path / "given"
    given.mkdir()
    r = run([harness, "run", ROOT / "scenarios/federation.json", "--out", given, "--filter",
             "location-a/none/*", "--baseline", bad], timeout=120)
    assert r.returncode == 2
    assert given.is_dir() and list(given.iterdir()) == []  # the user's directory stays, emptied


@pytest.mark.parametrize("sig,code,name", [(signal.SIGINT, 130, "SIGINT"),
                                           (signal.SIGTERM, 143, "SIGTERM")])
def test_signal_stops_load_with_report_and_no_keys(harness, tmp_path, sig, code, name):
    out = tmp_path / "out"
    p = Proc(harness, "load", ROOT / "scenarios/federation.json", "--location", "location-a",
             "--connections", "4", "--threads", "1", "--duration", "60", "--out", out)
    p.wait_line("load:   1s")  # the run is under way
    p.p.send_signal(sig)
    rc, stdout, stderr = p.finish()
    assert rc == code, (stdout, stderr)
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] is True and report["signal"] == name
    c = report["counts"]
    assert c["started"] == c["accepted"] + c["rejected"] + sum(report["errors"].values())
    # The rate is over the time the run had, not over the 60 s it was asked for.
    elapsed = report["elapsed_s"]
    assert elapsed < 60
    done = c["accepted"] + c["rejected"]
    assert report["achieved_rate"] == pytest.approx(done / elapsed, rel=1e-3, abs=1e-3)
    assert f"Interrupted by {name}" in (out / "report.md").read_text()
    assert f"load: interrupted by {name}" in stdout
    # The console's rate too: over the time it ran (it once printed "in 60.0 s").
    m = re.search(rf"load: {done} handshakes in {elapsed:.1f} s: ([0-9.]+)/s", stdout)
    # The console prints one decimal (7.9/s for 7.944/s): the figure is the rate rounded to that.
    assert m and float(m.group(1)) == pytest.approx(done / elapsed, rel=5e-3, abs=0.051), stdout
    assert private_keys(tmp_path) == []


def test_signal_stops_load_against_stalling_target(harness, tmp_path):
    """Handshakes in flight at a target that never answers are abandoned, not waited for."""
    fx = tmp_path / "fx"
    out = tmp_path / "out"
    with stalling() as port:
        p = Proc(harness, "load", "--target", f"127.0.0.1:{port}", "--server-name",
                 "location-a.semstreams.local", "--ca", fx / "federation-ca.pem", "--identities-from",
                 ROOT / "fixtures/federation.json", "--fixtures", fx, "--connections", "4",
                 "--threads", "1", "--duration", "60", "--timeout-ms", "60000", "--out", out)
        p.wait_line("load:   1s")
        p.p.send_signal(signal.SIGINT)
        rc, stdout, stderr = p.finish()
    assert rc == 130, (stdout, stderr)
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] is True
    assert report["counts"]["started"] == 0  # the four in flight were abandoned, uncounted


def test_a_second_command_on_a_busy_out_is_refused_naming_the_first(harness, tmp_path):
    """Two commands on one --out once both ran, mixing their case logs and sharing fixtures: the
    directory is locked for the first command's life, the second is refused at once with the
    first's pid, and the lock ends with the first (also when it is killed)."""
    out = tmp_path / "out"
    with stalling() as port:
        scen = stalled_scenario(tmp_path, port, ("none",))
        p = Proc(harness, "run", scen, "--out", out, "--jobs", "1", "--profiles", ROOT / "profiles")
        p.wait_line("slowest running: stall/")
        for cmd in (["run", scen, "--out", out, "--force"],
                    ["load", ROOT / "scenarios/federation.json", "--location", "location-a",
                     "--duration", "1", "--out", out, "--force"]):
            r = run([harness, *cmd], timeout=30)
            assert r.returncode == 2, r.stdout + r.stderr
            assert r.stderr.startswith(f"mtls-harness {cmd[0]}: --out {out} is in use by another "
                                       f"mtls-harness (pid {p.p.pid}: "), r.stderr
            assert r.stderr.rstrip().endswith("wait for it to finish, or give another --out")
        assert (out / "fixtures").is_dir()  # the first one's, untouched
        p.p.kill()
        p.finish()
    r = run([harness, "run", scen, "--out", out, "--force", "--filter", "nothing"], timeout=30)
    assert "in use" not in r.stderr, r.stderr
