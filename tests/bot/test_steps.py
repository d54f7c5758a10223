"""The steps table (``bot.conversation.steps.STEPS``): every ``FlowStep`` has its row, so a new step is a
decision there rather than a silent fall into the question step; and only the first contact reads a
request for a person itself (an identity may come with it)."""

from bot.conversation.steps import STEPS
from models import FlowStep


def test_every_flow_step_has_its_row() -> None:
    assert set(STEPS) == set(FlowStep)


def test_only_the_first_contact_reads_requests_itself() -> None:
    assert [step for step, row in STEPS.items() if row.own_requests] == [FlowStep.NEW]
