"""Deployment files parse, match their published schemas, and keep our operating rules.

No Docker engine or cluster runs here: the files are checked offline against schemas
vendored in tests/scale/schemas (see its README for where they come from).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
SECRET_WORDS = ("PASSWORD", "TOKEN", "SECRET")


def manifests() -> list[tuple[str, dict]]:
    return [
        (f"{path.name}#{i}", doc)
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for i, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        if doc
    ]


def k8s_validator(doc: dict) -> jsonschema.Draft202012Validator:
    group, _, version = doc["apiVersion"].rpartition("/")
    name = f"{doc['kind'].lower()}-{group.split('.')[0] + '-' if group else ''}{version}.json"
    schema = json.loads((SCHEMAS / "k8s" / name).read_text())
    definitions = json.loads((SCHEMAS / "k8s" / "_definitions.json").read_text())
    resolver = jsonschema.RefResolver.from_schema(schema, store={definitions["$id"]: definitions})
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("where", "doc"), manifests(), ids=lambda v: v if isinstance(v, str) else "")
def test_kubernetes_manifest_matches_the_kubernetes_schema(where, doc):
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in k8s_validator(doc).iter_errors(doc)]
    assert not errors, errors


def test_the_strict_schema_catches_a_misspelt_field():
    """The check above can fail: a typo in a probe is an error, not ignored."""
    doc = next(d for _, d in manifests() if d["kind"] == "Deployment")
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    assert list(k8s_validator(doc).iter_errors(doc))


def deployments() -> list[dict]:
    return [doc for _, doc in manifests() if doc["kind"] == "Deployment"]


def test_every_container_has_health_probes_and_resource_requests():
    for doc in deployments():
        for container in doc["spec"]["template"]["spec"]["containers"]:
            assert container["readinessProbe"]["httpGet"]["path"] and container["livenessProbe"], doc["metadata"][
                "name"
            ]
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), doc["metadata"]["name"]


def test_secrets_are_references_never_values():
    for doc in deployments():
        for container in (
            doc["spec"]["template"]["spec"].get("initContainers", []) + doc["spec"]["template"]["spec"]["containers"]
        ):
            for env in container.get("env", []):
                if any(word in env["name"] for word in SECRET_WORDS):
                    assert env["valueFrom"]["secretKeyRef"]["name"] == "hotline-secrets", env
    configmap = next(doc for _, doc in manifests() if doc["kind"] == "ConfigMap")
    assert not [key for key in configmap["data"] if any(word in key for word in SECRET_WORDS)]
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in SECRET_WORDS):
                assert value.startswith("${") and ":?" in value, (name, key)  # from the environment, required


def test_the_autoscaler_scales_the_rasa_deployment_and_services_select_pods():
    docs = [doc for _, doc in manifests()]
    hpa = next(doc for doc in docs if doc["kind"] == "HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    rasa = next(doc for doc in deployments() if doc["metadata"]["name"] == target["name"])
    assert target["kind"] == "Deployment" and rasa["spec"]["replicas"] >= hpa["spec"]["minReplicas"] >= 2
    labels = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in deployments()}
    for service in (doc for doc in docs if doc["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        assert any(selector <= pod_labels.items() for pod_labels in labels.values()), service["metadata"]["name"]


def test_compose_file_matches_the_compose_specification():
    schema = json.loads((SCHEMAS / "compose" / "compose_spec.json").read_text())
    document = compose()
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}"
        for e in jsonschema.Draft201909Validator(schema).iter_errors(document)
    ]
    assert not errors, errors
    document["services"]["rasa"]["healthchek"] = {}
    assert list(jsonschema.Draft201909Validator(schema).iter_errors(document))  # a typo is caught


def test_compose_runs_several_rasa_servers_on_the_shared_services():
    services = compose()["services"]
    assert services["rasa"]["deploy"]["replicas"] >= 2
    assert {"postgres", "redis", "rabbitmq", "consumer", "nginx"} <= set(services)
    for name in ("rasa", "actions", "consumer", "web"):
        assert "healthcheck" in services[name], name
    assert "server rasa:5005" in (DEPLOY / "nginx.conf").read_text()
