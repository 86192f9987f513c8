"""Stage functions in flow order: clean -> dedup -> classify/route.

Each stage is plain synchronous Python: it takes the bytes of one message (and where it came
from) and returns a ``StageResult`` naming the outcome and the messages to emit, or raises a
``StageError`` that the worker shell turns into a dead letter. No Kafka, faust or database
imports here, so stages are unit-tested and benchmarked without a broker.
"""

from streams.stages.base import Emit, StageResult

__all__ = ["Emit", "StageResult"]
