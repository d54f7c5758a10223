"""Supervisor pages: dashboard, categories, answer templates, audit log, users (invite, role, teams)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aiohttp import web

from handoff import actions, teams
from handoff.auth import UserExistsError, create_user, generate_password
from handoff.console.dashboard import build_dashboard, build_period_view
from handoff.console.toolkit import (
    console_state,
    form_fields,
    path_id,
    posted_form,
    render,
    request_language,
    require_supervisor,
)
from handoff.digest import CHOICE, DigestKind
from handoff.i18n import LANGUAGES, console_catalog
from handoff.reports.period import Preset
from handoff.templating import ANSWER, TemplateProblem
from handoff.templating import check as check_template
from handoff.templating import render as render_template
from handoff.webinput import ascii_int, fits, parse_id
from models import AnswerTemplate, AuditLog, Category, ConsoleSession, Team, User, UserRole

MAX_SORT_ORDER = 10**6


async def dashboard(request: web.Request) -> web.Response:
    require_supervisor(request)
    state = console_state(request)
    now, lang = state.clock(), request_language(request)
    board = await build_dashboard(now=now, tz=state.tz, lang=lang)
    view = await build_period_view(query=request.query, now=now, tz=state.tz, lang=lang)
    return render(request, "dashboard.html", {"page": "dashboard", "board": board, "view": view,
                                              "presets": [p.value for p in Preset]},
                  status=400 if view.error else 200)


async def categories_page(request: web.Request) -> web.Response:
    require_supervisor(request)
    categories = await Category.all()
    return render(request, "categories.html", {"page": "categories", "categories": categories})


async def category_save(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    form = await form_fields(request)
    raw_id = request.match_info.get("id")
    fields: dict[str, object] = {
        "name_id": form.get("name_id", "").strip()[:120],
        "name_en": form.get("name_en", "").strip()[:120],
        "description": form.get("description", "").strip()[:2000],
        "active": form.get("active") == "1",
    }
    fields["sort_order"] = ascii_int(form.get("sort_order", "0") or "0", low=-MAX_SORT_ORDER, high=MAX_SORT_ORDER) or 0
    if not fields["name_id"]:
        raise web.HTTPSeeOther("/console/admin/categories?notice=error_name_required")
    if raw_id is None:
        slug = form.get("slug", "").strip().lower()
        if not slug or not all(c.isalnum() or c == "-" for c in slug) or len(slug) > 64:
            raise web.HTTPSeeOther("/console/admin/categories?notice=error_bad_slug")
        if await Category.exists(slug=slug):
            raise web.HTTPSeeOther("/console/admin/categories?notice=error_slug_taken")
        created = Category(slug=slug)
        created.update_from_dict({**fields, "name_en": fields["name_en"] or fields["name_id"]})
        await created.save()
        await actions.audit(actor=user, action="category.create", target=slug, data={"name_id": fields["name_id"]})
    else:
        category_id = parse_id(raw_id)
        category = await Category.get_or_none(id=category_id) if category_id is not None else None
        if category is None:
            raise web.HTTPNotFound(text="no such category")
        category.update_from_dict(fields)
        await category.save()
        await actions.audit(actor=user, action="category.update", target=category.slug,
                             data={k: v for k, v in fields.items() if k != "description"})
    raise web.HTTPSeeOther("/console/admin/categories?notice=notice_saved")


@dataclass(frozen=True, slots=True)
class _RefusedTemplate:
    """A template the supervisor tried to save, sent back beside its form with the reason."""

    category_id: int
    language: str
    body: str
    problem: TemplateProblem


async def templates_page(request: web.Request, *, refused: _RefusedTemplate | None = None) -> web.Response:
    require_supervisor(request)
    categories = await Category.all()
    by_key = {(t.category_id, t.language): t for t in await AnswerTemplate.all()}
    rows = [
        {"category": c, "templates": [(lang, by_key.get((c.id, lang))) for lang in LANGUAGES]}
        for c in categories
    ]
    t = console_catalog(request_language(request))
    sample = t("template_preview_name")

    def preview(body: str) -> str:
        # Exactly what the bot sends to a user of that first name: the same renderer, the same values.
        return render_template(ANSWER, body, name=sample)

    def problem(body: str) -> TemplateProblem | None:
        # A template stored before fields were checked: the supervisor sees why it reads oddly.
        return check_template(ANSWER, body)

    return render(request, "templates.html", {"page": "templates", "rows": rows, "preview": preview,
                                              "problem": problem, "sample": sample, "refused": refused},
                  status=400 if refused is not None else 200)


async def template_save(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    form = await form_fields(request)
    lang = request.match_info["lang"]
    category = await Category.get_or_none(id=path_id(request))
    if category is None or lang not in LANGUAGES:
        raise web.HTTPNotFound(text="no such category or language")
    body = form.get("body", "").replace("\r\n", "\n").strip()
    refused = check_template(ANSWER, body)
    if refused is not None:
        # Nothing saved; the form comes back with what was typed and the field that is not allowed.
        return await templates_page(request, refused=_RefusedTemplate(category.id, lang, body, refused))
    existing = await AnswerTemplate.get_or_none(category=category, language=lang)
    if not body:
        # An empty template means "a person answers this category in this language".
        if existing is not None:
            await existing.delete()
        await actions.audit(actor=user, action="template.delete", target=f"{category.slug}/{lang}")
    elif existing is None:
        await AnswerTemplate.create(category=category, language=lang, body=body)
        await actions.audit(actor=user, action="template.create", target=f"{category.slug}/{lang}")
    else:
        existing.body = body
        await existing.save(update_fields=["body", "updated_at"])
        await actions.audit(actor=user, action="template.update", target=f"{category.slug}/{lang}")
    raise web.HTTPSeeOther(f"/console/admin/templates?notice=notice_saved#c{category.id}")


async def audit_page(request: web.Request) -> web.Response:
    require_supervisor(request)
    entries = await AuditLog.all().order_by("-id").limit(300).prefetch_related("actor")
    rows = [{"entry": e, "data": json.dumps(e.data, ensure_ascii=False) if e.data else ""} for e in entries]
    return render(request, "audit.html", {"page": "audit", "rows": rows})


async def users_page(request: web.Request, *, invited: tuple[str, str] | None = None,
                     error: str = "") -> web.Response:
    require_supervisor(request)
    users = await User.all().order_by("email").prefetch_related("teams")
    return render(request, "users.html", {"page": "users", "users": users, "roles": [r.value for r in UserRole],
                                          "invited": invited, "error": error, "teams": await Team.all(),
                                          "digest_kinds": [k.value for k in DigestKind],
                                          "digest_choice": {k.value: c for k, c in CHOICE.items()},
                                          "member_of": {u.id: {t.id for t in u.teams} for u in users}},
                  status=400 if error else 200)


async def user_invite(request: web.Request) -> web.Response:
    """A new agent gets a one-time password, shown once here, and must replace it at first sign-in."""
    actor = require_supervisor(request)
    form = await form_fields(request)
    role = form.get("role", UserRole.AGENT.value)
    if not fits(form.get("email", "").strip(), User, "email"):
        return await users_page(request, error="error_bad_email")
    password = generate_password()
    try:
        created = await create_user(
            email=form.get("email", ""), role=UserRole(role) if role in {r.value for r in UserRole} else UserRole.AGENT,
            password=password, name=form.get("name", "").strip()[:200], must_change_password=True,
        )
    except UserExistsError:
        return await users_page(request, error="error_user_exists")
    except ValueError:
        return await users_page(request, error="error_bad_email")
    capacity = ascii_int(form.get("capacity", "10"), low=-(10**9), high=10**9)
    if capacity is not None:
        created.capacity = max(0, min(100, capacity))
        await created.save(update_fields=["capacity"])
    await actions.audit(actor=actor, action="user.invite", target=created.email, data={"role": created.role.value})
    return await users_page(request, invited=(created.email, password))


async def user_save(request: web.Request) -> web.Response:
    actor = require_supervisor(request)
    form = await form_fields(request)
    target = await User.get_or_none(id=path_id(request))
    if target is None:
        raise web.HTTPNotFound(text="no such user")
    if form.get("role") in {r.value for r in UserRole} and target.id != actor.id:
        target.role = UserRole(form["role"])
    if target.id != actor.id:  # a supervisor does not lock themselves out
        target.active = form.get("active") == "1"
    capacity = ascii_int(form.get("capacity", str(target.capacity)), low=-(10**9), high=10**9)
    if capacity is not None:
        target.capacity = max(0, min(100, capacity))
    fields = ["role", "active", "capacity"]
    digests: dict[str, bool] = {}
    if form.get("digests_shown") == "1":  # a supervisor's row listed the scheduled mails: apply the ticks
        for kind, column in CHOICE.items():
            digests[kind.value] = form.get(column) == "1"
            setattr(target, column, digests[kind.value])
            fields.append(column)
    await target.save(update_fields=fields)
    if not target.active:
        await ConsoleSession.filter(user_id=target.id).delete()
        console_state(request).broker.publish("session.revoked", {"user_id": target.id})
    data: dict[str, object] = {"role": target.role.value, "active": target.active, "capacity": target.capacity}
    if digests:
        data["digests"] = digests
    if form.get("teams_shown") == "1":  # the form listed the teams (there are some): apply the ticks
        ticked = (await posted_form(request)).getall("team", [])
        chosen = [team_id for v in ticked if isinstance(v, str) and (team_id := parse_id(v)) is not None]
        data["teams"] = await teams.set_user_teams(target, chosen)
    await actions.audit(actor=actor, action="user.update", target=target.email, data=data)
    raise web.HTTPSeeOther("/console/admin/users?notice=notice_saved")

def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/admin/dashboard", dashboard, name="dashboard")
    r.add_get("/admin/categories", categories_page, name="categories")
    r.add_post("/admin/categories", category_save, name="category_create")
    r.add_post("/admin/categories/{id}", category_save, name="category_update")
    r.add_get("/admin/templates", templates_page, name="templates")
    r.add_post("/admin/templates/{id}/{lang}", template_save, name="template_save")
    r.add_get("/admin/audit", audit_page, name="audit")
    r.add_get("/admin/users", users_page, name="users")
    r.add_post("/admin/users", user_invite, name="user_invite")
    r.add_post("/admin/users/{id}", user_save, name="user_save")
