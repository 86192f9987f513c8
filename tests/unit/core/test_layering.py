"""The import layering: stage logic is plain Python, the Kafka and process layers sit above it.

Each package below is imported alone in a fresh interpreter, every module of it, and none of
the stream engine, Kafka client, database driver, HTTP client or process layers may come along:
stage logic must be testable and benchmarkable without a broker (DESIGN.md). The crawl package
is the one stage allowed an HTTP client: fetching is its job.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import streams

LAYERS = (
    "faust",
    "mode",
    "aiokafka",
    "asyncpg",
    "psycopg",
    "streams.cli",
    "streams.app",
    "streams.kafka",
    "streams.sinks",
    "streams.processes",
)
PURE = {
    "streams.identity": (*LAYERS, "aiohttp", "streams.crawl"),
    "streams.records": (*LAYERS, "aiohttp", "streams.crawl"),
    "streams.stage": (*LAYERS, "aiohttp", "streams.crawl"),
    "streams.crawl": LAYERS,
    "streams.clean": (*LAYERS, "aiohttp", "streams.crawl"),
    "streams.dedup": (*LAYERS, "aiohttp", "streams.crawl"),
    "streams.classify": (*LAYERS, "aiohttp", "streams.crawl"),
    "streams.stories": (*LAYERS, "aiohttp", "streams.crawl"),
}


def modules_of(name: str) -> list[str]:
    module = __import__(name, fromlist=["_"])
    if not hasattr(module, "__path__"):
        return [name]
    return [name] + [m.name for m in pkgutil.walk_packages(module.__path__, f"{name}.")]


@pytest.mark.parametrize("package", sorted(PURE))
def test_stage_logic_imports_no_engine_client_or_process_layer(package: str) -> None:
    names = modules_of(package)
    forbidden = PURE[package]
    probe = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r}"
        f" or any(m == f or m.startswith(f + '.') for f in {forbidden!r}))\n"
        "print('\\n'.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(streams.__path__[0] + "/.."),
    )
    assert out.stdout.split() == [], f"{package} pulls in: {out.stdout.split()}"
