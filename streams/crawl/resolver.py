"""A DNS resolver that only ever hands aiohttp addresses the crawler may connect to.

Checking a host name before the request and connecting afterwards leaves a DNS-rebinding gap
(the name may resolve differently the second time). Filtering inside the resolver closes it:
the addresses aiohttp connects to are exactly the ones checked here.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from streams.crawl.safety import IPNetwork, check_address


class BlockedAddressError(OSError):
    """A host resolved to an address the policy refuses; ``reason`` labels the metric."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"{host} resolves to {address} ({reason})")
        self.host = host
        self.address = address
        self.reason = reason


class SafeResolver(AbstractResolver):
    """Wraps another resolver and refuses a host if any of its addresses is blocked.

    Refusing the whole host (rather than dropping the bad addresses) is deliberate: a public
    name that also resolves to 10.0.0.5 or 127.0.0.1 is a rebinding or SSRF attempt, not a
    site we want to crawl.
    """

    def __init__(
        self, allow: Sequence[IPNetwork] = (), inner: AbstractResolver | None = None
    ) -> None:
        self._allow = tuple(allow)
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            try:
                ip = ipaddress.ip_address(result["host"])
            except ValueError as exc:
                raise BlockedAddressError(host, result["host"], "unparsable_address") from exc
            reason = check_address(ip, self._allow)
            if reason is not None:
                raise BlockedAddressError(host, result["host"], reason)
        if not results:
            raise OSError(f"{host} has no addresses")
        return results

    async def close(self) -> None:
        await self._inner.close()


def find_blocked(exc: BaseException) -> BlockedAddressError | None:
    """The BlockedAddressError behind an aiohttp connector error, if that was the cause."""
    seen: BaseException | None = exc
    for _ in range(8):  # aiohttp wraps at most a couple of levels; bound the walk anyway
        if seen is None:
            return None
        if isinstance(seen, BlockedAddressError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
