"""A pytest plugin that collects reliability verdicts and writes ``docs/reliability.md``.

Any test can report rows of the reliability table through the ``reliability`` fixture:
``record(name, verdicts)`` for a row judged at once (the fault matrix), or ``with
reliability.check(name, property): assert ...`` around the assertions that prove one
property (the killed-marts test).  The rows expected are the matrix's
(:data:`matrix.CASES` and :data:`matrix.EXTERNAL_ROWS`), each owned by one test.

At the end of the session the file is written only when every expected row has a
verdict for every property: a partial run (``-k``, one file, a skipped owner) leaves
the committed file alone.  A property an owner test never reached because it failed
earlier is recorded as not held, "not reached", so a failing run still writes a
complete and honest table.

Keeping the committed file honest: the table part of the file (between the
``matrix:begin``/``matrix:end`` markers) holds no timing and no date, only verdicts
(and the observed value of what did not hold), so two runs of the same code render the
same table.  When the ``CI`` environment variable is set and the regenerated table
differs from the committed one, the session fails: the commit changed what the matrix
finds (or its cases) without committing the regenerated file.  Everything that varies
(date, commit, command, durations, load) is in the header, outside the markers.

Under pytest-xdist the owners run in separate worker processes, each with its own
recorder: a worker never writes the file, it hands its verdicts to the controller
(``workeroutput``) when it finishes, and the controller merges every worker's verdicts
(``pytest_testnodedown``) and writes the file once, from the whole session.

This module stays light (no Dagster import): every session loads it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ads_platform_tests.reliability import render
from ads_platform_tests.reliability.matrix import CASES, EXTERNAL_ROWS, FAULT_PROPERTIES

DOC_ENV = "ADS_PLATFORM_RELIABILITY_DOC"
DOC_PATH = Path("docs") / "reliability.md"
MATRIX_TEST = "ads_platform_tests/reliability/test_fault_matrix.py"
MATRIX_TEST_NAME = "test_every_fault_leaves_the_truth_or_says_why_and_recovers"


@dataclass(frozen=True)
class Verdict:
    held: bool | None  # None: not applicable
    observed: str = ""

    @classmethod
    def of(cls, problems: Sequence[str], *, note: str = "", shown: int = 3) -> Verdict:
        """Held when nothing is wrong; else not held, showing the first problems."""
        if not problems:
            return cls(True, note)
        more = f" (+{len(problems) - shown} more)" if len(problems) > shown else ""
        return cls(False, "; ".join(problems[:shown]) + more)


@dataclass(frozen=True)
class RowSpec:
    """A line of the table: what is done, what must happen, what is judged, by whom."""

    section: str
    name: str
    injected: str
    expected: str
    properties: Mapping[str, str]
    owner: str  # node id of the test that reports it


@dataclass
class Row:
    spec: RowSpec
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    observed: str = ""

    @property
    def complete(self) -> bool:
        return set(self.verdicts) >= set(self.spec.properties)

    @property
    def held(self) -> bool:
        return self.complete and all(v.held is not False for v in self.verdicts.values())


def expected_rows() -> list[RowSpec]:
    """Every line the table must have: the matrix's cases, then the external rows."""
    rows = [
        RowSpec(
            "faults",
            case.name,
            case.injected(),
            case.expected(),
            FAULT_PROPERTIES,
            f"{MATRIX_TEST}::{MATRIX_TEST_NAME}[{case.id}]",
        )
        for case in CASES
    ]
    rows += [RowSpec(*external) for external in EXTERNAL_ROWS]
    return rows


class Recorder:
    """The verdicts of one session, by row name."""

    def __init__(self, specs: Sequence[RowSpec]) -> None:
        self.rows = {spec.name: Row(spec) for spec in specs}
        self.notes: dict[str, str] = {}
        self.owners_run: set[str] = set()

    # -- reporting ---------------------------------------------------------------------

    def record(
        self, name: str, verdicts: Mapping[str, Verdict], observed: str | None = None
    ) -> None:
        row = self._row(name)
        unknown = set(verdicts) - set(row.spec.properties)
        if unknown:
            raise KeyError(f"{name}: no such propert(ies) {sorted(unknown)}")
        row.verdicts.update(verdicts)
        if observed is not None:
            row.observed = observed

    @contextlib.contextmanager
    def check(self, name: str, prop: str) -> Iterator[None]:
        """Record ``prop`` of ``name`` as held when the block passes, else as not held
        with the assertion's message; the exception goes on."""
        self._row(name)
        try:
            yield
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.record(name, {prop: Verdict(False, first[:300])})
            raise
        self.record(name, {prop: Verdict(True)})

    def note(self, key: str, value: str) -> None:
        """A line for the header (durations, load): never part of the compared table."""
        self.notes[key] = value

    def _row(self, name: str) -> Row:
        try:
            return self.rows[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a row of the reliability table") from None

    # -- completeness ------------------------------------------------------------------

    def owner_finished(self, nodeid: str, failure: str | None, seconds: float = 0.0) -> None:
        """An owner test ended: what it did not record is "not reached" (it failed
        first) or "not recorded" (it passed without reporting: a bug of the test)."""
        self.owners_run.add(nodeid)
        if not nodeid.startswith(MATRIX_TEST):  # the matrix's time is its fixture's
            self.note(f"`{nodeid.rsplit('::', 1)[-1]}`", f"{seconds:.0f} s")
        for row in self.rows.values():
            if row.spec.owner != nodeid:
                continue
            why = f"not reached: {failure}" if failure else "not recorded by its test"
            for prop in row.spec.properties:
                row.verdicts.setdefault(prop, Verdict(False, why[:300]))
            if failure and not row.observed:
                row.observed = "not reached"

    @property
    def touched(self) -> bool:
        return bool(self.owners_run) or any(r.verdicts for r in self.rows.values())

    def missing(self) -> list[str]:
        return [name for name, row in self.rows.items() if not row.complete]

    def complete(self) -> bool:
        return not self.missing()

    # -- across processes (pytest-xdist) -------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What this process recorded, as plain data (execnet sends only builtins)."""
        return {
            "rows": {
                name: {
                    "verdicts": {p: [v.held, v.observed] for p, v in row.verdicts.items()},
                    "observed": row.observed,
                }
                for name, row in self.rows.items()
                if row.verdicts or row.observed
            },
            "notes": dict(self.notes),
            "owners_run": sorted(self.owners_run),
        }

    def merge(self, state: Mapping[str, Any]) -> None:
        """Add another process's :meth:`state`.

        Each row has one owner test, which runs in one process, so two states never
        judge the same property; if they did, a "not held" wins over a "held", so a
        merge can never make the table look better than one of its parts.
        """
        for name, data in state.get("rows", {}).items():
            row = self._row(name)
            for prop, (held, observed) in data["verdicts"].items():
                known = row.verdicts.get(prop)
                if known is None or known.held is not False:
                    row.verdicts[prop] = Verdict(held, observed)
            if data["observed"] and not row.observed:
                row.observed = data["observed"]
        self.notes.update(state.get("notes", {}))
        self.owners_run.update(state.get("owners_run", []))


# --------------------------------------------------------------------------- the file


def doc_path(config: pytest.Config) -> Path:
    override = os.environ.get(DOC_ENV)
    return Path(override) if override else config.rootpath / DOC_PATH


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def provenance(root: Path, args: Sequence[str]) -> dict[str, str]:
    commit = _git(root, "rev-parse", "--short=12", "HEAD") or "unknown"
    changed = [
        line
        for line in _git(root, "status", "--porcelain").splitlines()
        if not line.endswith(str(DOC_PATH))
    ]
    return {
        "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "commit": commit + (" with uncommitted changes" if changed else ""),
        "command": " ".join(["pytest", *args]),
    }


def write(recorder: Recorder, path: Path, header: Mapping[str, str]) -> tuple[bool, str]:
    """Write the file; ``(tables changed, previous text)`` against what it replaced."""
    text = render.document(recorder.rows.values(), header, recorder.notes)
    previous = path.read_text(encoding="utf-8") if path.exists() else ""
    changed = render.table_part(previous) != render.table_part(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return changed, previous


# --------------------------------------------------------------------------- pytest hooks

_KEY = pytest.StashKey[Recorder]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEY] = Recorder(expected_rows())


@pytest.fixture(scope="session")
def reliability(request: pytest.FixtureRequest) -> Recorder:
    """The session's reliability recorder (see the module docstring)."""
    return request.config.stash[_KEY]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    recorder = item.config.stash.get(_KEY, None)
    if recorder is None:
        return report
    owned = any(row.spec.owner == item.nodeid for row in recorder.rows.values())
    if not owned or report.skipped:
        return report
    if report.when == "call" or (report.when == "setup" and report.failed):
        failure = None
        if report.failed:
            text = str(report.longrepr).strip().splitlines()
            failure = next(
                (t for t in reversed(text) if t.startswith("E ")), text[-1] if text else ""
            )
            failure = failure.removeprefix("E ").strip()
        recorder.owner_finished(item.nodeid, failure, report.duration)
    return report


def finish(
    recorder: Recorder, path: Path, header: Mapping[str, str], *, ci: bool
) -> tuple[str, bool]:
    """Write the file when the whole matrix ran: ``(what to say, whether to fail)``."""
    if not recorder.complete():
        missing = recorder.missing()
        return (
            f"reliability: {path} not written: partial run ({len(missing)} of "
            f"{len(recorder.rows)} lines missing, e.g. {missing[0]!r})",
            False,
        )
    changed, _ = write(recorder, path, header)
    held = sum(row.held for row in recorder.rows.values())
    said = f"reliability: {path} written: {held} of {len(recorder.rows)} lines held"
    if changed and ci:
        return (
            f"{said}; its tables differ from the committed ones: commit the regenerated "
            "file (the code or the cases changed what the matrix finds)",
            True,
        )
    return said, False


#: The key of a worker's verdicts in its ``workeroutput`` (pytest-xdist).
WORKER_OUTPUT_KEY = "ads_platform_reliability"


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workeroutput")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """A pytest-xdist worker finished (or died): merge the verdicts it handed over.

    A worker that died hands nothing over: its rows stay incomplete, so the file is
    not written (a partial run), never written from half the verdicts.
    """
    state = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    recorder = node.config.stash.get(_KEY, None)
    if state and recorder is not None:
        recorder.merge(state)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    recorder = session.config.stash.get(_KEY, None)
    if recorder is None:
        return
    if _is_xdist_worker(session.config):
        # The controller writes the file from every worker's verdicts.
        session.config.workeroutput[WORKER_OUTPUT_KEY] = recorder.state()  # type: ignore[attr-defined]
        return
    if not recorder.touched or exitstatus == pytest.ExitCode.INTERRUPTED:
        return
    header = provenance(session.config.rootpath, session.config.invocation_params.args)
    line, fail = finish(recorder, doc_path(session.config), header, ci=bool(os.environ.get("CI")))
    _say(session.config.pluginmanager.get_plugin("terminalreporter"), line)
    if fail:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _say(reporter: Any, line: str) -> None:
    if reporter is not None:
        reporter.write_line(line)
