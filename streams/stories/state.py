"""The story assigner's state: the articles of the window, their stories and the key index.

Everything is bounded:

- **time**: an article older than ``window_s`` before the newest time seen (the watermark)
  leaves the state, its keys and its story's member list; a story with no member left is
  forgotten (a later report of it starts a new story);
- **per key**: a key holds the newest ``max_per_key`` articles (a name such as "Russia" that
  every article has cannot make every article a candidate);
- **per story**: a story keeps its newest ``max_members`` articles to be compared with;
- **overall**: at most ``max_articles``, the oldest leave first.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from streams.stories.scoring import Vector


@dataclass(frozen=True)
class Limits:
    window_s: float = 3 * 86_400.0  # reports of one event come within days (docs/stories.md)
    max_per_key: int = 64
    max_members: int = 16
    max_articles: int = 200_000


@dataclass(frozen=True)
class Member:
    """One article of the window, as candidates are scored against it."""

    article_id: str
    story_id: str
    outlet: str
    language: str | None
    url: str
    time: float
    vector: Vector  # float16: 768 bytes
    names: frozenset[str]
    numbers: frozenset[str]
    desks: frozenset[str]
    keys: tuple[str, ...]  # its candidate keys (names, numbers): to leave the index
    translation_keys: tuple[str, ...]
    translation_of: str | None


@dataclass
class Story:
    story_id: str
    first_time: float
    last_time: float
    size: int = 0  # every article ever assigned, also those gone from the window
    members: list[str] = field(default_factory=list)  # newest last, at most max_members


@dataclass
class StoryState:
    limits: Limits = field(default_factory=Limits)
    members: dict[str, Member] = field(default_factory=dict)
    stories: dict[str, Story] = field(default_factory=dict)
    index: dict[str, list[str]] = field(default_factory=dict)  # key -> article ids, newest last
    watermark: float = float("-inf")
    _ages: list[tuple[float, str]] = field(default_factory=list)  # heap of (time, article id)

    def add(self, member: Member) -> Story:
        """File ``member`` under its story and keys; returns the story."""
        self.members[member.article_id] = member
        heapq.heappush(self._ages, (member.time, member.article_id))
        story = self.stories.get(member.story_id)
        if story is None:
            story = self.stories[member.story_id] = Story(member.story_id, member.time, member.time)
        story.size += 1
        story.first_time = min(story.first_time, member.time)
        story.last_time = max(story.last_time, member.time)
        story.members = [*story.members, member.article_id][-self.limits.max_members :]
        for key in (*member.keys, *member.translation_keys):
            bucket = self.index.setdefault(key, [])
            bucket.append(member.article_id)
            if len(bucket) > self.limits.max_per_key:
                del bucket[0]
        self.watermark = max(self.watermark, member.time)
        self.expire()
        return story

    def candidates(self, keys: tuple[str, ...] | None) -> list[Member]:
        """Articles of the window sharing a key (every article for None), each once, in id
        order (deterministic)."""
        if keys is None:
            return [self.members[aid] for aid in sorted(self.members)]
        ids = {aid for key in keys for aid in self.index.get(key, ())}
        return [self.members[aid] for aid in sorted(ids) if aid in self.members]

    def story_members(self, story_id: str) -> list[Member]:
        story = self.stories.get(story_id)
        ids = story.members if story is not None else []
        return [self.members[aid] for aid in ids if aid in self.members]

    def expire(self) -> int:
        """Drop what fell out of the window or over ``max_articles``; returns how many."""
        horizon = self.watermark - self.limits.window_s
        dropped = 0
        while self._ages and (
            self._ages[0][0] < horizon or len(self.members) > self.limits.max_articles
        ):
            _, aid = heapq.heappop(self._ages)
            member = self.members.pop(aid, None)
            if member is not None:
                self._forget(member)
                dropped += 1
        return dropped

    def _forget(self, member: Member) -> None:
        for key in (*member.keys, *member.translation_keys):
            bucket = self.index.get(key)
            if bucket is not None and member.article_id in bucket:
                bucket.remove(member.article_id)
                if not bucket:
                    del self.index[key]
        story = self.stories.get(member.story_id)
        if story is not None:
            story.members = [a for a in story.members if a != member.article_id]
            if not any(a in self.members for a in story.members):
                # No article of the story is left to compare with: forget it.
                del self.stories[member.story_id]
