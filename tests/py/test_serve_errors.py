"""serve's input errors: one line on stderr naming what is valid, exit 2, nothing served."""
from conftest import ROOT


def test_an_unknown_outage_location_lists_the_valid_ones(mh, tmp_path):
    scenario = ROOT / "scenarios/federation.json"
    r = mh("serve", scenario, "--ephemeral-ports", "--fixtures", tmp_path / "fixtures",
           "--events", tmp_path / "events.jsonl", "--for", "5", "--threads", "2",
           "--outage", "nosuch:1:2")
    assert r.returncode == 2, r.stderr
    assert r.stderr == (f'--outage: no location "nosuch" in {scenario} '
                        "(its locations: location-a, location-b, location-c)\n")
    assert "serve: ready" not in r.stdout


def test_a_malformed_outage_is_refused_before_anything_is_generated(mh, tmp_path):
    r = mh("serve", ROOT / "scenarios/federation.json", "--ephemeral-ports", "--fixtures",
           tmp_path / "fixtures", "--events", tmp_path / "events.jsonl", "--outage", "location-a:1")
    assert r.returncode == 2
    assert r.stderr == "--outage location-a:1: expected LOCATION:START_SECONDS:DURATION_SECONDS\n"
    assert not (tmp_path / "fixtures").exists()
    assert not (tmp_path / "events.jsonl").exists()
