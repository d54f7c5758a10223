"""Regular-expression matching in time linear in the length of the text.

``re.finditer`` tries its pattern at every position of the text. For a pattern such as the e-mail one,
``[\\w.+-]+@…``, a try at any position inside a long run of word characters reads to the end of the run
before it fails, so a run of n characters costs n²/2 steps: 10,000 underscores took 1.4 s, 100,000 digits
105 s (issue 10). A ``Finder`` gives exactly the matches ``finditer`` gives, but tries the pattern only where
``starts`` says it can begin, and after a failed try skips the rest of the run ``run`` matches there. That
skip is sound for a pattern whose outcome at any later start inside the run is decided by the same
characters after the run (and so fails too); each pattern below states why that holds for it. Every
character is then read a bounded number of times, and the equivalence with the plain pattern is a
property test (tests/nlp/test_textscan.py) over short texts, where the plain pattern is still fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finder:
    """``pattern`` as ``finditer`` would match it, found in linear time.

    ``starts`` finds, from a position on, where the next match can begin: the position where the match of
    ``starts`` ends (usually a zero-width look-ahead). It may use a look-behind, which sees the text before
    the position searched from; the one place a look-behind cannot judge, the end of the previous match, is
    always tried first. When ``pattern`` fails at such a start ``s``, it must also fail at every position
    inside ``run.match(text, s)``: the search goes on after that run (without ``run``, at the next
    character). ``probe``, if given, is a prefix of ``pattern`` that alone decides whether it matches at a
    position; the full match is then read only where it is used, so an alternative that loses to one
    starting earlier is never read to its end.
    """

    pattern: re.Pattern[str]
    starts: re.Pattern[str]
    run: re.Pattern[str] | None = None
    probe: re.Pattern[str] | None = None

    def first(self, text: str, pos: int) -> tuple[int, re.Match[str] | None] | None:
        """The first match at or after ``pos`` (0, or where the previous match ended): where it starts, and
        the match itself unless it was only probed."""
        s: int | None = pos if pos > 0 else None
        while True:
            if s is None:
                start = self.starts.search(text, pos)
                if start is None:
                    return None
                s = start.end()
            if self.probe is not None:
                if self.probe.match(text, s) is not None:
                    return s, None
            elif (match := self.pattern.match(text, s)) is not None:
                return s, match
            skipped = self.run.match(text, s) if self.run is not None else None
            pos = max(skipped.end() if skipped is not None else s, s + 1)
            s = None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return leftmost(text, self)

    def sub(self, replacement: str, text: str) -> str:
        return substitute(text, replacement, self)


_UNSEEN = (-1, None)


def leftmost(text: str, *finders: Finder) -> Iterator[re.Match[str]]:
    """The matches of the alternation of the finders' patterns (``A|B``), as ``finditer`` finds them: at each
    step the match that starts first, the earlier finder's when two start at the same place."""
    pos = 0
    # Per finder, its next match found so far (None: there is no other one).
    ahead: list[tuple[int, re.Match[str] | None] | None] = [_UNSEEN] * len(finders)
    while True:
        for i, finder in enumerate(finders):
            seen = ahead[i]
            if seen is not None and seen[0] < pos:  # not looked for yet, or it began inside the last match
                ahead[i] = finder.first(text, pos)
        found = [(seen[0], i, seen[1]) for i, seen in enumerate(ahead) if seen is not None]
        if not found:
            return
        start, i, match = min(found, key=lambda item: (item[0], item[1]))
        if match is None:
            match = finders[i].pattern.match(text, start)
        if match is None:  # the probe said it would match: a mistake in a Finder, not in the text
            raise AssertionError(f"{finders[i].pattern.pattern!r} did not match where its probe did")
        yield match
        pos = max(match.end(), start + 1)


def substitute(text: str, replacement: str, *finders: Finder) -> str:
    """``pattern.sub(replacement, text)`` for the alternation of the finders' patterns, in linear time.
    ``replacement`` is taken literally (no group references)."""
    parts: list[str] = []
    last = 0
    for match in leftmost(text, *finders):
        parts.append(text[last : match.start()])
        parts.append(replacement)
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)
