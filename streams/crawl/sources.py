"""Sources an operator points newsstream at, from a YAML file (validated, clear errors)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from streams.errors import ConfigError

DEFAULT_SOURCES = Path(__file__).with_name("sources.yaml")


class Source(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    url: str = Field(pattern=r"^https?://")
    kind: Literal["feed", "sitemap", "section"] = "feed"
    language: str | None = Field(default=None, description="hint only; text decides")
    link_pattern: str | None = Field(default=None, description="regex for section links")
    max_item_age_s: float = Field(default=3 * 24 * 3600, gt=0)
    allowed_hosts: tuple[str, ...] = Field(
        default=(), description="only items on these hosts (or their subdomains); empty = any"
    )
    min_interval_s: float | None = Field(default=None, gt=0, description="adaptive re-poll floor")
    max_interval_s: float | None = Field(default=None, gt=0, description="adaptive re-poll cap")

    @field_validator("link_pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        # Checked here, where a person sees the error, not at the crawler's first poll.
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return pattern


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    sources: list[Source]


def load_sources(path: Path | None = None) -> list[Source]:
    path = path or DEFAULT_SOURCES
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = SourcesFile.model_validate(data)
    except OSError as exc:
        raise ConfigError(f"sources file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"sources file {path} is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        raise ConfigError(f"sources file {path}: {where}: {e['msg']}") from exc
    ids = [s.id for s in parsed.sources]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"sources file {path}: duplicate source ids {dupes}")
    return parsed.sources
