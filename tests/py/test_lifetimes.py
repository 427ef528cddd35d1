"""Certificate lifetimes in every `run` report: the chain a real nginx presents, read as
`openssl x509` reads it; --min-time-left turning a certificate that expires too soon (a target's or
an imported client identity's) into a failing case; the expiry warning without the option; a target
that presents different chains to different cases; each mock location's certificate."""
import copy
import datetime
import json
import re
import shutil

import jsonschema
import pytest

from conftest import (A, B, FED, NGINX_CONF, ROOT, SCHEMA, external_target, free_port,
                     nginx_running, run)

SPEC = json.loads((ROOT / "fixtures/federation.json").read_text())
DAY = 86400

# A second server block on the same port: SNI location-b.semstreams.local gets B's certificate,
# as a load balancer mid-rollout hands different clients different chains.
ROLLOUT_BLOCK = """
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name location-b.semstreams.local;
    ssl_certificate {fx}/location-b-cert.pem;
    ssl_certificate_key {fx}/location-b-key.pem;
    ssl_client_certificate {fx}/federation-ca.pem;
    ssl_verify_client on;
    location / {{ return 200 "ok\\n"; }}
  }}
}}
"""


def openssl_x509(path, *args):
    return run(["openssl", "x509", "-in", path, "-noout", *args], check=True).stdout


def openssl_facts(path):
    """subject, issuer (RFC 2253), serial, not-after (as report.json writes it) and key of |path|,
    as openssl reads them."""
    subject = openssl_x509(path, "-subject", "-nameopt", "RFC2253").strip().split("=", 1)[1]
    issuer = openssl_x509(path, "-issuer", "-nameopt", "RFC2253").strip().split("=", 1)[1]
    serial = openssl_x509(path, "-serial").strip().split("=", 1)[1]
    end = openssl_x509(path, "-enddate").strip().split("=", 1)[1]
    not_after = datetime.datetime.strptime(end, "%b %d %H:%M:%S %Y %Z").strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    text = openssl_x509(path, "-text")
    if "id-ecPublicKey" in text:
        curve = re.search(r"NIST CURVE: (P-\d+)", text).group(1)
        key = f"ECDSA {curve}"
    elif "rsaEncryption" in text:
        key = "RSA-" + re.search(r"Public-Key: \((\d+) bit\)", text).group(1)
    else:
        key = "Ed25519" if "ED25519" in text else "?"
    return {"subject": subject, "issuer": issuer, "serial": serial, "not_after": not_after,
            "key": key}


def spec_with(tmp, **changes):
    """The federation's fixture spec with |changes| (identity name -> keys) applied."""
    spec = copy.deepcopy(SPEC)
    spec.pop("zips", None)
    for e in spec["identities"]:
        e.update(changes.get(e["name"], {}))
    path = tmp / "spec.json"
    path.write_text(json.dumps(spec, indent=2))
    return path


@pytest.fixture(scope="module")
def short_nginx(harness, tmp_path_factory):
    """nginx presenting location-a's certificate made by the fixture spec valid for 2 days (and,
    for SNI location-b, location-b's)."""
    tmp = tmp_path_factory.mktemp("short-nginx")
    spec = spec_with(tmp, **{"location-a": {"days": 2}})
    fx = tmp / "fx"
    r = run([harness, "pki", spec, "--out", fx])
    assert r.returncode == 0, r.stderr
    port = free_port()
    conf = tmp / "nginx.conf"
    base = NGINX_CONF.format(tmp=tmp, port=port, fx=fx).rstrip()
    assert base.endswith("}")
    conf.write_text(base[:-1] + ROLLOUT_BLOCK.format(port=port, fx=fx))
    with nginx_running(conf, tmp, port):
        yield spec, fx, port


def nginx_run(harness, short_nginx, tmp_path, *args, cases=None, spec=None):
    """Runs the location-b identity against the nginx target; returns (result, report, out)."""
    spec_path, fx, port = short_nginx
    doc = copy.deepcopy(FED)
    doc["fixtures"] = str(spec or spec_path)
    doc["locations"]["nginx"] = external_target(port, "nginx-http")
    doc["matrix"]["targets"] = ["nginx"]
    doc["matrix"]["identities"] = ["location-b"]
    if cases is not None:
        del doc["matrix"]
        doc["cases"] = cases
    scen = tmp_path / "s.json"
    scen.write_text(json.dumps(doc, indent=2))
    out = tmp_path / "out"
    # The run re-issues the identities with the CA's key: nginx, which loaded fx, trusts them.
    shutil.copytree(fx, out / "fixtures")
    r = run([harness, "run", scen, "--out", out, "--profiles", ROOT / "profiles",
             "--filter", "nginx/*", *args], timeout=180)
    p = out / "report.json"
    report = json.loads(p.read_text()) if p.exists() else None
    if report is not None:
        jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    return r, report, out


def target_chains(report, name):
    return next(t["chains"] for t in report["certificates"]["targets"] if t["target"] == name)


def case(report, cid):
    return next(c for c in report["cases"] if c["id"] == cid)


def test_report_shows_the_chain_as_openssl_reads_it(harness, short_nginx, tmp_path):
    _, fx, _ = short_nginx
    r, report, out = nginx_run(harness, short_nginx, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    chains = target_chains(report, "nginx")
    assert len(chains) == 1
    # Every case saw it: the identity's and the server checks' (wrong name, untrusted server).
    assert {"nginx/location-b/tls1.2", "nginx/location-b/tls1.3"} <= set(chains[0]["cases"])
    assert len(chains[0]["cases"]) == len(report["cases"])
    leaf = chains[0]["certificates"][0]
    want = openssl_facts(fx / "location-a-cert.pem")
    assert {k: leaf[k] for k in want} == want
    assert leaf["role"] == "leaf" and leaf["sans"] == f"DNS:{A}"
    left = leaf["time_left_s"]
    assert 1 * DAY < left <= 2 * DAY
    assert leaf["time_left"] == f"{left // DAY}d {left % DAY // 3600}h"
    # Within 7 days and no --min-time-left: a warning that does not fail, on stdout too.
    w = [x for x in report["warnings"] if x["kind"] == "certificate_expiring"]
    assert len(w) == 1 and w[0]["target"] == "nginx" and not w[0]["fails"]
    assert want["serial"] in w[0]["message"] and "--min-time-left" in w[0]["message"]
    assert not [c for c in report["cases"] if c["kind"] == "certificate"]
    assert f"run: soonest expiry: nginx: {want['subject']} (serial {want['serial']})" in r.stdout
    assert "warning: nginx: " in r.stdout
    # report.md and report.html: the section near the top, the answer before the facts.
    md = (out / "report.md").read_text()
    assert md.index("\n## Certificates\n") < md.index("\n## nginx\n")
    section = md[md.index("\n## Certificates\n"):md.index("\n## nginx\n")]
    assert section.index("Soonest expiry: nginx") < section.index("| # | subject |")
    assert want["serial"] in section and want["not_after"] in section
    html = (out / "report.html").read_text()
    assert 'id="certificates"' in html and want["serial"] in html


def test_min_time_left_fails_the_run_when_the_leaf_expires_sooner(harness, short_nginx,
                                                                  tmp_path):
    _, fx, _ = short_nginx
    want = openssl_facts(fx / "location-a-cert.pem")
    r, report, out = nginx_run(harness, short_nginx, tmp_path, "--min-time-left", "30d")
    assert r.returncode == 1, r.stdout + r.stderr
    c = case(report, "nginx/server-certificate/time-left")
    assert c["kind"] == "certificate" and c["verdict"] == "fail" and c["fails"]
    assert c["expected"] is None and c["outcome"] is None
    assert want["subject"] in c["summary"] and want["not_after"] in c["summary"]
    assert "within --min-time-left 30d" in c["verdict_reason"]
    assert report["summary"]["verdicts"]["fail"] == 1
    assert report["certificates"]["min_time_left_s"] == 30 * DAY
    # The probes themselves still pass; the warning is the failing case's now.
    assert {x["verdict"] for x in report["cases"] if x["kind"] != "certificate"} == {"pass"}
    assert not [x for x in report["warnings"] if x["kind"] == "certificate_expiring"]
    assert "fail              nginx/server-certificate/time-left" in r.stdout
    junit = (out / "junit.xml").read_text()
    assert re.search(r'name="nginx/server-certificate/time-left"[^>]*>\s*<failure type="fail"',
                     junit)
    md = (out / "report.md").read_text()
    failures = md[md.index("## Failures"):]
    assert "nginx/server-certificate/time-left" in failures and "Rerun" not in failures
    assert "nginx/server-certificate/time-left" in (out / "report.html").read_text()


def test_min_time_left_shorter_than_the_time_left_passes(harness, short_nginx, tmp_path):
    r, report, _ = nginx_run(harness, short_nginx, tmp_path, "--min-time-left", "1d")
    assert r.returncode == 0, r.stdout + r.stderr
    c = case(report, "nginx/server-certificate/time-left")
    assert c["verdict"] == "pass" and not c["fails"]


def test_imported_client_identity_expiring_soon_fails_its_case(harness, short_nginx, tmp_path):
    # The operator's client certificate, issued elsewhere by the federation CA for 3 days.
    _, fx, _ = short_nginx
    op = tmp_path / "op"
    op_spec = tmp_path / "op.json"
    op_spec.write_text(json.dumps({
        "cas": [{"name": "federation-ca", "import_cert": str(fx / "federation-ca.pem"),
                 "import_key": str(fx / "federation-ca-key.pem")}],
        "identities": [{"name": "ops", "ca": "federation-ca", "days": 3,
                        "subject": {"CN": B}, "eku": ["clientAuth"]}]}))
    assert run([harness, "pki", op_spec, "--out", op]).returncode == 0
    spec = copy.deepcopy(SPEC)
    spec.pop("zips", None)
    spec["identities"].append({"name": "ops-client", "import_cert": str(op / "ops-cert.pem"),
                               "import_key": str(op / "ops-key.pem")})
    spec_path = tmp_path / "spec-ops.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    r, report, _ = nginx_run(harness, short_nginx, tmp_path, "--min-time-left", "1d",
                             spec=spec_path)
    assert r.returncode == 0, r.stdout + r.stderr  # 3 days left: more than 1d
    (tmp_path / "again").mkdir()
    r, report, _ = nginx_run(harness, short_nginx, tmp_path / "again", "--min-time-left", "5d",
                             spec=spec_path)
    assert r.returncode == 1
    c = case(report, "ops-client/client-certificate/time-left")
    assert c["verdict"] == "fail" and c["identity"] == "ops-client"
    want = openssl_facts(op / "ops-cert.pem")
    assert want["not_after"] in c["summary"] and want["serial"] in c["summary"]
    ids = {x["name"]: x for x in report["certificates"]["client_identities"]}
    assert ids["ops-client"]["source"] == "imported"
    assert ids["ops-client"]["certificates"][0]["serial"] == want["serial"]
    # A generated identity is reported as the spec made it, never a failing case.
    assert ids["location-b"]["source"] == "generated"
    assert not [x for x in report["cases"] if x["id"].startswith("location-b/client-cert")]


def test_different_chains_to_different_cases_are_each_listed(harness, short_nginx, tmp_path):
    cases = [{"name": "nginx/rollout-old", "target": "nginx", "identity": "location-b",
              "version": "1.3", "server_name": A},
             {"name": "nginx/rollout-new", "target": "nginx", "identity": "location-b",
              "version": "1.3", "server_name": B}]
    # (The verdicts do not matter here: nginx answers 421 when the Host is not the SNI's.)
    r, report, out = nginx_run(harness, short_nginx, tmp_path, cases=cases)
    assert report is not None, r.stderr
    chains = target_chains(report, "nginx")
    assert len(chains) == 2
    seen = {ch["certificates"][0]["subject"].split(",")[0]: ch["cases"] for ch in chains}
    assert seen == {f"CN={A}": ["nginx/rollout-old"], f"CN={B}": ["nginx/rollout-new"]}
    md = (out / "report.md").read_text()
    assert "nginx presented 2 different chains to different cases" in md


@pytest.mark.parametrize("bad", ["30", "-1d", "0s", "1y", "thirty days", ""])
def test_bad_durations_are_refused(mh, tmp_path, bad):
    r = mh("run", ROOT / "scenarios/federation.json", "--out", tmp_path / "out",
           "--min-time-left", bad)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--min-time-left" in r.stderr and "30d" in r.stderr
    assert not (tmp_path / "out").exists()


def test_federation_report_lists_each_locations_certificate(harness, tmp_path):
    out = tmp_path / "out"
    r = run([harness, "run", ROOT / "scenarios/federation.json", "--out", out, "--quiet",
             "--min-time-left", "30d"], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    targets = {t["target"]: t["chains"] for t in report["certificates"]["targets"]}
    assert set(targets) == {"location-a", "location-b"}
    for name, chains in targets.items():
        # The variants that deliberately present another certificate are not the location's.
        assert len(chains) == 1, [c["certificates"][0]["subject"] for c in chains]
        leaf = chains[0]["certificates"][0]
        want = openssl_facts(out / "fixtures" / f"{name}-cert.pem")
        assert {k: leaf[k] for k in want} == want
        c = case(report, f"{name}/server-certificate/time-left")
        assert c["verdict"] == "pass"


def test_an_intermediate_expiring_before_its_leaf_is_the_one_named(harness, tmp_path):
    # nginx sends its leaf and the intermediate CA that issued it; the intermediate has 3 days.
    spec = copy.deepcopy(SPEC)
    spec.pop("zips", None)
    inter = next(c for c in spec["cas"] if c["name"] == "intermediate-ca")
    inter["days"] = 3
    spec["identities"].append({"name": "edge", "ca": "intermediate-ca", "days": 60,
                               "subject": {"CN": A}, "dns": [A], "eku": ["serverAuth"],
                               "chain_file": "edge-chain.pem"})
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    fx = tmp_path / "fx"
    assert run([harness, "pki", spec_path, "--out", fx]).returncode == 0
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, fx=fx).replace(
        f"{fx}/location-a-cert.pem", f"{fx}/edge-chain.pem").replace(
        f"{fx}/location-a-key.pem", f"{fx}/edge-key.pem"))
    with nginx_running(conf, tmp_path, port):
        r, report, _ = nginx_run(harness, (spec_path, fx, port), tmp_path,
                                 "--min-time-left", "5d")
    assert r.returncode == 1, r.stdout + r.stderr
    certs = target_chains(report, "nginx")[0]["certificates"]
    assert [c["role"] for c in certs] == ["leaf", "intermediate"]
    for got, path in zip(certs, [fx / "edge-cert.pem", fx / "intermediate-ca.pem"]):
        want = openssl_facts(path)
        assert {k: got[k] for k in want} == want
    c = case(report, "nginx/server-certificate/time-left")
    assert c["verdict"] == "fail"
    assert c["summary"].startswith(certs[1]["subject"]) and certs[1]["not_after"] in c["summary"]


def test_an_imported_negative_is_not_warned_about(harness, tmp_path):
    """An expired certificate the operator imports on purpose, for the matrix to see it refused,
    is no "renew it" warning and no failing time-left case; the same certificate imported and not
    a negative of the run (no case presents it) still is."""
    fx = tmp_path / "fx"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    spec = copy.deepcopy(SPEC)
    spec.pop("zips", None)
    ca = next(c for c in spec["cas"] if c["name"] == "federation-ca")
    ca.clear()
    ca.update({"name": "federation-ca", "import_cert": str(fx / "federation-ca.pem"),
               "import_key": str(fx / "federation-ca-key.pem")})
    spec["identities"].append({"name": "ops-expired", "import_cert": str(fx / "expired-cert.pem"),
                               "import_key": str(fx / "expired-key.pem")})
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))

    def run_with(identities, *args):
        doc = copy.deepcopy(FED)
        doc["fixtures"] = str(spec_path)
        doc["matrix"] = {"targets": ["location-b"], "identities": identities,
                         "versions": ["1.3"]}
        scen = tmp_path / "s.json"
        scen.write_text(json.dumps(doc))
        out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
        r = run([harness, "run", scen, "--out", out, *args], timeout=120)
        return r, json.loads((out / "report.json").read_text())

    expiring = lambda rep: [w["message"] for w in rep["warnings"]  # noqa: E731
                            if w["kind"] == "certificate_expiring"]
    r, rep = run_with(["location-c", "ops-expired"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert case(rep, "location-b/ops-expired/tls1.3")["expected"]["reason"] == "expired"
    assert expiring(rep) == [] and "renew it" not in r.stdout
    r, rep = run_with(["location-c", "ops-expired"], "--min-time-left", "1d")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not [c for c in rep["cases"] if c["id"].startswith("ops-expired/")]
    # Not presented by any case: the operator's certificate, expired, warned.
    r, rep = run_with(["location-c"])
    assert r.returncode == 0, r.stdout + r.stderr
    (w,) = expiring(rep)
    assert w.startswith("ops-expired: CN=location-b.semstreams.local") and "renew it" in w
