"""Stable hashing: every number the sandbox invents comes from here.

Python's built-in ``hash`` is salted per process, so a thread-mode sandbox and a
subprocess sandbox would disagree. BLAKE2b over a canonical text key is stable
across processes, platforms and Python versions, which is what "deterministic from
the seed" needs. Nothing here keeps state.
"""

from __future__ import annotations

import hashlib
import math

_SEP = "\x1f"


def _key(parts: tuple[object, ...]) -> bytes:
    return _SEP.join(str(p) for p in parts).encode()


def h64(*parts: object) -> int:
    """A stable 64-bit integer for ``parts`` (ints, strings, dates...)."""
    return int.from_bytes(hashlib.blake2b(_key(parts), digest_size=8).digest(), "little")


def unit(*parts: object) -> float:
    """A stable float in [0, 1) for ``parts``."""
    return (h64(*parts) >> 11) / float(1 << 53)


def uniforms(*parts: object) -> list[float]:
    """25 stable floats in [0, 1) (20 bits each) from one 64-byte digest.

    Generating an ad-day needs about twenty random draws; one digest is much
    cheaper than twenty, which keeps on-demand generation of a 500-ad account-year
    in the low seconds.
    """
    big = int.from_bytes(hashlib.blake2b(_key(parts), digest_size=64).digest(), "little")
    scale = float(1 << 20)
    return [((big >> (20 * i)) & 0xFFFFF) / scale for i in range(25)]


def normal(u1: float, u2: float) -> float:
    """A standard normal deviate from two uniforms (Box-Muller)."""
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def stochastic_round(x: float, u: float) -> int:
    """Round ``x >= 0`` down or up with probability equal to its fraction.

    Keeps expected totals right for small counts (a 0.3 expected conversion is 0
    most days and 1 some days) instead of always rounding to zero.
    """
    base = math.floor(x)
    return int(base) + (1 if u < x - base else 0)
