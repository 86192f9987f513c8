"""Story grouping: every unique article joins the story of the event it reports (docs/stories.md).

``StoryAssigner`` is the pure logic (no Kafka): articles in arrival order, state bounded by a
time window, candidates by shardable name/figure keys, translations paired by URL evidence or
content. ``lines.story_lines`` runs it over JSON lines (``newsstream stories``).
"""

from __future__ import annotations

from streams.stories.assigner import Assignment, StoryArticle, StoryAssigner
from streams.stories.scoring import Weights
from streams.stories.state import Limits

__all__ = ["Assignment", "Limits", "StoryArticle", "StoryAssigner", "Weights"]
