"""The Kubernetes manifests in docker/k8s/: schema-valid, and consistent with each other.

Every YAML document is checked against the Kubernetes OpenAPI schema (strict: unknown
fields are errors) with kubernetes-validate, whose schemas ship inside the package, so
nothing is downloaded. The other tests check what a schema cannot: that the objects
refer to each other correctly and keep the platform's rules (one worker per queue, one
beat, locked-down pods...).
"""

from __future__ import annotations

import copy
import re
import shlex
import socket
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from db.job_types import QUEUES

K8S_DIR = Path(__file__).resolve().parents[2] / "docker" / "k8s"
# The oldest Kubernetes the manifests must work on; its schema is bundled with
# kubernetes-validate (no download).
KUBERNETES_VERSION = "1.30.0"
KUSTOMIZATION = "kustomization.yaml"
# Placeholders only: kept out of the kustomization so `kubectl apply -k` cannot
# overwrite the real Secret, but it still defines the Secret's name and keys.
SECRET_EXAMPLE = "secret.example.yaml"
NAMESPACE = "cbrtl"
APP = "cbrtl"
COMPONENTS = {"web", "worker", "beat", "flower", "migrate"}
QUEUE_LABEL = "cbrtl.io/queue"
QUEUE_METRIC = "cbrtl_queue_depth"
# The image's user (docker/Dockerfile: useradd --uid 10001).
RUN_AS_USER = 10001
# workers/celery_app.py task_time_limit: a task is killed after this long.
TASK_TIME_LIMIT_S = 360
# web/gunicorn_conf.py graceful_timeout.
GUNICORN_GRACEFUL_TIMEOUT_S = 20
# `cbrtl` or `cbrtl:<tag>`; a registry or another name belongs in kustomization.yaml.
IMAGE = re.compile(r"cbrtl(:\w[\w.-]{0,127})?")

CONFIG_KEYS = {
    "CBRTL_ENV",
    "CBRTL_DATA_DIR",
    "CBRTL_REDIS_URL",
    "CBRTL_STORAGE_URL",
    "CBRTL_PUBLIC_URL",
    "AWS_DEFAULT_REGION",
}
SECRET_KEYS = {
    "CBRTL_DATABASE_URL",
    "CBRTL_BROKER_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "CBRTL_SECRET_KEY",
}

Doc = dict[str, Any]


# --- loading ------------------------------------------------------------------------


def _manifest_files() -> list[Path]:
    files = [*K8S_DIR.glob("*.yaml"), *K8S_DIR.glob("*.yml")]
    return sorted(path for path in files if path.name != KUSTOMIZATION)


@cache
def _load(path: Path) -> tuple[Doc, ...]:
    """The file's documents (comment-only documents dropped). Shared: do not mutate."""
    with path.open(encoding="utf-8") as f:
        return tuple(doc for doc in yaml.safe_load_all(f) if doc is not None)


def _docs() -> Iterator[tuple[str, Doc]]:
    for path in _manifest_files():
        for doc in _load(path):
            yield path.name, doc


def _kind(kind: str) -> list[Doc]:
    return [doc for _, doc in _docs() if doc.get("kind") == kind]


def _name(doc: Doc) -> str:
    return str(doc["metadata"]["name"])


def _by_name(kind: str) -> dict[str, Doc]:
    return {_name(doc): doc for doc in _kind(kind)}


def _pod_templates() -> list[tuple[str, Doc]]:
    """(kind/name, pod template) of every workload."""
    templates = [(f"Deployment/{_name(d)}", d["spec"]["template"]) for d in _kind("Deployment")]
    templates += [(f"Job/{_name(j)}", j["spec"]["template"]) for j in _kind("Job")]
    return templates


def _containers(pod_spec: Doc) -> list[Doc]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def _pod_labels(workload: Doc) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"].get("labels", {}))


def _component(name: str) -> list[Doc]:
    return [
        d for d in _kind("Deployment") if _pod_labels(d).get("app.kubernetes.io/component") == name
    ]


def _selects(match_labels: dict[str, str], labels: dict[str, str]) -> bool:
    """A non-empty matchLabels selector that the labels satisfy."""
    return bool(match_labels) and match_labels.items() <= labels.items()


def _option(argv: list[str], option: str) -> list[str]:
    """Every value of `--option value` / `--option=value` in a command line."""
    values = []
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(option + "="):
            values.append(arg.split("=", 1)[1])
    return values


def _argv(container: Doc) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def _main_container(deployment: Doc) -> Doc:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def _workers() -> dict[str, Doc]:
    """queue -> its worker Deployment (test_one_worker_per_queue checks there is one)."""
    workers = {}
    for deployment in _component("worker"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        for queue in _option(_argv(container), "--queues"):
            workers[queue] = deployment
    return workers


def _hpas_for(deployment: Doc) -> list[Doc]:
    return [
        hpa
        for hpa in _kind("HorizontalPodAutoscaler")
        if hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        and hpa["spec"]["scaleTargetRef"]["name"] == _name(deployment)
    ]


def _pdbs_for(deployment: Doc) -> list[Doc]:
    return [
        pdb
        for pdb in _kind("PodDisruptionBudget")
        if _selects(pdb["spec"]["selector"].get("matchLabels", {}), _pod_labels(deployment))
    ]


# --- schema validation --------------------------------------------------------------


def _validation_error(doc: Doc) -> str | None:
    """Why the document does not match the schema, or None when it does."""
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        where = ".".join(str(part) for part in e.path) or "(top level)"
        return f"{where}: {e.message}"
    except kubernetes_validate.SchemaNotFoundError as e:
        # The CLI only warns here; a kind we cannot check must not pass silently.
        return str(e.message)
    return None


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Any connection or DNS lookup attempted during the test is recorded and refused."""
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        attempts.append(", ".join(repr(a) for a in args if not isinstance(a, socket.socket)))
        raise OSError("network access refused in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts
    assert attempts == [], f"tried to reach the network: {attempts}"


def test_the_folder_holds_the_platform() -> None:
    for filename, doc in _docs():
        assert isinstance(doc, dict), f"{filename}: a document is not a mapping"
    kinds = {doc.get("kind") for _, doc in _docs()}
    assert {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Job",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    } <= kinds
    seen: dict[tuple[str, str], str] = {}
    for filename, doc in _docs():
        key = (doc["kind"], _name(doc))
        assert key not in seen, f"{filename}: {key} is also defined in {seen[key]}"
        seen[key] = filename


@pytest.mark.parametrize("path", _manifest_files(), ids=lambda path: path.name)
def test_manifest_matches_the_kubernetes_schema(path: Path, no_network: list[str]) -> None:
    documents = _load(path)
    assert documents, f"{path.name}: no YAML documents"
    errors = []
    for doc in documents:
        error = _validation_error(doc)
        if error is not None:
            kind = doc.get("kind", "?")
            name = doc.get("metadata", {}).get("name", "?")
            errors.append(f"{path.name}: {kind}/{name}: {error}")
    assert not errors, "\n".join(errors)


def _replicas_as_text(doc: Doc) -> None:
    doc["spec"]["replicas"] = "two"


def _unknown_field(doc: Doc) -> None:
    doc["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"


def _probe_port_as_list(doc: Doc) -> None:
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = [80]


@pytest.mark.parametrize("breakage", [_replicas_as_text, _unknown_field, _probe_port_as_list])
def test_the_validator_catches_a_broken_document(
    breakage: Callable[[Doc], None], no_network: list[str]
) -> None:
    (web,) = _component("web")
    doc = copy.deepcopy(web)
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)  # valid as written
    breakage(doc)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert _validation_error(doc) is not None


def test_a_kind_without_a_schema_is_an_error(no_network: list[str]) -> None:
    scaled_object = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "worker-ml"},
        "spec": {"scaleTargetRef": {"name": "worker-ml"}},
    }
    error = _validation_error(scaled_object)
    assert error is not None and "ScaledObject" in error


# --- kustomization ------------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S_DIR / KUSTOMIZATION).read_text(encoding="utf-8"))
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), "a resource is listed twice"
    for resource in resources:
        assert (K8S_DIR / resource).is_file(), f"{KUSTOMIZATION} lists missing {resource}"
    expected = {path.name for path in _manifest_files()} - {SECRET_EXAMPLE}
    assert set(resources) == expected
    assert kustomization["namespace"] == NAMESPACE
    assert [image["name"] for image in kustomization["images"]] == [APP]


def test_namespaced_objects_are_in_the_namespace() -> None:
    (namespace,) = _kind("Namespace")
    assert _name(namespace) == NAMESPACE
    for filename, doc in _docs():
        if doc["kind"] != "Namespace":
            # Also when a file is applied on its own (the migration step), not only via -k.
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{filename}: {_name(doc)}"


# --- workloads ----------------------------------------------------------------------


def test_every_workload_runs_the_cbrtl_image() -> None:
    for where, template in _pod_templates():
        for container in _containers(template["spec"]):
            assert IMAGE.fullmatch(container["image"]), f"{where}: {container['image']}"


def test_workloads_carry_the_common_labels() -> None:
    for filename, doc in _docs():
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/name") == APP, f"{filename}: {_name(doc)}"
    for where, template in _pod_templates():
        labels = template["metadata"]["labels"]
        assert labels.get("app.kubernetes.io/name") == APP, where
        assert labels.get("app.kubernetes.io/component") in COMPONENTS, where
        is_worker = labels["app.kubernetes.io/component"] == "worker"
        assert (QUEUE_LABEL in labels) == is_worker, f"{where}: {QUEUE_LABEL} on workers only"
    for deployment in _kind("Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert _selects(selector, _pod_labels(deployment)), _name(deployment)
        others = [d for d in _kind("Deployment") if d is not deployment]
        overlapping = [_name(d) for d in others if _selects(selector, _pod_labels(d))]
        assert not overlapping, f"{_name(deployment)} also selects the pods of {overlapping}"


def test_web_probes_readiness_and_liveness_on_its_port() -> None:
    (web,) = _component("web")
    (container,) = web["spec"]["template"]["spec"]["containers"]
    ports = {p.get("name") for p in container["ports"]} | {
        p["containerPort"] for p in container["ports"]
    }
    readiness = container["readinessProbe"]["httpGet"]
    liveness = container["livenessProbe"]["httpGet"]
    assert readiness["path"] == "/readyz"
    assert liveness["path"] == "/healthz"
    assert readiness["port"] in ports
    assert liveness["port"] in ports
    assert 8000 in ports


def test_web_drains_before_gunicorn_stops() -> None:
    (web,) = _component("web")
    spec = web["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pause = int(command[1])
    assert 0 < pause <= 10
    assert pause + GUNICORN_GRACEFUL_TIMEOUT_S <= spec["terminationGracePeriodSeconds"]


def test_one_worker_per_queue() -> None:
    consumed: list[str] = []
    for deployment in _component("worker"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        argv = _argv(container)
        assert "worker" in argv, _name(deployment)
        (queues,) = _option(argv, "--queues")
        assert "," not in queues, f"{_name(deployment)} consumes several queues: {queues}"
        assert _pod_labels(deployment)[QUEUE_LABEL] == queues
        assert _option(argv, "--hostname") == [f"{queues}@%h"]
        (concurrency,) = _option(argv, "--concurrency")
        assert int(concurrency) >= 1
        consumed.append(queues)
    assert sorted(consumed) == sorted(QUEUES)


def test_worker_liveness_pings_its_own_node() -> None:
    for queue, deployment in _workers().items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        probe = container["livenessProbe"]
        shell, flag, script = probe["exec"]["command"]
        assert (shell, flag) == ("sh", "-c")
        # $(HOSTNAME) would be command substitution in sh, not the variable.
        assert "$(" not in script
        argv = shlex.split(script)
        assert argv[:4] == ["celery", "--app", "workers.celery_app", "inspect"]
        assert "ping" in argv
        assert _option(argv, "--destination") == [f"{queue}@${{HOSTNAME}}"]
        assert probe["timeoutSeconds"] > int(_option(argv, "--timeout")[0])


def test_workers_outlive_their_tasks() -> None:
    for queue, deployment in _workers().items():
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= 60, queue
        if queue in ("ml", "media"):
            assert grace > TASK_TIME_LIMIT_S, queue


def test_each_worker_scales_on_its_queue_depth() -> None:
    workers = _workers()
    for queue in QUEUES:
        (hpa,) = _hpas_for(workers[queue])
        spec = hpa["spec"]
        assert spec["scaleTargetRef"]["apiVersion"] == "apps/v1"
        (metric,) = [m["external"] for m in spec["metrics"] if m["type"] == "External"]
        assert metric["metric"]["name"] == QUEUE_METRIC
        assert metric["metric"]["selector"]["matchLabels"] == {"queue": queue}
        assert metric["target"]["type"] == "AverageValue"
        assert 1 <= spec.get("minReplicas", 1) <= spec["maxReplicas"]
        # Not killed mid-burst: scale-down waits.
        assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
        assert "scaleUp" in spec["behavior"]
        # The HPA owns the replica count; a fixed one would be reset by every apply.
        assert "replicas" not in workers[queue]["spec"]


def test_each_worker_has_its_own_disruption_budget() -> None:
    workers = _workers()
    for queue in QUEUES:
        (pdb,) = _pdbs_for(workers[queue])
        assert pdb["spec"].get("maxUnavailable") == 1, queue
        selector = pdb["spec"]["selector"]["matchLabels"]
        others = [d for d in _kind("Deployment") if d is not workers[queue]]
        assert not [_name(d) for d in others if _selects(selector, _pod_labels(d))], queue


def test_beat_is_a_singleton() -> None:
    (beat,) = _component("beat")
    (container,) = beat["spec"]["template"]["spec"]["containers"]
    assert "beat" in _argv(container)
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert _hpas_for(beat) == []
    assert _pdbs_for(beat) == []
    others = [_name(d) for d in _kind("Deployment") if "beat" in _argv(_main_container(d))]
    assert others == [_name(beat)]
    # A stuck scheduler is restarted: its heartbeat is what the probe reads.
    assert container["livenessProbe"]["exec"]["command"][:3] == ["cbrtl", "health", "beat"]


def test_web_scales_on_cpu_and_keeps_one_up() -> None:
    (web,) = _component("web")
    (hpa,) = _hpas_for(web)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 2
    (container,) = web["spec"]["template"]["spec"]["containers"]
    # Utilization is a share of the request: without one the HPA cannot compute it.
    assert container["resources"]["requests"]["cpu"]
    (pdb,) = _pdbs_for(web)
    assert pdb["spec"]["minAvailable"] == 1


def test_pods_are_locked_down() -> None:
    for where, template in _pod_templates():
        spec = template["spec"]
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, where
        assert pod["runAsUser"] == RUN_AS_USER, where
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", where
        # Flower reads FLOWER_* variables, which a Service "flower" would inject.
        assert spec["enableServiceLinks"] is False, where
        assert spec["automountServiceAccountToken"] is False, where
        for container in _containers(spec):
            context = container["securityContext"]
            label = f"{where}: {container['name']}"
            assert context["allowPrivilegeEscalation"] is False, label
            assert context["readOnlyRootFilesystem"] is True, label
            assert "ALL" in context["capabilities"]["drop"], label
            assert context.get("runAsNonRoot", True) is True, label
            assert context.get("runAsUser", RUN_AS_USER) == RUN_AS_USER, label
            assert not context.get("privileged", False), label


def test_scratch_folders_are_empty_dirs() -> None:
    for where, template in _pod_templates():
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        for container in _containers(template["spec"]):
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            for folder in ("/data", "/tmp"):
                assert folder in mounts, f"{where}: {container['name']} has no {folder}"
                assert "emptyDir" in volumes[mounts[folder]], f"{where}: {folder}"


def test_autoscalers_target_existing_deployments() -> None:
    deployments = _by_name("Deployment")
    for hpa in _kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment"), _name(hpa)
        assert target["name"] in deployments, _name(hpa)
    targets = [hpa["spec"]["scaleTargetRef"]["name"] for hpa in _kind("HorizontalPodAutoscaler")]
    assert len(targets) == len(set(targets)), "two autoscalers fight over one Deployment"


def test_services_and_ingresses_reach_pods() -> None:
    deployments = _kind("Deployment")
    services = _by_name("Service")
    for name, service in services.items():
        selector = service["spec"]["selector"]
        backends = [d for d in deployments if _selects(selector, _pod_labels(d))]
        assert backends, f"Service {name} selects no Deployment's pods"
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for deployment in backends:
                ports = [
                    p
                    for c in _containers(deployment["spec"]["template"]["spec"])
                    for p in c.get("ports", [])
                ]
                known = {p.get("name") for p in ports} | {p["containerPort"] for p in ports}
                assert target in known, f"Service {name}: {_name(deployment)} has no {target}"
    for ingress in _kind("Ingress"):
        assert ingress["spec"]["ingressClassName"] == "nginx"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services, _name(ingress)
                ports = services[backend["name"]]["spec"]["ports"]
                wanted = backend["port"]
                assert any(
                    p.get("name") == wanted.get("name") or p["port"] == wanted.get("number")
                    for p in ports
                ), _name(ingress)


def test_web_ingress_streams_uploads() -> None:
    ingresses = [
        i
        for i in _kind("Ingress")
        if any(p["path"] == "/" for r in i["spec"]["rules"] for p in r["http"]["paths"])
    ]
    (ingress,) = ingresses
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "64m"
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"


def test_metrics_are_not_public() -> None:
    blocked = [
        (ingress, path)
        for ingress in _kind("Ingress")
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
        if path["path"] == "/metrics"
    ]
    ((ingress, path),) = blocked
    assert path["pathType"] == "Exact"
    denied = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/denylist-source-range"]
    assert {"0.0.0.0/0", "::/0"} <= {cidr.strip() for cidr in denied.split(",")}


# --- configuration ------------------------------------------------------------------


def _keys(doc: Doc) -> set[str]:
    return {*doc.get("data", {}), *doc.get("stringData", {})}


def test_config_references_are_defined() -> None:
    config_maps = {name: _keys(doc) for name, doc in _by_name("ConfigMap").items()}
    secrets = {name: _keys(doc) for name, doc in _by_name("Secret").items()}
    for where, template in _pod_templates():
        for container in _containers(template["spec"]):
            label = f"{where}: {container['name']}"
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps, label
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, label
            for variable in container.get("env", []):
                value_from = variable.get("valueFrom", {})
                for ref, defined in (
                    ("configMapKeyRef", config_maps),
                    ("secretKeyRef", secrets),
                ):
                    if ref in value_from:
                        name, key = value_from[ref]["name"], value_from[ref]["key"]
                        assert name in defined, f"{label}: {variable['name']}"
                        assert key in defined[name], f"{label}: {name} has no key {key}"
        for volume in template["spec"].get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, where
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, where


def _env_sources(container: Doc) -> tuple[set[str], set[str]]:
    config_maps = {
        s["configMapRef"]["name"] for s in container.get("envFrom", []) if "configMapRef" in s
    }
    secrets = {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
    return config_maps, secrets


def test_every_process_gets_the_whole_configuration() -> None:
    config_maps = _by_name("ConfigMap")
    secrets = _by_name("Secret")
    for where, template in _pod_templates():
        for container in template["spec"]["containers"]:
            cm_names, secret_names = _env_sources(container)
            config = {k for name in cm_names for k in _keys(config_maps[name])}
            secret = {k for name in secret_names for k in _keys(secrets[name])}
            assert config >= CONFIG_KEYS, f"{where}: missing {CONFIG_KEYS - config}"
            assert secret >= SECRET_KEYS, f"{where}: missing {SECRET_KEYS - secret}"
            assert not config & SECRET_KEYS, f"{where}: secrets in a ConfigMap"


def test_config_values() -> None:
    (config,) = [c for c in _kind("ConfigMap") if "CBRTL_ENV" in c.get("data", {})]
    data = config["data"]
    assert data["CBRTL_ENV"] == "production"
    assert data["CBRTL_DATA_DIR"] == "/data"
    assert data["CBRTL_STORAGE_URL"].startswith("s3://")
    # Unset means real S3; an empty string is an invalid endpoint for boto3.
    assert data.get("CBRTL_S3_ENDPOINT_URL", "unset") != ""
    # Links name the host the Ingress answers (ingress-nginx refuses the others).
    public = urlsplit(data["CBRTL_PUBLIC_URL"])
    hosts = {rule["host"] for ingress in _kind("Ingress") for rule in ingress["spec"]["rules"]}
    assert hosts == {public.hostname} and public.path == ""


def test_secret_example_holds_placeholders_only() -> None:
    documents = _load(K8S_DIR / SECRET_EXAMPLE)
    assert [doc["kind"] for doc in documents] == ["Secret"]
    (secret,) = documents
    # stringData only: base64 `data` would hide what is in it.
    assert "data" not in secret
    assert set(secret["stringData"]) == SECRET_KEYS
    for key, value in secret["stringData"].items():
        assert "CHANGE-ME" in value, f"{key} looks like a real value"


# --- metrics ------------------------------------------------------------------------


def test_web_and_flower_are_scraped() -> None:
    for component in ("web", "flower"):
        (deployment,) = _component(component)
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        ports = [p["containerPort"] for p in _main_container(deployment)["ports"]]
        assert int(annotations["prometheus.io/port"]) in ports


def test_adapter_rule_serves_the_worker_metric() -> None:
    rules = [
        rule
        for cm in _kind("ConfigMap")
        for text in cm.get("data", {}).values()
        if "externalRules" in text
        for rule in yaml.safe_load(text)["externalRules"]
    ]
    (rule,) = [r for r in rules if r.get("name", {}).get("as") == QUEUE_METRIC]
    assert QUEUE_METRIC in rule["seriesQuery"]
    query = " ".join(rule["metricsQuery"].split())
    # Every web replica reports the same depth: take one, do not add them up.
    assert query.startswith("max by (queue) (")
    assert "<<.Series>>{<<.LabelMatchers>>}" in query
