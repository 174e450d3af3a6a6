"""The client address behind proxies: headers are believed only from trusted networks."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from auditledger_client.core.client_ip import client_ip, forwarded_chain, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "::1/128", "127.0.0.1/32"])


def raw(*pairs: tuple[str, str]) -> Headers:
    """Headers as a server receives them, repeated lines included."""
    return Headers(raw=[(k.lower().encode(), v.encode()) for k, v in pairs])


def test_untrusted_peer_keeps_its_own_address_whatever_the_headers_say() -> None:
    headers = {"x-forwarded-for": "1.2.3.4", "forwarded": "for=5.6.7.8"}
    assert client_ip("203.0.113.9", headers, PROXIES) == "203.0.113.9"


def test_trusted_proxy_is_believed() -> None:
    assert client_ip("10.0.0.2", {"x-forwarded-for": "81.2.69.160"}, PROXIES) == "81.2.69.160"


def test_walk_stops_at_the_first_untrusted_hop() -> None:
    # The client forged "6.6.6.6"; our proxy appended the address it saw (81.2.69.160).
    headers = {"x-forwarded-for": "6.6.6.6, 81.2.69.160, 10.0.0.7"}
    assert client_ip("10.0.0.2", headers, PROXIES) == "81.2.69.160"


def test_no_trusted_networks_means_no_header_is_believed() -> None:
    assert client_ip("10.0.0.2", {"x-forwarded-for": "81.2.69.160"}, ()) == "10.0.0.2"


def test_every_header_line_is_read_not_only_the_first() -> None:
    # HAProxy adds its own X-Forwarded-For line after the client's forged one.
    headers = raw(("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "81.2.69.160"))
    assert forwarded_chain(headers) == ["6.6.6.6", "81.2.69.160"]
    assert client_ip("10.0.0.2", headers, PROXIES) == "81.2.69.160"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
        ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
        ('For="192.0.2.60:8080"', "192.0.2.60"),
        ("for=81.2.69.160, for=10.0.0.5", "81.2.69.160"),
        # A host value that looks like a for= parameter is not one.
        ('host="for=6.6.6.6";for=81.2.69.160', "81.2.69.160"),
    ],
)
def test_forwarded_header_forms(forwarded: str, expected: str) -> None:
    assert client_ip("127.0.0.1", {"forwarded": forwarded}, PROXIES) == expected


@pytest.mark.parametrize("hidden", ["for=unknown", 'for="_hidden"', "proto=https", "for="])
def test_obfuscated_or_missing_hop_stops_the_walk(hidden: str) -> None:
    # Nothing beyond an unknown hop can be believed: the nearest known address is the answer.
    headers = {"forwarded": f"for=6.6.6.6, {hidden}"}
    assert client_ip("10.0.0.2", headers, PROXIES) == "10.0.0.2"


def test_ipv4_with_port_and_bracketed_ipv6_in_x_forwarded_for() -> None:
    assert client_ip("::1", {"x-forwarded-for": "81.2.69.160:5555"}, PROXIES) == "81.2.69.160"
    assert client_ip("::1", {"x-forwarded-for": "[2001:db8::5]:443"}, PROXIES) == "2001:db8::5"


def test_ipv4_mapped_peer_is_matched_against_ipv4_networks() -> None:
    # A dual-stack listener reports 127.0.0.1 as ::ffff:127.0.0.1.
    headers = {"x-forwarded-for": "81.2.69.160"}
    assert client_ip("::ffff:127.0.0.1", headers, PROXIES) == "81.2.69.160"
    assert client_ip("::ffff:8.8.8.8", headers, PROXIES) == "8.8.8.8"


def test_naming_the_header_ignores_the_other_one() -> None:
    # A proxy that writes X-Forwarded-For passes a client's Forwarded header through untouched.
    headers = {"forwarded": "for=6.6.6.6", "x-forwarded-for": "81.2.69.160"}
    assert client_ip("10.0.0.2", headers, PROXIES, "x-forwarded-for") == "81.2.69.160"
    assert client_ip("10.0.0.2", headers, PROXIES, "forwarded") == "6.6.6.6"


def test_no_peer_means_no_address() -> None:
    assert client_ip(None, {"x-forwarded-for": "81.2.69.160"}, PROXIES) is None
