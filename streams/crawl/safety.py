"""Which addresses and URLs the crawler may touch.

The crawler fetches URLs that strangers wrote (feeds, sitemaps, links, redirects), so every
address it connects to must be a global unicast address. Addresses that hide an IPv4 address
inside IPv6 (IPv4-mapped, IPv4-compatible, 6to4, NAT64, Teredo) are unwrapped first, because the
packet really goes to the embedded address. Tests and intranet deployments pass an explicit
allow-list of networks.

Reasons are short path-like words so they can label a metric
(``newsstream_fetch_blocked_total{reason="loopback"}``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 destination.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 6598 shared address space (carrier-grade NAT); Python's is_private does not cover it.
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
# RFC 4291 deprecated IPv4-compatible addresses ::a.b.c.d (Python calls ::7f00:1 "global").
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")

# Cloud instance-metadata endpoints hand out credentials; name them so alerts are explicit.
# AWS/GCP/Azure/OpenStack use 169.254.169.254, AWS IPv6 fd00:ec2::254, Alibaba 100.100.100.200,
# Azure's wire server 168.63.129.16 (a public address, so only this list catches it).
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)

# Non-HTTP services reachable by cross-protocol requests, after the idea of the WHATWG Fetch
# "bad port" list: mail, ssh, telnet, dns, irc, nfs, sip and the usual internal data stores.
_BAD_PORTS = frozenset(
    {1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95}
    | {101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161}
    | {179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563}
    | {587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 5060, 5061}
    | {6000, 6379, 6566, 6665, 6666, 6667, 6668, 6669, 6697, 10080, 11211}
)

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# Hosts like 127.1, 0x7f.1, 2130706433 or 0177.0.0.1 are IPv4 addresses to inet_aton but not
# to ipaddress; refusing them keeps the two parsers from disagreeing about where we connect.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]*))*$")
_MAX_URL_CHARS = 8192  # far beyond real article URLs; bounds work on hostile input
_MAX_HOST_CHARS = 253  # RFC 1035 limit on a domain name in text form


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse allow-list CIDR strings such as ``127.0.0.1/32`` (raises ValueError if bad)."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 transition address actually reaches, if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # (server, client): the client is where traffic is relayed
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _allowed(ip: IPAddress, allow: Sequence[IPNetwork]) -> bool:
    return any(ip.version == net.version and ip in net for net in allow)


def _classify(ip: IPAddress) -> str | None:
    """Block reason for one plain (already unwrapped) address."""
    if ip in _METADATA:
        return "metadata"
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK):
        return "unspecified"
    checks = (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link_local"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "cgnat"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "private"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "not_global"),
    )
    return next((reason for hit, reason in checks if hit), None)


def check_address(ip: IPAddress, allow: Sequence[IPNetwork] = ()) -> str | None:
    """Return why connecting to ``ip`` is refused, or None when it is allowed.

    The allow-list is consulted for both the address and the IPv4 address it embeds, so
    allowing 127.0.0.1/32 also allows ::ffff:127.0.0.1.
    """
    inner = embedded_ipv4(ip)
    if _allowed(ip, allow) or (inner is not None and _allowed(inner, allow)):
        return None
    if inner is not None:
        reason = _classify(inner)
        if reason is not None:
            return reason
    return _classify(ip)


def _check_host(host: str, allow: Sequence[IPNetwork]) -> str | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            return "hostname"  # zone ids name local interfaces
        return check_address(ip, allow)
    if _NUMERIC_HOST.match(host):
        return "numeric_host"
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return "hostname"
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > _MAX_HOST_CHARS or not all(_LABEL.match(lb) for lb in labels):
        return "hostname"
    return None


def check_url(url: str, allow: Sequence[IPNetwork] = ()) -> str | None:
    """Return why ``url`` must not be fetched, or None when it may be.

    Host names are only checked for shape here; the address they resolve to is checked at
    connect time by :class:`streams.crawl.fetch.SafeResolver`.
    """
    parts = _split(url)
    if isinstance(parts, str):
        return parts
    if parts.scheme not in ("http", "https"):
        return "scheme"
    if "@" in parts.netloc:
        # Credentials in a URL are a classic trick (http://trusted@evil/); we never need them.
        return "userinfo"
    if parts.port is not None and (parts.port == 0 or parts.port in _BAD_PORTS):
        return "port"
    if not parts.hostname:
        return "hostname"
    return _check_host(parts.hostname, allow)


def _split(url: str) -> SplitResult | str:
    """The URL's parts, or a block reason when it cannot be parsed safely."""
    if len(url) > _MAX_URL_CHARS:
        return "url_too_long"
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in url):
        return "invalid_url"
    try:
        parts = urlsplit(url)
        _ = parts.port  # urlsplit parses the port lazily; make a bad one fail here
    except ValueError as exc:
        return "port" if "port" in str(exc).lower() else "invalid_url"
    return parts
