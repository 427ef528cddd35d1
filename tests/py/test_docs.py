"""Documentation keeps up with the code: every spec key is documented, the README shows the two
set-up commands first."""
import re

from conftest import ROOT


def test_every_accepted_spec_key_is_documented(mh):
    r = mh("pki", "--list-keys")
    assert r.returncode == 0
    keys = r.stdout.split()
    assert len(keys) > 30 and "$.identities[].eku[]" in keys and "$.zips[].members[]" in keys
    doc = (ROOT / "docs/pki-spec.md").read_text()
    missing = [k for k in keys if f"`{k}`" not in doc]
    assert not missing, f"undocumented spec keys: {missing}"


def test_documented_keys_exist():
    """The reverse direction: docs must not describe keys the parser would reject."""
    from conftest import harness_path, run
    keys = set(run([harness_path(), "pki", "--list-keys"]).stdout.split())
    doc = (ROOT / "docs/pki-spec.md").read_text()
    documented = set(re.findall(r"`(\$\.[A-Za-z_\[\]\.{},]+)`", doc))
    assert documented and documented <= keys, documented - keys


def test_readme_shows_the_two_commands_first():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert blocks, "README has no command block"
    first = [l.strip() for l in blocks[0].splitlines() if l.strip() and not l.startswith("#")]
    assert first == ["scripts/quickstart", "scripts/test"], first


def test_every_scenario_key_is_documented(mh):
    r = mh("check", "--list-keys")
    assert r.returncode == 0
    keys = r.stdout.split()
    assert "$.locations.*.config" in keys and "$.locations.*.nginx.dn_regex" in keys
    doc = (ROOT / "docs/scenarios.md").read_text() + (ROOT / "docs/runner.md").read_text()
    missing = [k for k in keys if f"`{k}`" not in doc]
    assert not missing, f"undocumented scenario keys: {missing}"


def test_design_names_every_source_file_with_its_concern():
    """docs/design.md's file table lists every .c file of harness/, and no file that is gone."""
    doc = (ROOT / "docs/design.md").read_text()
    listed = set(re.findall(r"^\| `([a-z_/]+\.c)`", doc, re.M))
    sources = {str(p.relative_to(ROOT / "harness")) for p in (ROOT / "harness").rglob("*.c")}
    assert sources - listed == set(), f"files missing from docs/design.md: {sources - listed}"
    assert listed - sources == set(), f"docs/design.md lists files that are gone: {listed - sources}"
