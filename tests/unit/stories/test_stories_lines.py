"""`newsstream stories` and story_lines: one output line per input line, bad lines counted."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from streams.stories import StoryAssigner
from streams.stories.lines import Totals, story_lines
from tests.unit.stories.fakes import fake_embed

PARIS = {"title": "Zelensky meets Macron in Paris", "text": "Zelensky and Macron met in Paris."}


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _run(lines: list[bytes]) -> tuple[list[dict[str, object]], Totals]:
    totals = Totals()
    return list(story_lines(lines, StoryAssigner(), fake_embed, totals)), totals


def test_each_line_answered_in_order_and_bad_lines_counted() -> None:
    lines = [
        orjson.dumps(PARIS | {"url": "https://one.example/1", "published": "2026-11-30T10:00Z"}),
        b"not json",
        b"",
        b"[1, 2]",
        orjson.dumps({"title": "only a title", "published": "yesterday"}),
        orjson.dumps({"text": "x", "topics": "war"}),
        orjson.dumps({"text": "   "}),
        orjson.dumps(
            PARIS
            | {"url": "https://two.example/2", "published": _epoch("2026-11-30T11:00:00+00:00")}
        ),
    ]
    out, totals = _run(lines)
    assert [o["line"] for o in out] == [1, 2, 4, 5, 6, 7, 8]
    errors = {o["line"]: o["error"] for o in out if "error" in o}
    assert set(errors) == {2, 4, 5, 6, 7}
    assert "not JSON" in str(errors[2])
    assert "object" in str(errors[4])
    assert "published" in str(errors[5])
    assert "topics" in str(errors[6])
    assert totals.lines == 7
    assert totals.bad == 5
    assert out[-1]["story_id"] == out[0]["story_id"] == out[0]["article_id"]
    assert out[-1]["new_story"] is False


def test_ids_given_or_from_the_url() -> None:
    out, _ = _run([orjson.dumps(PARIS | {"id": "my-1"}), orjson.dumps(PARIS | {"id": "my-2"})])
    assert [o["article_id"] for o in out] == ["my-1", "my-2"]
    assert out[1]["story_id"] == "my-1"
    assert out[1]["matched"] == "my-1"


def test_stories_command(tmp_path: pytest.TempPathFactory) -> None:
    from click.testing import CliRunner

    from streams.cli import cli

    stdin = orjson.dumps(PARIS | {"language": "en"}).decode() + "\n{broken\n"
    result = CliRunner().invoke(cli, ["stories", "--quiet"], input=stdin)
    assert result.exit_code == 1
    out = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert out[0]["new_story"] is True
    assert out[1]["line"] == 2
    assert "error" in out[1]
