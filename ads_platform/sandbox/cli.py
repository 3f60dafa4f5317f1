"""Command line: ``python -m ads_platform.sandbox --port P --seed S --accounts K``.

``main(argv)`` is what the project's ``ads-platform sandbox`` click command calls
with the same options; ``serve_forever`` is the programmatic equivalent.
The first line printed contains the base URL (the subprocess mode of
``Sandbox`` reads it), followed by one line per account.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from .config import DEFAULT_ACCOUNTS, DEFAULT_SEED, SandboxConfig
from .server import SandboxServer

APP_SECRET_ENV = "ADS_PLATFORM_SANDBOX_APP_SECRET"  # noqa: S105 - a variable name


def serve_forever(
    port: int,
    seed: int,
    accounts: int,
    latency_ms: int,
    host: str = "127.0.0.1",
    *,
    ads_per_account: int | None = None,
    today: dt.date | None = None,
    app_secret: str | None = None,
    usage_pct_per_call: float = 0.1,
    async_delay_scale: float = 1.0,
    quiet_accounts: Sequence[int] = (),
    breakdown_drift_per_mille: int = 0,
) -> None:
    """Print the base URL and account ids, then serve until Ctrl-C or SIGTERM."""
    config = SandboxConfig(
        seed=seed,
        accounts=accounts,
        latency_ms=latency_ms,
        ads_per_account=ads_per_account,
        today=today,
        app_secret=app_secret,
        usage_pct_per_call=usage_pct_per_call,
        async_delay_scale=async_delay_scale,
        quiet_accounts=tuple(quiet_accounts),
        breakdown_drift_per_mille=breakdown_drift_per_mille,
    )
    server = SandboxServer(config, host=host, port=port)
    world = server.state.world
    print(
        f"Graph API sandbox listening on {server.base_url} "
        f"(seed {seed}, {accounts} accounts, latency {latency_ms} ms, "
        f"async delay x{async_delay_scale:g})",
        flush=True,
    )
    for spec in world.accounts:
        quiet = "  quiet (all paused)" if spec.index in world.quiet else ""
        print(
            f"  {spec.id}  {spec.currency}  {spec.timezone_name}  {world.ad_count(spec)} ads"
            f"{quiet}",
            flush=True,
        )
    print("Control API under /__sandbox/ ; Ctrl-C to stop.", flush=True)

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.httpd.close_connections()
        server.httpd.server_close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ads_platform.sandbox",
        description="Local Meta Graph API sandbox with deterministic data and faults on demand.",
    )
    parser.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS)
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every Graph response")
    parser.add_argument(
        "--ads", type=int, default=None, help="ads per account (default 20-40, varying)"
    )
    parser.add_argument("--today", type=dt.date.fromisoformat, default=None, help="fixed UTC date")
    parser.add_argument(
        "--app-secret",
        default=None,
        help=f"verify appsecret_proof (or set {APP_SECRET_ENV})",
    )
    parser.add_argument("--usage-pct-per-call", type=float, default=0.1)
    parser.add_argument(
        "--async-delay-scale",
        type=float,
        default=1.0,
        help="multiplies async report run durations (1 = realistic, 0 = complete at once)",
    )
    parser.add_argument(
        "--quiet-accounts",
        type=_indexes,
        default=(),
        help="comma-separated account indexes (0-based) whose campaigns are all paused "
        "since 2025-01-01: accounts that spend nothing",
    )
    parser.add_argument(
        "--breakdown-drift",
        type=int,
        default=0,
        help="per mille by which breakdown rows may differ from the totals (0 = exact)",
    )
    return parser


def _indexes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated account indexes such as 0,2, got {text!r}"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    serve_forever(
        port=args.port,
        seed=args.seed,
        accounts=args.accounts,
        latency_ms=args.latency_ms,
        host=args.host,
        ads_per_account=args.ads,
        today=args.today,
        app_secret=args.app_secret or os.environ.get(APP_SECRET_ENV) or None,
        usage_pct_per_call=args.usage_pct_per_call,
        async_delay_scale=args.async_delay_scale,
        quiet_accounts=args.quiet_accounts,
        breakdown_drift_per_mille=args.breakdown_drift,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
