"""The API's token endpoint: admins list tokens (issuing and revoking is the CLI's)."""

from fastapi import APIRouter, Request

from hub.api.auth import Admin
from hub.api.common import pool
from hub.api.convert import token_out
from hub.api.models import TokenList
from hub.storage.tokens import list_tokens

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


@router.get("/api/v1/tokens", response_model=TokenList)
async def tokens(request: Request, caller: Admin) -> TokenList:
    """Every token issued, oldest first, without secrets (admin only)."""
    del caller  # the dependency is the check
    async with pool(request).connection() as conn:
        found = await list_tokens(conn)
    return TokenList(tokens=[token_out(r) for r in found])
