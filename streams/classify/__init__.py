"""Topic classification: the desk taxonomy and the multilingual multi-label classifier."""

from streams.classify.taxonomy import Taxonomy, Topic, load_taxonomy

__all__ = ["Taxonomy", "Topic", "load_taxonomy"]
