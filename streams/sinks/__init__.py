"""Sinks: where classified articles and duplicate events come to rest."""
