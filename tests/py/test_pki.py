"""The fixture PKI generator, checked with real OpenSSL and unzip rather than our own code."""
import datetime
import stat

import pytest

from conftest import B, ROOT, run

FED_GOOD = ["location-a", "location-b", "location-c", "wrong-cn", "location-b-rsa2048",
            "location-b-rsa4096", "location-b-ed25519"]
TEAMS = ["electronics-supplier", "screen-supplier", "case-supplier", "bulk-logistics",
         "consumer-logistics", "pear-company", "sumsang-company", "commercial-bank",
         "retail-bank", "thoh", "recycler"]


def openssl(*args):
    return run(["openssl", *args], timeout=30)


def verify(ca, cert, *extra):
    return openssl("verify", "-CAfile", ca, *extra, cert)


def x509(cert, *args):
    r = openssl("x509", "-in", cert, "-noout", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def pubkey_of_cert(cert):
    return x509(cert, "-pubkey")


def pubkey_of_key(key):
    r = openssl("pkey", "-in", key, "-pubout")
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def fed(tmp_path_factory, harness):
    out = tmp_path_factory.mktemp("fed")
    r = run([harness, "pki", ROOT / "fixtures/federation.json", "--out", out])
    assert r.returncode == 0, r.stderr
    assert "PRIVATE KEY" not in r.stdout + r.stderr  # no secret in logs
    return out


@pytest.fixture(scope="module")
def mini(tmp_path_factory, harness):
    out = tmp_path_factory.mktemp("mini")
    r = run([harness, "pki", ROOT / "fixtures/miniconomy.json", "--out", out])
    assert r.returncode == 0, r.stderr
    return out


# --- federation: the SemStreams example and its negative identities ---

@pytest.mark.parametrize("name", FED_GOOD)
def test_good_identities_verify(fed, name):
    r = verify(fed / "federation-ca.pem", fed / f"{name}-cert.pem")
    assert r.returncode == 0 and ": OK" in r.stdout, r.stdout + r.stderr
    assert pubkey_of_cert(fed / f"{name}-cert.pem") == pubkey_of_key(fed / f"{name}-key.pem")


@pytest.mark.parametrize("name,code,reason", [
    ("expired", 10, "certificate has expired"),
    ("not-yet-valid", 9, "certificate is not yet valid"),
    ("untrusted", 20, "unable to get local issuer certificate"),
    ("self-signed", 18, "self-signed certificate"),
    ("intermediate-signed", 20, "unable to get local issuer certificate"),  # without its chain
])
def test_bad_identities_fail_for_the_right_reason(fed, name, code, reason):
    r = verify(fed / "federation-ca.pem", fed / f"{name}-cert.pem")
    assert r.returncode != 0
    assert f"error {code} at 0 depth lookup: {reason}" in r.stdout + r.stderr, r.stdout + r.stderr


def test_intermediate_signed_verifies_with_its_chain(fed):
    r = verify(fed / "federation-ca.pem", fed / "intermediate-signed-cert.pem",
               "-untrusted", fed / "intermediate-signed-chain.pem")
    assert r.returncode == 0, r.stdout + r.stderr
    chain = (fed / "intermediate-signed-chain.pem").read_text()
    assert chain.count("BEGIN CERTIFICATE") == 2  # leaf + intermediate, no root
    assert chain.startswith((fed / "intermediate-signed-cert.pem").read_text())
    assert (fed / "intermediate-ca.pem").read_text() in chain
    assert "pathlen:0" in x509(fed / "intermediate-ca.pem", "-text")


def test_key_mismatch_is_detected_by_openssl(fed):
    assert pubkey_of_cert(fed / "key-mismatch-cert.pem") != pubkey_of_key(fed / "key-mismatch-key.pem")
    # The certificate itself is valid: only the pairing is wrong.
    assert verify(fed / "federation-ca.pem", fed / "key-mismatch-cert.pem").returncode == 0


def test_ekus_select_roles(fed):
    ca = fed / "federation-ca.pem"
    assert verify(ca, fed / "location-b-cert.pem", "-purpose", "sslclient").returncode == 0
    assert verify(ca, fed / "location-b-cert.pem", "-purpose", "sslserver").returncode == 0
    assert verify(ca, fed / "location-a-cert.pem", "-purpose", "sslserver").returncode == 0
    assert verify(ca, fed / "location-c-cert.pem", "-purpose", "sslclient").returncode == 0
    r = verify(ca, fed / "server-only-eku-cert.pem", "-purpose", "sslclient")
    assert r.returncode != 0 and "error 26 at 0 depth" in r.stdout + r.stderr
    eku = x509(fed / "location-b-cert.pem", "-ext", "extendedKeyUsage")
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in eku
    assert "TLS Web Client Authentication" not in x509(fed / "server-only-eku-cert.pem",
                                                       "-ext", "extendedKeyUsage")


@pytest.mark.parametrize("name,cn,san", [
    ("location-a", "location-a.semstreams.local", "DNS:location-a.semstreams.local"),
    ("location-b", B, f"DNS:{B}"),
    ("location-c", "location-c.semstreams.local", "DNS:location-c.semstreams.local"),
    ("wrong-cn", "intruder.semstreams.local", "DNS:intruder.semstreams.local"),
    ("untrusted", B, f"DNS:{B}"),
    ("cn-only-server", "location-a.semstreams.local", None),
])
def test_subjects_and_sans(fed, name, cn, san):
    cert = fed / f"{name}-cert.pem"
    assert x509(cert, "-subject", "-nameopt", "RFC2253").strip() == \
        f"subject=CN={cn},O=SemStreams Federation"
    text = x509(cert, "-text")
    assert "Version: 3 (0x2)" in text
    if san is None:
        assert "Subject Alternative Name" not in text
    else:
        assert x509(cert, "-ext", "subjectAltName").split("\n")[1].strip() == san


def test_untrusted_ca_has_the_same_name_but_another_key(fed):
    a, b = fed / "federation-ca.pem", fed / "untrusted-ca.pem"
    assert x509(a, "-subject") == x509(b, "-subject")
    assert pubkey_of_cert(a) != pubkey_of_cert(b)
    assert verify(b, fed / "untrusted-cert.pem").returncode == 0


@pytest.mark.parametrize("name,first_line", [
    ("location-a", "Private-Key: (256 bit)"),
    ("location-b-rsa2048", "Private-Key: (2048 bit, 2 primes)"),
    ("location-b-rsa4096", "Private-Key: (4096 bit, 2 primes)"),
    ("location-b-ed25519", "ED25519 Private-Key:"),
])
def test_key_types(fed, name, first_line):
    key = fed / f"{name}-key.pem"
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    r = openssl("pkey", "-in", key, "-noout", "-text")
    assert r.stdout.splitlines()[0].strip() == first_line


def test_validity_is_relative_to_generation(fed):
    now = datetime.datetime.now(datetime.timezone.utc)

    def dates(name):
        out = x509(fed / f"{name}-cert.pem", "-startdate", "-enddate")
        nb, na = [line.split("=", 1)[1] for line in out.strip().splitlines()]
        parse = lambda s: datetime.datetime.strptime(s, "%b %d %H:%M:%S %Y %Z").replace(
            tzinfo=datetime.timezone.utc)
        return parse(nb), parse(na)

    nb, na = dates("location-b")
    assert abs((nb - now).total_seconds()) < 600 and na - nb == datetime.timedelta(days=90)
    nb, na = dates("expired")
    assert na < now and nb == na - datetime.timedelta(days=29)
    nb, na = dates("not-yet-valid")
    assert nb > now + datetime.timedelta(days=29)


def test_federation_zips(fed):
    for x in "abc":
        z = fed / "zips" / f"location-{x}.zip"
        r = run(["unzip", "-Z1", z], check=True)
        assert r.stdout.split() == [f"location-{x}-cert.pem", f"location-{x}-key.pem",
                                    "federation-ca.pem", "README.md"]
        assert stat.S_IMODE(z.stat().st_mode) == 0o600
        assert run(["unzip", "-p", z, f"location-{x}-key.pem"]).stdout == \
            (fed / f"location-{x}-key.pem").read_text()


def test_every_private_key_is_0600_and_certs_are_0644(fed, mini):
    keys = certs = 0
    for base in (fed, mini):
        for p in base.rglob("*"):
            if not p.is_file():
                continue
            mode = stat.S_IMODE(p.stat().st_mode)
            if "PRIVATE KEY" in p.read_text(errors="replace"):
                assert mode == 0o600, p
                keys += 1
            elif p.suffix in (".crt", ".pem", ".csr"):
                assert mode == 0o644, p
                certs += 1
    assert keys == 3 + 15 + 1 + 23 and certs > 40


# --- miniconomy: seed 000's tree, reproduced ---

def test_miniconomy_tree_is_exactly_the_seed_layout(mini):
    files = sorted(str(p.relative_to(mini)) for p in mini.rglob("*") if p.is_file())
    want = ["certs/root-ca.crt", "certs/root-ca.key"]
    for t in TEAMS:
        for role, d in (("client", "provider-certs"), ("server", "server-certs")):
            want += [f"certs/{d}/{t}-{role}.{ext}" for ext in ("crt", "csr", "key")]
        want.append(f"certs/zips/{t}.zip")
    assert files == sorted(want)


def test_miniconomy_root(mini):
    ca = mini / "certs/root-ca.crt"
    assert x509(ca, "-subject", "-nameopt", "RFC2253").strip() == \
        "subject=CN=RootCA,OU=RootCA,O=Miniconomy,L=Johannesburg,ST=Gauteng,C=ZA"
    text = x509(ca, "-text")
    assert "Version: 3 (0x2)" in text and "CA:TRUE" in text
    assert "Subject Key Identifier" in text and "Authority Key Identifier" in text
    assert "Key Usage" not in text  # openssl req -x509 with no config adds none
    assert "Public-Key: (2048 bit)" in text and "sha256WithRSAEncryption" in text


@pytest.mark.parametrize("idx,team", list(enumerate(TEAMS, start=1)))
def test_miniconomy_team(mini, idx, team):
    ca = mini / "certs/root-ca.crt"
    cn = "sumsang-phones-api.projects.bbdgrad.com" if team == "sumsang-company" \
        else f"{team}-api.projects.bbdgrad.com"
    for role, d in (("client", "provider-certs"), ("server", "server-certs")):
        base = mini / "certs" / d / f"{team}-{role}"
        cert = f"{base}.crt"
        assert verify(ca, cert).returncode == 0
        assert x509(cert, "-subject", "-nameopt", "RFC2253").strip() == \
            f"subject=CN={cn},OU={team},O=Miniconomy,L=Johannesburg,ST=Gauteng,C=ZA"
        assert x509(cert, "-serial").strip() == f"serial={idx:02X}"
        text = x509(cert, "-text")
        assert "Version: 1 (0x0)" in text and "X509v3" not in text  # v1, no extensions
        assert "Public-Key: (2048 bit)" in text
        out = x509(cert, "-startdate", "-enddate").strip().splitlines()
        nb, na = [datetime.datetime.strptime(l.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
                  for l in out]
        assert na - nb == datetime.timedelta(days=1000)
        r = openssl("req", "-in", f"{base}.csr", "-noout", "-verify", "-subject", "-nameopt",
                    "RFC2253")
        assert r.returncode == 0 and f"CN={cn},OU={team}" in r.stdout
        assert pubkey_of_cert(cert) == pubkey_of_key(f"{base}.key")
    zip_path = mini / "certs/zips" / f"{team}.zip"
    names = run(["unzip", "-Z1", zip_path], check=True).stdout.split()
    assert names == [f"{team}-client.key", f"{team}-client.crt", f"{team}-server.key",
                     f"{team}-server.crt", "root-ca.crt", "README.md"]
    readme = run(["unzip", "-p", zip_path, "README.md"], check=True).stdout
    for n in names[:-1]:
        assert f"`{n}`" in readme
    assert "root-ca.key" not in readme
    assert run(["unzip", "-p", zip_path, "root-ca.crt"]).stdout == ca.read_text()


def test_ca_key_is_reused_and_force_regenerates(harness, tmp_path):
    spec = ROOT / "fixtures/federation.json"
    assert run([harness, "pki", spec, "--out", tmp_path]).returncode == 0
    key1 = (tmp_path / "federation-ca-key.pem").read_bytes()
    old_leaf = tmp_path / "old-leaf.pem"
    old_leaf.write_bytes((tmp_path / "location-b-cert.pem").read_bytes())
    r = run([harness, "pki", spec, "--out", tmp_path])
    assert r.returncode == 0 and "federation-ca" in r.stdout and "existing key reused" in r.stdout
    assert (tmp_path / "federation-ca-key.pem").read_bytes() == key1
    # A leaf issued before the re-run still verifies against the re-issued root.
    assert verify(tmp_path / "federation-ca.pem", old_leaf).returncode == 0
    assert run([harness, "pki", spec, "--out", tmp_path, "--force"]).returncode == 0
    assert (tmp_path / "federation-ca-key.pem").read_bytes() != key1
    assert verify(tmp_path / "federation-ca.pem", old_leaf).returncode != 0
    assert not [p for p in tmp_path.rglob("*.mh-tmp.*")]
