"""The encoder's thread count comes in through the stage (Settings.encoder_threads)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.classify.encoder import Encoder
from streams.classify.stage import ClassifyStage


def test_encoder_threads_are_configured_by_the_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Encoder, "threads", 1)
    monkeypatch.setattr(Encoder, "_engine", object())  # a loaded engine with 1 thread

    def fake(title: str, text: str, language: str | None, prior: object) -> Any:
        raise AssertionError("not called")

    ClassifyStage(frozenset(), 0.5, classifier=fake, encoder_threads=1)
    assert Encoder._engine is not None  # same count: the loaded engine stays
    ClassifyStage(frozenset(), 0.5, classifier=fake, encoder_threads=3)
    assert (Encoder.threads, Encoder._engine) == (3, None)  # reloaded with 3 on next use
    with pytest.raises(ValueError, match="at least 1"):
        Encoder.configure(threads=0)
