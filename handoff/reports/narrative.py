"""The short paragraph at the top of a report, written from the figures with the catalogue's sentences
(no language model): the same figures always give the same words."""

from __future__ import annotations

from handoff.reports.figures import Comparison, ConversationOutcome, change
from handoff.reports.text import ReportText, report_text


def _volume(both: Comparison, text: ReportText) -> str:
    now, before = both.current, both.previous
    sentence = text.count("n_volume", now.conversations, period=text.period(now.period))
    moved = change(now.conversations, before.conversations)
    if now.conversations and moved is not None:
        direction = "up" if moved > 0 else "down" if moved < 0 else "same"
        sentence += text(f"n_change.{direction}", pct=text.percent(abs(moved)),
                         previous=text.period(before.period))
    return sentence + "."


def _outcomes(both: Comparison, text: ReportText) -> str:
    f = both.current
    bot = f.outcome(ConversationOutcome.BOT)
    return text(
        "n_outcomes",
        bot=text.count("n_bot", bot, share=text.percent(f.bot_share)),
        handed=text.count("n_handed", f.outcome(ConversationOutcome.HANDED_OFF)),
        abandoned=text.count("n_abandoned", f.outcome(ConversationOutcome.ABANDONED)),
    )


def _tickets(both: Comparison, text: ReportText) -> list[str]:
    f = both.current
    target = f.resolution_target
    if not f.tickets:
        return [text.count("n_tickets", 0)]
    if target.met_share is None:
        sentences = [text.count("n_tickets_undecided", f.tickets)]
    else:
        sentences = [text.count("n_tickets", f.tickets, met=text.number(target.met),
                                share=text.percent(target.met_share), open=text.count("n_open", target.open))]
    first, resolution = f.first_response.median, f.resolution.median
    if first is not None and resolution is not None:
        sentences.append(text("n_times_both", first=text.duration(first), resolution=text.duration(resolution)))
    elif first is not None:
        sentences.append(text("n_times_first", first=text.duration(first)))
    elif resolution is not None:
        sentences.append(text("n_times_resolution", resolution=text.duration(resolution)))
    top = next((c for c in f.tickets_by_category if c.slug is not None), None)
    if top is not None:
        sentences.append(text.count("n_top_category", top.tickets, name=top.name(text.lang),
                                    share=text.percent(f.categorized_share)))
    return sentences


def narrative(both: Comparison, lang: str | None = None) -> str:
    text = report_text(lang)
    f = both.current
    sentences = [_volume(both, text)]
    if f.conversations:
        sentences.append(_outcomes(both, text))
    sentences += _tickets(both, text)
    if f.tickets:
        average = f.csat.average
        sentences.append(text.count("n_ratings", f.csat.count,
                                    average=text.number(average, 1) if average is not None else ""))
        sentences.append(text.count("n_escalated", f.escalated))
    sentences.append(text.count("n_incidents", f.incidents_opened, fixed=text.number(f.incidents_fixed)))
    return " ".join(s for s in sentences if s)
