"""`newsstream classify` over plain text and Article JSON lines, from files and stdin."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from streams.cli import cli
from tests.conftest import make_article


def _run(args: list[str], stdin: str | None = None) -> list[dict]:
    result = CliRunner().invoke(cli, args, input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_plain_text_file(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text(
        "Лавров: переговори з НАТО\nМіністр закордонних справ РФ заявив, що "
        "переговори з НАТО та США щодо гарантій безпеки були діловими.\n",
        encoding="utf-8",
    )
    [out] = _run(["classify", str(page)])
    assert out["id"] == str(page)
    assert "diplomacy" in out["topics"]
    assert set(out) >= {"topics", "scores", "iptc", "evidence", "classifier_version"}
    assert "medtop:20000638" in out["iptc"]


def test_article_json_lines_from_stdin() -> None:
    arts = [
        make_article(
            "The striker scored twice and the team won the championship match.",
            article_id="ab" * 16,
            title="Football",
        ),
        make_article(
            "The central bank raised its interest rate as inflation and prices "
            "rose; the budget and the currency market reacted.",
            article_id="cd" * 16,
            title="Economy",
        ),
    ]
    stdin = "".join(a.to_json().decode() + "\n" for a in arts)
    out = _run(["classify", "--compact"], stdin)
    assert [o["id"] for o in out] == ["ab" * 16, "cd" * 16]
    assert "sport" in out[0]["topics"]
    assert "economy" in out[1]["topics"]
    assert "evidence" not in out[0]


def test_bad_json_line_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{oops\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["classify", str(bad)])
    assert result.exit_code != 0
    assert "bad.jsonl:2" in result.output
