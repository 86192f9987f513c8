"""Identity rules, beside the records they identify: one spelling per article URL, the
article id derived from it, and the hash of an article's text.

The article id is the Kafka key and the PostgreSQL primary key, so two spellings of one URL
(tracking parameters, case, default port, fragment, parameter order, trailing slash) must give
the same id, and the function must never change its output for a given input once released.
The content hash decides "same text" for exact dedup and for revisions: a re-render that only
changes case or whitespace is not a new version. (The near-duplicate fingerprint is the dedup
algorithm's own: ``streams.dedup.fingerprint``.)
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Click and campaign identifiers added by ad networks, newsletters and social sites; they
# never select content.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "yclid", "ysclid",
        "msclkid", "twclid", "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
        "vero_id", "wickedid", "rb_clickid", "s_cid", "at_medium", "at_campaign",
        "cmpid", "ocid", "spm", "_openstat", "from", "ref_src",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
# Characters left unescaped in a path; everything else is percent-encoded in one way.
_PATH_SAFE = "/!$&'()*+,;=:@~-._"
_QUERY_SAFE = "!$'()*,;:@/?~-._"


class CanonicalURLError(ValueError):
    """The URL cannot be canonicalised (not http/https, no host, bad port)."""


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def _host(hostname: str) -> str:
    host = hostname.rstrip(".").lower()
    if ":" in host:
        return f"[{host}]"  # IPv6 literal keeps its brackets
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise CanonicalURLError(f"bad host {hostname!r}") from exc


def _path(raw: str) -> str:
    # Decode then re-encode so %7E, ~ and %7e all come out alike; %2F stays encoded because
    # decoding it would change the path's structure.
    parts = [quote(unquote(seg), safe=_PATH_SAFE.replace("/", "")) for seg in raw.split("/")]
    path = "/".join(parts) or "/"
    normal = posixpath.normpath(path) if path != "/" else "/"
    return "/" + normal.lstrip("/")  # normpath keeps a leading "//"; one slash is enough


def _query(raw: str) -> str:
    pairs = [(k, v) for k, v in parse_qsl(raw, keep_blank_values=True) if not _is_tracking(k)]
    pairs.sort()
    return urlencode(pairs, quote_via=quote, safe=_QUERY_SAFE)


def canonicalize(url: str) -> str:
    """Canonical form of an http(s) URL.

    Lower-case scheme and host (IDN as punycode), default port dropped, fragment dropped,
    tracking parameters removed, remaining parameters sorted, dot segments resolved,
    trailing slash removed except for the root path.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise CanonicalURLError(str(exc)) from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise CanonicalURLError(f"not an http(s) URL with a host: {url!r}")
    netloc = _host(parts.hostname)  # rebuilt from the host alone, so user:pass@ is dropped
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, _path(parts.path), _query(parts.query), ""))


def article_id(canonical_url: str) -> str:
    """Hex sha256 of the canonical URL, first 32 hex digits (128 bits: collisions negligible)."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


_SPACES = re.compile(r"\s+")


def content_hash(text: str) -> str:
    """Hash of the text with case and whitespace folded, so a re-render is not a revision."""
    return hashlib.sha256(_SPACES.sub(" ", text.casefold()).strip().encode()).hexdigest()
