"""Outbound fetches cannot reach inside: SSRF probes to loopback, private and link-local addresses.

The probes go through the real network stack (no test transport), so what is
refused is refused before any connection: a listener on loopback sees none.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpcore
import httpx
import pytest
from flask import Flask

from capcourse import create_app
from capcourse.case.fetch import UNREACHABLE, fetch_package
from capcourse.errors import InvalidInputError
from capcourse.outbound import (
    GuardedBackend,
    OutboundRefusedError,
    is_public,
    parse_allow,
    permitted_addresses,
    tls_context,
)
from tests.factories import api_key, bearer


class Listener:
    """A TCP listener on loopback that counts the connections it accepts."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.socket.settimeout(0.1)
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


LOOPBACK = [
    "127.0.0.1",
    "localhost",
    "2130706433",  # 127.0.0.1 as one decimal number
    "0x7f000001",  # … in hexadecimal
    "0x7f.0.0.1",
    "0x7f.1",
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]",
]
INSIDE = [
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "169.254.169.254",  # link-local: cloud metadata
    "[fe80::1]",
    "[fc00::1]",  # unique local
    "224.0.0.1",  # multicast
    "[ff02::1]",
    "240.0.0.1",  # reserved
    "0.0.0.0",
    "[::]",
    "[2002:a00:1::]",  # 6to4 wrapping 10.0.0.1
    "[64:ff9b::a9fe:a9fe]",  # NAT64 wrapping 169.254.169.254
]


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_in_any_spelling_is_refused_without_connecting(listener: Listener, host: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        fetch_package(f"https://{host}:{listener.port}/package.json", 1000, deadline=5)
    assert refused.value.message == UNREACHABLE.format(url=f"https://{host}:{listener.port}/package.json")
    assert "not on the public internet" in str(refused.value.__cause__)
    time.sleep(0.05)
    assert listener.accepted == 0


def test_a_url_httpx_cannot_parse_is_refused_as_such() -> None:
    with pytest.raises(InvalidInputError, match="is not a valid URL"):
        fetch_package("https://0177.0.0.1/p.json", 1000)


@pytest.mark.parametrize("host", INSIDE)
def test_private_link_local_multicast_and_reserved_are_refused(host: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        fetch_package(f"https://{host}/package.json", 1000, deadline=5)
    assert refused.value.errors == {"url": ["Could not be fetched."]}
    assert "not on the public internet" in str(refused.value.__cause__)


def test_a_closed_port_and_a_refused_host_read_the_same() -> None:
    """No port scanning: a closed port (reachable host, allowed) answers with the refusal's words."""
    port = closed_port()
    url = f"https://127.0.0.1:{port}/p.json"
    with pytest.raises(InvalidInputError) as closed:
        fetch_package(url, 1000, allow="127.0.0.0/8", deadline=5)
    with pytest.raises(InvalidInputError) as refused:
        fetch_package(url, 1000, deadline=5)
    assert "not on the public internet" not in str(closed.value.__cause__)
    assert closed.value.message == refused.value.message
    assert closed.value.errors == refused.value.errors


def test_a_redirect_inside_is_refused_before_it_is_followed() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://169.254.169.254/latest/meta-data/"})

    with pytest.raises(InvalidInputError, match="could not be reached") as refused:
        fetch_package("https://case.example.org/p.json", 1000, transport=httpx.MockTransport(handler))
    assert asked == ["https://case.example.org/p.json"]
    assert "169.254.169.254" in str(refused.value.__cause__)


def test_a_name_with_any_inside_address_is_refused() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.1.2.3"]

    with pytest.raises(OutboundRefusedError, match=r"10\.1\.2\.3"):
        permitted_addresses("case.example.org", 443, parse_allow(""), resolver)
    assert permitted_addresses("case.example.org", 443, parse_allow("10.0.0.0/8"), resolver)
    assert permitted_addresses("case.example.org", 443, parse_allow("Case.Example.org."), resolver)


def test_the_connection_goes_to_the_checked_address(listener: Listener) -> None:
    """The backend connects to what it resolved and checked, and only where allowed."""
    names = {"case.intranet.test": ["127.0.0.1"]}

    def resolver(host: str, port: int) -> list[str]:
        return names[host]

    refusing = GuardedBackend(parse_allow(""), resolver)
    with pytest.raises(httpcore.ConnectError, match="not on the public internet"):
        refusing.connect_tcp("case.intranet.test", listener.port, timeout=2)
    allowing = GuardedBackend(parse_allow("case.intranet.test"), resolver)
    stream = allowing.connect_tcp("case.intranet.test", listener.port, timeout=2)
    assert stream.get_extra_info("socket").getpeername() == ("127.0.0.1", listener.port)
    stream.close()
    time.sleep(0.2)
    assert listener.accepted == 1


def test_the_whole_fetch_has_a_deadline() -> None:
    def drip() -> Iterator[bytes]:
        for _ in range(100):
            time.sleep(0.05)
            yield b" "

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip())

    with pytest.raises(InvalidInputError, match="did not answer in time"):
        fetch_package("https://case.example.org/p.json", 10_000, transport=httpx.MockTransport(handler), deadline=0.3)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("64:ff9b::808:808", True),
        ("127.0.0.1", False),
        ("10.255.255.255", False),
        ("192.0.0.8", False),
        ("198.18.0.1", False),
        ("203.0.113.7", False),
        ("::ffff:169.254.169.254", False),
        ("2001::5601:5601", False),  # Teredo: the client 169.254.169.254, inverted
        ("fec0::1", False),
    ],
)
def test_what_counts_as_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_a_malformed_allow_list_stops_the_app(app: Flask) -> None:
    with pytest.raises(ValueError, match="not a network"):
        create_app({**app.config, "CAPCOURSE_OUTBOUND_ALLOW": "10.0.0.0/99"})


def test_the_api_refuses_an_inside_url_with_the_generic_message(app: Flask, client: object, session: object) -> None:
    _, plain = api_key(session)  # type: ignore[arg-type]
    answer = client.post(  # type: ignore[attr-defined]
        "/api/v1/case/imports?url=https://169.254.169.254/latest/meta-data/", headers=bearer(plain)
    )
    assert answer.status_code == 422
    assert "could not be reached" in answer.json["message"]
    assert "169.254" not in str(answer.json["errors"])


def test_an_unreadable_ca_setting_keeps_the_public_authorities(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.cert_store_stats()["x509_ca"] > 0
    assert "could not be read" in caplog.text
