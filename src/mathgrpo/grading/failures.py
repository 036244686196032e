"""Failures that must not stop a run -- an exception inside a reward function or a grading worker --
logged at WARNING the first time each kind occurs, then counted (the count logged again at 10, 100,
1000, ...), so a recurring bug is loud once and a log is never flooded.

Usage: ``FAILURES.note("format reward", err)`` inside the ``except`` that keeps a run going.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter


class Failures:
    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def note(self, where: str, err: BaseException | str) -> int:
        """Record one failure at ``where``; returns how many of this kind so far."""
        kind = f"{where}: {type(err).__name__}" if isinstance(err, BaseException) else f"{where}: {str(err)[:60]}"
        with self._lock:
            self.counts[kind] += 1
            n = self.counts[kind]
        if n == 1:
            self.logger.warning(
                "%s failed (%s: %.200s); the sample gets no reward from it. Further %s failures are counted",
                where,
                type(err).__name__,
                err,
                where,
            )
        elif n in (10, 100, 1_000, 10_000, 100_000):
            self.logger.warning("%s failed %d times so far (%s)", where, n, kind)
        return n


FAILURES = Failures(logging.getLogger("mathgrpo.grading"))
