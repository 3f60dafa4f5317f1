"""dbt's console output in a command's own terminal: the summary, not a line per node.

Why: dagster-dbt re-emits every line dbt prints into the process's standard output
(that is what a run's compute log shows, and it should).  In ``ads-platform demo`` that
process is the user's terminal: two lines (START, then PASS) for each of ~140 models and
tests, ~280 lines ahead of the summary the user came for.  :func:`quiet_dbt_output`
drops the per-node progress lines and dbt's start-up banner and lets through everything
else: warnings, errors, failing tests, the "Finished running …" and "Done. PASS=…"
summary.  ``--verbose`` leaves the output alone.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Iterator
from typing import TextIO

#: What dbt prints on every run that says nothing a user acts on.
_NOISE = re.compile(
    r"""^\s*(?:\x1b\[[0-9;]*m)*\s*(?:
        \d+\ of\ \d+\ (?:START|OK|PASS|SKIP|NO-OP)\b   # per-node progress (not WARN/ERROR/FAIL)
      | Running\ with\ dbt=
      | Registered\ adapter:
      | Unable\ to\ do\ partial\ parsing
      | Found\ \d+\ models?
      | Concurrency:
      | \d+\ of\ \d+\ START\ hook
      | \d+\ of\ \d+\ OK\ hook
    )""",
    re.VERBOSE,
)


def is_noise(line: str) -> bool:
    """A dbt progress or banner line; blank lines too (they only separated those)."""
    return not line.strip() or bool(_NOISE.match(line))


class _Filter(io.TextIOBase):
    """Passes whole lines that are not noise on to ``target``."""

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if not is_noise(line):
                self._target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def close_pending(self) -> None:
        if self._pending and not is_noise(self._pending):
            self._target.write(self._pending + "\n")
        self._pending = ""


@contextlib.contextmanager
def quiet_dbt_output(verbose: bool = False) -> Iterator[None]:
    """Within the block, dbt's per-node lines do not reach the terminal (module docstring)."""
    if verbose:
        yield
        return
    target = sys.stdout
    filtered = _Filter(target)
    try:
        with contextlib.redirect_stdout(filtered):  # type: ignore[type-var]
            yield
    finally:
        filtered.close_pending()
        target.flush()
