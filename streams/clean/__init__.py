"""Clean stage logic: decode bytes, extract main text and metadata, clean and identify language.

Pure functions, no Kafka/faust/database imports; see README.md in this folder.
"""

from streams.clean.dates import reconcile
from streams.clean.decode import Decoded, decode_html
from streams.clean.extract import Extracted, extract
from streams.clean.language import detect_language
from streams.clean.textclean import clean_text

__all__ = [
    "Decoded",
    "Extracted",
    "clean_text",
    "decode_html",
    "detect_language",
    "extract",
    "reconcile",
]
