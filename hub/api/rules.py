"""`GET /api/v1/rules`: the alert rules in force, read-only (any valid token).

Rules are changed by editing the rules file and sending the hub SIGHUP (docs/alerting.md),
not over the API: the file is the one place they live, reviewed like code.
"""

from typing import Any, cast

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Viewer
from hub.rules import Rules, default_rules

__all__ = ["RulesOut", "router"]

router = APIRouter(tags=["rules"])


class RulesOut(BaseModel):
    """The rules in force and where they were read from."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="The rules file, or hub/rules/defaults.yaml.")
    rules: list[dict[str, Any]] = Field(description="Every rule, as in the file (all fields).")
    links: list[dict[str, Any]] = Field(description="Device links for correlations.")


def _rules(request: Request) -> Rules:
    rules = getattr(request.app.state, "rules", None)
    if rules is None:  # an app built without a hub (tests, scripts): the shipped rules
        rules = request.app.state.rules = Rules(default_rules())
    return cast("Rules", rules)


@router.get("/api/v1/rules", response_model=RulesOut)
async def list_rules(request: Request, _caller: Viewer) -> RulesOut:
    """The rules the hub runs now, in file order, with every field (defaults filled in)."""
    current = _rules(request).current
    return RulesOut(
        source=current.source,
        rules=[rule.model_dump(mode="json") for rule in current.rules],
        links=[link.model_dump(mode="json") for link in current.links],
    )
