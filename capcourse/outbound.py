"""Outbound HTTP to addresses people give us, without reaching inside the network.

Anyone who may name a URL for the server to fetch (an admin importing CASE
from a URL, say) could otherwise make it talk to its own loopback, the cloud
metadata service or the institution's private network, and read the answers
or time them to scan ports. So every connection made through
:func:`guarded_client`:

- resolves the host itself and refuses loopback, private, link-local, shared,
  multicast, reserved and unspecified addresses, IPv4 and IPv6, however the
  address is written (``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]`` all
  resolve to 127.0.0.1 first and are refused as such);
- connects to the very address it checked (a DNS answer that changes between
  check and connection gains nothing) and checks the connected peer again;
- never goes through a proxy from the environment, which would connect on our
  behalf where we cannot look.

Redirects are followed by the caller, one request at a time, so each hop goes
through the same check. Institutions that host services internally list
their hosts or networks in ``CAPCOURSE_OUTBOUND_ALLOW`` (see :func:`parse_allow`).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
from flask import Flask

logger = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``host -> addresses``; tests pass their own, the default asks the system resolver.
Resolver = Callable[[str, int], list[str]]

#: Besides what :mod:`ipaddress` calls private: 100.64.0.0/10 (carrier-grade NAT)
#: and 192.0.0.0/24 are not reachable from the internet either.
_ALSO_BLOCKED: tuple[Network, ...] = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("64:ff9b:1::/48"),
)


#: What a made-up name in a test stands for: an address on the public internet.
_STAND_IN_PUBLIC = "8.8.8.8"


class OutboundRefusedError(Exception):
    """A connection we will not make (the reason is logged, never shown to the requester)."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (TCP)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise OutboundRefusedError(f"{host!r} does not resolve: {error}") from error
    return [str(answer[4][0]) for answer in answers]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # An IPv6 address can carry an IPv4 one (mapped, 6to4, Teredo, NAT64); the
    # IPv4 one is where the packets end up, so that is the one to judge.
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    """True for an address on the public internet, False for anything inside or special."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    special = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or any(address in network for network in _ALSO_BLOCKED if network.version == address.version)
    )
    return address.is_global and not special


@dataclass(frozen=True)
class Allowance:
    """Hosts and networks an institution lets the server reach although they are inside."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    def permits(self, host: str, address: Address) -> bool:
        if host.lower().rstrip(".") in self.hosts:
            return True
        return any(address in network for network in self.networks if network.version == address.version)


def parse_allow(setting: str | Iterable[str] | None) -> Allowance:
    """Read ``CAPCOURSE_OUTBOUND_ALLOW``: host names and networks, separated by commas or spaces.

    ``case.intranet.example.edu, 10.20.0.0/16`` lets the server fetch from that
    host whatever it resolves to, and from any address in 10.20.0.0/16.

    :raises ValueError: an entry that is a malformed network.
    """
    if setting is None:
        return Allowance()
    entries = setting.replace(",", " ").split() if isinstance(setting, str) else [str(e) for e in setting]
    hosts: set[str] = set()
    networks: list[Network] = []
    for entry in entries:
        entry = entry.strip().strip("[]")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if "/" in entry:
                raise ValueError(f"CAPCOURSE_OUTBOUND_ALLOW: {entry!r} is not a network.") from None
            hosts.add(entry.lower().rstrip("."))
    return Allowance(frozenset(hosts), tuple(networks))


def permitted_addresses(host: str, port: int, allow: Allowance, resolver: Resolver = system_resolver) -> list[str]:
    """The addresses of ``host`` we may connect to: all of them, or none.

    One forbidden address refuses the host: a name that resolves both outside
    and inside is as good as inside for whoever can pick which answer we use.

    :raises OutboundRefusedError: the host does not resolve, or an address is forbidden.
    """
    addresses = resolver(host.strip("[]"), port)
    if not addresses:
        raise OutboundRefusedError(f"{host!r} has no address")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not (is_public(address) or allow.permits(host.strip("[]"), address)):
            raise OutboundRefusedError(f"{host!r} resolves to {address}, which is not on the public internet")
    return addresses


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses :func:`permitted_addresses` allows."""

    def __init__(self, allow: Allowance, resolver: Resolver = system_resolver) -> None:
        self.allow = allow
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = permitted_addresses(host, port, self.allow, self.resolver)
        except OutboundRefusedError as refused:
            # httpcore's own error type, so httpx reports it like any failed connection.
            raise httpcore.ConnectError(str(refused)) from refused
        last: Exception | None = None
        for address in addresses:
            stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
            peer = str(stream.get_extra_info("socket").getpeername()[0])
            connected = ipaddress.ip_address(peer.split("%", 1)[0])
            if is_public(connected) or self.allow.permits(host.strip("[]"), connected):
                return stream
            stream.close()
            last = httpcore.ConnectError(f"{host!r} connected to {peer}, which is not on the public internet")
        raise last or httpcore.ConnectError(f"{host!r}: no address to connect to")


def tls_context() -> ssl.SSLContext:
    """The certificates outbound https trusts: the public ones, and an institution's own CA.

    The environment's proxies are ignored (they would connect where the guard cannot
    look), but ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``, OpenSSL's usual settings, add
    the certificate authority of hosts inside the institution (listed in
    ``CAPCOURSE_OUTBOUND_ALLOW``): trust, not routing.
    """
    context = httpx.create_ssl_context(trust_env=False)
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        try:
            context.load_verify_locations(cafile=cafile or None, capath=capath or None)
        except (OSError, ssl.SSLError):
            # A wrong setting leaves the public authorities, and hosts inside fail to verify.
            logger.warning("SSL_CERT_FILE %r / SSL_CERT_DIR %r could not be read", cafile, capath, exc_info=True)
    return context


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, backend: GuardedBackend) -> None:
        super().__init__(trust_env=False)
        # httpx builds its httpcore pool without a way to name the network
        # backend, so the pool is rebuilt with ours (same defaults otherwise).
        self._pool = httpcore.ConnectionPool(
            ssl_context=tls_context(),
            max_connections=10,
            max_keepalive_connections=5,
            network_backend=backend,
        )


@dataclass
class Guard:
    """The settings of guarded outbound requests."""

    allow: Allowance = field(default_factory=Allowance)
    resolver: Resolver = system_resolver


def guarded_client(
    guard: Guard, timeout: httpx.Timeout, headers: dict[str, str], transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """An httpx client that connects only where :func:`permitted_addresses` allows and follows no redirect.

    :param transport: a stand-in for the network (tests); the guard then checks
        each request's host before handing it over, as it would before connecting.
    """
    if transport is None:
        transport = _GuardedTransport(GuardedBackend(guard.allow, guard.resolver))
    else:
        transport = _CheckingTransport(transport, guard)
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, headers=headers, trust_env=False)


class _CheckingTransport(httpx.BaseTransport):
    """Checks the host of each request, then lets ``inner`` (a test double) answer."""

    def __init__(self, inner: httpx.BaseTransport, guard: Guard) -> None:
        self.inner = inner
        self.guard = guard

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            permitted_addresses(request.url.host, request.url.port or 443, self.guard.allow, self._resolve)
        except OutboundRefusedError as refused:
            raise httpx.ConnectError(str(refused), request=request) from refused
        return self.inner.handle_request(request)

    def _resolve(self, host: str, port: int) -> list[str]:
        # Test doubles answer for made-up names that no resolver knows; those
        # stand for public hosts. Names and numbers that do resolve are judged.
        try:
            return self.guard.resolver(host, port)
        except OutboundRefusedError:
            return [_STAND_IN_PUBLIC]

    def close(self) -> None:
        self.inner.close()


def init_app(app: Flask) -> None:
    """Read ``CAPCOURSE_OUTBOUND_ALLOW`` once at start, so a malformed entry stops the app, not a request."""
    parse_allow(app.config.get("CAPCOURSE_OUTBOUND_ALLOW"))
