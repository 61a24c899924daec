"""Where a webhook may point: the URL rules and the address table, by default and with
networks allowed by the configuration."""

import ipaddress

import pytest

from hub.notify import DestinationPolicy, DestinationRefused, address_refusal, check_url, resolve
from hub.notify.destinations import MAX_URL_LENGTH

DEFAULT = DestinationPolicy()
LOOPBACK_OK = DestinationPolicy(
    allow_networks=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
    allow_http=True,
)
PRIVATE_OK = DestinationPolicy(
    allow_networks=(ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))
)


@pytest.mark.parametrize(
    ("address", "refusal"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("198.18.0.1", "private"),
        ("192.0.2.1", "private"),
        ("::ffff:127.0.0.1", "loopback (embedded in ::ffff:7f00:1)"),
        ("2002:a00:1::1", "private (embedded in 2002:a00:1::1)"),
        ("93.184.215.14", None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_table_by_default(address: str, refusal: str | None) -> None:
    """Only global unicast addresses are allowed by default; the refusal names the range."""
    assert address_refusal(ipaddress.ip_address(address), DEFAULT) == refusal


@pytest.mark.parametrize(
    ("address", "policy", "allowed"),
    [
        ("127.0.0.1", LOOPBACK_OK, True),
        ("::1", LOOPBACK_OK, True),
        ("10.9.9.9", LOOPBACK_OK, False),
        ("10.9.9.9", PRIVATE_OK, True),
        ("fd00::5", PRIVATE_OK, True),
        ("192.168.0.1", PRIVATE_OK, False),
        ("169.254.169.254", PRIVATE_OK, False),
    ],
)
def test_configured_networks_are_allowed_and_nothing_else(
    address: str, policy: DestinationPolicy, allowed: bool
) -> None:
    """`allow_networks` opens exactly the listed CIDRs."""
    assert (address_refusal(ipaddress.ip_address(address), policy) is None) is allowed


@pytest.mark.parametrize(
    ("url", "policy", "reason"),
    [
        ("ftp://example.org/x", LOOPBACK_OK, "scheme must be https"),
        ("http://example.org/x", DEFAULT, "plain http is not allowed"),
        ("https://user:pw@example.org/x", DEFAULT, "user name or password"),
        ("https://user@example.org/x", DEFAULT, "user name or password"),
        ("https://example.org/x#frag", DEFAULT, "fragment"),
        ("https:///x", DEFAULT, "no host"),
        ("https://example.org:99999/", DEFAULT, "not a valid URL"),
        ("https://exa mple.org/", DEFAULT, "white space"),
        ("https://bücher.example/", DEFAULT, "must be ASCII"),
        ("https://[::1/hook", DEFAULT, "not a valid URL"),
        ("https://127.0.0.1/hook", DEFAULT, "loopback"),
        ("https://[::1]/hook", DEFAULT, "loopback"),
        ("https://10.0.0.1/hook", DEFAULT, "private"),
        ("https://example.org/" + "a" * MAX_URL_LENGTH, DEFAULT, "longer than"),
    ],
)
def test_urls_refused_with_the_reason(url: str, policy: DestinationPolicy, reason: str) -> None:
    """Each URL rule refuses its case and says why."""
    with pytest.raises(DestinationRefused, match=reason):
        check_url(url, policy)


def test_accepted_urls_are_split_for_the_request() -> None:
    """A good URL gives scheme, host, port (default or explicit) and the literal address."""
    named = check_url("https://hooks.example.org/shouwang?x=1", DEFAULT)
    assert (named.scheme, named.host, named.port, named.literal) == (
        "https",
        "hooks.example.org",
        443,
        None,
    )
    local = check_url("http://127.0.0.1:8123/hook", LOOPBACK_OK)
    assert (local.port, local.literal) == (8123, ipaddress.ip_address("127.0.0.1"))


async def test_host_names_are_checked_on_every_address_they_resolve_to() -> None:
    """`localhost` resolves to loopback: refused by default, allowed with 127.0.0.0/8."""
    destination = check_url("http://localhost:9/hook", LOOPBACK_OK)
    with pytest.raises(DestinationRefused, match=r"resolves to .* loopback"):
        await resolve(destination, DestinationPolicy(allow_http=True))
    assert (await resolve(destination, LOOPBACK_OK)).is_loopback


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    """An unresolvable host is refused (the `.invalid` TLD never resolves)."""
    destination = check_url("https://no-such-host.invalid/hook", DEFAULT)
    with pytest.raises(DestinationRefused, match="does not resolve"):
        await resolve(destination, DEFAULT)
