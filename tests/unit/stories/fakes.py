"""Fake embeddings for the story tests: the assigner is pure logic, the encoder is not needed."""

from __future__ import annotations

import hashlib

import numpy as np

from streams.classify.encoder import DIM, Matrix
from streams.stories import StoryArticle

T0 = 1_780_000_000.0  # 2026-05-28, any fixed time


def vector(topic: str, noise: float = 0.0, seed: str = "") -> Matrix:
    """A unit vector per ``topic``; ``noise`` moves it off by about that share, seeded."""

    def rand(key: str) -> Matrix:
        rng = np.random.default_rng(int(hashlib.sha256(key.encode()).hexdigest()[:8], 16))
        return rng.standard_normal(DIM).astype(np.float32)

    v = rand(topic) + noise * rand(f"{topic}/{seed}")
    out: Matrix = (v / np.linalg.norm(v)).astype(np.float32)
    return out


def article(
    aid: str,
    topic: str,
    *,
    title: str = "Zelensky meets Macron in Paris",
    text: str = "Volodymyr Zelensky met Emmanuel Macron in Paris on 30 November: 20 points.",
    url: str = "",
    language: str = "en",
    t: float = T0,
    noise: float = 0.1,
    **kw: object,
) -> StoryArticle:
    return StoryArticle(
        article_id=aid,
        url=url,
        title=title,
        text=text,
        language=language,
        time=t,
        vector=vector(topic, noise, aid),
        **kw,  # type: ignore[arg-type]
    )


def fake_embed(titles: list[str], texts: list[str]) -> Matrix:
    """One vector per title: articles with equal titles are the same story."""
    return np.stack([vector(t, 0.05, x) for t, x in zip(titles, texts, strict=True)])
