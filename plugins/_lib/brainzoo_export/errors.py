"""One error type for every export problem: what went wrong, which file, and the fix.

Rendered as
    error: <problem>
      file: <file>
      fix: <fix>
on stderr, exit status 2 (bad input or configuration), like the TypeScript harness.
"""
from __future__ import annotations

import sys
from typing import NoReturn

EXIT_BAD_INPUT = 2


class ExportError(Exception):
    def __init__(self, problem: str, file: str | None = None, fix: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.file = file
        self.fix = fix

    def render(self) -> str:
        lines = [f"error: {self.problem}"]
        if self.file:
            lines.append(f"  file: {self.file}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


def fail(error: ExportError) -> NoReturn:
    print(error.render(), file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def note(message: str) -> None:
    """Progress and information go to stderr so that --json keeps stdout to one line."""
    print(message, file=sys.stderr, flush=True)
