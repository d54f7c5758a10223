"""Which address is the client's behind reverse proxies (TRUSTED_PROXIES), and which headers are believed."""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from bot.config import ConfigError, Settings
from handoff.client_address import ProxyHeader, TrustedProxies, parse_networks

PROXY = TrustedProxies(networks=parse_networks("10.0.0.0/8, 192.0.2.1"))


def client(trusted: TrustedProxies, peer: str, headers: list[tuple[str, str]] | None = None) -> str:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (peer, 4711) if name == "peername" else default
    request = make_mocked_request("GET", "/console/login", headers=CIMultiDict(headers or []), transport=transport)
    return trusted.client(request)


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client(TrustedProxies(), "203.0.113.5", [("X-Forwarded-For", "1.2.3.4")]) == "203.0.113.5"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_name_its_own_address() -> None:
    assert client(PROXY, "203.0.113.5", [("X-Forwarded-For", "1.2.3.4")]) == "203.0.113.5"


def test_the_right_most_untrusted_hop_is_the_client_whatever_the_client_wrote_on_its_left() -> None:
    headers = [("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.1.2.3")]  # forged, real client, inner proxy
    assert client(PROXY, "192.0.2.1", headers) == "198.51.100.7"


def test_several_header_lines_are_one_list_and_ports_and_brackets_are_dropped() -> None:
    headers = [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.7:5555, 10.0.0.2")]
    assert client(PROXY, "10.9.9.9", headers) == "198.51.100.7"
    assert client(PROXY, "10.9.9.9", [("X-Forwarded-For", "[2001:db8::7]:443")]) == "2001:db8::7"


def test_only_trusted_hops_means_the_left_most_one_is_the_client() -> None:
    assert client(PROXY, "192.0.2.1", [("X-Forwarded-For", "10.0.0.5, 10.0.0.6")]) == "10.0.0.5"
    assert client(PROXY, "192.0.2.1") == "192.0.2.1"  # no header: the proxy itself


def test_a_hop_that_is_not_an_address_falls_back_to_the_nearest_trusted_proxy() -> None:
    assert client(PROXY, "192.0.2.1", [("X-Forwarded-For", "198.51.100.7, unknown")]) == "192.0.2.1"


def test_forwarded_is_read_only_when_chosen_and_x_forwarded_for_is_then_ignored() -> None:
    headers = [("Forwarded", 'for=6.6.6.6, for="[2001:db8::9]:1234";proto=https'), ("X-Forwarded-For", "5.5.5.5")]
    assert client(PROXY, "192.0.2.1", headers) == "5.5.5.5"
    forwarded = TrustedProxies(networks=PROXY.networks, header=ProxyHeader.FORWARDED)
    assert client(forwarded, "192.0.2.1", headers) == "2001:db8::9"


def test_an_ipv4_peer_seen_through_a_dual_stack_socket_is_trusted() -> None:
    assert client(PROXY, "::ffff:10.0.0.1", [("X-Forwarded-For", "198.51.100.7")]) == "198.51.100.7"


def test_settings_read_and_check_the_proxy_list() -> None:
    settings = Settings.from_env({"TRUSTED_PROXIES": "10.0.0.0/8, ::1", "TRUSTED_PROXY_HEADER": "Forwarded"},
                                 env_file=None)
    assert [str(n) for n in settings.trusted_proxies.networks] == ["10.0.0.0/8", "::1/128"]
    assert settings.trusted_proxies.header == ProxyHeader.FORWARDED
    assert Settings.from_env({}, env_file=None).trusted_proxies.networks == ()
    with pytest.raises(ConfigError, match=r"TRUSTED_PROXIES: 'proxy\.local'"):
        Settings.from_env({"TRUSTED_PROXIES": "10.0.0.1, proxy.local"}, env_file=None)
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_HEADER"):
        Settings.from_env({"TRUSTED_PROXY_HEADER": "x-real-ip"}, env_file=None)
