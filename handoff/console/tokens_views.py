"""API tokens in the console: everyone lists, creates and revokes their own; a supervisor sees and revokes
every token (read-only ones made with ``carecenter token create`` too). The secret is shown once, on the
page that created it, and never again; every creation and revocation is in the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from handoff.actions import is_supervisor
from handoff.auth import ExpiryError, create_api_token, parse_expiry, revoke_api_token, token_role, visible_tokens
from handoff.console.toolkit import USER, console_state, form_fields, path_id, render
from models import ApiToken, User

MAX_NAME = 120
# What the form offers; a date field beside it takes any other day.
EXPIRY_CHOICES = ("30d", "90d", "365d", "never")
DEFAULT_EXPIRY = "90d"


@dataclass(frozen=True, slots=True)
class TokenRow:
    token: ApiToken
    owner: str
    role: str
    state: str  # active | expired | revoked | user_inactive


def _state_of(token: ApiToken, user: User | None, request: web.Request) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= console_state(request).clock():
        return "expired"
    if user is not None and not user.active:
        return "user_inactive"
    return "active"


async def tokens_page(request: web.Request, *, created: str = "", error: str = "", status: int = 200) -> web.Response:
    user = request[USER]
    rows = [
        TokenRow(token=t, owner=(t.user.name or t.user.email) if t.user else "", role=token_role(t).value,
                 state=_state_of(t, t.user, request))
        for t in await visible_tokens(user)
    ]
    return render(request, "tokens.html", {
        "page": "tokens", "rows": rows, "created": created, "error": error, "all_tokens": is_supervisor(user),
        "choices": EXPIRY_CHOICES, "default_expiry": DEFAULT_EXPIRY,
    }, status=status)


async def token_create(request: web.Request) -> web.Response:
    """A token for the signed-in user, acting with their role (whatever it is at each request)."""
    state = console_state(request)
    user = request[USER]
    form = await form_fields(request)
    name = " ".join(form.get("name", "").split())[:MAX_NAME]
    if not name:
        return await tokens_page(request, error="error_name_required", status=400)
    wanted = form.get("expires_on", "").strip() or form.get("expires", DEFAULT_EXPIRY)
    try:
        expires_at = parse_expiry(wanted, now=state.clock(), tz=state.tz)
    except ExpiryError as problem:
        return await tokens_page(request, error=problem.code, status=400)
    _token, raw = await create_api_token(name=name, role=user.role, user=user, expires_at=expires_at,
                                         actor=user, via="console")
    return await tokens_page(request, created=raw)


async def token_revoke(request: web.Request) -> web.Response:
    user = request[USER]
    # Someone else's token answers exactly like a missing one (a supervisor sees them all).
    token = await visible_tokens(user).filter(id=path_id(request)).first()
    if token is None:
        raise web.HTTPNotFound(text="no such token")
    revoked = await revoke_api_token(token, now=console_state(request).clock(), actor=user, via="console")
    raise web.HTTPSeeOther(f"/console/tokens?notice={'notice_token_revoked' if revoked else 'notice_saved'}")


def add_routes(console: web.Application) -> None:
    router = console.router
    router.add_get("/tokens", tokens_page, name="tokens")
    router.add_post("/tokens", token_create, name="token_create")
    router.add_post("/tokens/{id}/revoke", token_revoke, name="token_revoke")
