"""Provisioning of MQTT identities: per-site agents, the hub, read-only consumers.

See `hub.provision.cli` for the command line and docs/security.md for the threat model
these files enforce at the broker.
"""

from hub.provision._acl import (
    CONSUMER_PREFIX,
    HUB_USER,
    Access,
    Principal,
    Role,
    Rule,
    emqx_acl,
    mosquitto_acl,
    rules_for,
)
from hub.provision._passwd import hash_password, new_password, parse_passwd, verify
from hub.provision._snippet import Broker, snippet
from hub.provision._store import BROKER_CERT, Issued, ProvisionError, ProvisionStore
from hub.provision.cli import add_provision_command, run_provision

__all__ = [
    "BROKER_CERT",
    "CONSUMER_PREFIX",
    "HUB_USER",
    "Access",
    "Broker",
    "Issued",
    "Principal",
    "ProvisionError",
    "ProvisionStore",
    "Role",
    "Rule",
    "add_provision_command",
    "emqx_acl",
    "hash_password",
    "mosquitto_acl",
    "new_password",
    "parse_passwd",
    "rules_for",
    "run_provision",
    "snippet",
    "verify",
]
