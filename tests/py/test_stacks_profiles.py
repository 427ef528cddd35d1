"""Every shipped profile loads, says what it is based on, and has its section in docs/stacks.md;
the one no test measures (Envoy) says so and names its sources."""
import json
import socket
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "stacks"))
import bed  # noqa: E402

PROFILES = sorted(p.stem for p in (ROOT / "profiles").glob("*.json"))
# Each profile's test: the real server it is measured against (docs/stacks.md).
MEASURED = {"nginx-http": "test_stacks_nginx.py", "haproxy": "test_stacks_haproxy.py",
            "apache": "test_stacks_apache.py", "stunnel": "test_stacks_stunnel.py",
            "openssl": "test_stacks_openssl.py", "boringssl": "test_stacks_boringssl.py",
            "semstreams": "test_stacks_go.py"}


def test_every_profile_is_measured_or_says_why_not():
    assert set(PROFILES) == set(MEASURED) | {"envoy"}, PROFILES
    doc = (ROOT / "docs/stacks.md").read_text()
    for name in PROFILES:
        p = json.loads((ROOT / "profiles" / f"{name}.json").read_text())
        assert p["name"] == name and p["description"], name
        assert f"`{name}`" in doc, f"docs/stacks.md does not describe profile {name}"
        if name in MEASURED:
            assert (ROOT / "tests/py" / MEASURED[name]).exists()
            assert MEASURED[name] in p["description"] + " ".join(p.get("sources", [])), name
    envoy = json.loads((ROOT / "profiles/envoy.json").read_text())
    assert "NO TEST RUNS IT" in envoy["description"] and len(envoy["sources"]) >= 3
    assert "identity.cn" in envoy["cannot"] and envoy["why"]


def test_every_profile_loads_in_a_run(harness, tmp_path):
    """A run names each profile on a target nobody listens on: every case is inconclusive (exit
    1), none is an input error (exit 2) from a profile the harness refuses. The port stays bound,
    not listening, for the whole run (connections to it are refused): a port merely found free
    was once taken by another worker's server mid-run."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    targets = {f"t-{n}": bed.target(port, n, bed.policy([bed.CLIENT])) for n in PROFILES}
    cases = [{"name": f"{n}/client", "target": f"t-{n}", "identity": "client", "version": "1.3"}
             for n in PROFILES]
    r, report = bed.run_matrix(harness, tmp_path, bed.make_pki(harness, tmp_path / "pki"),
                               targets, cases=cases, matrix_targets=[], identities=[])
    assert r.returncode == 1, r.stderr
    assert {c["profile"] for c in report["cases"]} == set(PROFILES)
    held.close()
    assert {c["verdict"] for c in report["cases"]} == {"inconclusive"}
