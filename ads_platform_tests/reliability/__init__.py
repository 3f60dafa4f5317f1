"""The fault matrix: every fault the platform must survive, injected for real, each judged.

``matrix.py`` is the list of cases (data), ``scenario.py`` runs them all in one world
(sandbox → Dagster runs → lake → dbt → ``data_freshness`` and alerts), ``properties.py``
judges each case, ``recorder.py`` collects the verdicts of every test that reports one
and writes ``docs/reliability.md`` (rendered by ``render.py``) when the whole matrix ran.
"""
