"""Full-jitter exponential backoff for reconnecting to a project server.

"Full jitter" (AWS architecture blog, "Exponential Backoff and Jitter"): the n-th consecutive retry waits a
uniformly random time in ``[0, min(maximum, initial * multiplier**n)]``. Randomising the whole interval, not
just a margin around it, is what spreads out a crowd of clients that all lost the same server at the same
instant, so a restarted server is not hit by every subscriber in the same millisecond.

The random source is injectable so tests can make delays exact; the waiting itself is ``trio.sleep``, so
under ``autojump_clock`` a test of a minute of backoff takes no real time.
"""

from __future__ import annotations

from typing import Protocol

import attrs


class SupportsRandom(Protocol):
    """Anything with ``random() -> float`` in ``[0, 1)``, like ``random.Random``."""

    def random(self) -> float: ...


@attrs.frozen
class Backoff:
    """Delays for consecutive failed attempts: ``attempt`` 0 is the first retry."""

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.initial <= self.maximum or self.multiplier < 1:
            raise ValueError("backoff needs 0 <= initial <= maximum and multiplier >= 1")

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry number ``attempt``."""
        # Capping the exponent keeps huge attempt counts from overflowing a float.
        return min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))

    def delay(self, attempt: int, rng: SupportsRandom) -> float:
        return rng.random() * self.ceiling(attempt)
