"""Dashboards on the marts (Streamlit): overview, account and data-health pages.

Layout: ``reader.py`` (the one cached, read-only way to the marts), ``queries.py``
(parametrized SQL), ``model.py`` (periods, day states, totals: the no-false-zero rules),
``data.py`` (each page's data), ``charts.py`` (Altair), ``pages/`` (Streamlit layout),
``app.py`` (entry), ``server.py`` (the command line that serves it).  README.md beside
this file says how to run and extend it.
"""
