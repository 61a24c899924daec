"""Rules: turning events, and the absence of events, into alert transitions.

Rules are data (`model`, a YAML file, `defaults.yaml` when none is named); each kind is
one small class (`immediate`, `duration`, `absence`); `engine` runs them on new events
in the ingest transaction and on the rule clock (`clock`). docs/alerting.md.
"""

from hub.rules.engine import Rules, run_rules, tick
from hub.rules.loader import RulesError, RuleSet, default_rules, load_rules, parse_rules

__all__ = [
    "RuleSet",
    "Rules",
    "RulesError",
    "default_rules",
    "load_rules",
    "parse_rules",
    "run_rules",
    "tick",
]
