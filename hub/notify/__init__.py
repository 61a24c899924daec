"""Notifiers of alert transitions beyond MQTT: webhooks (docs/alerting.md, "Webhooks").

`signing` signs and verifies per Standard Webhooks, `destinations` decides where a
webhook may point, `sender` makes one attempt, `webhooks` is the relay loop.
"""

from hub.notify.destinations import (
    Destination,
    DestinationPolicy,
    DestinationRefused,
    address_refusal,
    check_url,
    resolve,
)
from hub.notify.signing import InvalidSignature, new_secret, sign, signature_header, verify
from hub.notify.webhooks import WebhookRelay, policy_of, retry_delay

__all__ = [
    "Destination",
    "DestinationPolicy",
    "DestinationRefused",
    "InvalidSignature",
    "WebhookRelay",
    "address_refusal",
    "check_url",
    "new_secret",
    "policy_of",
    "resolve",
    "retry_delay",
    "sign",
    "signature_header",
    "verify",
]
