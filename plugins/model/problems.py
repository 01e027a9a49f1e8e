"""Problems found in editors' files, reported in French."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Editors' values can be whole paragraphs (or worse): a message quotes at most this much of one.
QUOTE_LIMIT = 80


def cut(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Return text cut to limit characters, ending with « … » when something was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quote(value: Any) -> str:
    """Return an editor's value as messages quote it: « value », cut to a readable length."""
    return f"« {cut(str(value))} »"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in one file, at one line, in one field."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


class ContentError(Exception):
    """The content holds problems; the build must stop and keep the previous site."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def report(self, outcome: str = "rien n'a été publié") -> str:
        """Return the French report: every problem, then a count and what was not done."""
        n = len(self.problems)
        plural = "s" if n > 1 else ""
        lines = [str(p) for p in self.problems]
        lines.append(f"{n} problème{plural} trouvé{plural} : {outcome}.")
        return "\n".join(lines)


class FieldError(ValueError):
    """A value that does not fit its field; the message is French."""
