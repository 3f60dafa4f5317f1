"""The one object holding a running sandbox's state (shared by all handler threads)."""

from __future__ import annotations

import base64
import itertools
import threading

from .breakdowns import Splitter
from .clock import Clock
from .config import SandboxConfig
from .creatives import CreativeBook
from .delivery import Delivery
from .faults import FaultBook
from .hashing import h64
from .insights import InsightsEngine
from .reports import ReportBook
from .stats import Stats
from .tokens import TokenBook
from .usage import UsageMeter
from .world import World


class SandboxState:
    """World, clock, faults, usage, tokens, report runs and stats of one server."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.world = World(
            config.seed,
            config.accounts,
            config.ads_per_account,
            quiet=frozenset(config.quiet_accounts),
        )
        self.delivery = Delivery(self.world)
        self.insights = InsightsEngine(
            self.world,
            self.delivery,
            splitter=Splitter(config.seed, config.breakdown_drift_per_mille),
        )
        self.creatives = CreativeBook(self.world)
        self.clock = Clock(config.today)
        self.faults = FaultBook()
        self.usage = UsageMeter(config.usage_pct_per_call)
        self.tokens = TokenBook()
        self.reports = ReportBook(config.seed)
        self.stats = Stats()
        self.base_url = ""
        self._trace = itertools.count(1)
        self._trace_lock = threading.Lock()

    def next_trace_id(self) -> str:
        """A Meta-looking ``fbtrace_id`` (stable sequence per server)."""
        with self._trace_lock:
            n = next(self._trace)
        raw = h64(self.config.seed, "trace", n).to_bytes(8, "little")
        return base64.b64encode(raw).decode().rstrip("=").replace("+", "A").replace("/", "B")
