"""newsstream: multilingual news as a stream.

Raw pages flow through Kafka topics in this order (``streams.topology`` owns the map)::

    crawl -> news.raw -> clean -> news.clean -> dedup -> news.unique
          -> classify/route -> news.articles, news.topic.<topic>, news.review
          -> sinks (PostgreSQL)                      every stage -> news.dlq
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
