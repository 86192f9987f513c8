"""One outlet's timed stream (the bench's ria.ru section): loading in time order, and the links
the same-outlet, same-day penalty stops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from streams.stories.quality import load_stream, stream_links
from streams.stories.scoring import Weights


def _stream(root: Path) -> None:
    rows = [  # out of order on purpose; the same text twice an hour apart, then a day later
        ("ria:3", "10:00 02.12.2023", "Паромная переправа возобновила работу\nКЕРЧЬ, 2 дек."),
        ("ria:1", "08:00 01.12.2023", "Паромная переправа возобновила работу\nКЕРЧЬ, 1 дек."),
        ("ria:2", "09:00 01.12.2023", "Паромная переправа возобновила работу\nКЕРЧЬ, 1 дек."),
    ]
    (root / "topics").mkdir()
    with (root / "topics" / "ria.jsonl").open("wb") as f:
        for rid, when, text in rows:
            url = f"https://ria.ru/20231201/{rid[4:]}.html"
            row = {"id": rid, "url": url, "datetime": when, "text": text, "lang": "ru"}
            f.write(orjson.dumps(row) + b"\n")


def test_the_stream_is_read_in_time_order_with_its_headlines(tmp_path: Path) -> None:
    _stream(tmp_path)
    stream = load_stream(tmp_path, "ria.jsonl")
    assert [a.article_id for a in stream] == ["ria:1", "ria:2", "ria:3"]
    assert stream[0].title == "Паромная переправа возобновила работу"
    assert stream[0].text == "КЕРЧЬ, 1 дек."
    assert stream[1].time - stream[0].time == 3600


def test_the_outlet_penalty_stops_only_the_same_day_link(tmp_path: Path) -> None:
    _stream(tmp_path)
    stream = load_stream(tmp_path, "ria.jsonl")
    v = np.tile(np.eye(1, 384, dtype=np.float32), (3, 1))  # one story vector for all three
    shipped = stream_links(stream, v, Weights())
    without = stream_links(stream, v, Weights().with_weight("outlet", 0.0))
    # shipped: the second an hour after the first is kept apart; the third, 25-26 h later, is
    # past the penalty's day and links
    assert [(m.article_id, a.article_id) for _, m, a in shipped] == [("ria:1", "ria:3")]
    assert [(m.article_id, a.article_id) for _, m, a in without] == [
        ("ria:1", "ria:2"),
        ("ria:1", "ria:3"),
    ]
