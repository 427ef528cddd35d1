"""The fixtures cache (docs/pki-spec.md, "The fixtures cache"): a run whose spec and imported files
have not changed writes the fixtures it generated before instead of generating keys again; an entry
that was edited, expired or made from another spec is not used; the cache is private to its user."""
import hashlib
import json
import os
import pathlib
import shutil
import stat
import subprocess

from conftest import ROOT, federation

FILTER = "location-a/*"  # a few cases: the fixtures are what is tested


def scenario_with_spec(tmp_path, edit=None):
    """The federation scenario with a copy of its fixture spec in |tmp_path| (|edit| applied)."""
    spec = json.loads((ROOT / "fixtures/federation.json").read_text())
    if edit is not None:
        edit(spec)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    doc = federation()
    doc["fixtures"] = str(spec_file)
    scen = tmp_path / "scenario.json"
    scen.write_text(json.dumps(doc))
    return scen


def run(mh, scen, out, cache, *extra):
    r = mh("run", scen, "--out", out, "--filter", FILTER, "--fixtures-cache", cache, *extra,
           timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def files(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def entries(cache):
    return sorted(p for p in cache.iterdir() if not p.name.startswith(".")) if cache.exists() else []


def test_an_unchanged_spec_reuses_its_fixtures_byte_for_byte(mh, tmp_path):
    cache = tmp_path / "cache"
    scen = scenario_with_spec(tmp_path)
    run(mh, scen, tmp_path / "one", cache)
    first = files(tmp_path / "one/fixtures")
    assert any(k.endswith("-key.pem") for k in first)
    run(mh, scen, tmp_path / "two", cache)
    second = files(tmp_path / "two/fixtures")
    # The same keys and certificates (serials are random: a regeneration would differ) ...
    assert second == first
    # ... with the modes they were generated with, and the cache private to the user.
    for name in first:
        mode = stat.S_IMODE(os.stat(tmp_path / "two/fixtures" / name).st_mode)
        assert mode == stat.S_IMODE(os.stat(tmp_path / "one/fixtures" / name).st_mode), name
        if name.endswith("-key.pem"):
            assert mode == 0o600, name
    [entry] = entries(cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(entry.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in entry.iterdir())
    # Without the cache, keys are generated again.
    run(mh, scen, tmp_path / "three", cache, "--no-fixtures-cache")
    third = files(tmp_path / "three/fixtures")
    assert third.keys() == first.keys()
    assert third["location-a-key.pem"] != first["location-a-key.pem"]


def test_an_edited_cache_file_is_refused_and_replaced(mh, tmp_path):
    cache = tmp_path / "cache"
    scen = scenario_with_spec(tmp_path)
    run(mh, scen, tmp_path / "one", cache)
    [entry] = entries(cache)
    manifest = (entry / "manifest").read_text().splitlines()
    index = next(i for i, line in enumerate(manifest[3:]) if line.endswith(" location-a-cert.pem"))
    victim = entry / str(index)
    edited = victim.read_bytes().replace(b"A", b"B", 1)
    victim.write_bytes(edited)
    r = run(mh, scen, tmp_path / "two", cache)
    assert "a file of it was modified" in r.stderr and "generated again" in r.stderr, r.stderr
    one, two = files(tmp_path / "one/fixtures"), files(tmp_path / "two/fixtures")
    assert two["location-a-cert.pem"] != one["location-a-cert.pem"]
    assert two["location-a-cert.pem"] != edited  # not the edited copy either
    # The entry now holds the new fixtures, and a third run takes them without a warning.
    r = run(mh, scen, tmp_path / "three", cache)
    assert "warning" not in r.stderr, r.stderr
    assert files(tmp_path / "three/fixtures") == two


def test_a_cache_open_to_others_is_not_used(mh, tmp_path):
    cache = tmp_path / "cache"
    scen = scenario_with_spec(tmp_path)
    run(mh, scen, tmp_path / "one", cache)
    [entry] = entries(cache)
    os.chmod(entry / "manifest", 0o644)
    r = run(mh, scen, tmp_path / "two", cache)
    assert "not private to this user" in r.stderr, r.stderr
    assert files(tmp_path / "two/fixtures") != files(tmp_path / "one/fixtures")


def rewrite_manifest(entry, field, value):
    """Sets |field| of |entry|'s manifest and its closing checksum, as the harness writes them."""
    lines = (entry / "manifest").read_text().splitlines(keepends=True)
    body = [f"{field} {value}\n" if line.startswith(field + " ") else line for line in lines[:-1]]
    text = "".join(body)
    (entry / "manifest").write_text(text + "end " + hashlib.sha256(text.encode()).hexdigest() + "\n")


def test_an_expired_entry_is_generated_again_without_a_warning(mh, tmp_path):
    cache = tmp_path / "cache"
    scen = scenario_with_spec(tmp_path)
    run(mh, scen, tmp_path / "one", cache)
    [entry] = entries(cache)
    lines = (entry / "manifest").read_text().splitlines()
    generated = int(lines[1].split()[1])
    until = int(lines[2].split()[1])
    # At most a day; the spec's relative dates all lie further out than that.
    assert 0 < until - generated <= 86400
    rewrite_manifest(entry, "valid_until", generated)
    r = run(mh, scen, tmp_path / "two", cache)
    assert "warning" not in r.stderr, r.stderr
    assert files(tmp_path / "two/fixtures") != files(tmp_path / "one/fixtures")


def test_a_certificate_that_changes_status_bounds_the_entry(mh, tmp_path):
    """A certificate valid from an hour ahead is "not yet valid" only for that hour: the entry ends
    then, as its verdicts would change."""
    def edit(spec):
        spec["identities"].append({"name": "future", "subject": {"CN": "future"},
                                   "not_before": "+1h"})
    cache = tmp_path / "cache"
    run(mh, scenario_with_spec(tmp_path, edit), tmp_path / "one", cache)
    [entry] = entries(cache)
    lines = (entry / "manifest").read_text().splitlines()
    assert int(lines[2].split()[1]) - int(lines[1].split()[1]) == 3600


def test_another_spec_or_imported_file_is_another_entry(mh, tmp_path):
    cache = tmp_path / "cache"
    run(mh, scenario_with_spec(tmp_path), tmp_path / "one", cache)

    def edit(spec):
        spec["identities"][0]["subject"]["O"] = "Another Org"
    (tmp_path / "edited").mkdir()
    run(mh, scenario_with_spec(tmp_path / "edited", edit), tmp_path / "two", cache)
    assert len(entries(cache)) == 2
    one, two = files(tmp_path / "one/fixtures"), files(tmp_path / "two/fixtures")
    assert one["location-a-key.pem"] != two["location-a-key.pem"]

    # An imported CA: the entry follows the file's contents, not its name.
    imp = tmp_path / "imported"
    imp.mkdir()
    shutil.copy(tmp_path / "one/fixtures/untrusted-ca.pem", imp / "ca.pem")
    shutil.copy(tmp_path / "one/fixtures/untrusted-ca-key.pem", imp / "ca-key.pem")

    def imported(spec):
        i = next(i for i, c in enumerate(spec["cas"]) if c["name"] == "untrusted-ca")
        spec["cas"][i] = {"name": "untrusted-ca", "import_cert": str(imp / "ca.pem"),
                          "import_key": str(imp / "ca-key.pem")}
    run(mh, scenario_with_spec(imp, imported), tmp_path / "three", cache)
    run(mh, scenario_with_spec(imp, imported), tmp_path / "four", cache)
    assert len(entries(cache)) == 3
    assert files(tmp_path / "four/fixtures") == files(tmp_path / "three/fixtures")
    shutil.copy(tmp_path / "two/fixtures/untrusted-ca.pem", imp / "ca.pem")
    shutil.copy(tmp_path / "two/fixtures/untrusted-ca-key.pem", imp / "ca-key.pem")
    run(mh, scenario_with_spec(imp, imported), tmp_path / "five", cache)
    assert len(entries(cache)) == 4


def test_a_cache_that_cannot_be_written_is_a_warning_not_a_failure(mh, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    r = run(mh, scenario_with_spec(tmp_path), tmp_path / "one", blocker / "cache")
    assert "fixtures cache" in r.stderr and "is not used: Not a directory" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert (tmp_path / "one/fixtures/location-a-key.pem").exists()
    if os.geteuid() == 0:  # another user's cache: neither read nor written
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        shutil.chown(theirs, "nobody")
        r = run(mh, scenario_with_spec(tmp_path), tmp_path / "two", theirs)
        assert "is not used: owned by uid" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert list(theirs.iterdir()) == []


def test_load_and_serve_take_the_same_entry(mh, tmp_path):
    """`load --location` generates the scenario's fixtures too: from the entry `run` made."""
    cache = tmp_path / "cache"
    scen = scenario_with_spec(tmp_path)
    run(mh, scen, tmp_path / "one", cache)
    r = mh("load", scen, "--location", "location-a", "--connections", "1", "--duration", "0.2",
           "--out", tmp_path / "load", "--keep-fixtures", "--fixtures-cache", cache, "--quiet",
           timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert files(tmp_path / "load/fixtures") == files(tmp_path / "one/fixtures")
    assert len(entries(cache)) == 1
    r = mh("serve", scen, "--fixtures", tmp_path / "served", "--ephemeral-ports", "--for", "0.2",
           "--quiet", "--events", tmp_path / "events.jsonl", "--fixtures-cache", cache, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert files(tmp_path / "served") == files(tmp_path / "one/fixtures")


def test_the_default_cache_is_under_the_users_cache_home(harness, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MH_FIXTURES_CACHE"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    r = subprocess.run([str(harness), "run", str(scenario_with_spec(tmp_path)), "--out",
                        str(tmp_path / "one"), "--filter", FILTER], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert len(entries(pathlib.Path(tmp_path / "xdg/mtls-harness/fixtures"))) == 1
    env["MH_FIXTURES_CACHE"] = "off"
    r = subprocess.run([str(harness), "run", str(scenario_with_spec(tmp_path)), "--out",
                        str(tmp_path / "two"), "--filter", FILTER], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert files(tmp_path / "two/fixtures")["location-a-key.pem"] != \
        files(tmp_path / "one/fixtures")["location-a-key.pem"]
