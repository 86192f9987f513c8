"""Records and the JSON Schemas in schemas/ agree; AsyncAPI is valid per the official parser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from streams.errors import MalformedRecord
from streams.records import (
    RECORD_TYPES,
    BandProbe,
    BandVerdict,
    Correction,
    CrawlState,
    DeadLetter,
    DuplicateEvent,
    FrontierItem,
    GatherTimeout,
    OriginalQuery,
    OriginalReply,
    PendingArticle,
    RawPage,
    RubricStats,
    SourceRef,
    StoryRequest,
    StorySummary,
)
from streams.schemas import render, stale_files
from streams.settings import load_settings
from streams.topology import build_topology
from tests.conftest import REPO, make_article, make_raw

SCHEMAS = REPO / "schemas"


def default_topology():  # the committed files describe the default settings and taxonomy
    from streams.classify import load_taxonomy

    return build_topology(load_settings(), load_taxonomy().topic_names())


def test_committed_schemas_match_the_code() -> None:
    stale = stale_files(SCHEMAS, default_topology())
    assert not stale, f"run `newsstream schemas export`: {stale}"


def _examples() -> dict[str, dict]:
    from streams.classify import Classification
    from streams.classify.stage import to_classified

    art = make_article("Some text about a bridge.")
    cls = Classification(
        topics=["infrastructure"],
        scores={"infrastructure": 0.9},
        iptc=["medtop:x"],
        evidence={"infrastructure": ["bridge"]},
        classifier_version="t",
        language_supported=True,
    )
    return {
        "RawPage": make_raw("<p>x</p>").model_dump(mode="json"),
        "Article": art.model_dump(mode="json"),
        "ClassifiedArticle": to_classified(art, cls).model_dump(mode="json"),
        "DuplicateEvent": DuplicateEvent(
            article_id="ab" * 16,
            duplicate_of="cd" * 16,
            reason="near_duplicate",
            similarity=0.95,
            url="https://x/1",
            source_id="s",
            fetched_at=art.fetched_at,
        ).model_dump(mode="json"),
        "DeadLetter": DeadLetter(
            stage="clean",
            reason="malformed",
            error="bad",
            key=None,
            payload_b64="eA==",
            origin=SourceRef(topic="news.raw", partition=0, offset=7),
        ).model_dump(mode="json"),
        "Correction": Correction(
            article_id="ab" * 16,
            topics=["crime"],
            previous_topics=["politics"],
            editor="ed",
            note="a court case",
            title="t",
            text="x",
            language="en",
        ).model_dump(mode="json"),
        "RubricStats": RubricStats(
            source_id="lenta-ua",
            rubric="кримінал",
            group="newsstream",
            writer="0a1b2c3d",
            articles=12,
            proba_sums={"crime": 10.5, "sport": 0.1},
        ).model_dump(mode="json"),
        "BandProbe": BandProbe(
            article_id="ab" * 16, band=3, fetched_at=art.fetched_at, fingerprint=art.fingerprint
        ).model_dump(mode="json"),
        "BandVerdict": BandVerdict(
            article_id="ab" * 16,
            band=3,
            match_id="cd" * 16,
            match_fetched_at=art.fetched_at,
            similarity=0.8,
            later_id="ef" * 16,
            later_fetched_at=art.fetched_at,
            later_similarity=0.9,
        ).model_dump(mode="json"),
        "PendingArticle": PendingArticle(article=art, bands=32).model_dump(mode="json"),
        "GatherTimeout": GatherTimeout(article_id="ab" * 16).model_dump(mode="json"),
        "OriginalQuery": OriginalQuery(article_id="ab" * 16, asker="cd" * 16).model_dump(
            mode="json"
        ),
        "OriginalReply": OriginalReply(
            article_id="cd" * 16, about="ab" * 16, decided=True, original="ef" * 16
        ).model_dump(mode="json"),
        "FrontierItem": FrontierItem(
            url="https://x.example/news/1?utm_source=t",
            canonical_url="https://x.example/news/1",
            host="x.example",
            source_id="x",
            discovered_via="feed",
            title="t",
            published=art.fetched_at,
            discovered_at=art.fetched_at,
        ).model_dump(mode="json"),
        "CrawlState": CrawlState(
            entry="seen",
            host="x.example",
            name="https://x.example/news/1",
            updated_at=1.7e9,
            data={"first": 1.7e9, "last": 1.7e9, "ok": True, "etag": '"v1"'},
        ).model_dump(mode="json"),
        "StoryRequest": StoryRequest(
            article=to_classified(art, cls).model_copy(update={"story_id": "ab" * 16}),
            vector="AAA=",
            encoder="e5",
        ).model_dump(mode="json"),
        "StorySummary": StorySummary(
            story_id="ab" * 16,
            revision=2,
            headline="A bridge",
            representative="ab" * 16,
            first_seen=art.fetched_at,
            last_seen=art.fetched_at,
            article_count=2,
            languages=["en", "uk"],
            outlets=["x.example"],
            desks=["infrastructure"],
        ).model_dump(mode="json"),
    }


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.schema_name)
def test_record_instances_validate_against_committed_schema(cls) -> None:
    schema = json.loads((SCHEMAS / f"{cls.schema_name}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    example = _examples()[cls.schema_name]
    jsonschema.validate(example, schema)
    # ... and the schema is strict: an unknown field is refused by both sides.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(example | {"surprise": 1}, schema)
    with pytest.raises(MalformedRecord):
        cls.from_json(json.dumps(example | {"surprise": 1}))


def test_malformed_bytes_raise_malformed_record() -> None:
    for bad in (b"", b"{not json", b"[1,2]", b'{"kind": "RawPage"}', b"\xff\xfe\x00"):
        with pytest.raises(MalformedRecord):
            RawPage.from_json(bad)


def test_roundtrip_keeps_body_bytes() -> None:
    body = "Привіт".encode("cp1251")
    page = make_raw(body)
    assert RawPage.from_json(page.to_json()).body == body


def test_asyncapi_document_is_valid_for_the_official_parser(tmp_path: Path) -> None:
    node = shutil.which("node")
    tool = REPO / "tools" / "asyncapi"
    assert node, "node is required: install Node.js (the machine image has it)"
    assert (tool / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "AsyncAPI parser missing: run `make tools` (npm ci in tools/asyncapi)"
    )
    for name, data in render(default_topology()).items():
        (tmp_path / name).write_bytes(data)

    def validate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [node, "validate.mjs", str(tmp_path / "asyncapi.yaml")],
            cwd=tool, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    done = validate()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VALID" in done.stdout
    # A broken document must be refused, or this test proves nothing.
    (tmp_path / "asyncapi.yaml").write_text("asyncapi: 3.1.0\nchannels: 5\n")
    bad = validate()
    assert bad.returncode == 1, bad.stdout
