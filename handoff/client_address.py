"""The client's address behind reverse proxies the operator trusts (TRUSTED_PROXIES).

Behind a proxy every request comes from the proxy's address; the client's is in the header the proxy
adds. That header is believed only from a trusted peer, and only the hops trusted proxies wrote: reading
from the right (the hop nearest to us), every trusted address is skipped and the first untrusted one is
the client. Anything to its left was written by the client and could be made up. Only the header the
operator names is read (``X-Forwarded-For`` by default, or RFC 7239 ``Forwarded``): a proxy passes the
other one through untouched, so believing it would let any client pick its own address, and with it a
fresh sign-in throttle for every try.

Why not aiohttp-remotes: its ``XForwardedFiltered`` believes the header from any peer, not only from a
trusted one, and ``XForwardedStrict`` wants an exact number of hops, answering 400 to a client that sent
its own ``X-Forwarded-For`` through the proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web
from aiohttp.typedefs import Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxyHeader(StrEnum):
    X_FORWARDED_FOR = "x-forwarded-for"
    FORWARDED = "forwarded"


def parse_networks(text: str) -> tuple[Network, ...]:
    """``10.0.0.1, 10.1.0.0/16, ::1`` → networks; raises ValueError naming the entry it cannot read."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.1 or 10.0.0.0/8)") from None
    return tuple(networks)


def _address(hop: str) -> Address | None:
    """An address from a header hop: ``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:443``, ``"[::1]"``."""
    hop = hop.strip().strip('"')
    if hop.startswith("["):
        hop = hop[1:].partition("]")[0]
    elif hop.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        hop = hop.partition(":")[0]
    try:
        address = ipaddress.ip_address(hop)
    except ValueError:
        return None  # "unknown", an obfuscated name ("_hidden"), or garbage
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; TRUSTED_PROXIES names them as IPv4.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()
    header: ProxyHeader = ProxyHeader.X_FORWARDED_FOR

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def _hops(self, request: web.BaseRequest) -> list[str]:
        if self.header == ProxyHeader.FORWARDED:
            # aiohttp parses RFC 7239 (quoting, several headers, several elements) into one list of elements.
            return [element.get("for", "") for element in request.forwarded]
        return [hop for value in request.headers.getall("X-Forwarded-For", []) for hop in value.split(",")]

    def client(self, request: web.BaseRequest) -> str:
        """The client's address as text; the peer's own when it is not a trusted proxy."""
        peer = request.remote or ""
        nearest = _address(peer)
        if not self.trusts(nearest):
            return peer
        for hop in reversed(self._hops(request)):
            address = _address(hop)
            if address is None:
                # A trusted proxy wrote something that is not an address: its own is the best we know.
                return str(nearest)
            if not self.trusts(address):
                return str(address)
            nearest = address
        return str(nearest)  # every hop is a trusted proxy: the left-most one is the client


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def real_client(trusted: TrustedProxies) -> Middleware:
    """Middleware: ``request.remote`` is the client's address for every handler (console sign-in
    throttling, logs) once TRUSTED_PROXIES names the proxies in front of the app."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = trusted.client(request)
        if client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)

    return middleware
