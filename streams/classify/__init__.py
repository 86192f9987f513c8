"""Topic classification: the desk taxonomy and the multilingual multi-label classifier.

``Classification`` and ``classify`` load lazily: commands that only need the taxonomy (topic
names for the topology) do not pay for importing scikit-learn and the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streams.classify.taxonomy import Taxonomy, Topic, load_taxonomy

if TYPE_CHECKING:
    from streams.classify.classifier import Classification, Classifier, classify

__all__ = ["Classification", "Classifier", "Taxonomy", "Topic", "classify", "load_taxonomy"]
_LAZY = {"Classification", "Classifier", "classify"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from streams.classify import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
