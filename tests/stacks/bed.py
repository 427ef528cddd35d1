"""The test bed of tests/py/test_stacks*.py: one fixture PKI per module, real servers from Debian
started on loopback with a policy, a strict matrix run against them, and the checks every stack's
run must pass (each case `pass`, each rejection at the layer and with the alert or status its
profile names, the case count). docs/stacks.md describes each stack's configuration."""
import json
import os
import pathlib
import shutil
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
STACKS = ROOT / "tests" / "stacks"
SPEC = STACKS / "pki.json"
SERVER_NAME = "server.stacks.test"
CLIENT = "client.example"

# Every identity of tests/stacks/pki.json a stack's matrix uses unless it says otherwise: the one
# its policy admits, one per reason a certificate is rejected, and none.
IDENTITIES = ["client", "intermediate-signed", "none", "other", "expired", "not-yet-valid",
              "untrusted", "self-signed", "server-only-eku", "key-mismatch"]


# The SPIFFE-style allow-list: only workloads of this trust domain path are admitted.
SPIFFE_PREFIX = "spiffe://example.org/ns/prod/"
# Its identities (URI SANs, empty subjects as SVIDs have, so the SAN is critical): admitted,
# another namespace, another trust domain; and a client with no URI SAN at all.
SPIFFE_IDENTITIES = ["spiffe-billing", "spiffe-staging", "spiffe-other-domain", "client", "none"]


def spiffe_policy():
    return {"client_auth": "require", "client_ca_files": ["/certs/stacks-ca.pem"],
            "identity": {"uri_san_prefix": [SPIFFE_PREFIX]}}


def spiffe_cases(target, prefix="spiffe"):
    """The SPIFFE allow-list's explicit cases against |target| (the oracle decides each)."""
    return [{"name": f"{prefix}/{i}/tls{v}", "target": target, "identity": i, "version": v}
            for i in SPIFFE_IDENTITIES for v in ("1.2", "1.3")]


def need(binary):
    """Skips the calling test with the reason when a server binary is missing (scripts/deps
    installs each one, so CI never skips)."""
    path = shutil.which(binary) or (binary if os.access(binary, os.X_OK) else None)
    if path is None:
        pytest.skip(f"{binary} is not installed (scripts/deps installs it)")
    return path


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_pki(harness, out):
    """Generates tests/stacks/pki.json into |out| once per module: the servers load these files,
    and each run reuses its CA keys (the fixtures/ directory given to --out)."""
    r = subprocess.run([str(harness), "pki", str(SPEC), "--out", str(out)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


class Server:
    """A real server process on 127.0.0.1:|port|, waited for (bounded) and stopped at teardown."""

    def __init__(self, args, port, workdir, env=None, timeout=15, stdin=None):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "server.log"
        self._log = open(self.log, "w")
        self.args = [str(a) for a in args]
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL if stdin is None else stdin,
                                     cwd=self.workdir, env=env, start_new_session=True)
        self.port = port
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{self.args[0]} did not listen on {port}:\n"
                                       f"{self.log.read_text()}")
                time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def policy(cns=None, min_version=None, **extra):
    """A policy block requiring a client certificate from the stacks CA, with SemStreams' keys;
    |extra| adds the harness's own keys (client_auth, identity, max_version, ...)."""
    p = {"mtls": {"enabled": True, "client_ca_files": ["/certs/stacks-ca.pem"],
                  "require_client_cert": True}}
    if cns is not None:
        p["mtls"]["allowed_client_cns"] = list(cns)
    if min_version is not None:
        p["min_version"] = min_version
    p.update(extra)
    return p


def target(port, profile, pol, **extra):
    """An external target on loopback; |profile| None names none (as an operator's first run)."""
    t = {"target": f"127.0.0.1:{port}", "server_name": SERVER_NAME,
         "ca_files": ["/certs/stacks-ca.pem"], "path": "/", "policy": pol}
    if profile is not None:
        t["profile"] = profile
    t.update(extra)
    return t


def run_matrix(harness, workdir, fixtures, targets, identities=None, versions=("1.2", "1.3"),
               cases=None, name="stacks", extra_args=(), matrix_targets=None, strict=True,
               quiet=True):
    """Runs one matrix (--strict unless |strict| is false, --quiet unless |quiet| is) over
    |matrix_targets| (default: every one of |targets|, name -> target) plus the explicit |cases|,
    and returns (process, report)."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    doc = {"name": name, "fixtures": str(SPEC), "locations": targets,
           "matrix": {"targets": list(matrix_targets or targets), "identities": list(identities or IDENTITIES),
                      "versions": list(versions)}}
    if cases:
        doc["cases"] = cases
    scenario = workdir / f"{name}.json"
    scenario.write_text(json.dumps(doc, indent=2))
    out = workdir / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    # The run re-issues every certificate with the CA keys it finds here, so the servers' files
    # (loaded from |fixtures|) stay valid for the run's clients.
    shutil.copytree(fixtures, out / "fixtures")
    r = subprocess.run([str(harness), "run", str(scenario), "--out", str(out),
                        *(["--strict"] if strict else []),
                        "--profiles", str(ROOT / "profiles"), *(["--quiet"] if quiet else []),
                        *extra_args],
                       capture_output=True, text=True, timeout=300)
    assert (out / "report.json").exists(), r.stdout + r.stderr
    return r, json.loads((out / "report.json").read_text())


def profile(name):
    return json.loads((ROOT / "profiles" / f"{name}.json").read_text())


def expected_alerts(prof, reason, version):
    alerts = prof["reasons"][reason].get("alerts")
    if isinstance(alerts, dict):
        alerts = alerts.get(version, [])
    return alerts or []


def assert_strict_pass(r, report, total, logs=(), warnings=()):
    """Every case passed under --strict, the run has exactly the |warnings| given as (kind,
    target) pairs (none by default), and each rejection is what the profile says: the reason's
    layer, and its alert (tls) or status (http), read from the outcome the probe recorded, not
    from the verdict alone."""
    failing = [f"{c['id']}: {c['verdict']} ({c.get('verdict_reason', '')})"
               for c in report["cases"] if c["verdict"] != "pass"]
    extra = "".join(f"\n--- {p}:\n{pathlib.Path(p).read_text()[-3000:]}" for p in logs
                    if pathlib.Path(p).exists())
    assert not failing, "\n".join(failing) + "\n" + r.stdout[-4000:] + r.stderr[-2000:] + extra
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert report["summary"]["total"] == total == len(report["cases"])
    got = sorted((w["kind"], w.get("target")) for w in report.get("warnings") or [])
    assert got == sorted(warnings), report.get("warnings")
    profiles = {}
    for c in report["cases"]:
        exp, o = c["expected"], c["outcome"]
        if exp["result"] == "accept":
            assert o["result"] == "accepted", c["id"]
            continue
        assert o["result"] == "rejected", c["id"]
        reason = exp["reason"]
        if reason in ("server_name", "server_cn_only", "server_untrusted"):
            continue
        name = c.get("profile") or report_profile(report, c)
        prof = profiles.setdefault(name, profile(name))
        rule = prof["reasons"][reason]
        assert o["layer"] == rule["layer"], (c["id"], o)
        if rule["layer"] == "http":
            assert o["http_status"] == rule["status"], (c["id"], o)
        else:
            alert = (o.get("alert_received") or {}).get("code")
            version = c["id"].rsplit("/tls", 1)[1]
            assert alert in expected_alerts(prof, reason, version), (c["id"], o)
    return {c["id"]: c for c in report["cases"]}


def report_profile(report, case):
    return report["targets"][case["target"]]["profile"]
