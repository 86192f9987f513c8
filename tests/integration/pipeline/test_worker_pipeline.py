"""A real broker, a real worker process: pages flow through; bad input is dead-lettered."""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path

import pytest

from streams.identity import article_id, canonicalize
from streams.infra._process import stop_child
from streams.records import RawPage
from streams.settings import Settings
from streams.topology import DLQ, RAW, Topology
from tests.conftest import make_raw
from tests.integration.pipeline.conftest import Spawn, fresh_worker_group, produce, wait_for

pytestmark = pytest.mark.integration

PAGE = """<!DOCTYPE html><html lang="uk"><head><meta charset="utf-8">
<title>Міністри закордонних справ обговорили обмін полоненими</title></head><body>
<nav><a href="/">Головна</a> <a href="/news">Новини</a></nav>
<article><h1>Міністри закордонних справ обговорили обмін полоненими</h1>
<p>Міністри закордонних справ двох країн зустрілися у Женеві, щоб обговорити обмін
полоненими та відновлення роботи посольств, повідомили дипломати після переговорів.</p>
<p>Сторони домовилися продовжити консультації наступного тижня на рівні заступників
міністрів. Посол зазначив, що переговори були конструктивними.</p>
<p>Читайте також: Уряд затвердив новий бюджет</p></article>
<footer>© Новини</footer></body></html>"""


OTHER_PAGE = """<!DOCTYPE html><html lang="uk"><head><meta charset="utf-8">
<title>У Черкасах обмежать рух мостом через Дніпро</title></head><body>
<article><h1>У Черкасах обмежать рух мостом через Дніпро</h1>
<p>З понеділка на три тижні обмежать рух вантажівок мостом через Дніпро: дорожники
почнуть ремонт деформаційних швів і заміну покриття на двох смугах.</p>
<p>Легкові автомобілі рухатимуться реверсом, а для автобусів міська рада змінить
маршрути. Подробиці обіцяють оприлюднити на сайті міськради.</p></article></body></html>"""


# A page of its own (the others would come out as its near-duplicates), in a /world/ section.
RUBRIC_PAGE = """<!DOCTYPE html><html lang="uk"><head><meta charset="utf-8">
<title>Посли ЄС обговорили нові санкції проти Росії</title></head><body>
<article><h1>Посли ЄС обговорили нові санкції проти Росії</h1>
<p>Постійні представники країн Євросоюзу у Брюсселі обговорили двадцятий пакет санкцій
проти Росії та продовження переговорів про гарантії безпеки для України.</p>
<p>Дипломати домовилися повернутися до питання на наступній зустрічі, а міністри
закордонних справ ухвалять рішення наприкінці місяця.</p></article></body></html>"""


def raw_for(url: str, html: str = PAGE) -> RawPage:
    return make_raw(html, url, article_id=article_id(canonicalize(url)))


@pytest.fixture(scope="module")
def worker(spawn: Spawn, stream_topology: Topology) -> subprocess.Popen[bytes]:
    return spawn("worker")


def test_raw_page_comes_out_classified_on_articles_and_its_desk(
    worker: subprocess.Popen[bytes], stream_settings: Settings
) -> None:
    page = raw_for("https://news.example.org/world/talks-1?utm_source=x")
    produce(stream_settings, RAW, page.article_id.encode(), page.to_json())
    # The first page also waits for the worker's start (model load, group join, 32 band
    # verdicts): slow on a loaded 2-core machine.
    out = wait_for(
        stream_settings,
        "news.articles",
        lambda d: d["article_id"] == page.article_id,
        timeout_s=240,
    )
    assert out["kind"] == "ClassifiedArticle"
    assert "Женеві" in out["text"]
    assert "Читайте також" not in out["text"]
    assert out["language"] == "uk"
    assert out["classifier_version"]
    for topic in out["topics"]:
        wait_for(
            stream_settings, f"news.topic.{topic}", lambda d: d["article_id"] == page.article_id
        )
    assert worker.poll() is None


def test_malformed_message_goes_to_dlq_with_origin_and_worker_keeps_running(
    worker: subprocess.Popen[bytes], stream_settings: Settings
) -> None:
    bad = b'{"kind": "RawPage", "broken'
    partition, offset = produce(stream_settings, RAW, b"bad-key", bad)
    letter = wait_for(
        stream_settings,
        DLQ,
        lambda d: d.get("origin") == {"topic": RAW, "partition": partition, "offset": offset},
    )
    assert (letter["stage"], letter["reason"]) == ("clean", "malformed")
    assert base64.b64decode(letter["payload_b64"]) == bad  # nothing is lost
    # ... and the worker is still there, processing the next good page (another story: the
    # same text under another URL would rightly be a duplicate, not an article).
    page = raw_for("https://news.example.org/city/bridge-2", OTHER_PAGE)
    produce(stream_settings, RAW, page.article_id.encode(), page.to_json())
    wait_for(stream_settings, "news.articles", lambda d: d["article_id"] == page.article_id)
    assert worker.poll() is None


def test_page_without_text_is_dead_lettered_not_dropped(
    worker: subprocess.Popen[bytes], stream_settings: Settings
) -> None:
    page = raw_for("https://news.example.org/empty", "<html><body><nav>menu</nav></body></html>")
    partition, offset = produce(stream_settings, RAW, page.article_id.encode(), page.to_json())
    letter = wait_for(
        stream_settings,
        DLQ,
        lambda d: d.get("origin") == {"topic": RAW, "partition": partition, "offset": offset},
    )
    assert letter["reason"] in ("no_content", "empty_body")

    # `dlq replay` republishes it to its origin topic; it fails again, and its new dead letter
    # (at the replayed copy's offset) says it was replayed once.
    import asyncio

    from streams.kafka.dlq import replay_dead_letters

    shown: list[str] = []
    count = asyncio.run(
        replay_dead_letters(
            stream_settings, stage="clean", reason=letter["reason"], echo=shown.append
        )
    )
    assert count >= 1
    assert any(f"offset={offset}" in line for line in shown), shown
    again = wait_for(
        stream_settings,
        DLQ,
        lambda d: (
            d.get("replays") == 1
            and d.get("key") == page.article_id
            and d["origin"]["offset"] != offset
        ),
    )
    assert again["payload_b64"] == letter["payload_b64"]


def test_worker_starts_on_a_state_dir_that_does_not_exist_yet(
    spawn: Spawn, stream_topology: Topology, stream_settings: Settings, tmp_path: Path
) -> None:
    from tests.integration.pipeline.test_sink import http_status

    fresh = tmp_path / "not" / "there" / "yet"
    group = fresh_worker_group(stream_settings, stream_topology, "fresh")
    env = {"NEWSSTREAM_STATE_DIR": str(fresh), "NEWSSTREAM_CONSUMER_GROUP": group}
    proc = spawn("worker", extra_env=env)
    deadline = time.monotonic() + 90
    while http_status(proc.metrics_port, "/readyz") != 200:  # type: ignore[attr-defined]
        assert proc.poll() is None, proc.log_path.read_text()[-3000:]  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "worker not ready in 90 s"
        time.sleep(0.5)
    assert (fresh / "faust").is_dir()
    # This group's pipeline shares the stage topics with the module's worker: stopped here, so
    # the tests after this one see one pipeline's load and outputs.
    stop_child(proc)


def test_worker_publishes_rubric_evidence_that_every_worker_reads_back(
    worker: subprocess.Popen[bytes], stream_settings: Settings
) -> None:
    """The page's URL names its section: the worker counts it into its rubric book and
    publishes its totals on news.rubrics; a book that follows the topic (another worker of the
    group, or this one after a restart) sums every writer's totals, and skips other groups'."""
    import asyncio

    from streams.app.rubric_reader import follow_rubrics
    from streams.classify.rubrics import RubricBook
    from streams.records import RubricStats
    from streams.topology import RUBRICS

    group = stream_settings.consumer_group
    page = raw_for("https://news.example.org/diplomatiya/envoys-2", RUBRIC_PAGE)
    produce(stream_settings, RAW, page.article_id.encode(), page.to_json())
    out = wait_for(stream_settings, "news.articles", lambda d: d["article_id"] == page.article_id)
    assert out["rubric"] == "diplomatiya"
    source = out["source_id"]
    mine = wait_for(
        stream_settings,
        RUBRICS,
        lambda d: d["rubric"] == "diplomatiya" and d["source_id"] == source and d["group"] == group,
    )
    assert mine["articles"] == 1
    assert max(mine["proba_sums"], key=mine["proba_sums"].get) == "diplomacy"
    # a second writer of the group (as another worker would) adds its own totals; another
    # group's writer and a malformed record are skipped and counted
    other = RubricStats(
        source_id=source,
        rubric="diplomatiya",
        group=group,
        writer="other-worker",
        articles=9,
        proba_sums={"sport": 8.0},
    )
    blue = other.model_copy(update={"group": "blue", "writer": "blue-1", "articles": 99})
    for value in (other.to_json(), blue.to_json(), b"{not a record"):
        produce(stream_settings, RUBRICS, b"test", value)

    async def read_back() -> RubricBook:
        book = RubricBook(group, "reader")
        task = asyncio.create_task(follow_rubrics(stream_settings, book))
        try:
            for _ in range(150):
                prior = book.prior(source, "diplomatiya")
                if prior is not None and prior.proba.get("sport", 0.0) > 0.5:
                    return book
                await asyncio.sleep(0.2)
        finally:
            task.cancel()
        raise AssertionError(f"the rubric book never summed both writers: {book._totals}")

    book = asyncio.run(read_back())
    prior = book.prior(source, "diplomatiya")
    assert prior is not None
    expected = (mine["proba_sums"].get("sport", 0.0) + 8.0) / (1 + 9)
    # the blue group's 99 are not in it: the page is counted once, by this group's worker
    assert abs(prior.proba["sport"] - expected) < 1e-3, book._totals
    assert worker.poll() is None
