"""Supervisor page for teams: create, rename and delete teams, and map each category to a team.
Membership is edited on the users page."""

from __future__ import annotations

from aiohttp import web
from tortoise.exceptions import IntegrityError

from handoff import actions, teams
from handoff.console.toolkit import console_state, form_fields, path_id, render, request_language, require_supervisor
from handoff.webinput import parse_id
from models import Category, Team

MAX_NAME = 120


def _back(notice: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/admin/teams?notice={notice}")


async def teams_page(request: web.Request) -> web.Response:
    require_supervisor(request)
    lang = request_language(request)
    all_teams = await Team.all().prefetch_related("members")
    categories = await Category.all()
    return render(request, "admin_teams.html", {
        "page": "teams",
        "teams": all_teams,
        "members": {t.id: sorted((u.name or u.email) for u in t.members) for t in all_teams},
        "categories": [(c, c.name_en if lang == "en" else c.name_id) for c in categories],
    })


def _name(form: dict[str, str]) -> str:
    name = " ".join(form.get("name", "").split())
    if not name:
        raise _back("error_name_required")
    if len(name) > MAX_NAME:
        raise _back("error_too_long")
    return name


async def team_create(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    name = _name(await form_fields(request))
    try:
        team = await Team.create(name=name)
    except IntegrityError:
        raise _back("error_team_exists") from None
    await actions.audit(actor=user, action="team.create", target=team.name)
    raise _back("notice_saved")


async def team_update(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    form = await form_fields(request)
    team = await Team.get_or_none(id=path_id(request))
    if team is None:
        raise web.HTTPNotFound(text="no such team")
    if form.get("delete") == "1":
        await team.delete()  # its categories and tickets fall back to "no team": every agent sees them
        await actions.audit(actor=user, action="team.delete", target=team.name)
        console_state(request).broker.publish("teams.updated", {})
        raise _back("notice_saved")
    previous = team.name
    team.name = _name(form)
    try:
        await team.save(update_fields=["name"])
    except IntegrityError:
        raise _back("error_team_exists") from None
    await actions.audit(actor=user, action="team.rename", target=team.name, data={"from": previous})
    raise _back("notice_saved")


async def category_team(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    form = await form_fields(request)
    category = await Category.get_or_none(id=path_id(request))
    if category is None:
        raise web.HTTPNotFound(text="no such category")
    raw = form.get("team_id", "")
    team_id = parse_id(raw)
    team = await Team.get_or_none(id=team_id) if team_id is not None else None
    if raw and team is None:
        raise _back("error_unknown_team")
    category.team = team
    await category.save(update_fields=["team_id"])
    moved = await teams.retag_category_tickets(category)
    await actions.audit(actor=user, action="category.team", target=category.slug,
                         data={"team": team.name if team else None, "open_tickets_moved": moved})
    console_state(request).broker.publish("teams.updated", {})
    raise _back("notice_saved")


def add_routes(console: web.Application) -> None:
    router = console.router
    router.add_get("/admin/teams", teams_page, name="teams")
    router.add_post("/admin/teams", team_create, name="team_create")
    router.add_post("/admin/teams/{id}", team_update, name="team_update")
    router.add_post("/admin/teams/category/{id}", category_team, name="category_team")



