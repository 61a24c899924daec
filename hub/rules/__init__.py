"""Rules: turning stored events into alert transitions (the rules are data, see `table`)."""

from hub.rules.engine import run_rules, transition_payload
from hub.rules.table import RULES, RULES_BY_TYPE, EventRule

__all__ = ["RULES", "RULES_BY_TYPE", "EventRule", "run_rules", "transition_payload"]
