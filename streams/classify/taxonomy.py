"""The desk taxonomy as versioned configuration (``taxonomy.yaml``), validated on load."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from streams.errors import ConfigError

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.yaml")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class Topic:
    name: str
    iptc: tuple[str, ...]
    parent: str | None = None
    threshold: float = 0.5
    # language -> word-stem terms (see taxonomy.yaml for the matching rules)
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Taxonomy:
    version: str
    topics: dict[str, Topic]
    parent_share: float = 0.8

    def topic_names(self) -> list[str]:
        return list(self.topics)

    def iptc_codes(self, names: list[str]) -> list[str]:
        """IPTC codes of these topics, each once, in topic order."""
        codes: dict[str, None] = {}
        for name in names:
            codes.update(dict.fromkeys(self.topics[name].iptc))
        return list(codes)

    def children(self, name: str) -> list[str]:
        return [t.name for t in self.topics.values() if t.parent == name]


def _terms(name: str, raw: object, where: Path) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(v, list) and all(isinstance(t, str) and t.strip() for t in v)
        for v in raw.values()
    ):
        raise ConfigError(f"{where}: topics.{name}.terms: a mapping language -> list of terms")
    return {str(lang): tuple(t.strip() for t in terms) for lang, terms in raw.items()}


def _threshold(name: str, raw: object, where: Path) -> float:
    if not isinstance(raw, int | float) or not 0.0 < float(raw) <= 1.0:
        raise ConfigError(f"{where}: topics.{name}.threshold: a number in (0, 1]")
    return float(raw)


def _topic(name: str, raw: object, where: Path, default_threshold: float) -> Topic:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: topics.{name}: expected a mapping")
    if not name or not set(name) <= _NAME_CHARS:
        raise ConfigError(f"{where}: topic name {name!r}: use lower-case letters, digits, _ or -")
    iptc = raw.get("iptc", [])
    if not isinstance(iptc, list) or not all(
        isinstance(c, str) and c.startswith("medtop:") for c in iptc
    ):
        raise ConfigError(f"{where}: topics.{name}.iptc: a list of 'medtop:NNNNNNNN' codes")
    parent = raw.get("parent")
    return Topic(
        name=name,
        iptc=tuple(iptc),
        parent=str(parent) if parent else None,
        threshold=_threshold(name, raw.get("threshold", default_threshold), where),
        terms=_terms(name, raw.get("terms"), where),
    )


def parse_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy file; problems raise ConfigError naming the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"taxonomy {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("topics"), dict):
        raise ConfigError(f"{path}: expected a mapping with 'version' and 'topics'")
    default = _threshold("*", data.get("default_threshold", 0.5), path)
    topics = {str(n): _topic(str(n), raw, path, default) for n, raw in data["topics"].items()}
    for topic in topics.values():
        if topic.parent is not None and topic.parent not in topics:
            raise ConfigError(f"{path}: topics.{topic.name}.parent: unknown topic {topic.parent}")
    share = data.get("parent_share", 0.8)
    if not isinstance(share, int | float) or not 0.0 <= float(share) <= 1.0:
        raise ConfigError(f"{path}: parent_share: a number in [0, 1]")
    return Taxonomy(version=str(data.get("version", "0")), topics=topics, parent_share=float(share))


@cache
def load_taxonomy(path: Path | None = None) -> Taxonomy:
    return parse_taxonomy(path or DEFAULT_TAXONOMY)
