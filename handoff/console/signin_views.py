"""Console sign-in: the login page (throttled, CSRF double submit), sign-out, the forced password change
and the availability toggle."""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from handoff import actions
from handoff.console.sessions import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    PasswordProblemError,
    authenticate,
    change_password,
    end_session,
    same,
    start_session,
)
from handoff.console.toolkit import SESSION, USER, console_state, form_fields, render, request_catalog
from handoff.login_throttle import retry_after_seconds
from handoff.webinput import own_origin, same_origin_path

log = logging.getLogger(__name__)


def _client_ip(request: web.Request) -> str:
    # The proxy-aware address: bot.app puts handoff.client_address.real_client in front when
    # TRUSTED_PROXIES is set, so request.remote is the client's own even behind a reverse proxy.
    return request.remote or "?"


def _wait_text(request: web.Request, seconds: int) -> str:
    t = request_catalog(request)
    return t("wait_seconds", n=seconds) if seconds < 120 else t("wait_minutes", n=-(-seconds // 60))


async def login_page(request: web.Request) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if len(token) < 20:
        token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"login_csrf": token, "email": ""})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path="/console", httponly=True, samesite="Lax",
                        secure=console_state(request).secure_cookies)
    return response


async def login_post(request: web.Request) -> web.Response:
    state = console_state(request)
    form = await form_fields(request)
    # A login form is CSRF-protected too (double submit): a foreign page must not sign a browser in.
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same(form.get("csrf", ""), cookie):
        raise web.HTTPForbidden(text="CSRF token missing or wrong; reload the page")
    email = form.get("email", "").strip().lower()[:254]
    now = state.clock()
    ip = _client_ip(request)
    context = {"login_csrf": cookie, "email": email}
    # Counted before the password is checked (and refunded if it was right), so parallel tries cannot
    # all pass while the first ones are being checked; a refused try is answered at once, never held.
    attempt = await state.limiter.attempt(email=email, address=ip, now=now)
    if attempt.wait:
        log.warning("console sign-in slowed by the throttle")  # no address or e-mail in the log
        seconds = retry_after_seconds(attempt.wait)
        response = render(request, "login.html", {**context, "error": "login_rate_limited",
                                                   "wait": _wait_text(request, seconds)}, status=429)
        response.headers["Retry-After"] = str(seconds)
        return response
    user = await authenticate(email=email, password=form.get("password", ""))
    if user is None:
        return render(request, "login.html", {**context, "error": "login_failed"}, status=401)
    await state.limiter.succeeded(attempt, now=now)
    _session, raw = await start_session(user=user, now=now, ttl=state.config.session_ttl)
    await actions.audit(actor=user, action="auth.login")
    response = web.HTTPSeeOther("/console/password" if user.must_change_password else "/console/queue")
    response.set_cookie(COOKIE, raw, path="/console", httponly=True, samesite="Lax",
                        secure=state.secure_cookies, max_age=int(state.config.session_ttl.total_seconds()))
    raise response


async def logout(request: web.Request) -> web.Response:
    await end_session(raw=request.cookies.get(COOKIE, ""))
    console_state(request).broker.publish("session.ended", {"session_id": request[SESSION].id})
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(COOKIE, path="/console")
    raise response


async def password_page(request: web.Request) -> web.Response:
    return render(request, "password.html", {})


async def password_post(request: web.Request) -> web.Response:
    state = console_state(request)
    form = await form_fields(request)
    user = request[USER]
    try:
        await change_password(user=user, current=form.get("current", ""), new=form.get("new", ""),
                              confirm=form.get("confirm", ""))
    except PasswordProblemError as problem:
        return render(request, "password.html", {"error": problem.code}, status=400)
    await actions.audit(actor=user, action="auth.password_changed")
    # Every other browser is signed out; this one gets a fresh session so the person carries on.
    state.broker.publish("session.revoked", {"user_id": user.id})
    _session, raw = await start_session(user=user, now=state.clock(), ttl=state.config.session_ttl)
    response = web.HTTPSeeOther("/console/queue?notice=notice_password_changed")
    response.set_cookie(COOKIE, raw, path="/console", httponly=True, samesite="Lax",
                        secure=state.secure_cookies, max_age=int(state.config.session_ttl.total_seconds()))
    raise response


async def availability(request: web.Request) -> web.Response:
    user = request[USER]
    user.available = (await form_fields(request)).get("available") == "1"
    await user.save(update_fields=["available"])
    await actions.audit(actor=user, action="user.availability", data={"available": user.available})
    console_state(request).broker.publish("user.available", {"user_id": user.id, "available": user.available})
    # Back to the page the toggle was on, but only a console page of this very site.
    raise web.HTTPSeeOther(same_origin_path(request.headers.get("Referer"),
                                            own=own_origin(request, console_state(request).public_url),
                                            under="/console", default="/console/queue"))



def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/login", login_page, name="login")
    r.add_post("/login", login_post, name="login_post")
    r.add_post("/logout", logout, name="logout")
    r.add_get("/password", password_page, name="password")
    r.add_post("/password", password_post, name="password_post")
    r.add_post("/availability", availability, name="availability")
