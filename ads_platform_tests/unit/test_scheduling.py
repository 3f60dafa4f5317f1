"""``-n 2 --dist loadscope``: a shared world is built once, and the long units start first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ads_platform_tests.scheduling import HEAVIEST_FIRST, SHARED_WORLD_DIRS, rank, unit_of

REPO = Path(__file__).resolve().parents[2]

#: A session-scoped world two modules share, and a record of who ran what, where.
_CONFTEST = """
import os
import pytest

def _log(line):
    with open(os.environ["RUN_LOG"], "a") as handle:
        handle.write(os.environ.get("PYTEST_XDIST_WORKER", "-") + " " + line + "\\n")

@pytest.fixture(scope="session")
def world():
    _log("built-world")
    return "world"

@pytest.fixture(autouse=True)
def _where(request):
    _log(request.node.nodeid)
"""

_SHARES_THE_WORLD = """
def test_one(world):
    assert world == "world"

def test_two(world):
    assert world == "world"
"""

_PLAIN = """
def test_plain():
    pass
"""


def test_a_shared_world_directory_is_one_unit_and_every_other_module_its_own() -> None:
    dashboard = SHARED_WORLD_DIRS[0]
    assert unit_of(f"{dashboard}test_pages.py::test_x[a::b]") == dashboard
    assert unit_of(f"{dashboard}test_browser.py::test_y") == dashboard
    module = "ads_platform_tests/marts/test_marts.py"
    assert unit_of(f"{module}::test_every_grain_is_unique") == module
    assert unit_of(f"{module}::Class::test_method") == module


def test_the_known_heavy_units_rank_first_in_order_and_exist() -> None:
    assert [rank(unit) for unit in HEAVIEST_FIRST] == list(range(len(HEAVIEST_FIRST)))
    assert rank("ads_platform_tests/unit/test_cli.py") == len(HEAVIEST_FIRST)
    for unit in HEAVIEST_FIRST:
        assert (REPO / unit).exists(), f"{unit} is gone: update HEAVIEST_FIRST"


@pytest.mark.slow
def test_two_workers_build_a_shared_world_once_and_start_with_the_heaviest_units(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = pytester.path / "run.log"
    monkeypatch.setenv("RUN_LOG", str(log))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # when this runs in a worker
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    root = pytester.path / "ads_platform_tests"
    files = {
        "conftest.py": _CONFTEST,
        # collected first, but not heavy: must not start before the heavy units
        "automation/test_a.py": _PLAIN,
        "automation/test_b.py": _PLAIN,
        # the shared world, in a directory collected between others
        f"{SHARED_WORLD_DIRS[0].removeprefix('ads_platform_tests/')}test_one.py": _SHARES_THE_WORLD,
        f"{SHARED_WORLD_DIRS[0].removeprefix('ads_platform_tests/')}test_two.py": _SHARES_THE_WORLD,
        HEAVIEST_FIRST[0].removeprefix("ads_platform_tests/"): _PLAIN,
        HEAVIEST_FIRST[1].removeprefix("ads_platform_tests/"): _PLAIN,
        "unit/test_c.py": _PLAIN,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    result = pytester.runpytest_subprocess(
        "-p",
        "ads_platform_tests.scheduling",
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        "--rootdir",
        str(pytester.path),
        "-n",
        "2",
        "--dist",
        "loadscope",
    )
    result.assert_outcomes(passed=9)
    lines = [line.split(" ", 1) for line in log.read_text().splitlines()]
    assert [what for _, what in lines].count("built-world") == 1
    shared = {worker for worker, what in lines if what.startswith(SHARED_WORLD_DIRS[0])}
    assert len(shared) == 1
    first = {}
    for worker, what in lines:
        first.setdefault(worker, what)
    assert sorted(nodeid.split("::")[0] for nodeid in first.values()) == sorted(HEAVIEST_FIRST[:2])
