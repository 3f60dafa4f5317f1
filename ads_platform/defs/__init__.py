"""Dagster's ``defs/`` layout: one folder per domain, each a ``build(...)`` of its
``dg.Definitions``, merged by :func:`ads_platform.definitions.build_definitions`.

Why explicit builders rather than ``dg.load_from_defs_folder``: the settings are read
once, when the definitions are built, and passed to the domains that need them (the
day grid, the breakdowns switched on, the automation's intervals); a folder scan would
make every module read them again.  The folders compose the builders that stay where
a newcomer looks for the code (``assets/``, ``automation/``, ``jobs.py``).

Domains:

* ``meta_ads``: the Graph API pulls (accounts, entities, insights, breakdowns, reach,
  token health, FX rates) and the named jobs that launch them;
* ``operations``: the platform's own logs (ingestion attempts, alerts) as observable
  sources;
* ``marts``: the dbt build of the marts and its publication;
* ``automation``: schedules, sensors, alerts.
"""
