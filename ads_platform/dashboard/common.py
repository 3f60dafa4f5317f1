"""What every page shares: the reader, the accounts' freshness, the period picker, tables.

Filters live in the URL (``?account=…&period=…&level=…``) so that a link shows the
same page to whoever opens it: the widgets are bound to query parameters, except the
account, which is read and checked here (an account id that is not in the marts is an
error on the page, never silently another account).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ads_platform.dashboard.data import Marts, PeriodChoice
from ads_platform.dashboard.model import (
    DEFAULT_PERIOD,
    PERIODS,
    Freshness,
    PeriodError,
    parse_day,
)
from ads_platform.dashboard.reader import DashboardDataError, MartsReader
from ads_platform.dashboard.server import MARTS_ENV
from ads_platform.settings import SettingsError, load_settings
from ads_platform.sql import format_csv
from ads_platform.warehouse import WarehouseError


def marts_path() -> Path:
    """The published marts: ``$ADS_PLATFORM_DASHBOARD_MARTS``, else the settings' path."""
    explicit = os.environ.get(MARTS_ENV)
    if explicit:
        return Path(explicit)
    try:
        return load_settings(require_tokens=False).marts_path
    except SettingsError:
        home = os.environ.get("ADS_PLATFORM_HOME") or ".ads_platform"
        return Path(home).resolve() / "marts.duckdb"


@st.cache_resource(show_spinner=False)
def shared_reader(path: str) -> MartsReader:
    """One reader per marts file for every session of this server (reader.py)."""
    return MartsReader(Path(path))


def load_marts() -> Marts:
    """The shared reader of this server's marts, its catalog and the accounts' freshness."""
    return Marts.load(shared_reader(str(marts_path())))


def run_page(render: Callable[[], None]) -> None:
    """Run a page; a missing marts file or a failed query is one line, not a traceback."""
    try:
        render()
    except (DashboardDataError, WarehouseError) as exc:
        st.error(str(exc))
    except PeriodError as exc:
        st.error(f"{exc}")


# -- filters -------------------------------------------------------------------------------


def url_choice(
    widget: Callable[..., object],
    label: str,
    options: Mapping[str, str],
    param: str,
    default: str,
    *,
    keep_default: bool = False,
    **kwargs: object,
) -> str:
    """A choice kept in the URL as ``?param=<option key>`` (readable keys, not labels).

    The URL decides the first value of a session (a link opens the page it names); a
    change writes the URL, so the address bar can always be sent as it is.  A value the
    page does not offer falls back to ``default`` (filters are harmless; the account is
    checked apart, see :func:`account_param`).  ``keep_default``: the URL names the value
    even when it is the default (an account link must say which account).
    """
    keys = list(options)
    state_key = f"url_{param}"
    if state_key not in st.session_state:
        wanted = st.query_params.get(param, default)
        st.session_state[state_key] = wanted if wanted in options else default
    elif st.session_state[state_key] not in options:
        st.session_state[state_key] = default

    def remember() -> None:
        value = st.session_state.get(state_key)
        if value is None:
            st.session_state[state_key] = value = default
        if value == default and not keep_default:
            st.query_params.pop(param, None)
        else:
            st.query_params[param] = str(value)

    value = widget(
        label,
        keys,
        format_func=lambda k: options.get(k, k),
        key=state_key,
        on_change=remember,
        **kwargs,
    )
    if keep_default and st.query_params.get(param) != value:
        st.query_params[param] = str(value)
    return str(value if value in options else default)


def period_picker() -> PeriodChoice:
    """The period, in the URL as ``?period=`` (and ``?since=&until=`` for custom dates)."""
    key = url_choice(
        st.selectbox,
        "Period",
        PERIODS,
        "period",
        DEFAULT_PERIOD,
        help="Days are each account's own local days (its time zone).",
    )
    since = until = None
    if key == "custom":
        left, right = st.columns(2)
        today = dt.date.today()
        since = _url_date(left, "From", "since", today - dt.timedelta(days=7))
        until = _url_date(right, "To", "until", today - dt.timedelta(days=1))
    return PeriodChoice(key, since, until)


def _url_date(column: DeltaGenerator, label: str, param: str, default: dt.date) -> dt.date:
    state_key = f"url_{param}"
    if state_key not in st.session_state:
        st.session_state[state_key] = parse_day(st.query_params.get(param)) or default

    def remember() -> None:
        value = st.session_state.get(state_key)
        if isinstance(value, dt.date):
            st.query_params[param] = value.isoformat()

    value = column.date_input(label, key=state_key, on_change=remember)
    remember()
    return value if isinstance(value, dt.date) else default


def account_param(accounts: dict[str, Freshness]) -> str | None:
    """The account of ``?account=``; a picker when absent; None (and an error) when unknown."""
    wanted = st.query_params.get("account")
    if wanted and wanted not in accounts:
        st.error(
            f"unknown ad account {wanted!r}: it is not in the marts "
            "(check the link, or open the Overview to pick an account)"
        )
        return None
    if not accounts:
        st.info("No ad account in the marts yet: run the ingestion and the marts build.")
        return None
    options = {a: f"{f.display_name} ({a})" for a, f in accounts.items()}
    return url_choice(
        st.selectbox,
        "Ad account",
        options,
        "account",
        wanted or next(iter(options)),
        keep_default=True,
    )


# -- tables --------------------------------------------------------------------------------


def table(
    shown: pd.DataFrame,
    raw: pd.DataFrame | None = None,
    *,
    name: str,
    key: str,
    column_config: Mapping[str, Any] | None = None,
) -> None:
    """A table and a CSV export of it (the raw numbers when given, else what is shown)."""
    st.dataframe(shown, hide_index=True, width="stretch", column_config=column_config)
    export = shown if raw is None else raw
    st.download_button(
        f"Download {name} (CSV)",
        data=lambda: csv_of(export),
        file_name=f"{key}.csv",
        mime="text/csv",
        key=f"csv_{key}",
        on_click="ignore",
    )


def csv_of(frame: pd.DataFrame) -> str:
    """CSV with exact numbers and ISO dates (the writer of ``ads-platform sql --format csv``)."""
    rows: Sequence[Sequence[object]] = [
        [None if _missing(v) else v for v in row] for row in frame.itertuples(index=False)
    ]
    return format_csv([str(c) for c in frame.columns], rows)


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def freshness_banner(freshness: Freshness, hint: str = "") -> None:
    """The account's freshness, on every page that shows the account."""
    if freshness.is_stale:
        extra = f" — {hint}" if hint and hint not in freshness.label else ""
        st.error(f"⚠ {freshness.label}{extra}")
    else:
        st.success(freshness.label)
