"""The faust application: thin agents around the stage functions of ``streams.stages``."""
