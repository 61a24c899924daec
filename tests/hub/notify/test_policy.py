"""The pure parts of delivery policy: what a status code means, the full-jitter backoff,
and the `webhooks` configuration section's bounds."""

import ipaddress

import pytest

from hub.config import DATABASE_URL_ENV, parse_config
from hub.errors import ConfigError
from hub.notify import policy_of, retry_delay
from hub.notify.sender import Outcome, outcome_of

ENV = {DATABASE_URL_ENV: "postgresql://hub@db/x"}


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (410, Outcome.GONE),
        (301, Outcome.RETRY),
        (307, Outcome.RETRY),
        (400, Outcome.RETRY),
        (401, Outcome.RETRY),
        (404, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (None, Outcome.RETRY),
    ],
)
def test_status_codes_map_to_outcomes(status: int | None, outcome: Outcome) -> None:
    """2xx delivers, 410 disables, every other answer (or none) is retried."""
    assert outcome_of(status) is outcome


def test_retry_delays_are_full_jitter_under_a_doubling_capped_ceiling() -> None:
    """Attempt n waits a random time in [0, min(max, initial * 2^(n-1))], spread out."""
    for attempt, ceiling in ((1, 5.0), (2, 10.0), (4, 40.0), (20, 3600.0), (500, 3600.0)):
        delays = [retry_delay(attempt, 5.0, 3600.0) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter over the whole range, not a fixed delay
        assert min(delays) < ceiling / 2


def test_the_section_defaults_are_safe() -> None:
    """By default: no extra networks, https only, 5/10/15 s timeouts, 24 h window and overlap."""
    config = parse_config("", environ=ENV).webhooks
    assert (config.allow_networks, config.allow_http) == ((), False)
    assert (config.connect_timeout_s, config.read_timeout_s, config.total_timeout_s) == (
        5.0,
        10.0,
        15.0,
    )
    assert config.retry_window_s == config.rotation_overlap_s == 86400.0


def test_allowed_networks_become_the_destination_policy() -> None:
    """CIDRs from the file are what the destination checks allow."""
    text = "webhooks:\n  allow_networks: [10.0.0.0/8, 'fd00::/8']\n  allow_http: true\n"
    policy = policy_of(parse_config(text, environ=ENV).webhooks)
    assert policy.allow_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert policy.allow_http


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("webhooks:\n  allow_networks: [10.0.0.1/8]\n", "webhooks.allow_networks.0"),
        ("webhooks:\n  allow_networks: [everywhere]\n", "webhooks.allow_networks.0"),
        ("webhooks:\n  total_timeout_s: 0\n", "webhooks.total_timeout_s"),
        ("webhooks:\n  retry_window_s: 9999999\n", "webhooks.retry_window_s"),
        ("webhooks:\n  backoff_initial_s: 60\n  backoff_max_s: 10\n", "webhooks"),
        ("webhooks:\n  max_in_flight: 0\n", "webhooks.max_in_flight"),
        ("webhooks:\n  secret: x\n", "webhooks.secret"),
    ],
)
def test_out_of_bounds_settings_are_refused_naming_the_key(text: str, key: str) -> None:
    """Every webhook setting is bounded; errors name the key as the rest of the file's do."""
    with pytest.raises(ConfigError, match=rf"<config>:\d+: {key}:"):
        parse_config(text, environ=ENV)
