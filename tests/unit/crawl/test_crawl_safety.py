"""Hostile addresses and URLs are refused with the reason a metric would carry."""

from __future__ import annotations

import ipaddress

import pytest

from streams.crawl.safety import check_address, check_url, parse_networks

HOSTILE = [
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 well-known prefix
    ("2002:7f00:1::", "loopback"),  # 6to4
    ("::7f00:1", "loopback"),  # deprecated IPv4-compatible
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo client 127.0.0.1
    ("100.64.0.1", "cgnat"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("fe80::1", "link_local"),
    ("169.254.1.1", "link_local"),
    ("::1", "loopback"),
    ("127.0.0.2", "loopback"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
]


@pytest.mark.parametrize(("address", "reason"), HOSTILE)
def test_hostile_addresses_are_refused(address: str, reason: str) -> None:
    assert check_address(ipaddress.ip_address(address), ()) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "2606:4700::1111", "93.184.215.14", "2002:808:808::"]
)
def test_global_addresses_are_allowed(address: str) -> None:
    assert check_address(ipaddress.ip_address(address), ()) is None


def test_allow_list_admits_loopback_and_its_mapped_form() -> None:
    allow = parse_networks(["127.0.0.1/32"])
    assert check_address(ipaddress.ip_address("127.0.0.1"), allow) is None
    assert check_address(ipaddress.ip_address("::ffff:127.0.0.1"), allow) is None
    assert check_address(ipaddress.ip_address("127.0.0.2"), allow) == "loopback"


URLS = [
    ("http://127.0.0.1/", "loopback"),
    ("http://[::ffff:127.0.0.1]:8080/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("ftp://example.com/file", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("http://news.example.com@127.0.0.1/", "userinfo"),
    ("http://user:pass@example.com/", "userinfo"),
    ("http://example.com:22/", "port"),
    ("http://example.com:0/", "port"),
    ("http://example.com:70000/", "port"),
    ("http://example.com:abc/", "port"),
    ("http://127.1/", "numeric_host"),
    ("http://2130706433/", "numeric_host"),
    ("http://0x7f.0.0.1/", "numeric_host"),
    ("http://exa mple.com/", "invalid_url"),
    ("http://example.com\\@evil.com/", "invalid_url"),
    ("http:///path", "hostname"),
    ("http://-bad-.example.com/", "hostname"),
    ("http://" + "a" * 64 + ".com/", "hostname"),
    ("http://[fe80::1%25eth0]/", "hostname"),
    ("https://example.com/" + "x" * 9000, "url_too_long"),
]


@pytest.mark.parametrize(("url", "reason"), URLS)
def test_hostile_urls_are_refused(url: str, reason: str) -> None:
    assert check_url(url) == reason


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/news/1?id=2",
        "http://example.com:8080/",
        "https://новини.укр/статті/1",
        "http://8.8.8.8/",
        "http://[2606:4700::1111]/",
    ],
)
def test_ordinary_urls_pass(url: str) -> None:
    assert check_url(url) is None


def test_allow_listed_ip_url_passes() -> None:
    assert check_url("http://127.0.0.1:8080/", parse_networks(["127.0.0.0/8"])) is None
