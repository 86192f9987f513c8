"""Process entry points: the long-running programs that join the stage logic to Kafka.

``crawler`` (with ``poll``: one poll of one source) publishes fetched pages, ``backfill``
publishes saved pages, ``worker`` runs the faust app (``streams.app``) whose agents call the
stage functions, ``sink`` stores articles in PostgreSQL, and ``run`` starts them all on the
embedded defaults. The stage packages below (``crawl``, ``clean``, ``dedup``, ``classify``)
never import this layer; ``tests/unit/core/test_layering.py`` holds them to it.
"""
