"""Fixtures for the classifier tests: one classifier per session (the model loads once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.classify.classifier import Classifier
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier.from_files()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "topics").is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is missing (set NEWSSTREAM_SHARED_DATA)")
    return SHARED_DATA
