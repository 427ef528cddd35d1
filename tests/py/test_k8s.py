"""deploy/: the Kubernetes manifests, run-shards and the shard wrapper, and the Containerfile.

No cluster and no container engine: the manifests rendered by `run-shards --dry-run` are decoded
offline by kubectl into the API's own Go types (`kubectl set image --local`, which needs no server)
and validated against a schema of the fields they use, written here from the Kubernetes API
reference; then what an operator relies on is asserted field by field. The shard wrapper runs here
as it runs in a pod, and run-shards collects its report from the log it prints."""
import datetime
import json
import time
import os
import re
import shutil
import subprocess

import jsonschema
import pytest
import yaml

from conftest import NGINX_CONF, ROOT, free_port, nginx_running, run

RUN_SHARDS = ROOT / "deploy/k8s/run-shards"
SHARD = ROOT / "deploy/k8s/shard"

BASE = ["--image", "registry.example/mtls-harness:1.0", "--target", "lb.example.internal:443",
        "--rate", "20000"]


def render(tmp_path, *extra, shards=4):
    out = tmp_path / "render"
    r = run([RUN_SHARDS, *BASE, "--shards", str(shards), *extra, "--dry-run", "--out", out])
    assert r.returncode == 0, r.stderr
    return yaml.safe_load((out / "job.yaml").read_text()), out / "job.yaml"


def container(job):
    [c] = job["spec"]["template"]["spec"]["containers"]
    return c


def arg(c, name):
    a = c["args"]
    assert a.count(name) == 1, (name, a)
    return a[a.index(name) + 1]


# --- schema: the fields the manifests use, from the Kubernetes API reference (v1.30):
# Job https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/job-v1/
# Pod https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/
# ConfigMap https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/config-map-v1/
# Secret https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/secret-v1/
# Objects are closed (additionalProperties: false), so a misspelled field fails.
def obj(props, required=()):
    return {"type": "object", "properties": props, "required": list(required),
            "additionalProperties": False}


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"}
LABELS = {"type": "object", "additionalProperties": STR}
META = obj({"name": NAME, "namespace": NAME, "labels": LABELS}, ["name"])
QUANTITY = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi)?$"}
MODE = {"type": "integer", "minimum": 0, "maximum": 0o777}
ENV = obj({"name": STR, "value": STR, "valueFrom": obj({"fieldRef": obj(
    {"fieldPath": STR, "apiVersion": STR}, ["fieldPath"])})}, ["name"])
CONTAINER = obj({
    "name": NAME, "image": STR, "command": {"type": "array", "items": STR},
    "args": {"type": "array", "items": STR}, "env": {"type": "array", "items": ENV},
    "resources": obj({"requests": obj({"cpu": QUANTITY, "memory": QUANTITY}),
                      "limits": obj({"cpu": QUANTITY, "memory": QUANTITY})}),
    "securityContext": obj({"allowPrivilegeEscalation": BOOL, "readOnlyRootFilesystem": BOOL,
                            "runAsNonRoot": BOOL, "runAsUser": INT,
                            "capabilities": obj({"drop": {"type": "array", "items": STR}})}),
    "volumeMounts": {"type": "array", "items": obj(
        {"name": NAME, "mountPath": STR, "readOnly": BOOL}, ["name", "mountPath"])},
}, ["name", "image"])
VOLUME = obj({
    "name": NAME,
    "secret": obj({"secretName": NAME, "defaultMode": MODE, "optional": BOOL}, ["secretName"]),
    "configMap": obj({"name": NAME, "defaultMode": MODE, "optional": BOOL}, ["name"]),
    "emptyDir": obj({"medium": {"enum": ["", "Memory"]}, "sizeLimit": QUANTITY}),
}, ["name"])
POD_SPEC = obj({
    "restartPolicy": {"enum": ["Never", "OnFailure"]},  # a Job's pods: never Always
    "automountServiceAccountToken": BOOL,
    "securityContext": obj({"runAsNonRoot": BOOL, "runAsUser": INT, "runAsGroup": INT,
                            "fsGroup": INT,
                            "seccompProfile": obj({"type": {"enum": [
                                "RuntimeDefault", "Localhost", "Unconfined"]}}, ["type"])}),
    "containers": {"type": "array", "items": CONTAINER, "minItems": 1},
    "volumes": {"type": "array", "items": VOLUME},
}, ["containers", "restartPolicy"])
JOB = obj({
    "apiVersion": {"const": "batch/v1"}, "kind": {"const": "Job"}, "metadata": META,
    "spec": obj({
        "completionMode": {"enum": ["NonIndexed", "Indexed"]},
        "completions": {"type": "integer", "minimum": 0},
        "parallelism": {"type": "integer", "minimum": 0},
        "backoffLimit": {"type": "integer", "minimum": 0},
        "activeDeadlineSeconds": {"type": "integer", "minimum": 1},
        "ttlSecondsAfterFinished": {"type": "integer", "minimum": 0},
        "template": obj({"metadata": obj({"labels": LABELS}), "spec": POD_SPEC}, ["spec"]),
    }, ["template"]),
}, ["apiVersion", "kind", "metadata", "spec"])
CONFIGMAP = obj({"apiVersion": {"const": "v1"}, "kind": {"const": "ConfigMap"},
                 "metadata": META, "data": {"type": "object", "additionalProperties": STR}},
                ["apiVersion", "kind", "metadata"])
SECRET = obj({"apiVersion": {"const": "v1"}, "kind": {"const": "Secret"}, "metadata": META,
              "type": STR, "stringData": {"type": "object", "additionalProperties": STR},
              "data": {"type": "object", "additionalProperties": STR}},
             ["apiVersion", "kind", "metadata"])


def test_manifests_follow_the_schema_of_the_fields_they_use(tmp_path):
    job, _ = render(tmp_path)
    jsonschema.validate(job, JOB)
    jsonschema.validate(yaml.safe_load((ROOT / "deploy/k8s/configmap.yaml").read_text()), CONFIGMAP)
    jsonschema.validate(yaml.safe_load((ROOT / "deploy/k8s/secret.yaml").read_text()), SECRET)


@pytest.mark.parametrize("path,value", [
    (("spec", "completion"), 4),                      # misspelled
    (("spec", "completions"), "four"),                # wrong type
    (("spec", "template", "spec", "restartPolicy"), "Always"),  # not allowed in a Job
])
def test_the_schema_refuses_a_broken_job(tmp_path, path, value):
    """The schema check can fail: a misspelled field, a wrong type, a value a Job refuses."""
    job, _ = render(tmp_path)
    node = job
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(job, JOB)


def kubectl_or_skip():
    k = shutil.which("kubectl")
    if k is None:
        pytest.skip("no kubectl on PATH (Debian: apt-get install kubernetes-client); "
                    "the schema checks above still ran")
    return k


def kubectl(tmp_path, *args):
    """kubectl with an empty kubeconfig: nothing it does may reach a cluster."""
    kc = tmp_path / "kubeconfig"
    kc.write_text("")
    env = dict(os.environ, KUBECONFIG=str(kc))
    return subprocess.run([kubectl_or_skip(), *args], capture_output=True, text=True,
                          timeout=60, env=env)


def client_minor(tmp_path):
    r = kubectl(tmp_path, "version", "--client", "-o", "json")
    assert r.returncode == 0, r.stderr
    return int(re.match(r"\d+", json.loads(r.stdout)["clientVersion"]["minor"]).group())


def survives(mine, decoded, path=""):
    """The paths of |mine| that |decoded| lacks or holds with another value."""
    if isinstance(mine, dict):
        if not isinstance(decoded, dict):
            return [path]
        lost = []
        for k, v in mine.items():
            lost += [f"{path}.{k}"] if k not in decoded else survives(v, decoded[k], f"{path}.{k}")
        return lost
    if isinstance(mine, list):
        if not isinstance(decoded, list) or len(mine) != len(decoded):
            return [path]
        return [p for i, (a, b) in enumerate(zip(mine, decoded))
                for p in survives(a, b, f"{path}[{i}]")]
    return [] if mine == decoded else [f"{path}: {mine!r} became {decoded!r}"]


def test_kubectl_decodes_the_job_into_the_api_types_offline(tmp_path):
    """`kubectl set image --local` decodes the manifest into batch/v1 Job's Go types with no
    server: a wrong type fails, and a field the API does not have is dropped, so every field we
    wrote must come back with its value."""
    job, path = render(tmp_path)
    # (kubectl prints nothing when the image is unchanged: set another, expect it back.)
    container(job)["image"] = "registry.example/decoded:1"
    r = kubectl(tmp_path, "set", "image", "--local", "-f", str(path),
                "shard=registry.example/decoded:1", "-o", "json")
    assert r.returncode == 0, r.stderr
    lost = survives(job, json.loads(r.stdout))
    # Indexed Jobs (completionMode) came with Kubernetes 1.21: an older client drops the field.
    if client_minor(tmp_path) < 21:
        lost = [p for p in lost if not p.startswith(".spec.completionMode")]
    assert lost == [], f"fields kubectl's Job type does not have or reads otherwise: {lost}"


def test_kubectl_drops_a_misspelled_field_and_the_round_trip_sees_it(tmp_path):
    """The round trip can fail: a field the Job type does not have does not come back."""
    job, path = render(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("backoffLimit: 0", "backofLimit: 0"))
    r = kubectl(tmp_path, "set", "image", "--local", "-f", str(bad),
                "shard=registry.example/decoded:1", "-o", "json")
    assert r.returncode == 0, r.stderr
    mine = yaml.safe_load(bad.read_text())
    container(mine)["image"] = "registry.example/decoded:1"
    assert survives(mine, json.loads(r.stdout)) == [".spec.backofLimit"]


def test_kubectl_refuses_a_job_of_the_wrong_type(tmp_path):
    _, path = render(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("completions: 4", 'completions: "four"'))
    r = kubectl(tmp_path, "set", "image", "--local", "-f", str(bad), "shard=x", "-o", "json")
    assert r.returncode != 0 and "completions" in r.stderr, r.stderr


# --- what the operator relies on


def test_one_indexed_job_runs_every_shard_at_once_and_never_retries(tmp_path):
    job, _ = render(tmp_path, shards=6)
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 6
    assert spec["backoffLimit"] == 0
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    c = container(job)
    assert arg(c, "--shard") == "$(JOB_COMPLETION_INDEX)/6"
    [env] = [e for e in c["env"] if e["name"] == "JOB_COMPLETION_INDEX"]
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    # The total rate: each shard takes its part itself.
    assert arg(c, "--rate") == "20000" and arg(c, "--target") == "lb.example.internal:443"


def test_the_start_is_a_shared_instant_a_little_ahead(tmp_path):
    before = datetime.datetime.now(datetime.timezone.utc)
    job, _ = render(tmp_path, "--lead", "120", "--duration", "30")
    at = arg(container(job), "--start-at")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", at), at
    start = datetime.datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    after = datetime.datetime.now(datetime.timezone.utc)
    # --lead seconds from when run-shards ran, in whole seconds.
    assert before + datetime.timedelta(seconds=119) <= start
    assert start <= after + datetime.timedelta(seconds=120), (before, start, after)
    # The Job's own deadline covers the wait and the run.
    assert job["spec"]["activeDeadlineSeconds"] >= 120 + 30


def test_whole_cores_one_event_loop_each(tmp_path):
    job, _ = render(tmp_path, "--cores", "3", "--memory", "1Gi")
    c = container(job)
    res = c["resources"]
    assert res["requests"] == res["limits"] == {"cpu": "3", "memory": "1Gi"}
    assert arg(c, "--threads") == "3"


def test_certificates_from_a_private_read_only_secret_options_from_a_configmap(tmp_path):
    job, _ = render(tmp_path, "--secret", "lb-certs", "--configmap", "lb-load")
    pod = job["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container(job)["volumeMounts"]}
    [sec] = [v for v in vols.values() if "secret" in v]
    assert sec["secret"]["secretName"] == "lb-certs"
    assert sec["secret"]["defaultMode"] & 0o077 == 0, oct(sec["secret"]["defaultMode"])
    assert mounts[sec["name"]]["readOnly"] is True
    [cm] = [v for v in vols.values() if "configMap" in v]
    assert cm["configMap"]["name"] == "lb-load" and mounts[cm["name"]]["readOnly"] is True
    c = container(job)
    # The key copies the harness reads live in memory; --ca and the spec come from the mounts.
    certs = next(m["mountPath"] for n, m in mounts.items()
                 if vols[n].get("emptyDir", {}).get("medium") == "Memory")
    assert arg(c, "--ca").startswith(certs + "/")
    assert {e["name"]: e.get("value") for e in c["env"]}["MH_CERTS_DIR"] == certs
    assert arg(c, "--identities-from").startswith(mounts[cm["name"]]["mountPath"] + "/")


def test_non_root_read_only_root_and_every_written_path_is_a_volume(tmp_path):
    job, _ = render(tmp_path)
    pod = job["spec"]["template"]["spec"]
    c = container(job)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    vols = {v["name"]: v for v in pod["volumes"]}
    writable = [m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")]
    assert all("emptyDir" in vols[m["name"]] for m in c["volumeMounts"] if not m.get("readOnly"))
    for written in (arg(c, "--out"), arg(c, "--fixtures"), "/tmp"):
        assert any(written == w or written.startswith(w + "/") for w in writable), written


# --- run-shards's command line


def test_help():
    r = run([RUN_SHARDS, "--help"])
    assert r.returncode == 0
    for opt in ("--image", "--shards", "--target", "--rate", "--duration", "--tls", "--secret",
                "--configmap", "--namespace", "--dry-run", "--collect"):
        assert opt in r.stdout, opt


@pytest.mark.parametrize("args,named", [
    (["--shards", "0"], "--shards"),
    (["--shards", "four"], "--shards"),
    (["--shards", "1025"], "--shards"),
    (["--shards", "4", "--rate", "0"], "--rate"),
    (["--shards", "4", "--tls", "1.1"], "--tls"),
    (["--shards", "4", "--cores", "0.5"], "--cores"),
    (["--shards", "4", "--name", "Load_Test"], "--name"),
    (["--shards", "4", "--target", "lb.example.internal"], "--target"),
    (["--shards", "4", "--image", "a b"], "--image"),
    (["--shards", "4", "--frobnicate"], "--frobnicate"),
    (["--shards", "4", "--duration", "600", "--timeout", "300"], "--timeout"),
    (["--shards", "4", "--lead", "90000"], "--lead"),
])
def test_a_bad_option_is_one_line_naming_it_and_exit_2(tmp_path, args, named):
    out = tmp_path / "out"
    r = run([RUN_SHARDS, *BASE, *args, "--dry-run", "--out", out])
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("run-shards: ") and named in lines[0], lines
    assert not (out / "job.yaml").exists()


@pytest.mark.parametrize("missing", ["--image", "--target", "--rate"])
def test_a_missing_required_option_is_named(tmp_path, missing):
    args = list(BASE)
    i = args.index(missing)
    del args[i:i + 2]
    r = run([RUN_SHARDS, *args, "--shards", "4", "--dry-run", "--out", tmp_path / "out"])
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and f"{missing} is required" in r.stderr, r.stderr


def test_shards_is_required(tmp_path):
    r = run([RUN_SHARDS, *BASE, "--dry-run", "--out", tmp_path / "out"])
    assert r.returncode == 2 and "--shards is required" in r.stderr


# --- the image's package lists are scripts/deps's


def deps_list(which):
    r = run([ROOT / "scripts/deps", "--list", which])
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def containerfile_list(which):
    text = (ROOT / "deploy/Containerfile").read_text()
    m = re.search(rf"# deps:{which} begin\n(.*?)# deps:{which} end", text, re.S)
    assert m, f"deploy/Containerfile has no deps:{which} markers"
    return [w for w in m.group(1).replace("\\", " ").split()]


@pytest.mark.parametrize("which", ["build", "runtime"])
def test_containerfile_installs_exactly_what_scripts_deps_lists(which):
    assert containerfile_list(which) == deps_list(which)


def test_deps_lists_are_what_deps_installs_and_a_bad_list_is_refused():
    every = deps_list("build") + deps_list("runtime") + deps_list("test")
    assert "build-essential" in every and "libev4" in every and "python3-yaml" in every
    assert len(every) == len(set(every)), "a package in two lists"
    r = run([ROOT / "scripts/deps", "--list", "docs"])
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--list" in r.stderr


def test_containerfile_two_bookworm_stages_non_root_entrypoint_harness():
    text = (ROOT / "deploy/Containerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(froms) == 2 and all(f.endswith("debian:bookworm") for f in froms), froms
    runtime = text.split("\nFROM ")[-1]
    assert re.search(r"^USER 10001", runtime, re.M)
    assert 'ENTRYPOINT ["/usr/local/bin/mtls-harness"]' in runtime
    assert "--release" in text and "deploy/k8s/shard /usr/local/bin/mtls-harness-shard" in text
    # Every file the image copies from the repository exists.
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for s in src.split():
            assert (ROOT / s).exists(), s


# --- the ConfigMap's spec and the shard wrapper, run here as in a pod


def openssl(*args, cwd):
    r = run(["openssl", *args], cwd=cwd)
    assert r.returncode == 0, r.stderr


def test_the_configmaps_spec_imports_the_secrets_files(mh, tmp_path):
    """The spec in configmap.yaml is one `pki` accepts, given the files the Secret names."""
    certs = tmp_path / "certs"
    certs.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "client-ca.pem", "-days", "2", "-subj", "/CN=Op CA",
            cwd=certs)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            "client.key", "-out", "client.csr", "-subj", "/CN=client.example", cwd=certs)
    (certs / "ext").write_text("extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "client.csr", "-CA", "client-ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "client.pem", cwd=certs)
    (certs / "client.key").chmod(0o600)
    cm = yaml.safe_load((ROOT / "deploy/k8s/configmap.yaml").read_text())
    spec = tmp_path / "identities.json"
    spec.write_text(cm["data"]["identities.json"].replace("/run/mtls-harness/certs", str(certs)))
    r = mh("pki", spec, "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    # load-args: one option or value a line; the placeholders are the operator's to fill.
    lines = [x for x in cm["data"]["load-args"].splitlines() if x and not x.startswith("#")]
    assert lines[0::2] == ["--server-name", "--profile"] and all("@@" in x for x in lines[1::2])


def shard_env(tmp_path, load_args=""):
    """A pod's mounts in |tmp_path|: the Secret (group-readable, as the kubelet leaves it with an
    fsGroup, beside its ..data bookkeeping link), the ConfigMap, the memory volume for the copies."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "..data").symlink_to(secret)
    config = tmp_path / "config"
    config.mkdir()
    (config / "load-args").write_text(load_args)
    from conftest import harness_path
    return dict(os.environ, MH_SECRET_DIR=str(secret), MH_CERTS_DIR=str(tmp_path / "run/certs"),
                MH_CONFIG_DIR=str(config), MH_HARNESS=str(harness_path()),
                JOB_COMPLETION_INDEX="0")


def test_a_pod_loads_a_real_nginx_and_run_shards_collects_its_report(harness, tmp_path):
    """One shard as its pod runs it: the Job's own args (shard 0 of 2, started now), the ConfigMap's spec and load-args with the
    placeholders filled, the Secret's files; a real nginx on loopback as the target. Its log is
    then what run-shards collects."""
    fx = tmp_path / "fx"
    assert run([harness, "pki", ROOT / "fixtures/federation.json", "--out", fx]).returncode == 0
    cm = yaml.safe_load((ROOT / "deploy/k8s/configmap.yaml").read_text())["data"]
    env = shard_env(tmp_path, cm["load-args"].replace("@@SERVER_NAME@@",
                    "location-a.semstreams.local").replace("@@PROFILE@@", "nginx-http"))
    secret, certs = tmp_path / "secret", env["MH_CERTS_DIR"]
    for key, src in [("ca.pem", "federation-ca.pem"), ("client-ca.pem", "federation-ca.pem"),
                     ("client.pem", "location-b-cert.pem"), ("client.key", "location-b-key.pem")]:
        shutil.copy(fx / src, secret / key)
        (secret / key).chmod(0o440)
    (tmp_path / "config/identities.json").write_text(
        cm["identities.json"].replace("/run/mtls-harness/certs", certs))

    job, _ = render(tmp_path, "--duration", "1", "--tls", "1.2", shards=2)
    args = container(job)["args"]
    # Kubernetes expands $(JOB_COMPLETION_INDEX) in args; the start is moved to now, so that the
    # test does not wait out the Job's lead.
    i = args.index("--shard")
    assert args[i + 1] == "$(JOB_COMPLETION_INDEX)/2", args
    args[i + 1] = "0/2"
    i = args.index("--start-at")
    args[i + 1] = f"@{time.time():.3f}"
    port = free_port()
    args = [a.replace("/run/mtls-harness/certs", certs)
             .replace("/etc/mtls-harness/config", str(tmp_path / "config"))
             .replace("/work/", f"{tmp_path}/work/")
             .replace("lb.example.internal:443", f"127.0.0.1:{port}")
             .replace("20000", "40") for a in args]
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, fx=fx))
    with nginx_running(conf, tmp_path, port):
        r = subprocess.run([SHARD, *args], capture_output=True, text=True, timeout=120, env=env,
                           cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    copied = tmp_path / "run/certs/client.key"
    assert (copied.stat().st_mode & 0o777) == 0o600
    assert not (tmp_path / "run/certs/..data").exists()
    out = tmp_path / "work/report"
    rep = json.loads((out / "report.json").read_text())
    assert (rep["profile"], rep["confirmation"], rep["tls_version"]) == ("nginx-http", "http", "1.2")
    assert rep["counts"]["accepted"] == rep["counts"]["started"] > 0, rep["counts"]
    assert (rep["shard"]["index"], rep["shard"]["count"]) == (0, 2), rep["shard"]
    assert re.search(r"^mtls-harness-shard: begin report\.json shard=0 exit=0 sha256=[0-9a-f]{64}$",
                     r.stdout, re.M), r.stdout

    log = tmp_path / "pod-0.log"
    log.write_text(r.stdout)
    got = tmp_path / "collected"
    c = run([RUN_SHARDS, "--collect", log, "--shards", "2", "--no-merge", "--out", got])
    # Shard 1 left no log: named, exit 1; shard 0's report is the very file the shard wrote.
    assert c.returncode == 1, c.stderr
    assert "shards without a report: 1 (of 0..1)" in c.stderr
    assert (got / "shards/shard-0/report.json").read_bytes() == (out / "report.json").read_bytes()

    # A log cut short (the kubelet's log rotation, say): the damaged report is named, not used.
    lines = r.stdout.splitlines()
    end = next(i for i, x in enumerate(lines) if x.startswith("mtls-harness-shard: end"))
    del lines[end - 2]
    log.write_text("\n".join(lines) + "\n")
    c = run([RUN_SHARDS, "--collect", log, "--no-merge", "--out", tmp_path / "again"])
    assert c.returncode == 1 and "shard 0: its report" in c.stderr and "damaged" in c.stderr
    assert not (tmp_path / "again/shards/shard-0/report.json").exists()
    # Cut before its end marker: named too.
    log.write_text("\n".join(lines[:end - 2]) + "\n")
    c = run([RUN_SHARDS, "--collect", log, "--no-merge", "--out", tmp_path / "third"])
    assert c.returncode == 1 and "shard 0: its report" in c.stderr and "no end marker" in c.stderr


def test_a_shard_whose_load_refuses_its_options_fails_its_pod(tmp_path):
    env = shard_env(tmp_path)
    r = subprocess.run([SHARD, "--target", "lb.example.internal:443", "--tls", "1.1", "--out",
                        str(tmp_path / "report")], capture_output=True, text=True, timeout=60,
                       env=env, cwd=tmp_path)
    assert r.returncode == 2 and "--tls" in r.stderr
    assert "begin report.json" not in r.stdout


# --- run-shards against a stand-in for kubectl (no cluster here): the calls it makes, in order,
# and what it does with the answers.
FAKE_KUBECTL = r'''#!/usr/bin/env python3
import json, pathlib, shutil, sys
state = pathlib.Path(__file__).parent
with open(state / "calls", "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")
args = sys.argv[1:]
assert args[0] == "--namespace" and args[2] == "--request-timeout=30s", args
args = args[3:]
cfg = json.loads((state / "cluster.json").read_text())
if args[:2] == ["get", "secret"]:
    path = args[-1].split("=", 1)[1] if "=" in args[-1] else args[-1]
    data = cfg["secret"]
    if path == "{.data}":
        print(json.dumps(data))
    else:
        print(data.get(path[len("{.data."):-1].replace("\\.", "."), ""), end="")
elif args[:2] == ["get", "configmap"]:
    print(json.dumps(cfg["configmap"]))
elif args[0] == "apply":
    shutil.copy(args[2], state / "applied.yaml")
    print("job.batch/x created")
elif args[:2] == ["get", "job"]:
    print(cfg["condition"] + " ", end="")
elif args[:2] == ["get", "pods"]:
    assert args[2:4] == ["-l", "job-name=" + cfg["name"]], args
    for pod, phase in cfg["pods"]:
        print(pod, phase)
elif args[0] == "logs":
    log = state / (args[1] + ".log")
    if not log.exists():
        print("error: no log", file=sys.stderr)
        sys.exit(1)
    sys.stdout.write(log.read_text())
else:
    sys.exit(f"fake kubectl: unexpected {args}")
'''

FAKE_MERGE = '''#!/bin/sh
# the stand-in for `mtls-harness merge --out DIR REPORT...`
echo "$@" > "$(dirname "$0")/merge-args"
mkdir -p "$3" && echo merged > "$3/report.md"
'''


def shard_log(index, exit_code=0):
    import base64
    import gzip
    import hashlib
    body = json.dumps({"shard": index}).encode()
    b64 = base64.encodebytes(gzip.compress(body)).decode()
    return (f"mtls-harness-shard: shard {index}: mtls-harness load ...\n"
            f"mtls-harness-shard: begin report.json shard={index} exit={exit_code} "
            f"sha256={hashlib.sha256(body).hexdigest()}\n{b64}"
            f"mtls-harness-shard: end report.json shard={index}\n")


def cluster(tmp_path, condition="Complete", pods=4, logs=(0, 1, 2, 3), secret_text="PEM",
            configmap_text="{}"):
    import base64
    state = tmp_path / "cluster"
    state.mkdir()
    (state / "kubectl").write_text(FAKE_KUBECTL)
    (state / "kubectl").chmod(0o755)
    (state / "merge").write_text(FAKE_MERGE)
    (state / "merge").chmod(0o755)
    enc = base64.b64encode(secret_text.encode()).decode()
    (state / "cluster.json").write_text(json.dumps({
        "secret": {"ca.pem": enc, "client.pem": enc, "client.key": enc},
        "configmap": {"identities.json": configmap_text}, "condition": condition,
        "name": "lt-1", "pods": [[f"lt-1-{i}-x", "Succeeded"] for i in range(pods)]}))
    for i in logs:
        (state / f"lt-1-{i}-x.log").write_text(shard_log(i, exit_code=1 if i == 3 else 0))
    return state


def run_shards(tmp_path, state, *extra):
    return run([RUN_SHARDS, *BASE, "--shards", "4", "--name", "lt-1", "--namespace", "load",
                "--lead", "1", "--duration", "1", "--kubectl", state / "kubectl", "--harness",
                state / "merge", "--out", tmp_path / "out", *extra], timeout=60)


def test_run_shards_applies_waits_collects_every_shard_and_merges(tmp_path):
    state = cluster(tmp_path)
    r = run_shards(tmp_path, state)
    assert r.returncode == 0, r.stdout + r.stderr
    applied = yaml.safe_load((state / "applied.yaml").read_text())
    assert applied["metadata"] == {**applied["metadata"], "name": "lt-1", "namespace": "load"}
    calls = [json.loads(x) for x in (state / "calls").read_text().splitlines()]
    assert all(c[:2] == ["--namespace", "load"] for c in calls)
    verbs = [c[3] for c in calls]
    assert verbs.index("apply") < verbs.index("logs") and verbs.count("logs") == 4
    out = tmp_path / "out"
    for i in range(4):
        assert json.loads((out / f"shards/shard-{i}/report.json").read_text()) == {"shard": i}
    assert (state / "merge-args").read_text().split() == [
        "merge", "--out", str(out / "merged"),
        *[str(out / f"shards/shard-{i}/report.json") for i in range(4)]]
    assert f"merged report: {out}/merged/report.md" in r.stdout
    # Shard 3's load saw handshake errors: said, and left to the merged report.
    assert "shard 3: load exited 1" in r.stderr


def test_run_shards_names_the_shards_that_left_no_report(tmp_path):
    state = cluster(tmp_path, condition="Failed", logs=(0, 2, 3))
    r = run_shards(tmp_path, state)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "shards without a report: 1 (of 0..3)" in r.stderr
    assert "pod lt-1-1-x: no log" in r.stderr
    # The shards that did report are still merged.
    assert len((state / "merge-args").read_text().split()) == 3 + 3


@pytest.mark.parametrize("where", ["secret", "configmap"])
def test_run_shards_refuses_unfilled_placeholders_before_applying(tmp_path, where):
    state = cluster(tmp_path, **{f"{where}_text": "@@CLIENT_CERT_PEM@@"})
    r = run_shards(tmp_path, state)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "placeholder" in r.stderr
    assert not (state / "applied.yaml").exists()


def test_a_stopped_pod_still_prints_the_report_of_what_ended(harness, tmp_path):
    """The wrapper is PID 1 of its container: the SIGTERM of a deleted pod or of the Job's
    deadline goes to load, whose interrupted report is printed and collected like any other."""
    import signal
    import time
    env = shard_env(tmp_path)
    out = tmp_path / "report"
    p = subprocess.Popen([SHARD, str(ROOT / "scenarios/federation.json"), "--location",
                          "location-a", "--rate", "20", "--duration", "60", "--threads", "1",
                          "--quiet", "--out", str(out)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        # Bounded: load has started once its fixtures are written.
        for _ in range(300):
            if (out / "fixtures").is_dir() or p.poll() is not None:
                break
            time.sleep(0.1)
        time.sleep(1)
        p.send_signal(signal.SIGTERM)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 143, stderr
    assert re.search(r"^mtls-harness-shard: begin report\.json shard=0 exit=143 ", stdout, re.M)
    rep = json.loads((out / "report.json").read_text())
    assert rep["interrupted"] is True
    log = tmp_path / "pod.log"
    log.write_text(stdout)
    c = run([RUN_SHARDS, "--collect", log, "--no-merge", "--out", tmp_path / "got"])
    assert c.returncode == 0 and "shard 0: load exited 143" in c.stderr, c.stderr
    assert (tmp_path / "got/shards/shard-0/report.json").read_bytes() == \
        (out / "report.json").read_bytes()
