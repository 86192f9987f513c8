"""Stage 3, classify and route: Article -> news.articles + news.topic.<t> (+ news.review).

With a rubric book, the publisher's own section (``Article.rubric``) is evidence: its learned
prior joins the model's probabilities, and the article's text-only probabilities are counted
into the book and published on ``news.rubrics`` with the other outputs (same durable send,
same commit), so every worker learns what that source's rubric means.

In the worker (``story_vector`` set) the routing moves to the story stage: this stage computes
the article's story vector, the expensive half of story assignment, here where it scales with
``news.unique``'s partitions, and hands the classified article with it to
``news.stories.assign`` (streams/stories/stage.py). Without it (offline tools, benches) the
stage routes the article itself.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams.classify import Classification, classify
from streams.classify.classifier import RubricPrior
from streams.classify.encoder import ENCODER_NAME, Encoder
from streams.classify.rubrics import RubricBook
from streams.metrics import RUBRIC_PRIORS
from streams.records import Article, ClassifiedArticle, SourceRef, StoryRequest
from streams.stage import Emit, StageResult
from streams.topology import ARTICLES, REVIEW, RUBRICS, STORIES_ASSIGN, desk_topic_name

Classifier = Callable[[str, str, str | None, RubricPrior | None], Classification]
# (title, text) -> the story vector (streams.stories.vectors), L2-normalised
StoryVector = Callable[[str, str], Any]


def to_classified(article: Article, c: Classification) -> ClassifiedArticle:
    fields = article.model_dump(exclude={"kind"})
    return ClassifiedArticle(
        **fields,
        topics=list(c.topics),
        scores=dict(c.scores),
        iptc=list(c.iptc),
        evidence={k: list(v) for k, v in c.evidence.items()},
        classifier_version=c.classifier_version,
    )


def route(article: ClassifiedArticle, desks: frozenset[str], review_below: float) -> list[Emit]:
    """Every article to news.articles; each known topic to its desk; unsure ones to review."""
    key = article.article_id
    emits = [Emit.record(ARTICLES, key, article)]
    emits += [Emit.record(desk_topic_name(t), key, article) for t in article.topics if t in desks]
    top = max(article.scores.values(), default=0.0)
    if not article.topics or top < review_below:
        emits.append(Emit.record(REVIEW, key, article))
    return emits


@dataclass
class ClassifyStage:
    desks: frozenset[str]
    review_below: float
    classifier: Classifier = field(default=classify)
    rubrics: RubricBook | None = None
    name: str = "classify"
    # The shell runs this stage in a thread: the encoder releases the GIL for ~50 ms a record.
    offload: bool = True
    # Threads of the sentence encoder (Settings.encoder_threads); None keeps the process's.
    encoder_threads: int | None = None
    story_vector: StoryVector | None = None  # set: hand over to the story stage (see above)

    def __post_init__(self) -> None:
        if self.encoder_threads is not None:
            Encoder.configure(threads=self.encoder_threads)  # before the warm-up loads it
        # Load the model and the sentence encoder when the worker starts: a missing or broken
        # model then stops the start instead of sending every article to the DLQ.
        if self.classifier is classify:
            self.classifier("warm-up", "warm-up", "en", None)

    def _prior(self, article: Article) -> RubricPrior | None:
        if self.rubrics is None or not article.rubric:
            return None
        prior = self.rubrics.prior(article.source_id, article.rubric)
        RUBRIC_PRIORS.labels("learned" if prior else "too_few").inc()
        return prior

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        article = Article.from_json(value)
        c = self.classifier(article.title, article.text, article.language, self._prior(article))
        classified = to_classified(article, c)
        emits = route(classified, self.desks, self.review_below)
        outcome = "review" if any(e.topic == REVIEW for e in emits) else "ok"
        if self.story_vector is not None:
            emits = [self._story_request(classified)]
        if self.rubrics is not None and article.rubric and c.text_proba:
            stats = self.rubrics.observe(
                article.source_id,
                article.rubric,
                c.text_proba,
                f"{article.article_id}:{article.revision}",
            )
            if stats is not None:
                book_key = f"{stats.source_id}|{stats.rubric}|{stats.writer}"
                emits.append(Emit.record(RUBRICS, book_key, stats))
        return StageResult(outcome, emits)

    def _story_request(self, article: ClassifiedArticle) -> Emit:
        assert self.story_vector is not None
        vector = np.asarray(self.story_vector(article.title, article.text), dtype="<f2")
        encoded = base64.b64encode(vector.tobytes()).decode("ascii")
        request = StoryRequest(article=article, vector=encoded, encoder=ENCODER_NAME)
        return Emit.record(STORIES_ASSIGN, article.article_id, request)
