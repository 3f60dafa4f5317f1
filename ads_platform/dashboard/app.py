"""The dashboard's entry script (``streamlit run``; ``ads-platform dashboard`` starts it).

Three pages, each linkable (``/`` the overview, ``/account?account=act_…``, ``/health``):
what an agency looks at every morning, what a client sees, and whether the data can be
trusted.  Everything is read from the published marts, read-only.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

VIEWS_DIR = Path(__file__).resolve().parent / "views"


def main() -> None:
    st.set_page_config(page_title="Meta ads", page_icon="📊", layout="wide")
    navigation = st.navigation(
        [
            st.Page(VIEWS_DIR / "overview.py", title="Overview", url_path="overview", default=True),
            st.Page(VIEWS_DIR / "account.py", title="Account", url_path="account"),
            st.Page(VIEWS_DIR / "health.py", title="Data health", url_path="health"),
        ]
    )
    navigation.run()


if __name__ == "__main__":
    main()
