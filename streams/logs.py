"""Log setup for every process: readable text on a terminal, or one JSON object per line.

JSON lines (``NEWSSTREAM_LOG_FORMAT=json``) are for log shippers: each line has ``ts``
(ISO 8601, UTC), ``level``, ``logger``, ``msg``, the process id, any ``extra={...}`` fields a
call passes, and ``exc`` with the traceback when there is one.
"""

from __future__ import annotations

import logging
import logging.config
import os
from datetime import UTC, datetime
from typing import Any

import orjson

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY = ("aiokafka", "faust", "mode", "kafka")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": os.getpid(),
        }
        out |= {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def setup_logging(level: int | str, fmt: str = "text", *, quiet_libraries: bool = True) -> None:
    """Configure this process's logging (``fmt`` is ``text`` or ``json``) from the same dict
    faust's worker gets, so every process logs alike."""
    config = logging_dict(level, fmt)
    if not quiet_libraries:
        config["loggers"] = {}
    logging.config.dictConfig(config)


def logging_dict(level: int | str, fmt: str = "text") -> dict[str, Any]:
    """The same setup as a ``logging.config.dictConfig`` dict, for faust's Worker, which
    replaces the root logger's handlers with its own when it starts."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"newsstream": formatter},
        # Kafka client chatter is held back during a broker outage (streams/kafka/outage.py).
        "filters": {"kafka_outage": {"()": "streams.kafka.outage.OutageFilter"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "newsstream",
                "stream": "ext://sys.stderr",
                "filters": ["kafka_outage"],
            }
        },
        "root": {"level": level, "handlers": ["default"]},
        "loggers": {name: {"level": "WARNING"} for name in NOISY},
    }
