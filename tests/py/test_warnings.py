"""No silent greens: a run that cannot tell a server that rejects everything from a correct one
says so on the console and in every report, and --strict fails it. Against the mocks and a real
nginx that rejects every client (it trusts another CA)."""
import copy
import xml.etree.ElementTree as ET

import jsonschema

from conftest import (FED, NGINX_CONF, ROOT, SCHEMA, external_target, free_port, nginx_running, run,
                     run_harness, write_scenario)

NO_ACCEPT = ("no case expects acceptance: this run cannot tell a server that rejects everything "
             "from a correct one (add an identity the policy admits)")


def valid(report):
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)


def only_rejections_at(identities, versions=("1.3",)):
    doc = copy.deepcopy(FED)
    doc["matrix"] = {"targets": ["location-a"], "identities": identities,
                     "versions": list(versions)}
    return doc


def test_a_run_where_no_case_expects_acceptance_warns_and_fails_under_strict(mh, tmp_path):
    # No certificate (116) and a CN off the allow-list (42): rejected two ways, all as expected.
    path = write_scenario(tmp_path, only_rejections_at(["none", "location-c"]))
    r, report = run_harness(mh, path, tmp_path / "out")
    assert r.returncode == 0, r.stdout
    valid(report)
    assert {c["verdict"] for c in report["cases"]} == {"pass"}
    assert report["warnings"] == [{"kind": "no_accept_expected", "target": None, "cases": 2,
                                   "rejection": None, "fails": False, "message": NO_ACCEPT}]
    # The console's last line is the warning; the counts line says there is one.
    assert r.stdout.splitlines()[-1] == "warning: " + NO_ACCEPT
    assert "2 pass, 1 warning\n" in r.stdout
    out = tmp_path / "out"
    md = (out / "report.md").read_text()
    # After the counts (and the failures, when there are any), above the cases.
    assert md.index("| verdict |") < md.index("> **Warning:** " + NO_ACCEPT) < md.index("\n## ")
    assert "all passed, **with warnings**" in md
    html = (out / "report.html").read_text()
    assert html.index("<table") < html.index("<b>Warning:</b> " + NO_ACCEPT) < html.index("<h2")
    junit = ET.parse(out / "junit.xml").getroot()
    props = junit.findall("./testsuite/properties/property")
    assert [(p.get("name"), p.get("value")) for p in props] == [("warning", NO_ACCEPT)]
    assert not junit.findall(".//failure") and junit.get("tests") == "2"

    r, report = run_harness(mh, path, tmp_path / "strict", "--strict")
    assert r.returncode == 1, r.stdout
    valid(report)
    assert report["exit_code"] == 1 and report["summary"]["failed"] == 0
    assert report["warnings"][0]["fails"] is True
    assert "1 warning (failing under --strict)" in r.stdout
    junit = ET.parse(tmp_path / "strict" / "junit.xml").getroot()
    failing = junit.findall("./testsuite/testcase[failure]")
    assert [t.get("name") for t in failing] == ["warning:no_accept_expected"]
    assert failing[0].find("failure").get("type") == "no_accept_expected"
    assert junit.get("tests") == "3" and junit.get("failures") == "1"


def test_one_target_without_an_acceptance_case_is_named(mh, tmp_path):
    doc = copy.deepcopy(FED)
    doc["matrix"] = {"targets": ["location-a", "location-b"], "identities": ["location-b", "none"],
                     "versions": ["1.3"]}
    # location-b does not allow its own CN: neither of its cases expects acceptance.
    r, report = run_harness(mh, write_scenario(tmp_path, doc), tmp_path / "out")
    assert r.returncode == 0, r.stdout
    valid(report)
    assert [(w["kind"], w["target"]) for w in report["warnings"]] == [
        ("no_accept_expected", "location-b")]
    assert "warning: no case of target location-b expects acceptance" in r.stdout


def nginx_scenario(port, identities):
    doc = copy.deepcopy(FED)
    doc["locations"]["nginx"] = external_target(port, "nginx-http")
    doc["matrix"] = {"targets": ["nginx"], "identities": identities, "versions": ["1.2", "1.3"]}
    return doc


def test_an_nginx_that_rejects_everything_is_not_a_silent_green(harness, mh, tmp_path):
    out = tmp_path / "out"
    fx = out / "fixtures"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, fx=fx).replace(
        f"{fx}/federation-ca.pem", f"{fx}/untrusted-ca.pem"))
    with nginx_running(conf, tmp_path, port):
        # Only identities the policy rejects, each with 400 at HTTP: every case passes...
        doc = nginx_scenario(port, ["none", "expired", "not-yet-valid"])
        r, report = run_harness(mh, write_scenario(tmp_path, doc), out)
        assert r.returncode == 0, r.stdout
        valid(report)
        assert {c["verdict"] for c in report["cases"]} == {"pass"}
        # ...and the run says what it cannot tell.
        same = ("target nginx rejected all 6 cases the same way (server, http, status 400): a "
                "server that rejects every client looks like this (does it trust the identities' "
                "CA?)")
        assert [w["message"] for w in report["warnings"]] == [NO_ACCEPT, same]
        assert report["warnings"][1]["rejection"] == {"side": "server", "layer": "http",
                                                      "alert": None, "http_status": 400}
        assert r.stdout.splitlines()[-2:] == ["warning: " + NO_ACCEPT, "warning: " + same]
        # The same --out again: --force empties it, but for the fixtures/ it keeps.
        r, report = run_harness(mh, write_scenario(tmp_path, doc), out, "--strict", "--force")
        assert r.returncode == 1 and report["exit_code"] == 1, r.stdout

        # With the identity it should admit, the run fails, and the warning says why. (The same
        # --out: its fixtures keep the CA key that issued nginx's certificate.)
        doc = nginx_scenario(port, ["location-b", "none"])
        r, report = run_harness(mh, write_scenario(tmp_path, doc, "b.json"), out, "--force")
        assert r.returncode == 1, r.stdout
        valid(report)
        assert {c["verdict"] for c in report["cases"]} == {"pass", "unexpected-reject"}
        assert [(w["kind"], w["target"], w["cases"]) for w in report["warnings"]] == [
            ("same_rejection", "nginx", 4)]


def test_an_unreachable_target_stays_inconclusive_and_is_no_same_rejection(mh, tmp_path):
    doc = copy.deepcopy(FED)
    doc["locations"]["gone"] = external_target(free_port())
    doc["matrix"] = {"targets": ["gone"], "identities": ["none", "expired"], "versions": ["1.3"]}
    r, report = run_harness(mh, write_scenario(tmp_path, doc), tmp_path / "out")
    assert r.returncode == 1
    assert {c["verdict"] for c in report["cases"]} == {"inconclusive"}
    # Refused connections were not rejections: only the missing acceptance case is warned about.
    assert [w["kind"] for w in report["warnings"]] == ["no_accept_expected"]


def test_a_filtered_rerun_is_judged_on_the_whole_plan(mh, tmp_path):
    """The rerun command of a failing case (--filter ID) must pass once the case is fixed: the
    matrix-level warnings are the whole plan's, not the subset's. One rejected case of a matrix
    whose other cases expect acceptance: no "no case expects acceptance". Two cases rejected the
    same way, the target's other cases left out: said not judged, and not failing under --strict."""
    path = write_scenario(tmp_path, copy.deepcopy(FED))
    r, report = run_harness(mh, path, tmp_path / "one", "--strict", "--filter",
                            "location-b/wrong-cn/tls1.3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [c["verdict"] for c in report["cases"]] == ["pass"] and report["warnings"] == []
    r, report = run_harness(mh, path, tmp_path / "two", "--strict", "--filter",
                            "location-b/wrong-cn/*")
    assert r.returncode == 0, r.stdout + r.stderr
    (w,) = report["warnings"]
    assert w["kind"] == "same_rejection" and not w["fails"], w
    assert w["message"].startswith("target location-b rejected the 2 cases that ran the same way "
                                   "(server, tls, alert 42 bad_certificate); --filter left out ")
    assert w["message"].endswith(" of its cases, so whether it rejects every client is not judged "
                                 "here (run without --filter to judge it)")
    assert int(w["message"].split("--filter left out ")[1].split()[0]) > 0
    # The plan without a case that expects acceptance still warns, filtered or not.
    path = write_scenario(tmp_path, only_rejections_at(["none", "location-c"]), "rej.json")
    r, report = run_harness(mh, path, tmp_path / "three", "--strict", "--filter",
                            "location-a/none/*")
    assert r.returncode == 1 and [w["message"] for w in report["warnings"]] == [NO_ACCEPT], r.stdout
