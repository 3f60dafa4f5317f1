"""Dashboards on the marts (Streamlit): overview, account and data-health pages.

Layout: ``reader.py`` (the one cached, read-only way to the marts), ``queries.py``
(parametrized SQL), ``model.py`` (periods, day states, totals: the no-false-zero rules),
``data.py`` (each page's data), ``charts.py`` (Altair), ``views/`` (the pages' Streamlit
layout; not ``pages/``, which Streamlit would take for its older automatic page list),
``app.py`` (the entry script), ``server.py`` (the command line that serves it).
README.md beside this file says how to run and extend it.
"""
