"""Log formats: text for terminals, JSON lines with extras and tracebacks for shippers."""

from __future__ import annotations

import logging
import logging.config

import orjson
import pytest

from streams.logs import JsonFormatter, logging_dict


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("streams.test", logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_json_line_has_fields_and_extras() -> None:
    line = JsonFormatter().format(_record("fetched %d pages", 3, source="bbc-ru"))
    data = orjson.loads(line)
    assert data["msg"] == "fetched 3 pages"
    assert (data["level"], data["logger"], data["source"]) == ("WARNING", "streams.test", "bbc-ru")
    assert data["ts"].endswith("+00:00")
    assert "\n" not in line


def test_json_line_carries_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        record.exc_info = sys.exc_info()
    data = orjson.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in data["exc"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_dict_config_is_accepted_by_logging(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = logging.getLogger().handlers[:]
    try:
        logging.config.dictConfig(logging_dict("INFO", fmt))
        logging.getLogger("streams.test").info("hello")
        logging.getLogger("aiokafka").info("library chatter is quieted")
        err = capsys.readouterr().err
    finally:
        logging.getLogger().handlers[:] = before
    assert "hello" in err
    assert "chatter" not in err
    if fmt == "json":
        assert orjson.loads(err.strip().splitlines()[-1])["msg"] == "hello"
