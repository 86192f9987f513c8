"""Renderings of the Kubernetes manifests, for the kubeconform, CRD-field and autoscaling tests.

Three builds are checked: the base (deploy/k8s), the base with components/autoscale, and the
base with components/autoscale and components/cluster (what a real cluster applies). The
components are used from an overlay written into a temporary directory outside deploy/k8s,
as an operator's own overlay would (kustomize refuses an overlay inside its base's directory).

`kubectl kustomize` renders them when kubectl is on PATH. Without it, `render_kustomization`
below does the same for the subset of kustomize these files use (resources, components,
namespace, images, JSON 6902 and strategic-merge patches, `$patch: delete`);
test_k8s_kubeconform.py checks that both give the same objects wherever kubectl exists.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
K8S_DIR = ROOT / "deploy" / "k8s"
BUILDS = {
    "base": (),
    "autoscale": ("autoscale",),
    "cluster": ("autoscale", "cluster"),
}

Doc = dict[str, Any]


def write_overlay(where: Path, components: tuple[str, ...]) -> Path:
    """An operator's overlay: the base plus `components`, by relative paths (kustomize takes
    no absolute ones)."""
    where.mkdir(parents=True, exist_ok=True)
    rel = Path(os.path.relpath(K8S_DIR, where))
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "newsstream",
        "resources": [str(rel)],
        "components": [str(rel / "components" / c) for c in components],
    }
    (where / "kustomization.yaml").write_text(yaml.safe_dump(overlay), encoding="utf-8")
    return where


def kubectl_kustomize(directory: Path) -> list[Doc]:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


# --- the fallback renderer ------------------------------------------------------------------


def _load(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _matches(doc: Doc, target: dict[str, str]) -> bool:
    group, _, version = doc["apiVersion"].rpartition("/")
    have = {"group": group, "version": version, "kind": doc["kind"]}
    have["name"] = doc["metadata"]["name"]
    return all(have[key] == value for key, value in target.items())


def _json6902(doc: Doc, ops: list[dict[str, Any]]) -> None:
    for op in ops:
        *parents, last = [p for p in op["path"].split("/") if p]
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if op["op"] == "remove":
            del node[key]
        elif op["op"] in {"add", "replace"}:
            node[key] = copy.deepcopy(op["value"])
        else:
            raise NotImplementedError(f"JSON patch op {op['op']!r}")


def _merge(base: Any, patch: Any) -> Any:
    """Strategic merge as these files use it: maps merge, null deletes, lists of named items
    merge by name (containers, env, volumes), other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(base.get(key), value)
        return out
    if isinstance(base, list) and isinstance(patch, list):
        if all(isinstance(i, dict) and "name" in i for i in [*base, *patch]):
            named = {item["name"]: item for item in base}
            added = [item for item in patch if item["name"] not in named]
            merged = [
                _merge(item, next((p for p in patch if p["name"] == item["name"]), {}))
                for item in base
            ]
            return added + merged  # kustomize puts new list items first
        return copy.deepcopy(patch)
    return copy.deepcopy(patch)


def _apply_patches(docs: list[Doc], root: Path, patches: list[dict[str, Any]]) -> list[Doc]:
    for entry in patches:
        text = entry["patch"] if "patch" in entry else (root / entry["path"]).read_text()
        body = yaml.safe_load(text)
        if isinstance(body, list):  # JSON 6902
            for doc in docs:
                if _matches(doc, entry["target"]):
                    _json6902(doc, body)
            continue
        target = {"kind": body["kind"], "name": body["metadata"]["name"]}
        if body.pop("$patch", None) == "delete":
            docs = [doc for doc in docs if not _matches(doc, target)]
            continue
        docs = [_merge(doc, body) if _matches(doc, target) else doc for doc in docs]
    return docs


def render_kustomization(root: Path) -> list[Doc]:
    """`kubectl kustomize root` for the features these manifests use."""
    spec = _load(root / "kustomization.yaml")[0]
    docs: list[Doc] = []
    for entry in spec.get("resources", []):
        path = (root / entry).resolve()
        docs += render_kustomization(path) if path.is_dir() else _load(path)
    for entry in spec.get("components", []):
        component_root = (root / entry).resolve()
        component = _load(component_root / "kustomization.yaml")[0]
        assert component["kind"] == "Component", entry
        docs += render_kustomization(component_root) if component.get("resources") else []
        docs = _apply_patches(docs, component_root, component.get("patches", []))
    if spec.get("kind") != "Component":
        docs = _apply_patches(docs, root, spec.get("patches", []))
    if "namespace" in spec:
        for doc in docs:
            if doc["kind"] != "Namespace":
                doc["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        for doc in docs:
            pod = doc.get("spec", {}).get("template", {}).get("spec", {})
            for container in pod.get("containers", []):
                name, _, _ = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{name}:{image['newTag']}"
    return docs


# --- fixtures -------------------------------------------------------------------------------


def _overlay_root(tmp: pytest.TempPathFactory, name: str) -> Path:
    return K8S_DIR if not BUILDS[name] else write_overlay(tmp.mktemp(name), BUILDS[name])


@pytest.fixture(scope="session")
def k8s_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Doc]]:
    """Each build's objects, by kubectl kustomize if it is on PATH, else by the fallback."""
    render = kubectl_kustomize if shutil.which("kubectl") else render_kustomization
    return {name: render(_overlay_root(tmp_path_factory, name)) for name in BUILDS}


@pytest.fixture(scope="session")
def k8s_fallback_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Doc]]:
    """Each build's objects by the fallback renderer (compared with kubectl's where it exists)."""
    return {name: render_kustomization(_overlay_root(tmp_path_factory, name)) for name in BUILDS}
