"""The operator's own PKI, made by the openssl CLI as an operator's would be: its CA file named by
path in a target's policy, its client certificate imported as the good identity, its CA key (or
only its CA certificate) behind the negatives. Against a real nginx trusting that CA, the verdicts
equal those of the same matrix with harness-generated fixtures."""
import copy
import json
import os
import stat
import subprocess

import pytest

from conftest import B, NGINX_CONF, ROOT, free_port, nginx_running, run

FED_SPEC = json.loads((ROOT / "fixtures/federation.json").read_text())
OP_SUBJECT = {"O": "Operator", "CN": "Operator Root CA"}


def openssl(*args, cwd):
    r = run(["openssl", *args], cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r


def issue(d, name, cn, eku, ca="ca"):
    """A key and a certificate signed by the CA in |d|, as `openssl x509 -req` makes them."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            f"{name}.key", "-out", f"{name}.csr", "-subj", f"/O=Operator/CN={cn}", cwd=d)
    (d / f"{name}.ext").write_text(f"extendedKeyUsage={eku}\nsubjectAltName=DNS:{cn}\n"
                                   "basicConstraints=critical,CA:FALSE\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "30", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
            cwd=d)


@pytest.fixture(scope="module")
def op_pki(tmp_path_factory):
    """An operator's PKI: a CA, nginx's server certificate, location B's client certificate (its
    key also encrypted), and another key."""
    d = tmp_path_factory.mktemp("operator") / "pki"
    d.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "60", "-subj",
            "/O=Operator/CN=Operator Root CA", cwd=d)
    issue(d, "server", "location-a.semstreams.local", "serverAuth")
    issue(d, "b", B, "clientAuth,serverAuth")
    openssl("pkey", "-in", "b.key", "-aes256", "-passout", "pass:correct horse", "-out",
            "b-enc.key", cwd=d)
    (d / "b.pass").write_text("correct horse\n")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
            "other.key", cwd=d)
    for f in d.glob("*.key"):
        f.chmod(0o600)
    return d


def scenario(tmp_path, spec, port, client_ca, identities):
    """One external target, the nginx on |port|, whose policy trusts |client_ca| for clients."""
    doc = {
        "name": "operator", "fixtures": str(spec),
        "locations": {"nginx": {
            "target": f"127.0.0.1:{port}", "server_name": "location-a.semstreams.local",
            "ca_files": ["/certs/federation-ca.pem"], "profile": "nginx-http", "path": "/",
            "policy": {"mtls": {"enabled": True, "client_ca_files": [client_ca],
                                "require_client_cert": True, "allowed_client_cns": [B]}}}},
        "matrix": {"targets": ["nginx"], "identities": identities, "versions": ["1.2", "1.3"],
                   "wrong_server_name": "wrong.semstreams.local", "untrusted_ca": "untrusted-ca"},
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def run_matrix(mh, scen, out):
    r = mh("run", scen, "--out", out, "--profiles", ROOT / "profiles", timeout=180)
    assert (out / "report.json").exists(), r.stdout + r.stderr
    return r, json.loads((out / "report.json").read_text())


def verdicts(report, identities=None):
    """What must not depend on whose PKI it is: per case, the verdict, the expectation and the
    outcome, at the level a deployment shows them."""
    rows = {}
    for c in report["cases"]:
        ident = c["id"].split("/")[1]
        if identities is not None and ident not in identities and ":" not in ident:
            continue
        o, x = c["outcome"], c["expected"]
        rows[c["id"]] = (c["verdict"], x["result"], x["reason"], x["layer"], x["http_status"],
                         o["result"], o["rejected_by"], o["layer"], o["http_status"],
                         (o["alert_received"] or {}).get("code"))
    return rows


ALL = ["location-b", "location-c", "none", "wrong-cn", "expired", "not-yet-valid", "untrusted",
       "server-only-eku", "key-mismatch", "self-signed", "intermediate-signed"]


@pytest.fixture(scope="module")
def reference(harness, tmp_path_factory):
    """The matrix with harness-generated fixtures, against an nginx set up with them."""
    tmp = tmp_path_factory.mktemp("reference")
    out = tmp / "out"
    fx = out / "fixtures"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, fx=fx))
    with nginx_running(conf, tmp, port):
        scen = scenario(tmp, ROOT / "fixtures/federation.json", port, "/certs/federation-ca.pem",
                        ALL)
        r = run([harness, "run", scen, "--out", out, "--profiles", ROOT / "profiles"],
                timeout=180)
    report = json.loads((out / "report.json").read_text())
    assert r.returncode == 0, r.stdout
    return report


def operator_nginx(tmp_path, pki, port):
    """nginx as the operator runs it: their server certificate, their CA for clients."""
    text = NGINX_CONF.format(tmp=tmp_path, port=port, fx=pki)
    text = (text.replace(f"{pki}/location-a-cert.pem", f"{pki}/server.pem")
            .replace(f"{pki}/location-a-key.pem", f"{pki}/server.key")
            .replace(f"{pki}/federation-ca.pem", f"{pki}/ca.pem"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    return conf


def snapshot(d):
    return {f.name: (f.read_bytes(), stat.S_IMODE(f.stat().st_mode)) for f in d.iterdir()}


def test_ca_key_imported_issues_the_negatives(mh, op_pki, reference, tmp_path):
    spec = copy.deepcopy(FED_SPEC)
    del spec["zips"]
    for ca in spec["cas"]:
        if ca["name"] == "federation-ca":
            ca.clear()
            ca.update({"name": "federation-ca", "import_cert": "pki/ca.pem",
                       "import_key": "pki/ca.key"})
        elif ca["name"] == "untrusted-ca":
            ca["subject"] = OP_SUBJECT  # the operator CA's name, another key
    ids = spec["identities"]
    i = next(k for k, e in enumerate(ids) if e["name"] == "location-b")
    # Location B's real certificate, its key encrypted, the passphrase in a file.
    ids[i] = {"name": "location-b", "import_cert": "pki/b.pem", "import_key": "pki/b-enc.key",
              "passphrase_file": "pki/b.pass"}
    (tmp_path / "pki").symlink_to(op_pki)
    spec_path = tmp_path / "ops.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    before = snapshot(op_pki)
    port = free_port()
    with nginx_running(operator_nginx(tmp_path, op_pki, port), tmp_path, port):
        # The policy names the operator's CA file by its own path.
        scen = scenario(tmp_path, spec_path, port, str(op_pki / "ca.pem"), ALL)
        r, report = run_matrix(mh, scen, tmp_path / "out")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {c["verdict"] for c in report["cases"]} == {"pass"}
    assert len(verdicts(report)) == 11 * 2 + 2  # every identity, both versions, 2 server checks
    assert verdicts(report) == verdicts(reference)
    assert verdicts(report)["nginx/location-b/tls1.3"][5] == "accepted"
    # Imported files are used where they are: untouched; only the decrypted key copy is written.
    assert snapshot(op_pki) == before
    fx = tmp_path / "out" / "fixtures"
    assert not (fx / "federation-ca.pem").exists() and not (fx / "location-b-cert.pem").exists()
    assert stat.S_IMODE((fx / "location-b-key.pem").stat().st_mode) == 0o600


def test_ca_certificate_only_limits_the_negatives(mh, op_pki, reference, tmp_path):
    spec = {
        "cas": [{"name": "federation-ca", "import_cert": str(op_pki / "ca.pem")},
                {"name": "untrusted-ca", "subject": OP_SUBJECT}],
        "identities": [
            {"name": "location-b", "import_cert": str(op_pki / "b.pem"),
             "import_key": str(op_pki / "b.key")},
            # A negative that needs no CA key: B's certificate with a key that is not its own.
            {"name": "key-mismatch", "import_cert": str(op_pki / "b.pem"),
             "import_key": str(op_pki / "other.key"), "key_mismatch": True},
            {"name": "self-signed", "self_signed": True, "subject": {"CN": B}, "dns": [B],
             "eku": ["clientAuth", "serverAuth"]},
            {"name": "untrusted", "ca": "untrusted-ca", "subject": {"CN": B}, "dns": [B],
             "eku": ["clientAuth", "serverAuth"]},
        ],
    }
    spec_path = tmp_path / "ops.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    some = ["location-b", "none", "untrusted", "key-mismatch", "self-signed"]
    port = free_port()
    with nginx_running(operator_nginx(tmp_path, op_pki, port), tmp_path, port):
        scen = scenario(tmp_path, spec_path, port, str(op_pki / "ca.pem"), some)
        r, report = run_matrix(mh, scen, tmp_path / "out")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {c["verdict"] for c in report["cases"]} == {"pass"}
    assert len(verdicts(report)) == 5 * 2 + 2
    assert verdicts(report) == verdicts(reference, some)
    reasons = {v[2] for v in verdicts(report).values()}
    assert reasons == {"none", "missing_cert", "unknown_ca", "bad_signature", "server_name",
                       "server_untrusted"}
    # Nothing can be issued from a CA imported without its key.
    spec["identities"].append({"name": "expired", "ca": "federation-ca", "not_before": "-30d",
                               "not_after": "-1d"})
    spec_path.write_text(json.dumps(spec))
    r = mh("pki", spec_path, "--out", tmp_path / "nope")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f'{spec_path}: $.identities[4].ca: CA "federation-ca" is imported without its key, so it '
        'cannot issue (add its "import_key", or issue from a generated CA)')


def test_import_errors_name_the_file_the_path_and_the_fix(mh, op_pki, tmp_path):
    def pki(entity):
        spec = tmp_path / "s.json"
        spec.write_text(json.dumps({"identities": [entity]}))
        return mh("pki", spec, "--out", tmp_path / "out"), spec

    b = {"name": "b", "import_cert": str(op_pki / "b.pem")}
    r, spec = pki({**b, "import_key": str(op_pki / "b-enc.key")})
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith(f"{spec}: $.identities[0].import_key: {op_pki}/b-enc.key is "
                               'encrypted (add "passphrase_file" or "passphrase_env"')
    r, _ = pki({**b, "import_key": str(op_pki / "other.key")})
    assert r.returncode == 2 and "does not belong to the certificate" in r.stderr
    assert '"key_mismatch": true' in r.stderr
    r, _ = pki({**b, "import_key": str(op_pki / "b.key"), "import_cert": "missing.pem"})
    assert r.returncode == 2 and "$.identities[0].import_cert:" in r.stderr
    assert f"{tmp_path}/missing.pem: no such file" in r.stderr
    r, _ = pki({**b, "import_key": str(op_pki / "b.pass")})
    assert r.returncode == 2 and "the private key is not PEM" in r.stderr
    r, _ = pki({**b, "import_key": str(op_pki / "b.key"), "subject": {"CN": "x"}})
    assert r.returncode == 2 and "$.identities[0].subject: an imported certificate is used" in r.stderr
    spec = tmp_path / "ca.json"
    spec.write_text(json.dumps({"cas": [{"name": "ca", "import_cert": str(op_pki / "b.pem")}]}))
    r = mh("pki", spec, "--out", tmp_path / "out")
    assert r.returncode == 2 and "$.cas[0].import_cert:" in r.stderr
    assert "is not a CA certificate" in r.stderr
    assert not (tmp_path / "out").exists()


def test_encrypted_key_works_with_a_passphrase_from_the_environment(harness, op_pki, tmp_path):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"identities": [
        {"name": "b", "import_cert": str(op_pki / "b.pem"), "import_key": str(op_pki / "b-enc.key"),
         "passphrase_env": "OP_PASS"}]}))
    env = dict(os.environ)
    env.pop("OP_PASS", None)
    r = subprocess.run([str(harness), "pki", str(spec), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2 and "the environment variable OP_PASS is not set" in r.stderr
    env["OP_PASS"] = "correct horse"
    r = subprocess.run([str(harness), "pki", str(spec), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    key = tmp_path / "out" / "b-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and sorted(os.listdir(key.parent)) == [
        "b-key.pem"]
    # The decrypted copy is the certificate's key.
    pub = run(["openssl", "pkey", "-in", key, "-pubout"]).stdout
    assert pub == run(["openssl", "x509", "-in", op_pki / "b.pem", "-noout", "-pubkey"]).stdout
    env["OP_PASS"] = "wrong"
    r = subprocess.run([str(harness), "pki", str(spec), "--out", str(tmp_path / "out2")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2 and "the passphrase does not decrypt it" in r.stderr


def preflight_cases(op_pki, tmp_path):
    """What an operator gets wrong importing their PKI, and the error that names it: a key others
    may read, a leaf imported as the CA, an encrypted key without its passphrase or with the wrong
    one, a leaf certificate given as the policy's client CA file (operator's file or fixture)."""
    loose = tmp_path / "b-loose.key"
    loose.write_bytes((op_pki / "b.key").read_bytes())
    loose.chmod(0o644)
    (tmp_path / "wrong.pass").write_text("battery staple\n")
    b = {"name": B_NAME, "import_cert": str(op_pki / "b.pem"), "import_key": str(op_pki / "b.key")}
    ca = {"name": "federation-ca", "import_cert": str(op_pki / "ca.pem"),
          "import_key": str(op_pki / "ca.key")}
    enc = {**b, "import_key": str(op_pki / "b-enc.key")}
    return {
        "key-mode": ([ca], [{**b, "import_key": str(loose)}], None,
                     "$.identities[0].import_key: "
                     f"{loose}: the private key is readable by group or others (mode 0644)"),
        "leaf-as-ca": ([{"name": "federation-ca", "import_cert": str(op_pki / "b.pem")}], [b], None,
                       f"$.cas[0].import_cert: {op_pki}/b.pem is not a CA certificate"),
        "no-passphrase": ([ca], [enc], None,
                          f"$.identities[0].import_key: {op_pki}/b-enc.key is encrypted (add"),
        "wrong-passphrase": ([ca], [{**enc, "passphrase_file": str(tmp_path / "wrong.pass")}],
                             None, f"$.identities[0].import_key: {op_pki}/b-enc.key: the "
                             "passphrase does not decrypt it"),
        "leaf-client-ca": ([ca], [b], str(op_pki / "b.pem"),
                           "$.locations.nginx.policy.mtls.client_ca_files[0]: "
                           f"{op_pki}/b.pem: certificate 1 of the CA file (CN={B},O=Operator) "
                           "is not a CA's (no basicConstraints CA:TRUE): a CA file holds the "
                           "certificates of the CAs that issue the peers' certificates (give its "
                           "issuer's, CN=Operator Root CA,O=Operator)"),
        "leaf-fixture-client-ca": ([ca], [b], f"/certs/{B_NAME}-cert.pem",
                                   "$.locations.nginx.policy.mtls.client_ca_files[0]: "
                                   f"/certs/{B_NAME}-cert.pem is the certificate of identity "
                                   f'"{B_NAME}" of SPEC, not a CA\'s: a CA file holds the '
                                   "certificates of the CAs that issue the peers' certificates "
                                   "(give one of: /certs/federation-ca.pem)"),
    }


B_NAME = "location-b"


@pytest.mark.parametrize("case", ["key-mode", "leaf-as-ca", "no-passphrase", "wrong-passphrase",
                                  "leaf-client-ca", "leaf-fixture-client-ca"])
def test_check_refuses_what_run_refuses(mh, op_pki, tmp_path, case):
    """check is run's preflight: each mistake is the same one-line error from both, naming the file
    and the JSON path, and run creates nothing."""
    cas, ids, client_ca, want = preflight_cases(op_pki, tmp_path)[case]
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"cas": cas, "identities": ids}))
    scen = scenario(tmp_path, spec, free_port(), client_ca or str(op_pki / "ca.pem"), [B_NAME])
    doc = json.loads(scen.read_text())
    doc["matrix"].pop("untrusted_ca")
    doc["locations"]["nginx"]["ca_files"] = [str(op_pki / "ca.pem")]
    scen.write_text(json.dumps(doc))
    src = scen if "client-ca" in case else spec
    want = f"{src}: {want.replace('SPEC', str(spec))}"
    r = mh("check", scen)
    assert r.returncode == 2 and r.stdout == "", r.stdout + r.stderr
    assert r.stderr.startswith(want) and len(r.stderr.splitlines()) == 1, r.stderr
    out = tmp_path / "out"
    r = mh("run", scen, "--out", out)
    assert r.returncode == 2 and r.stderr.startswith(want), r.stdout + r.stderr
    assert not out.exists()
