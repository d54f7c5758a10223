"""The console's clock (handoff.sla.clock_face): coloured by the ticket's own SLA reading, counted in
operating hours when the ticket's clock counts them, and "paused" while the policy pauses it. Pure, with
frozen moments."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from handoff.console.toolkit import clock_class
from handoff.hours import OperatingHours
from handoff.sla import SlaPolicy, SlaState, clock_face, evaluate
from models import SlaCounting
from tests.handoff.test_sla_policy import HOUR, JKT, Facts

MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=JKT)  # an ordinary working Monday
POLICY = SlaPolicy(hours=OperatingHours())  # 08:00-16:00, Monday to Friday


def operating_ticket() -> Facts:
    """Eight operating hours to resolve, opened Monday 09:00: due Tuesday 09:00 (a calendar day later)."""
    return Facts(opened_at=MONDAY_9, due_at=MONDAY_9 + 24 * HOUR, sla_resolution_s=8 * 3600,
                 sla_counting=SlaCounting.OPERATING)


def test_operating_hours_colour_by_counted_time_not_by_the_calendar_span() -> None:
    ticket = operating_ticket()
    face = clock_face(ticket, POLICY, MONDAY_9 + 6 * HOUR)  # 15:00: six of eight working hours used
    assert (face.state, face.share, face.paused) == (SlaState.AT_RISK, 0.75, False)
    assert clock_class(face) == "sla-risk"
    # The wall-clock reading (due - opened = 24 h, 18 h left) calls the same moment on track: the old rule.
    assert evaluate(ticket, MONDAY_9 + 6 * HOUR).state == SlaState.ON_TRACK
    # The page's script recolours at moments counted the same way: half at 13:00, three quarters at 15:00.
    assert (face.warning_from, face.at_risk_from, face.due_at) == (
        MONDAY_9 + 4 * HOUR, MONDAY_9 + 6 * HOUR, MONDAY_9 + 24 * HOUR)
    night = clock_face(ticket, POLICY, MONDAY_9 + 14 * HOUR)  # 23:00: closed hours count nothing
    assert (night.state, night.share) == (SlaState.AT_RISK, 7 / 8)
    lunch = clock_face(ticket, POLICY, MONDAY_9 + 3 * HOUR)
    assert (clock_class(lunch), lunch.share) == ("sla-ok", 3 / 8)
    assert clock_class(clock_face(ticket, POLICY, MONDAY_9 + 5 * HOUR)) == "sla-warn"
    assert clock_class(clock_face(ticket, POLICY, MONDAY_9 + 25 * HOUR)) == "sla-breached"


def test_a_paused_clock_shows_paused_and_has_no_moments() -> None:
    opened = MONDAY_9
    paused = Facts(opened_at=opened, due_at=opened + 24 * HOUR, sla_paused_at=opened + 20 * HOUR,
                   sla_first_response_s=None)
    face = clock_face(paused, SlaPolicy(), opened + 30 * HOUR)  # past the old due time, but paused at 20 h
    assert (face.paused, face.due_at, face.warning_from, face.at_risk_from) == (True, None, None, None)
    assert face.share == 20 / 24
    assert clock_class(face) == "sla-paused"
    # Resumed after a ten-hour pause: the moments move by the pause.
    resumed = replace(paused, sla_paused_at=None, sla_paused_s=10 * 3600, due_at=opened + 34 * HOUR)
    face = clock_face(resumed, SlaPolicy(), opened + 31 * HOUR)
    assert (face.paused, face.state, face.due_at) == (False, SlaState.AT_RISK, opened + 34 * HOUR)
    assert (face.warning_from, face.at_risk_from) == (opened + 22 * HOUR, opened + 28 * HOUR)
