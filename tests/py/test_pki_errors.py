"""Bad fixture specs: one line naming file, JSON path and fix; exit 2; nothing written."""
import json

import pytest

from conftest import ROOT

CA = {"name": "root"}


def spec(**kw):
    d = {"cas": [CA], "identities": [{"name": "leaf", "ca": "root"}]}
    d.update(kw)
    return json.dumps(d)


CASES = [
    ("unknown-key-type",
     spec(identities=[{"name": "leaf", "ca": "root", "key": "rsa-1024"}]),
     '$.identities[0].key: unknown key type "rsa-1024" (use one of: ecdsa-p256'),
    ("missing-ca",
     spec(identities=[{"name": "leaf", "ca": "root-ca"}]),
     '$.identities[0].ca: names a missing CA "root-ca" (declared CAs: root)'),
    ("bad-duration",
     spec(identities=[{"name": "leaf", "ca": "root", "not_after": "3 months"}]),
     '$.identities[0].not_after: bad duration "3 months" (use a signed offset'),
    ("malformed", '{"cas": [{"name": "root"}],\n "identities": [}\n',
     "$: malformed JSON at line 2, column"),
    ("unknown-field",
     spec(identities=[{"name": "leaf", "ca": "root", "dsn": ["x"]}]),
     "$.identities[0].dsn: unknown key (see docs/pki-spec.md"),
    ("ca-key-in-zip",
     spec(zips=[{"file": "z.zip", "members": ["root-key.pem"]}]),
     "a CA key never goes into a zip"),
]


@pytest.mark.parametrize("name,text,want", CASES, ids=[c[0] for c in CASES])
def test_bad_spec(mh, tmp_path, name, text, want):
    path = tmp_path / f"{name}.json"
    path.write_text(text)
    out = tmp_path / "out"
    r = mh("pki", path, "--out", out)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"{path}: $"), lines[0]
    assert want in lines[0], lines[0]
    assert not out.exists()


def test_missing_spec_file(mh, tmp_path):
    r = mh("pki", tmp_path / "nope.json", "--out", tmp_path / "out")
    assert r.returncode == 2
    assert r.stderr.strip() == f"{tmp_path}/nope.json: no such file (check the path of the spec)"
    assert not (tmp_path / "out").exists()


def test_unwritable_output_leaves_nothing(mh, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = mh("pki", ROOT / "fixtures/federation.json", "--out", blocker / "sub")
    assert r.returncode == 2
    assert "not a directory" in r.stderr
    assert blocker.read_text() == "x"


def test_failure_after_generation_leaves_existing_tree_untouched(mh, tmp_path):
    """A CA key of the wrong type is found only while generating: nothing may change."""
    spec_path = tmp_path / "s.json"
    spec_path.write_text(spec())
    out = tmp_path / "out"
    assert mh("pki", spec_path, "--out", out).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    spec_path.write_text(spec(cas=[{"name": "root", "key": "rsa-2048"}]))
    r = mh("pki", spec_path, "--out", out)
    assert r.returncode == 2
    assert "existing CA key is ecdsa-p256 but $.cas[0].key asks for rsa-2048" in r.stderr
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
