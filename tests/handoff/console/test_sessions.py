"""Signing in checks an argon2 hash, which costs tens of milliseconds of CPU on purpose: that work runs in a
worker thread, so a burst of sign-ins (or of guesses) never holds the event loop the webhooks share."""

from __future__ import annotations

import time

from handoff.auth import create_user, hash_password, verify_password
from handoff.console.sessions import authenticate, change_password
from models import UserRole
from tests.complexity import LoopWatch


def _verify_cost() -> float:
    stored = hash_password("correct horse battery")
    start = time.thread_time()
    verify_password(stored, "correct horse battery")
    return time.thread_time() - start


async def test_password_checks_do_not_hold_the_event_loop(db: str) -> None:
    user = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="correct horse battery")
    cost = min(_verify_cost() for _ in range(3))  # what one check costs the thread that runs it
    async with LoopWatch() as watch:
        assert await authenticate(email="ana@cc.test", password="correct horse battery") == user
        assert await authenticate(email="ana@cc.test", password="wrong guess 123") is None
        assert await authenticate(email="nobody@cc.test", password="wrong guess 123") is None
        await change_password(user=user, current="correct horse battery", new="another long one",
                              confirm="another long one")
    assert verify_password(user.password_hash, "another long one")
    # Each of those ran at least one full argon2 check or hash; none of it may have held the loop.
    assert watch.longest < cost / 2, (watch.longest, cost)
