"""The sample page end to end through the real broker into news.topic.diplomacy, received by
downstream consumers: the project's own `tail` and a third-party client (kcat, Debian)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime

import orjson
import pytest

from streams.identity import article_id, canonicalize
from streams.records import RawPage
from streams.settings import Settings
from streams.topology import RAW, Topology
from tests.conftest import SHARED_DATA
from tests.integration.pipeline.conftest import Spawn, produce, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.data]
SAMPLE = SHARED_DATA / "samples" / "lenta-ua-article.txt"
URL = "https://lenta.example.ua/news/2025/09/sample-article"


@pytest.fixture(scope="module")
def sample_page() -> RawPage:
    if not SAMPLE.is_file():
        pytest.skip(f"shared data sample {SAMPLE} is missing (set NEWSSTREAM_SHARED_DATA)")
    return RawPage(
        article_id=article_id(canonicalize(URL)), url=URL, final_url=URL, status=200,
        fetched_at=datetime.now(UTC), source_id="lenta-sample",
        content_type="text/plain; charset=utf-8", body_b64=RawPage.encode_body(SAMPLE.read_bytes()),
    )  # fmt: skip


@pytest.fixture(scope="module")
def delivered(
    sample_page: RawPage, spawn: Spawn, stream_topology: Topology, stream_settings: Settings
) -> dict[str, object]:
    """Publish the sample as a RawPage, run a worker, wait for it on the diplomacy desk."""
    spawn("worker")
    produce(stream_settings, RAW, sample_page.article_id.encode(), sample_page.to_json())
    found: dict[str, object] = wait_for(
        stream_settings,
        "news.topic.diplomacy",
        lambda d: d.get("article_id") == sample_page.article_id,
        timeout_s=180,
    )
    return found


def test_sample_page_is_routed_to_the_diplomacy_desk(delivered: dict[str, object]) -> None:
    assert delivered["kind"] == "ClassifiedArticle"
    assert "diplomacy" in delivered["topics"]  # type: ignore[operator]
    assert delivered["language"] == "uk"
    assert "medtop:20000638" in delivered["iptc"]  # type: ignore[operator]
    assert delivered["evidence"]["diplomacy"]  # type: ignore[index]


def test_tail_command_receives_it(
    delivered: dict[str, object], stream_env: dict[str, str], sample_page: RawPage
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams", "tail", "news.topic.diplomacy",
         "--from-beginning", "--json", "--idle-exit", "5"],
        env=os.environ | stream_env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    ids = [orjson.loads(line)["article_id"] for line in done.stdout.splitlines() if line.strip()]
    assert sample_page.article_id in ids


def test_kcat_receives_it(
    delivered: dict[str, object], stream_settings: Settings, sample_page: RawPage
) -> None:
    kcat = shutil.which("kcat")
    assert kcat, "kcat is missing: run `make tools` (apt-get install kcat)"
    group = f"kcat-{sample_page.article_id[:8]}"
    done = subprocess.run(
        [kcat, "-b", stream_settings.bootstrap(), "-G", group, "news.topic.diplomacy",
         "-o", "beginning", "-e", "-q", "-f", "%k\\t%s\\n"],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    rows = [line.split(b"\t", 1) for line in done.stdout.splitlines() if b"\t" in line]
    received = {key.decode(): orjson.loads(value) for key, value in rows}
    assert sample_page.article_id in received
    assert "diplomacy" in received[sample_page.article_id]["topics"]
