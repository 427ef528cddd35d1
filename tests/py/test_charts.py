"""mtls-harness load's charts: drawn by Debian's gnuplot, each shipped as <name>.dat (plain columns
under a header comment), <name>.gp (its gnuplot script) and <name>.svg. The data must agree with
report.json, the pictures must parse and label their axes, the scripts must draw them again, and
without gnuplot the reports must still come out and say so."""
import json
import re
import os
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT, free_port, run

SVG = "{http://www.w3.org/2000/svg}"
GNUPLOT = shutil.which("gnuplot")
needs_gnuplot = pytest.mark.skipif(GNUPLOT is None, reason="gnuplot is not installed "
                                   "(scripts/deps installs gnuplot-nox)")

# What each picture must say: its axes' labels and the words of its legend.
LABELS = {
    "load": ["seconds since the start", "handshakes/s", "latency (ms)", "accepted/s",
             "rejected/s", "p50 of the second", "p99 of the second"],
    "percentiles": ["percentile", "latency (ms)", "50%", "90%", "99%", "99.9%", "99.99%",
                    "total, accepted", "total, rejected", "TCP connect", "TLS handshake (full)",
                    "first server record"],
    "sweep": ["offered (handshakes/s)", "achieved (handshakes/s)", "p99 (ms)", "p99 limit 500 ms",
              "chosen: "],
}


def load(harness, out, *args, env=None):
    r = subprocess.run([str(a) for a in [harness, "load", *args, "--out", out, "--quiet"]],
                       capture_output=True, text=True, timeout=120, env=env)
    rep = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else None
    return r, rep


def read_dat(path):
    """The rows of a .dat file and the column names of its last header comment line."""
    names, rows = None, []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            names = line[1:].split()
        elif line.strip():
            rows.append(dict(zip(names, [None if v == "?" else float(v) for v in line.split()])))
    assert names and all(len(r) == len(names) for r in rows), path
    return rows


def svg_texts(path):
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg"
    return ["".join(t.itertext()).strip() for t in root.iter(SVG + "text")]


def check_picture(out, name):
    texts = svg_texts(out / f"{name}.svg")
    for label in LABELS[name]:
        assert any(label in t for t in texts), (name, label, texts)
    # The title names the target (its server name and address) and the run, not a port.
    assert any("location-a.semstreams.local at 127.0.0.1" in t for t in texts), texts
    assert any("TLS 1.3" in t for t in texts), texts


def open_loop(harness, out, env=None):
    # 2.5 s: the third second is partial, and its rates must be normalised by its half second.
    return load(harness, out, ROOT / "scenarios/federation.json", "--location", "location-a",
                "--rate", "100", "--duration", "2.5", "--bad-share", "0.2", "--threads", "2",
                env=env)


@needs_gnuplot
def test_every_chart_is_drawn_and_its_data_matches_the_report(harness, tmp_path):
    out = tmp_path / "out"
    r, rep = open_loop(harness, out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "charts not drawn" not in r.stderr
    for name in ("load", "percentiles"):
        for ext in ("dat", "gp", "svg"):
            assert (out / f"{name}.{ext}").is_file(), f"{name}.{ext}"
        check_picture(out, name)
    assert not (out / "sweep.svg").exists() and not (out / "sweep.dat").exists()
    md = (out / "report.md").read_text()
    assert "](load.svg)" in md and "](percentiles.svg)" in md and "Charts not drawn" not in md

    # Per second: the counts add up to the run's; a partial second's rate is per its length.
    secs = read_dat(out / "load.dat")
    assert len(secs) == len(rep["seconds"])
    for key in ("accepted", "rejected", "errors"):
        assert sum(s[key] for s in secs) == rep["counts"][key], key
        assert [s[key] for s in secs] == [x[key] for x in rep["seconds"]], key
    for s in secs:
        if s["span_s"]:
            assert s["accepted_per_s"] == pytest.approx(s["accepted"] / s["span_s"], abs=0.051)
        else:
            assert s["accepted_per_s"] is None
    assert [s["span_s"] for s in secs[:3]] == [1.0, 1.0, 0.5]
    # Every plotted line lies inside its panel, a steady rate's too (not on the frame's top).
    tops = [float(x) for x in re.findall(r"set yrange \[0:([0-9.e+]+)\]", (out / "load.gp").read_text())]
    rates = [s[k] for s in secs for k in ("accepted_per_s", "rejected_per_s", "errors_per_s")
             if s[k] is not None]
    rates += [s["accepted_per_s"] + s["rejected_per_s"] + s["errors_per_s"] for s in secs
              if s["span_s"] and s["span_s"] < 0.999]
    p99s = [s["p99_ms"] for s in secs if s["p99_ms"] is not None]
    assert len(tops) == 2 and tops[0] >= 1.1 * max(rates) and tops[1] >= 1.1 * max(p99s), tops

    # By percentile: from the histograms, so the labelled percentiles are report.json's values.
    rows = {r["percentile"]: r for r in read_dat(out / "percentiles.dat")}
    for p, key in ((50, "p50_us"), (90, "p90_us"), (99, "p99_us"), (99.9, "p999_us")):
        for phase, h in rep["latency"].items():
            value = rows[p][f"{phase}_ms"]
            if h["count"] == 0:
                assert value is None, phase
            else:
                assert round(value * 1000) == h[key], (phase, p)
    assert rows[50]["x"] == 2 and rows[99]["x"] == pytest.approx(100)
    values = [r["total_accepted_ms"] for r in read_dat(out / "percentiles.dat")]
    # (ms with 3 decimals back to us: 8.153 * 1000 is 8153.000000000001 in floating point)
    assert values == sorted(values)
    assert round(values[-1] * 1000) <= rep["latency"]["total_accepted"]["max_us"]


@needs_gnuplot
def test_the_scripts_draw_the_pictures_again(harness, tmp_path):
    out = tmp_path / "out"
    r, _ = open_loop(harness, out)
    assert r.returncode == 0, r.stdout + r.stderr
    again = tmp_path / "again"
    again.mkdir()
    for name in ("load", "percentiles"):
        for ext in ("dat", "gp"):
            shutil.copy(out / f"{name}.{ext}", again)
        g = run([GNUPLOT, f"{name}.gp"], cwd=again, timeout=60)
        assert g.returncode == 0, g.stderr
        assert svg_texts(again / f"{name}.svg") == svg_texts(out / f"{name}.svg")


@needs_gnuplot
def test_the_sweep_chart_shows_the_limit_and_the_chosen_rate(sweep_run):
    r, rep, out = sweep_run
    assert r.returncode == 0, r.stdout + r.stderr
    for ext in ("dat", "gp", "svg"):
        assert (out / f"sweep.{ext}").is_file()
    check_picture(out, "sweep")
    steps = read_dat(out / "sweep.dat")
    assert [(s["offered"], s["achieved"], s["sustained"]) for s in steps] == [
        (x["offered"], x["achieved"], float(x["sustained"])) for x in rep["sweep"]["steps"]]
    assert [round(s["p99_ms"] * 1000) for s in steps] == [x["p99_us"] for x in rep["sweep"]["steps"]]
    assert f"chosen: {rep['sweep']['sustainable_rate']:g} hs/s" in " ".join(
        svg_texts(out / "sweep.svg"))
    assert "](sweep.svg)" in (out / "report.md").read_text()


def fake_path(tmp_path, script=None):
    """A PATH of one directory: empty, or holding a fake gnuplot running |script| (sh)."""
    d = tmp_path / "bin"
    d.mkdir()
    if script is not None:
        g = d / "gnuplot"
        g.write_text("#!/bin/sh\n" + script)
        g.chmod(g.stat().st_mode | stat.S_IXUSR)
    return dict(os.environ, PATH=str(d))


@pytest.mark.parametrize("script, why", [
    (None, "gnuplot is not on PATH (Debian: apt-get install gnuplot-nox)"),
    ("echo 'line 1: something broke' >&2\nexit 3\n", "failed (exit status 3): line 1: something"),
    ("exit 0\n", "gnuplot wrote no load.svg"),
])
def test_without_a_working_gnuplot_the_reports_still_come_out(harness, tmp_path, script, why):
    out = tmp_path / "out"
    r, rep = open_loop(harness, out, env=fake_path(tmp_path, script))
    # The exit code is the run's, whatever happened to the pictures.
    assert r.returncode == 0, r.stdout + r.stderr
    assert rep["counts"]["accepted"] > 0
    lines = [l for l in r.stderr.splitlines() if "charts not drawn" in l]
    assert len(lines) == 1 and why in lines[0], r.stderr
    md = (out / "report.md").read_text()
    assert md.count("Charts not drawn: ") == 1 and "gnuplot load.gp" in md and ".svg)" not in md
    # The data and scripts are there to draw them later; no picture, no leftover temporary file.
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == [
        "load.dat", "load.gp", "percentiles.dat", "percentiles.gp", "report.json", "report.md"]


@needs_gnuplot
def test_a_run_with_no_handshake_still_draws_its_charts(harness, tmp_path):
    fx = tmp_path / "fx"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    out = tmp_path / "out"
    # A server name that a gnuplot script must not act on: quotes, a backquote, a macro.
    r, rep = load(harness, out, "--target", f"127.0.0.1:{free_port()}", "--server-name",
                  "it's`touch pwned`@x<&>", "--ca", fx / "federation-ca.pem",
                  "--identities-from", ROOT / "fixtures/federation.json", "--fixtures", fx,
                  "--identity", "location-b", "--rate", "50", "--duration", "1")
    assert r.returncode == 1 and rep["counts"]["accepted"] == 0, r.stdout + r.stderr
    assert "charts not drawn" not in r.stderr
    texts = " ".join(svg_texts(out / "percentiles.svg"))
    assert "it's`touch pwned`@x<&> at 127.0.0.1" in texts
    assert not (out / "pwned").exists() and not (tmp_path / "pwned").exists()
    svg_texts(out / "load.svg")
