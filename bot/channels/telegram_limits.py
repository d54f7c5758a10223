"""Telegram's flood limits on what we send: about 30 messages/s for the whole bot, 20/min per group, and
about one per second per private chat with short bursts allowed.

Why PTB's own ``AIORateLimiter``, extended: it already throttles the bot as a whole and each group (the
two limits Telegram documents with numbers), with aiolimiter's leaky buckets, and it sits where every
request passes (``Bot._do_post``), so edits and callback answers count too. It has no per-private-chat
limit, which is the one a helpdesk bot meets first (a greeting is three messages to one chat), so this
subclass adds a leaky bucket per private chat around PTB's own processing.

Its retry on a 429 is left off (``max_retries=0``): PTB would sleep ``retry_after`` inside the request,
holding a webhook answer or an outbox sweep for minutes. The channel handles ``RetryAfter`` itself:
short waits in place, long ones leave the message queued for the outbox and pause every send until
Telegram's time is up (bot.channels.telegram).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

# PTB logs every 429 it passes on at ERROR with a traceback; the channel logs it once, as a warning.
logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)

CHAT_RATE = 1.0  # messages per second to one private chat, in the long run
CHAT_BURST = 3  # a greeting (hello, privacy notice, question) goes out at once
MAX_IDLE_LIMITERS = 1024

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


class ChatRateLimiter(AIORateLimiter):
    """PTB's overall and group limits, plus a burst-then-steady limit per private chat."""

    def __init__(
        self,
        *,
        chat_rate: float = CHAT_RATE,
        chat_burst: int = CHAT_BURST,
        overall_max_rate: float = 30,
        group_max_rate: float = 20,
    ) -> None:
        super().__init__(overall_max_rate=overall_max_rate, group_max_rate=group_max_rate, max_retries=0)
        self.chat_burst = chat_burst
        self.chat_period = chat_burst / chat_rate
        self._chats: dict[int, AsyncLimiter] = {}

    def chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            if len(self._chats) > MAX_IDLE_LIMITERS:
                # A limiter with all its capacity back remembers nothing worth keeping.
                for key, old in list(self._chats.items()):
                    if old.has_capacity(old.max_rate):
                        del self._chats[key]
            limiter = self._chats[chat_id] = AsyncLimiter(self.chat_burst, self.chat_period)
        return limiter

    async def process_request(  # noqa: PLR0917 - PTB calls it with this signature
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        chat_id: int | None = None
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(data.get("chat_id"))  # type: ignore[arg-type]
        if chat_id is None or chat_id < 0:  # no chat, or a group/channel: PTB's limits alone
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        async with self.chat_limiter(chat_id):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
