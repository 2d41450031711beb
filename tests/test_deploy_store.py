"""The class store in the deployments: a Redis beside the app's pods and compose replicas, and every app container
pointed at it by SYMBREAK_STORE. The manifests are rendered offline (`kubectl kustomize`, no cluster)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from symbreak.serving.classes import STORE_ENV

ROOT = Path(__file__).resolve().parent.parent
KUSTOMIZE_DIR = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
REDIS_PORT = 6379


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict]:
    """`kubectl kustomize deploy/kubernetes`, by kind and name."""
    if not shutil.which("kubectl"):
        pytest.fail("kubectl is missing: install it to render deploy/kubernetes (no cluster is needed)")
    done = subprocess.run(["kubectl", "kustomize", str(KUSTOMIZE_DIR)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def redis_parts(manifests: dict[tuple[str, str], dict]) -> tuple[dict, dict]:
    """The Redis Deployment and the Service in front of it."""
    deployments = [d for (kind, _), d in manifests.items() if kind == "Deployment"
                   if any(c["image"].startswith("redis:") for c in d["spec"]["template"]["spec"]["containers"])]
    assert len(deployments) == 1, "one Redis Deployment"
    labels = deployments[0]["spec"]["template"]["metadata"]["labels"]
    services = [s for (kind, _), s in manifests.items() if kind == "Service" and s["spec"]["selector"].items() <=
                labels.items()]
    assert len(services) == 1, "one Service selects the Redis pods"
    return deployments[0], services[0]


def app_containers(manifests: dict[tuple[str, str], dict]) -> list[dict]:
    """Every container that runs the app (the image built from the Dockerfile)."""
    found = [c for (kind, _), d in manifests.items() if kind == "Deployment"
             for c in d["spec"]["template"]["spec"]["containers"] if c["image"].startswith("symbreak")]
    assert found, "the app's Deployment is rendered"
    return found


def test_redis_runs_unprivileged_without_disk_within_limits_and_ready_when_it_answers(manifests):
    deployment, _ = redis_parts(manifests)
    pod = deployment["spec"]["template"]["spec"]
    (redis,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert redis["securityContext"]["allowPrivilegeEscalation"] is False
    assert redis["securityContext"]["capabilities"]["drop"] == ["ALL"]
    args = redis["args"]
    assert args[args.index("--save") + 1] == "" and args[args.index("--appendonly") + 1] == "no"
    assert set(redis["resources"]["limits"]) == {"cpu", "memory"} and set(redis["resources"]["requests"]) == {
        "cpu", "memory"}
    assert redis["readinessProbe"]["exec"]["command"] == ["redis-cli", "ping"]
    assert {p["name"]: p["containerPort"] for p in redis["ports"]} == {"redis": REDIS_PORT}


def test_every_app_container_is_pointed_at_the_redis_service(manifests):
    _, service = redis_parts(manifests)
    (port,) = service["spec"]["ports"]
    assert port["port"] == REDIS_PORT
    url = f"redis://{service['metadata']['name']}:{REDIS_PORT}/0"
    for container in app_containers(manifests):
        assert {"name": STORE_ENV, "value": url} in container["env"], container["name"]


def test_only_the_app_pods_reach_redis(manifests):
    deployment, _ = redis_parts(manifests)
    (policy,) = [p for (kind, _), p in manifests.items() if kind == "NetworkPolicy"]
    redis_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= redis_labels.items()
    (rule,) = policy["spec"]["ingress"]
    (source,) = rule["from"]
    app = manifests[("Deployment", "symbreak")]["spec"]["template"]["metadata"]["labels"]
    assert source["podSelector"]["matchLabels"].items() <= app.items()
    assert rule["ports"] == [{"port": REDIS_PORT}]


def test_compose_runs_redis_and_points_the_app_at_it():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    app, redis = services["symbreak"], services["redis"]
    assert redis["image"].startswith("redis:") and redis["expose"] == [str(REDIS_PORT)]
    command = redis["command"]
    assert command[command.index("--save") + 1] == "" and command[command.index("--appendonly") + 1] == "no"
    assert redis["user"].split(":")[0] != "0" and "redis-cli" in redis["healthcheck"]["test"]
    assert set(redis["deploy"]["resources"]["limits"]) == {"cpus", "memory"}
    assert app["environment"][STORE_ENV] == f"redis://redis:{REDIS_PORT}/0"
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
