"""`newsstream replay` (directory + WARC) onto news.backfill.raw, and `newsstream fetch` JSON."""

from __future__ import annotations

import asyncio
import gzip
import io
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from streams.processes.backfill import replay
from streams.records import RawPage
from streams.settings import Settings
from streams.topology import BACKFILL_RAW
from tests.integration.crawl.sites import Site
from tests.integration.crawl.test_crawler_kafka import pages_on

pytestmark = pytest.mark.integration
Serve = Callable[..., Awaitable[str]]
HTML = "<html><head>{head}</head><body><p>{text}</p></body></html>"


def write_warc(path: Path) -> bytes:
    cp1251 = HTML.format(head='<meta charset="windows-1251">', text="Новость дня").encode("cp1251")
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for uri, ctype, body in [
            ("https://news.example/ru/1", "text/html; charset=windows-1251", cp1251),
            ("https://news.example/logo.png", "image/png", b"\x89PNG...."),
        ]:
            http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                uri, "response", payload=io.BytesIO(body), length=len(body), http_headers=http
            )
            writer.write_record(record)
    return cp1251


def write_pages(root: Path) -> None:
    root.mkdir()
    canonical = '<link rel="canonical" href="https://news.example/uk/2?utm_source=x">'
    (root / "a.html").write_text(HTML.format(head=canonical, text="Новина"), encoding="utf-8")
    (root / "sub").mkdir()
    (root / "sub" / "b.html.gz").write_bytes(gzip.compress(HTML.format(head="", text="B").encode()))
    (root / "sub" / "b.html.url").write_text("https://news.example/en/3\n")
    (root / "c.htm").write_text(HTML.format(head="", text="no url at all"))
    (root / "notes.txt").write_text("ignored")


async def test_replay_directory_and_warc_to_backfill(
    tmp_path: Path, stream_settings: Settings, crawl_topics: None
) -> None:
    warc = tmp_path / "crawl.warc.gz"
    cp1251 = write_warc(warc)
    write_pages(tmp_path / "saved")
    lines: list[str] = []
    done = await replay(
        stream_settings,
        [tmp_path / "saved", warc],
        source_id=f"replay-{tmp_path.name}",
        report=lambda p: lines.append(p.line()),
        report_every_s=0.0,
    )
    assert done.published == 4
    assert done.skipped == {"not_html": 1}
    assert lines
    assert "pages/s" in lines[-1]
    pages = await pages_on(stream_settings, BACKFILL_RAW, f"replay-{tmp_path.name}")
    assert set(pages) == {
        "https://news.example/ru/1",
        "https://news.example/uk/2?utm_source=x",
        "https://news.example/en/3",
        "https://replay.invalid/saved/c.htm",
    }
    warc_page = RawPage.model_validate(pages["https://news.example/ru/1"])
    assert warc_page.body == cp1251
    assert warc_page.discovered_via == "replay"
    assert warc_page.headers["content-type"] == "text/html; charset=windows-1251"


async def run_cli(*args: str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSTREAM_FETCH")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streams", "fetch", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, orjson.loads(out) if out.strip() else {"stderr": err.decode()}


async def test_fetch_command_reports_outcomes(serve: Serve) -> None:
    site = Site(robots="User-agent: *\nDisallow: /private/\n")
    site.base = base = await serve(site.app())
    site.page("/ru", "Новость", charset="windows-1251")
    site.page("/private/x", "secret")
    allow = ("--allow", "127.0.0.1/32")

    code, out = await run_cli(base + "/ru", *allow)
    assert code == 0, out
    assert (out["status"], out["outcome"], out["charset"]) == (200, "fetched", "cp1251")
    assert out["final_url"] == base + "/ru"
    assert out["redirects"] == []
    assert out["bytes"] > 0
    assert out["elapsed_s"] >= 0

    code, out = await run_cli(base + "/ru")
    assert (code, out["outcome"], out["reason"]) == (1, "blocked", "loopback")

    code, out = await run_cli(base + "/private/x", *allow)
    assert (code, out["outcome"], out["status"]) == (1, "robots_denied", None)
    code, out = await run_cli(base + "/private/x", *allow, "--no-robots")
    assert (code, out["outcome"]) == (0, "fetched")

    code, out = await run_cli(base + "/missing", *allow)
    assert (code, out["outcome"], out["status"], out["reason"]) == (
        1, "http_error", 404, "status_404",
    )  # fmt: skip
    code, out = await run_cli(base + "/ru", "--allow", "not-a-cidr")
    assert code == 2
