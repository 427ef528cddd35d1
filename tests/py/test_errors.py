"""Errors about the files the harness reads name the file, what is wrong and the fix, on one line,
exit 2, and leave nothing half-written: keys, certificates and CA files (a scenario's, an
imported one, --ca, an --identity's), profiles and baselines."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT, free_port, run


@pytest.fixture(scope="module")
def fx(harness, tmp_path_factory):
    d = tmp_path_factory.mktemp("fx") / "fx"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", d]).returncode == 0
    return d


def one_line(r, *parts):
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for p in parts:
        assert p in lines[0], lines[0]
    return lines[0]


def der_of(pem, tool):
    return subprocess.run(["openssl", tool, "-in", str(pem), "-outform", "der"], check=True,
                          capture_output=True).stdout


def spoil(kind, path, fx, key=True):
    """Makes |path| the bad file |kind|; returns the words its message must hold."""
    good = fx / ("location-a-key.pem" if key else "location-a-cert.pem")
    if kind == "directory":
        path.mkdir()
        return ["is a directory", "give the file itself"]
    if kind == "empty":
        path.write_bytes(b"")
        path.chmod(0o600)
        return ["is empty"]
    if kind == "der":
        path.write_bytes(der_of(good, "pkey" if key else "x509"))
        path.chmod(0o600)
        return ["is DER", f"openssl {'pkey' if key else 'x509'} -inform der -in {path}"]
    if kind == "not_pem":
        path.write_text("hello\n")
        path.chmod(0o600)
        return ["is not PEM"]
    if kind == "encrypted":
        subprocess.run(["openssl", "pkey", "-in", str(good), "-aes256", "-passout", "pass:x",
                        "-out", str(path)], check=True)
        path.chmod(0o600)
        return ["is encrypted", f"openssl pkey -in {path} -out plain-key.pem",
                "docs/pki-spec.md"]
    if kind == "mode":
        shutil.copy(good, path)
        path.chmod(0o644)
        return ["readable by group or others (mode 0644)", f"chmod 600 {path}"]
    if kind == "cert_as_key":
        shutil.copy(fx / "location-a-cert.pem", path)
        path.chmod(0o600)
        return ["holds no private key, only a certificate"]
    raise AssertionError(kind)


KEY_KINDS = ["directory", "empty", "der", "not_pem", "encrypted", "mode", "cert_as_key"]


def mock_scenario(tmp_path, cert="/certs/location-a-cert.pem", key="/certs/location-a-key.pem",
                  ca="/certs/federation-ca.pem"):
    """tier2-mtls with location-a's files replaced (relative paths: next to the scenario)."""
    s = json.loads((ROOT / "scenarios/tier2-mtls.json").read_text())
    s["fixtures"] = str(ROOT / "fixtures/federation.json")
    srv = s["locations"]["location-a"]["config"]["security"]["tls"]["server"]
    srv["cert_file"], srv["key_file"] = cert, key
    srv["mtls"]["client_ca_files"] = [ca]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(s))
    return path


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_a_scenario_key_file_is_checked_by_check_serve_and_run(mh, tmp_path, fx, kind):
    want = spoil(kind, tmp_path / "bad.key", fx)
    s = mock_scenario(tmp_path, key="bad.key")
    line = one_line(mh("check", s, "--fixtures", fx), f"{tmp_path}/bad.key: ", *want)
    assert "$.locations" in line and "key_file" in line
    one_line(mh("serve", s, "--fixtures", fx, "--ephemeral-ports", "--for", "1"), *want)
    one_line(mh("run", s, "--out", tmp_path / "out"), *want)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["directory", "empty", "der", "not_pem"])
def test_a_scenario_ca_and_cert_file_are_checked(mh, tmp_path, fx, kind):
    want = spoil(kind, tmp_path / "ca.pem", fx, key=False)
    one_line(mh("check", mock_scenario(tmp_path, ca="ca.pem"), "--fixtures", fx), *want)
    if kind == "directory":
        one_line(mh("check", mock_scenario(tmp_path, ca="ca.pem"), "--fixtures", fx),
                 "cat DIR/*.pem > ca.pem")
    want = spoil(kind, tmp_path / "c.pem", fx, key=False)
    one_line(mh("check", mock_scenario(tmp_path, cert="c.pem"), "--fixtures", fx), *want)


def test_a_key_that_does_not_match_its_certificate_names_both(mh, tmp_path, fx):
    shutil.copy(fx / "location-c-key.pem", tmp_path / "other.key")
    (tmp_path / "other.key").chmod(0o600)
    s = mock_scenario(tmp_path, key="other.key")
    one_line(mh("serve", s, "--fixtures", fx, "--ephemeral-ports", "--for", "1"),
             f"{tmp_path}/other.key: the private key does not belong to the certificate "
             f"{fx}/location-a-cert.pem", "openssl x509 -noout -pubkey")


def load_target(mh, tmp_path, fx, ca):
    return mh("load", "--target", f"127.0.0.1:{free_port()}", "--server-name",
              "location-a.semstreams.local", "--ca", ca, "--identities-from",
              ROOT / "fixtures/federation.json", "--fixtures", fx, "--identity", "location-b",
              "--connections", "1", "--duration", "1", "--out", tmp_path / "out", "--quiet")


@pytest.mark.parametrize("kind", ["directory", "empty", "der", "not_pem"])
def test_load_ca_file(mh, tmp_path, fx, kind):
    want = spoil(kind, tmp_path / "ca.pem", fx, key=False)
    one_line(load_target(mh, tmp_path, fx, tmp_path / "ca.pem"), f"{tmp_path}/ca.pem: ", *want)
    assert not (tmp_path / "out").exists()


def load_imported(mh, tmp_path, fx, key):
    """load --target with --identities-from a spec that imports location-b's certificate and |key|
    (load generates the identities of a spec, so an operator's key reaches it as an import)."""
    spec = tmp_path / "ids.json"
    spec.write_text(json.dumps({"identities": [
        {"name": "location-b", "import_cert": str(fx / "location-b-cert.pem"),
         "import_key": str(key)}]}))
    return mh("load", "--target", f"127.0.0.1:{free_port()}", "--server-name",
              "location-a.semstreams.local", "--ca", fx / "federation-ca.pem", "--identities-from",
              spec, "--fixtures", tmp_path / "fx", "--identity", "location-b", "--connections",
              "1", "--duration", "1", "--out", tmp_path / "out", "--quiet")


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_load_identity_key(mh, tmp_path, fx, kind):
    want = spoil(kind, tmp_path / "b.key", fx)
    if kind == "encrypted":
        want = ["is encrypted", "passphrase_file"]  # an import can give its passphrase
    one_line(load_imported(mh, tmp_path, fx, tmp_path / "b.key"), "$.identities[0].import_key",
             *want)
    assert not (tmp_path / "out").exists()


def test_load_identity_key_that_does_not_match(mh, tmp_path, fx):
    one_line(load_imported(mh, tmp_path, fx, fx / "location-c-key.pem"),
             "does not belong to the certificate", f"{fx}/location-b-cert.pem")


@pytest.mark.parametrize("kind", ["mode", "der", "directory", "empty"])
def test_an_imported_key_is_checked(mh, tmp_path, fx, kind):
    want = spoil(kind, tmp_path / "b.key", fx)
    shutil.copy(fx / "location-a-cert.pem", tmp_path / "b.pem")
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"identities": [
        {"name": "b", "import_cert": str(tmp_path / "b.pem"), "import_key": str(tmp_path / "b.key")}]}))
    one_line(mh("pki", spec, "--out", tmp_path / "out"), "$.identities[0].import_key: ", *want)
    assert not (tmp_path / "out").exists()


def test_profiles_and_baselines(mh, tmp_path):
    s = ROOT / "scenarios/federation.json"
    empty, isdir = tmp_path / "empty", tmp_path / "isdir"
    empty.mkdir()
    (empty / "semstreams.json").write_text("")
    (isdir / "semstreams.json").mkdir(parents=True)
    one_line(mh("run", s, "--profiles", empty, "--out", tmp_path / "out"),
             f"{empty}/semstreams.json: the profile is empty")
    one_line(mh("run", s, "--profiles", isdir, "--out", tmp_path / "out"),
             f"{isdir}/semstreams.json: is a directory")
    one_line(mh("run", s, "--baseline", empty / "semstreams.json", "--out", tmp_path / "out"),
             f"{empty}/semstreams.json: the baseline report is empty")
    one_line(mh("run", s, "--baseline", isdir, "--out", tmp_path / "out"), f"{isdir}: is a directory")
    # What `run` leaves behind after an error found once the fixtures are generated is issue 14
    # part C's (no keys left behind), not asserted here.


@pytest.fixture
def open_dir():
    """A directory user nobody can traverse (pytest's tmp_path is 0700 root)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="mh-errs-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d)


def nobodys_copy(harness, d):
    """The binary and the libraries it loads from inside the checkout (the full-speed BoringSSL,
    by RUNPATH) copied into |d|, where user nobody can reach them: a clone may sit in a 0700
    directory (mktemp -d). Returns the binary and the environment that loads the copies, without
    the session's fixtures cache (root's: nobody's run would warn that it cannot use it)."""
    lib = d / "lib"
    lib.mkdir(parents=True)
    ldd = subprocess.run(["ldd", str(harness)], capture_output=True, text=True, check=True).stdout
    for m in re.finditer(r"=> (\S+)", ldd):
        so = pathlib.Path(m.group(1))
        if ROOT in so.parents:
            shutil.copy(so, lib / so.name)
    exe = d / "mtls-harness"
    shutil.copy(harness, exe)
    for f in [d, lib, exe, *lib.iterdir()]:
        f.chmod(0o755)
    return exe, {**os.environ, "LD_LIBRARY_PATH": str(lib), "MH_FIXTURES_CACHE": "off"}


def test_an_unreadable_file_says_who_must_read_it(harness, fx, open_dir):
    if os.geteuid() != 0:
        pytest.skip("needs root to run the harness as another user")
    harness, env = nobodys_copy(harness, open_dir / "bin")
    shutil.copy(fx / "federation-ca.pem", open_dir / "ca.pem")
    (open_dir / "ca.pem").chmod(0o600)  # root's: nobody cannot read it
    mine = open_dir / "fx"
    shutil.copytree(fx, mine)
    shutil.chown(mine, "nobody")
    for f in mine.iterdir():
        shutil.chown(f, "nobody")
    shutil.copy(ROOT / "fixtures/federation.json", open_dir / "spec.json")
    (open_dir / "spec.json").chmod(0o644)
    r = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(harness), "load",
         "--target", f"127.0.0.1:{free_port()}", "--server-name", "location-a.semstreams.local",
         "--ca", str(open_dir / "ca.pem"), "--identities-from", str(open_dir / "spec.json"),
         "--fixtures", str(mine), "--identity", "location-b", "--connections", "1", "--duration",
         "1", "--out", str(open_dir / "out"), "--quiet"],
        capture_output=True, text=True, timeout=60, env=env)
    one_line(r, f"{open_dir}/ca.pem: cannot read the CA: permission denied",
             "run as a user that can read it, or chmod")
    assert not (open_dir / "out").exists()


def test_a_fifo_as_scenario_baseline_or_profile_is_refused_at_once(mh, tmp_path):
    """A FIFO (or any file that is not a regular one) once made check hang and run block after its
    cases with SIGINT ignored; now each is a one-line error, at once."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    s = ROOT / "scenarios/federation.json"
    want = f"{fifo}: is a FIFO (a pipe), which may never end, not a"
    one_line(mh("check", fifo, timeout=10), want + " scenario file")
    one_line(mh("run", fifo, "--out", tmp_path / "out", timeout=10), want + " scenario file")
    one_line(mh("run", s, "--baseline", fifo, "--out", tmp_path / "out", timeout=60),
             want + " baseline report file")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    os.mkfifo(profiles / "semstreams.json")
    one_line(mh("check", s, "--profiles", profiles, timeout=10),
             f"{profiles}/semstreams.json: is a FIFO (a pipe), which may never end, not a profile "
             "file")
    assert not (tmp_path / "out").exists()


def test_duplicate_keys_follow_go_in_a_semstreams_config_and_are_refused_elsewhere(mh, tmp_path):
    """Go's encoding/json (SemStreams) takes a duplicate key's last value: a mock's config does the
    same, with a warning naming the key; every other document the user writes refuses one, with
    its JSON path (cJSON alone took the first value, serving mtls=required where the real service
    would not require a certificate)."""
    text = (ROOT / "scenarios/federation.json").read_text().replace(
        '"fixtures": "../fixtures/federation.json"',
        f'"fixtures": "{ROOT}/fixtures/federation.json"')
    assert f'"{ROOT}/fixtures/federation.json"' in text
    key = '"require_client_cert": true'
    assert key in text
    go = tmp_path / "go.json"
    go.write_text(text.replace(key, key + ', "require_client_cert": false', 1))
    r = mh("check", go)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        f"{go}: $.locations.location-a.config.security.tls.server.mtls.require_client_cert: "
        "warning: duplicate key, the last value is used (as SemStreams, with Go's encoding/json, "
        "uses it); give it once"]
    # The last value is the one served: no client certificate required by location A now.
    r = mh("run", go, "--out", tmp_path / "out", "--filter", "location-a/none/tls1.3",
           timeout=120)
    (c,) = json.loads((tmp_path / "out" / "report.json").read_text())["cases"]
    assert c["expected"]["reason"] != "missing_cert", c["expected"]
    own = tmp_path / "own.json"
    own.write_text(text.replace('"name": "federation"', '"name": "federation", "name": "x"', 1))
    one_line(mh("check", own), f"{own}: $.name: duplicate key (given twice in this object; give "
             "it once)")
    spec = tmp_path / "spec.json"
    spec.write_text('{"cas": [{"name": "a", "name": "b", "subject": {"CN": "x"}}]}')
    one_line(mh("pki", spec, "--out", tmp_path / "fx"), f"{spec}: $.cas[0].name: duplicate key")


def test_nesting_past_the_parser_limit_says_so(mh, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    one_line(mh("check", deep), f"{deep}: $: JSON nested deeper than 1000 levels at line 1, "
             "column 1001: over the parser's limit")


def test_a_nul_in_a_string_and_a_ca_file_that_is_a_symlink_loop_say_what_they_are(mh, tmp_path):
    """A \\u0000 once cut a name there silently; a CA path that loops once said "no such file"."""
    text = (ROOT / "scenarios/federation.json").read_text().replace(
        '"fixtures": "../fixtures/federation.json"',
        f'"fixtures": "{ROOT}/fixtures/federation.json"')
    nul = tmp_path / "nul.json"
    nul.write_text(text.replace('"name": "federation"', '"name": "fede\\u0000ration"', 1))
    one_line(mh("check", nul), f"{nul}: $: \\u0000 (a NUL character) at line 2, column 16: no "
             "name, path or value of this file may hold one")
    loop = tmp_path / "loop.pem"
    loop.symlink_to(tmp_path / "loop.pem")
    looped = tmp_path / "looped.json"
    looped.write_text(text.replace('"/certs/federation-ca.pem"', f'"{loop}"', 1))
    r = mh("check", looped)
    assert r.returncode == 2 and "too many symbolic links" in r.stderr, r.stderr
    assert "no such file" not in r.stderr
