"""A local Meta Graph API sandbox: real HTTP on 127.0.0.1, deterministic data, faults.

Public API::

    from ads_platform.sandbox import Sandbox
    with Sandbox(seed=7, accounts=3, latency_ms=0, subprocess=False, today=None,
                 ads_per_account=None, app_secret=None,
                 async_delay_scale=1.0, quiet_accounts=(),
                 breakdown_drift_per_mille=0) as sb:
        sb.base_url, sb.account_ids, sb.accounts
        sb.set_today(date) / sb.today()
        sb.add_fault("throttled", account_id=None, count=None, seconds=None,
                     regain_seconds=None, drop=False, field=None,
                     after=None) / sb.clear_faults()
        sb.faults()
        sb.set_token_expiry("act_...", datetime_or_None)
        sb.truth(account_id, since, until) / sb.stats() / sb.reset_stats()
        sb.breakdown_truth(account_id, since, until, ["age", "gender"])
        sb.creative_truth(account_id)
        sb.passthrough_truth(account_id, since, until, ["cpp", "unique_clicks"])
        sb.reach_truth(account_id, since, until, level="adset")
        sb.set_usage_factor(pct_per_call) / sb.info()

CLI: ``python -m ads_platform.sandbox --port P --seed S --accounts K [--latency-ms L]
[--ads N] [--today YYYY-MM-DD] [--app-secret X] [--async-delay-scale F]
[--quiet-accounts I,J]`` (``cli.main(argv)``, ``cli.serve_forever(...)``).

Rules other code can rely on (details in the named modules):

* Clock (``clock.py``): a UTC date D; the sandbox instant is D 12:00:00 UTC; an
  account's today is the local date of that instant in its timezone. Default D =
  the real UTC date.
* Today's row is partial: counts x (local seconds elapsed at the instant / 86400)
  (``delivery.py``). No rows after the account's today; no row for an ad without
  delivery that day.
* Conversions mature for 28 days (``delivery.MATURITY_PER_MILLE``); spend,
  impressions and clicks never change once the day is over.
* A synchronous insights request is refused with 100/1504018 when level=ad and
  the range exceeds 93 days, or when days x entities at the level (x breakdown
  values) exceeds 50,000 (``insights.too_large``). Async report runs are never refused.
* Parameters (``filters.py``): list parameters (``fields``, ``breakdowns``,
  ``action_attribution_windows``, ``effective_status``...) as a comma list or a
  JSON array; ``time_range`` (JSON object), ``time_ranges`` (JSON array: one row
  period per range, ``time_increment`` ignored), ``since``/``until``, every
  ``date_preset``; query string, form body or batch item alike. Unknown insights
  fields, enum values and malformed JSON answer code 100 naming the parameter.
* Async report runs complete after a seeded, size-dependent wall-clock delay
  (``reports.job_delay_seconds``) times ``async_delay_scale``; status goes Job Not
  Started -> Job Started -> Job Running -> Job Completed with a rising percentage.
* Usage headers: pct = calls of the account in the last 60 s x 0.1 (capped at 100)
  (``usage.py``); the account's are 100 while a ``throttled`` fault applies to it,
  the app-wide ``X-App-Usage`` follows app-wide load only.
* Tokens: any non-empty token is valid; token -> account association and expiry
  rules in ``tokens.py``.
* Faults (``faults.py``): per account or global, a count, and ``after`` (let that many
  requests through first: a fault in the middle of a run); ``connection_reset`` cuts
  the connection with a TCP reset, ``timeout`` answers late (or ``drop``s).
* Quiet accounts (``quiet_accounts``, indexes): every campaign paused since
  ``world.QUIET_SINCE``: no delivery, nothing active.
* Truth (``truth.py``) = summed ad-level rows at the current clock, faults ignored;
  per breakdown value too (``breakdown_truth``); deduplicated reach per level over
  a whole range, with each entity's daily reach (``reach_truth``).
* Creatives (``creatives.py``): ``act_x/adcreatives``, ``GET <id>`` nodes, creative
  edits that give an ad a new ``creative{id}`` from the edit instant on.
* Breakdowns (``breakdowns.py``): age/gender, publisher_platform/platform_position,
  country, region; exact splits of every additive metric, reach deduplicated per
  value, reach/frequency omitted for breakdown queries starting > 13 months back.
* Paging ``next`` URLs are absolute, point back at the sandbox and deliberately
  omit ``access_token``: clients must send the token on every request (the
  ``Authorization: Bearer`` header is accepted).
"""

from .cli import main, serve_forever
from .config import SandboxConfig
from .control import Sandbox
from .faults import FAULT_NAMES
from .server import SandboxServer
from .world import GENESIS

__all__ = [
    "FAULT_NAMES",
    "GENESIS",
    "Sandbox",
    "SandboxConfig",
    "SandboxServer",
    "main",
    "serve_forever",
]
