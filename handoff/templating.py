"""Texts supervisors write, filled with named values: one renderer for the bot and the console.

A template names a value as ``{name}``; ``{{`` and ``}}`` are literal braces. Nothing else is read: no
attribute or index (``{name.__class__}``, ``{name[0]}``), no conversion (``{name!r}``), no format spec or
width (``{ticket:#>20000}``). So a template can neither reach into what it is filled from nor make a message
longer than its words and values, and what the console previews is what the bot sends.

Each kind of template has its fields. Saving a template that names anything else is refused (``check``,
with the placeholder and the allowed fields for the supervisor). A stored template from before that check
still renders safely: a placeholder that is not one of its kind's fields stays exactly as written (so the
preview shows the mistake), and a field without a value is left empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TemplateKind:
    name: str
    fields: tuple[str, ...]

    def fields_text(self) -> str:
        return ", ".join("{" + name + "}" for name in self.fields)


# Answer templates: the bot's reply to a question of the category (it fills ``name``), and the canned
# answers agents insert on a ticket (``name``, ``ticket``, ``agent``). The bot answers before any ticket
# exists and is no agent, so those two are empty in what the bot sends.
ANSWER = TemplateKind("answer", ("name", "ticket", "agent"))
# The supervisor's out-of-hours message at hand-off; the same values as the catalogue's own message.
OUT_OF_HOURS = TemplateKind("out_of_hours", ("ticket", "hours", "next_open", "sla_hours"))

# A literal brace pair, a placeholder (whatever is inside), or a brace on its own.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_LEADING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """Why a template cannot be saved. ``code`` is a console catalogue key; its text takes ``field`` (the
    placeholder as written) and ``allowed`` (the kind's fields)."""

    code: str
    field: str
    allowed: str

    def params(self) -> dict[str, str]:
        return {"field": self.field, "allowed": self.allowed}


def check(kind: TemplateKind, text: str) -> TemplateProblem | None:
    """The first placeholder of ``text`` that is not a bare field of ``kind``, or None when all are."""
    for found in _TOKEN.finditer(text):
        token, inner = found.group(0), found.group(1)
        if token in ("{{", "}}") or inner in kind.fields:
            continue
        if inner is None:
            return TemplateProblem("error_template_brace", token, kind.fields_text())
        name = _LEADING_NAME.match(inner)
        if name is not None and name.group(0) in kind.fields:
            # A known field with something after it: attribute, index, conversion or format spec.
            return TemplateProblem("error_template_format", token, kind.fields_text())
        return TemplateProblem("error_template_field", token, kind.fields_text())
    return None


def render(kind: TemplateKind, text: str, **values: str) -> str:
    """``text`` with each ``{field}`` of ``kind`` replaced by its value ("" when not given)."""
    out: list[str] = []
    last = 0
    for found in _TOKEN.finditer(text):
        out.append(text[last:found.start()])
        last = found.end()
        token, inner = found.group(0), found.group(1)
        if token in ("{{", "}}"):
            out.append(token[0])
        elif inner is not None and inner in kind.fields:
            value = values.get(inner, "")
            if not value and text.startswith(",", last) and out and out[-1].endswith(" "):
                # "Halo {name}, ..." without a name reads "Halo, ...", not "Halo , ...".
                out[-1] = out[-1].rstrip(" ")
            out.append(value)
        else:
            out.append(token)  # not a field of this kind: as written, nothing in it evaluated
    out.append(text[last:])
    return "".join(out)
