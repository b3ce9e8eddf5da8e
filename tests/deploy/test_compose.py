"""docker/compose.yaml and docker/prometheus.yml: valid, complete and consistent.

`docker compose config` needs the Docker CLI's compose plugin, which these machines
cannot install; the Compose Specification's own JSON schema (vendored by
check-jsonschema) is the same contract, and the checks below are what `config` does
not look at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import check_jsonschema
import jsonschema
import pytest
import yaml

from db.job_types import QUEUES

DOCKER = Path(__file__).resolve().parents[2] / "docker"
SCHEMA = Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
ONE_SHOTS = {"migrate", "createbucket"}
# Built FROM scratch: no shell for a healthcheck; Prometheus's `up` watches them.
SCRATCH_IMAGES = {"nginx-exporter", "redis-exporter"}
CBRTL_PROCESSES = {"web", "beat", "flower"} | {f"worker-{q}" for q in QUEUES}


def load(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((DOCKER / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load("compose.yaml")


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_schema_check_catches_a_broken_service(compose: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["command"] = 42
    broken["services"]["web"]["restart_policy"] = "always"  # a misspelt key
    errors = schema_errors(broken)
    assert any("command" in e for e in errors), errors
    assert any("restart_policy" in e for e in errors), errors


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    missing = {
        name
        for name, service in services.items()
        if "healthcheck" not in service and name not in ONE_SHOTS | SCRATCH_IMAGES
    }
    assert missing == set()
    for name in ONE_SHOTS:
        assert services[name]["restart"] == "no"


def test_a_worker_per_queue_one_beat_and_migrations_first(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= CBRTL_PROCESSES
    for queue in QUEUES:
        command = services[f"worker-{queue}"]["command"]
        assert re.search(rf"--queues {queue}(\s|$)", command), command
        assert services[f"worker-{queue}"]["environment"]["WORKER_QUEUE"] == queue
    assert "deploy" not in services["beat"]  # never scaled
    assert int(str(services["web"]["deploy"]["replicas"]).split(":-")[-1].rstrip("}")) >= 2
    for name in CBRTL_PROCESSES:
        gate = services[name]["depends_on"]["migrate"]["condition"]
        assert gate == "service_completed_successfully", name
        assert services[name]["image"] == services["migrate"]["image"] == "cbrtl:local"


def test_references_resolve(compose: dict[str, Any]) -> None:
    services = compose["services"]
    volumes = set(compose["volumes"])
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert set(depends) <= set(services), name
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in volumes, f"{name} mounts undeclared volume {source}"
    # Variables the operator sets: required ones fail loudly, the rest have defaults.
    text = (DOCKER / "compose.yaml").read_text()
    for variable in re.findall(r"(?<!\$)\$\{([^}]+)\}", text):
        assert ":?" in variable or ":-" in variable, variable


def test_prometheus_scrapes_every_process_and_service(compose: dict[str, Any]) -> None:
    config = load("prometheus.yml")
    hosts: set[str] = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            hosts |= {t.split(":")[0] for t in static["targets"]}
        for sd in job.get("dns_sd_configs", []):
            hosts |= set(sd["names"])
    hosts.discard("localhost")
    services = set(compose["services"])
    assert hosts <= services, hosts - services
    # Web replicas directly; workers through Flower's task events; the rest by exporter.
    expected = {"web", "flower", "nginx-exporter", "rabbitmq", "postgres-exporter"}
    assert expected | {"redis-exporter", "minio", "grafana"} <= hosts


def test_nginx_points_at_the_web_replicas_port(compose: dict[str, Any]) -> None:
    port = compose["services"]["web"]["environment"]["PORT"]
    assert f"server web:{port} " in (DOCKER / "nginx.conf").read_text()
    mounted = compose["services"]["nginx"]["volumes"]
    # A template of the nginx image, rendered into /etc/nginx/nginx.conf at start.
    assert "./nginx.conf:/etc/nginx/templates/nginx.conf.template:ro" in mounted
    assert compose["services"]["nginx"]["environment"]["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"


def _default(value: str) -> str:
    """'${NAME:-default}' -> 'default'."""
    found = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    assert found, value
    return found.group(1)


def test_nginx_answers_the_public_host_only(compose: dict[str, Any]) -> None:
    nginx = compose["services"]["nginx"]["environment"]
    public_url = _default(compose["x-cbrtl-env"]["CBRTL_PUBLIC_URL"])
    # By default the host nginx serves is the host of the URL every link is built from.
    assert _default(nginx["CBRTL_PUBLIC_HOST"]) == urlsplit(public_url).hostname
    assert compose["x-cbrtl-env"]["CBRTL_MEDIA_BASE_URL"].startswith(
        compose["x-cbrtl-env"]["CBRTL_PUBLIC_URL"]
    )
    # Every ${...} of nginx.conf is a variable the filter lets through and compose sets,
    # so none is left unrendered and no nginx $variable is touched.
    template = (DOCKER / "nginx.conf").read_text()
    names = set(re.findall(r"\$\{(\w+)\}", template))
    assert names == {"CBRTL_PUBLIC_HOST"}
    assert all(re.match(nginx["NGINX_ENVSUBST_FILTER"], name) for name in names)
    assert names <= set(nginx)
