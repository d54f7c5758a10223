"""Teams against the real database: a ticket's team follows its category, agents see their teams' tickets,
automatic assignment stays within the team, and with no team everything is as before."""

from __future__ import annotations

from datetime import timedelta

from handoff import actions, teams
from handoff.assignment import Assigner
from handoff.auth import create_user
from models import Category, Team, Ticket, User, UserRole
from tests.conftest import IN_HOURS, FlowHarness


async def handed_off(flow: FlowHarness, *, user: str, question: str, nim: str = "13521045") -> Ticket:
    await flow.send("halo", user=user)
    await flow.send(nim, user=user)
    await flow.send(question, user=user)
    if not await Ticket.filter(conversation__identity__external_id=user).exists():
        await flow.send("2", user=user)  # "did this help?" no
    return await Ticket.filter(conversation__identity__external_id=user).order_by("-id").first().get()


async def seen(user: User) -> list[int]:
    return [t.id for t in await (await teams.scope(Ticket.all(), user))]


async def person(email: str, role: UserRole = UserRole.AGENT) -> User:
    name = email.split("@", maxsplit=1)[0]
    return await create_user(email=email, role=role, password="a-long-password", name=name)


async def test_without_teams_every_agent_sees_every_ticket(flow: FlowHarness) -> None:
    ticket = await handed_off(flow, user="1", question="lupa password")
    ana = await person("ana@cc.test")
    assert ticket.team_id is None  # type: ignore[attr-defined]
    assert await teams.visible_teams(ana) is None
    assert await teams.can_see(ana, ticket)
    assert await seen(ana) == [ticket.id]


async def test_ticket_team_follows_the_category_and_limits_who_sees_it(flow: FlowHarness) -> None:
    accounts, grades = await Team.create(name="Akun"), await Team.create(name="Nilai")
    await Category.filter(slug__in=["reset-password", "akun-login"]).update(team_id=accounts.id)
    await Category.filter(slug="nilai").update(team_id=grades.id)
    ana, bayu, sari = await person("ana@cc.test"), await person("bayu@cc.test"), await person(
        "sari@cc.test", UserRole.SUPERVISOR)
    await teams.set_user_teams(ana, [accounts.id])
    await teams.set_user_teams(bayu, [grades.id])

    password = await handed_off(flow, user="1", question="lupa password")
    # Another student: the same NIM would be Budi again, and his message would join his open ticket.
    grade = await handed_off(flow, user="2", question="nilai saya belum keluar", nim="16522101")
    assert password.team_id == accounts.id  # type: ignore[attr-defined]
    assert grade.team_id == grades.id  # type: ignore[attr-defined]

    assert set(await seen(ana)) == {password.id}
    assert set(await seen(bayu)) == {grade.id}
    assert set(await seen(sari)) == {password.id, grade.id}
    assert not await teams.can_see(bayu, password)

    # A supervisor recategorizes: the ticket moves to the other team.
    await actions.categorize(ticket=password, category=await Category.get(slug="nilai"), agent=sari)
    password = await Ticket.get(id=password.id)
    assert password.team_id == grades.id  # type: ignore[attr-defined]
    assert await teams.can_see(bayu, password)
    assert not await teams.can_see(ana, password)

    # Whoever holds a ticket keeps seeing it, whatever its team.
    await Ticket.filter(id=password.id).update(assignee_id=ana.id)
    assert await teams.can_see(ana, await Ticket.get(id=password.id))


async def test_a_category_without_team_stays_visible_to_all_agents(flow: FlowHarness) -> None:
    accounts = await Team.create(name="Akun")
    ana, bayu = await person("ana@cc.test"), await person("bayu@cc.test")
    await teams.set_user_teams(ana, [accounts.id])
    ticket = await handed_off(flow, user="1", question="nilai saya belum keluar")
    assert ticket.team_id is None  # type: ignore[attr-defined]
    assert await teams.can_see(ana, ticket)
    assert await teams.can_see(bayu, ticket)  # in no team at all: sees the tickets without a team


async def test_automatic_assignment_picks_within_the_ticket_team(flow: FlowHarness) -> None:
    grades = await Team.create(name="Nilai")
    await Category.filter(slug="nilai").update(team_id=grades.id)
    ana, bayu = await person("ana@cc.test"), await person("bayu@cc.test")
    await User.filter(id__in=[ana.id, bayu.id]).update(available=True)
    await teams.set_user_teams(bayu, [grades.id])
    # Ana has fewer open tickets (none) than Bayu would after one; the team rule still sends it to Bayu.
    first = await handed_off(flow, user="1", question="nilai saya belum keluar")
    second = await handed_off(flow, user="2", question="nilai kuis tidak muncul", nim="16522101")
    assigner = Assigner(answer_within=timedelta(minutes=10))
    assert await assigner.assign_backlog(now=IN_HOURS) == 2
    owners = {t.id: t.assignee_id for t in await Ticket.filter(id__in=[first.id, second.id])}  # type: ignore[attr-defined]
    assert owners == {first.id: bayu.id, second.id: bayu.id}

    # Moving a category's team moves its open tickets too.
    accounts = await Team.create(name="Akun")
    category = await Category.get(slug="nilai")
    category.team = accounts
    await category.save(update_fields=["team_id"])
    assert await teams.retag_category_tickets(category) == 2
    assert set(await Ticket.filter(id__in=[first.id, second.id]).values_list("team_id", flat=True)) == {accounts.id}
