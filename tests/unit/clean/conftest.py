"""Shared-data location for the clean tests (skipped with a message when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_data() -> Path:
    default = Path(__file__).resolve().parents[4] / "shared/data"
    return Path(os.environ.get("NEWSSTREAM_SHARED_DATA", default))


@pytest.fixture
def shared() -> Path:
    root = shared_data()
    if not root.is_dir():
        pytest.skip(f"shared data folder {root} is missing (set NEWSSTREAM_SHARED_DATA)")
    return root
