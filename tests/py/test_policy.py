"""The policy model and the fixture spec's additions, read by real tools: URI and e-mail SANs, an
identity that drops a default (no EKU, no CN, an empty subject whose SAN is then critical) as
`openssl x509` and `openssl verify` read them; a target policy's errors, one line naming the JSON
path and the fix; a real nginx judged by a policy in the harness's own keys, and a profile's
`cannot` flagged in every report without failing --strict."""
import copy
import json
import shutil

import jsonschema
import pytest

from conftest import B, FED, NGINX_CONF, ROOT, SCHEMA, free_port, nginx_running, run, write_scenario

SPIFFE = "spiffe://example.org/ns/prod/sa/billing"

SPEC = {
    "spec_version": 1,
    "cas": [{"name": "root", "subject": {"CN": "Policy Root"}},
            {"name": "inter", "issuer": "root", "subject": {"CN": "Inter"}},
            {"name": "inter2", "issuer": "inter", "subject": {"CN": "Inter2"}}],
    "defaults": {"ca": "root", "subject": {"O": "Example", "CN": "default"},
                 "eku": ["clientAuth"]},
    "identities": [
        {"name": "billing", "subject": {"CN": "billing"},
         "uris": [SPIFFE, "https://svc.example/a,b"], "emails": ["ops@example.org"]},
        {"name": "no-eku", "eku": [], "subject": {"CN": None}, "dns": ["svc.example"]},
        {"name": "anonymous", "subject": {}, "uris": ["spiffe://example.org/ns/dev/sa/x"]},
        {"name": "deep", "ca": "inter2", "chain_file": "deep-chain.pem",
         "uris": ["spiffe://example.org/ns/prod/sa/deep"]},
    ],
}


@pytest.fixture(scope="module")
def pki(harness, tmp_path_factory):
    d = tmp_path_factory.mktemp("policy-pki")
    spec = d / "spec.json"
    spec.write_text(json.dumps(SPEC))
    r = run([harness, "pki", spec, "--out", d / "out"])
    assert r.returncode == 0, r.stderr
    return d / "out"


def x509_text(path):
    return run(["openssl", "x509", "-in", path, "-noout", "-text"], check=True).stdout


def test_uri_and_email_sans_as_openssl_reads_them(pki):
    text = x509_text(pki / "billing-cert.pem")
    assert f"URI:{SPIFFE}, URI:https://svc.example/a,b, email:ops@example.org" in text
    # A subject with a CN: the SAN is not critical.
    assert "X509v3 Subject Alternative Name: \n" in text
    assert "Subject: O = Example, CN = billing" in text


def test_an_identity_drops_defaults(pki):
    text = x509_text(pki / "no-eku-cert.pem")
    assert "Extended Key Usage" not in text  # "eku": [] drops the default clientAuth
    assert "Subject: O = Example\n" in text  # "CN": null drops the default CN, not O
    assert "DNS:svc.example" in text
    assert "Extended Key Usage" in x509_text(pki / "billing-cert.pem")


def test_empty_subject_makes_the_san_critical(pki):
    text = x509_text(pki / "anonymous-cert.pem")
    assert "Subject: \n" in text or "Subject:\n" in text
    assert "X509v3 Subject Alternative Name: critical\n" in text
    assert "URI:spiffe://example.org/ns/dev/sa/x" in text


def test_intermediate_chain_and_openssl_verify_depth(pki):
    """deep's chain has two intermediates: OpenSSL's verify depth 2 admits it, 1 does not, which
    is what the policy's verify_depth means."""
    chain = pki / "deep-chain.pem"
    assert chain.read_text().count("BEGIN CERTIFICATE") == 3
    def verify(depth):
        return run(["openssl", "verify", "-verify_depth", str(depth), "-CAfile", pki / "root.pem",
                    "-untrusted", chain, pki / "deep-cert.pem"])
    assert verify(2).returncode == 0
    r = verify(1)
    assert r.returncode != 0 and "certificate chain too long" in r.stdout + r.stderr


@pytest.mark.parametrize("identity,want", [
    ({"uris": ["no scheme"]}, "$.identities[0].uris[0]: \"no scheme\" is not a URI with a scheme"),
    ({"emails": ["ops"]}, "$.identities[0].emails[0]: \"ops\" is not an e-mail address"),
    ({"x509_version": 1, "emails": ["a@b"]},
     "$.identities[0].emails: x509_version 1 certificates carry no extensions"),
])
def test_spec_errors_name_the_path(harness, tmp_path, identity, want):
    spec = {"cas": [{"name": "root"}], "identities": [dict(name="x", ca="root", **identity)]}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    r = run([harness, "pki", path, "--out", tmp_path / "out"])
    assert r.returncode == 2 and want in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


# --- the policy block of an external target ---

CA = "/certs/federation-ca.pem"


def target(policy):
    return {"target": "127.0.0.1:9", "server_name": "location-a.semstreams.local",
            "ca_files": [CA], "profile": "nginx-http", "policy": policy}


def check(mh, tmp_path, policy):
    doc = copy.deepcopy(FED)
    doc["locations"]["t"] = target(policy)
    doc["matrix"]["targets"] = ["t"]
    return mh("check", write_scenario(tmp_path, doc))


GOOD = {"client_auth": "require", "client_ca_files": [CA],
        "identity": {"uri_san_prefix": ["spiffe://example.org/ns/prod/"], "cn": [B],
                     "dn_regex": "^CN=x$", "dns_san": ["a.example"], "uri_san": [SPIFFE],
                     "host": ["a.example"]},
        "min_version": "1.2", "max_version": "1.3", "verify_depth": 2}


def test_every_policy_key_is_accepted(mh, tmp_path):
    r = check(mh, tmp_path, GOOD)
    assert r.returncode == 0, r.stderr
    for auth in ("optional", "optional_no_ca", "none"):
        p = {"client_auth": auth} if auth != "require" else {}
        if auth == "optional":
            p["client_ca_files"] = [CA]
        assert check(mh, tmp_path, p).returncode == 0, (auth, check(mh, tmp_path, p).stderr)


P = "$.locations.t.policy"


@pytest.mark.parametrize("change,want", [
    ({"identity": {"dn_regex": "(unclosed"}},
     f"{P}.identity.dn_regex: \"(unclosed\" is not a POSIX extended regular expression"),
    ({"client_auth": "sometimes"},
     f"{P}.client_auth: unknown client_auth \"sometimes\" (use one of: none, optional, "
     "optional_no_ca, require)"),
    ({"min_version": "1.3", "max_version": "1.2"},
     f"{P}.max_version: \"1.2\" is below min_version \"1.3\""),
    ({"identity": {"uri_san": []}}, f"{P}.identity.uri_san: an empty list allows nobody"),
    ({"identity": {}}, f"{P}.identity: {{}} sets no rule"),
    ({"identity": {"spiffe": ["x"]}}, f"{P}.identity.spiffe: unknown key"),
    ({"identiy": {"cn": ["x"]}}, f"{P}.identiy: unknown policy key"),
    ({"max_version": "1.4"}, f"{P}.max_version: \"1.4\": a version is \"1.2\" or \"1.3\""),
    ({"verify_depth": -2}, f"{P}.verify_depth:"),
    ({"verify_depth": 101}, f"{P}.verify_depth:"),
    ({"verified_only": {}},
     f"{P}.verified_only: means a certificate asked for optionally at TLS and required by the "
     "application: set \"client_auth\" to \"optional\" or \"optional_no_ca\""),
    ({"client_auth": "optional_no_ca", "verified_only": {"refusal_status": [403]}},
     f"{P}.verified_only.refusal_status: unknown key"),
    ({"client_auth": "optional_no_ca", "verified_only": {"refusal_statuses": []}},
     f"{P}.verified_only.refusal_statuses: expected a list of 1 to 8 HTTP statuses"),
    ({"client_auth": "optional_no_ca", "verified_only": {"refusal_statuses": [99]}},
     f"{P}.verified_only.refusal_statuses[0]:"),
    ({"client_auth": "require", "mtls": {"enabled": True, "require_client_cert": False}},
     f"{P}.client_auth: \"require\" contradicts mtls.enabled/mtls.require_client_cert, which "
     "say \"optional\""),
    ({"client_auth": "none", "mtls": {"enabled": True}},
     f"{P}.client_auth: \"none\" contradicts"),
    ({"mtls": {"enabled": True, "client_ca_files": [CA], "allowed_client_cns": [B]},
      "client_auth": None, "client_ca_files": None, "identity": {"cn": [B]}},
     f"{P}.identity.cn: mtls.allowed_client_cns gives the CN allow-list already"),
    ({"mtls": {"client_ca_files": [CA]}},
     f"{P}.client_ca_files: mtls.client_ca_files gives the client CAs already"),
    ({"client_auth": "none", "client_ca_files": None},
     f"{P}.identity: client authentication is \"none\": no client certificate is asked for"),
    ({"client_auth": "optional", "client_ca_files": None, "identity": None},
     f"{P}.client_auth: \"optional\" verifies client certificates against client_ca_files"),
    ({"client_ca_files": ["/certs/nothing.pem"]}, f"{P}.client_ca_files[0]:"),
])
def test_policy_errors_name_the_json_path(mh, tmp_path, change, want):
    policy = copy.deepcopy(GOOD)
    for k, v in change.items():
        if v is None:
            policy.pop(k, None)
        else:
            policy[k] = v
    r = check(mh, tmp_path, policy)
    assert r.returncode == 2, r.stdout
    assert want in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def profile_errors(mh, tmp_path, extra):
    profiles = tmp_path / "profiles"
    shutil.copytree(ROOT / "profiles", profiles)
    prof = json.loads((ROOT / "profiles/nginx-http.json").read_text())
    prof.update(extra)
    (profiles / "nginx-http.json").write_text(json.dumps(prof))
    doc = copy.deepcopy(FED)
    doc["locations"]["t"] = target({"client_auth": "require", "client_ca_files": [CA]})
    doc["matrix"]["targets"] = ["t"]
    doc["matrix"]["identities"] = ["none"]
    return mh("run", write_scenario(tmp_path, doc), "--out", tmp_path / "out", "--profiles",
              profiles)


@pytest.mark.parametrize("extra,want", [
    ({"cannot": ["identity.spiffe"], "why": "x"},
     "$.cannot[0]: \"identity.spiffe\" is not a policy key (use one of: client_auth,"),
    ({"cannot": ["max_version"]}, "$.why: required with \"cannot\""),
    ({"why": "x"}, "$.why: \"why\" explains \"cannot\""),
])
def test_profile_cannot_errors(mh, tmp_path, extra, want):
    r = profile_errors(mh, tmp_path, extra)
    assert r.returncode == 2 and want in r.stderr and "nginx-http.json" in r.stderr, r.stderr


# --- against a real nginx ---

@pytest.fixture(scope="module")
def nginx(harness, tmp_path_factory):
    """Debian's nginx admitting only location-b's DN, TLS 1.2 and 1.3."""
    tmp = tmp_path_factory.mktemp("policy-nginx")
    fx = tmp / "fixtures"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, fx=fx))
    with nginx_running(conf, tmp, port):
        yield port, fx


def nginx_run(mh, tmp_path, nginx, profile, *args):
    port, fx = nginx
    out = tmp_path / "out"
    shutil.copytree(fx, out / "fixtures")
    doc = copy.deepcopy(FED)
    t = target({"client_auth": "require", "client_ca_files": [CA],
                "identity": {"dn_regex": "(^|,)CN=location-b\\.semstreams\\.local(,|$)"},
                "max_version": "1.2"})
    t["target"] = f"127.0.0.1:{port}"
    t["profile"] = profile
    doc["locations"]["nginx"] = t
    doc["matrix"]["targets"] = ["nginx"]
    doc["matrix"]["identities"] = ["location-b", "location-c", "none"]
    profiles = tmp_path / "profiles"
    shutil.copytree(ROOT / "profiles", profiles)
    prof = json.loads((profiles / "nginx-http.json").read_text())
    prof["cannot"] = ["max_version"]
    prof["why"] = "this nginx is configured with ssl_protocols TLSv1.2 TLSv1.3"
    (profiles / "nginx-cannot.json").write_text(json.dumps(prof))
    r = mh("run", write_scenario(tmp_path, doc), "--out", out, "--profiles", profiles, *args,
           timeout=180)
    return r, json.loads((out / "report.json").read_text()), out


def test_real_nginx_judged_by_the_policy_model(mh, tmp_path, nginx):
    """dn_regex is nginx's map: location-c is identity_not_allowed (403); max_version 1.2 makes
    nginx's TLS 1.3 acceptance of location-b an unexpected accept."""
    r, report, _ = nginx_run(mh, tmp_path, nginx, "nginx-http")
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    v = {c["id"]: c for c in report["cases"]}
    assert r.returncode == 1, r.stdout
    assert v["nginx/location-c/tls1.2"]["expected"]["reason"] == "identity_not_allowed"
    assert v["nginx/location-c/tls1.2"]["verdict"] == "pass"
    assert v["nginx/location-c/tls1.2"]["outcome"]["http_status"] == 403
    assert v["nginx/location-b/tls1.2"]["verdict"] == "pass"
    assert v["nginx/location-b/tls1.3"]["expected"]["reason"] == "version_too_high"
    assert v["nginx/location-b/tls1.3"]["verdict"] == "unexpected-accept"
    assert not [w for w in report["warnings"] if w["kind"] == "cannot_enforce"]


def test_cannot_is_warned_before_the_run_and_never_expects_acceptance(mh, tmp_path, nginx):
    """The policy is the contract: a profile that says its stack cannot enforce max_version makes
    no refusal an acceptance. nginx admits location-b in TLS 1.3, which the policy refuses: that
    fails the run (strict or not), the case names the profile's reason, and the warning came
    before the first case."""
    r, report, out = nginx_run(mh, tmp_path, nginx, "nginx-cannot", "--strict")
    assert r.returncode == 1, r.stdout + r.stderr
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    v = {c["id"]: c for c in report["cases"]}
    late = v["nginx/location-b/tls1.3"]
    assert late["expected"]["reason"] == "version_too_high"
    assert late["verdict"] == "unexpected-accept"
    assert "profile nginx-cannot says its stack cannot enforce max_version" in late["verdict_reason"]
    assert "ssl_protocols TLSv1.2 TLSv1.3" in late["verdict_reason"]
    assert v["nginx/location-b/tls1.2"]["verdict"] == "pass"
    assert v["nginx/location-c/tls1.2"]["verdict"] == "pass"
    w = [w for w in report["warnings"] if w["kind"] == "cannot_enforce"]
    assert len(w) == 1 and w[0]["target"] == "nginx" and w[0]["fails"] is False
    msg = w[0]["message"]
    assert msg == ("target nginx: the policy requires max_version, which its stack (profile "
                   "nginx-cannot) cannot enforce (this nginx is configured with ssl_protocols "
                   "TLSv1.2 TLSv1.3): unless something behind it checks, expect "
                   "unexpected-accept"), msg
    # Printed before the first case's line, and again among the run's warnings at the end.
    lines = r.stdout.splitlines()
    first_case = next(i for i, ln in enumerate(lines) if ln.split(" ")[0] in
                      ("pass", "unexpected-accept"))
    assert lines.index(f"warning: {msg}") < first_case, r.stdout
    assert lines.count(f"warning: {msg}") == 2, r.stdout
    assert "run: target nginx: profile nginx-cannot, request http" in lines, r.stdout
    assert "max\\_version, which its stack (profile nginx-cannot)" in (out / "report.md").read_text()
    assert "max_version, which its stack" in (out / "report.html").read_text()
    junit = (out / "junit.xml").read_text()
    assert "cannot enforce" in junit and "warning:cannot_enforce" not in junit
