"""The math-verify worker process: parses and compares answers, killed from outside when too slow.

Usage (started by ``pool.WorkerPool``, never by hand): ``python -m mathgrpo.grading.worker READ_FD WRITE_FD``

math-verify's own timeout uses ``signal.alarm``, which fails off the main thread; here we turn it
off (``parsing_timeout=None``, ``timeout_seconds=None``) and the parent enforces a wall-clock
deadline by killing this process instead, which works from any thread of any process.
Requests are ``(op, args)`` tuples; replies are ``("ok", value)`` or ``("error", message)``.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
from multiprocessing.connection import Connection

# Address-space cap: sympy on an adversarial answer can allocate without end before the deadline.
MEMORY_LIMIT_BYTES = 4 << 30


def _limit_memory() -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = MEMORY_LIMIT_BYTES if hard == resource.RLIM_INFINITY else min(hard, MEMORY_LIMIT_BYTES)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


class Checker:
    """math-verify calls with parse caches (golds repeat across a GRPO group)."""

    def __init__(self) -> None:
        from math_verify import parse, verify
        from sympy import Basic, MatrixBase

        self._parse_fn, self._verify = parse, verify
        self._sympy_types = (Basic, MatrixBase)
        self.parse = functools.lru_cache(maxsize=8192)(self._parse)

    def _parse(self, text: str) -> tuple:
        # math-verify needs `$...$` to read bare LaTeX such as `\frac{14}{3}` or `\text{(C)}`.
        return tuple(self._parse_fn(f"${text}$", parsing_timeout=None))

    def _has_sympy(self, items) -> bool:
        return any(isinstance(x, self._sympy_types) for x in items)

    def gold_ok(self, gold: str) -> bool:
        """Can math-verify read this gold as mathematics (not only as a raw string)?"""
        return self._has_sympy(self.parse(gold))

    def equal(self, gold: str, pred: str) -> bool | None:
        """Is ``pred`` equal to ``gold``? None when math-verify cannot parse the gold at all.
        (Integer golds never come here: the checker compares integer literals exactly.)"""
        g = self.parse(gold)
        if not self._has_sympy(g):
            return None
        return bool(self._verify(list(g), list(self.parse(pred)), timeout_seconds=None))

    def extract(self, text: str) -> str | None:
        """The answer a completion states, as math-verify finds it (its default LaTeX-then-expression
        extraction: "final answer is", "Answer:", the last formula, the last number...), or None."""
        found = self._parse_fn(text, parsing_timeout=None)
        # parse() appends the text of the first match it tried as its last, string item.
        strings = [x for x in found if isinstance(x, str) and x.strip()]
        return strings[-1] if strings else None

    def equivalent(self, a: str, b: str) -> bool:
        """Symmetric: equal when math-verify accepts either one as the gold of the other."""
        pa, pb = self.parse(a), self.parse(b)
        if not (self._has_sympy(pa) and self._has_sympy(pb)):
            return False
        return bool(self._verify(list(pa), list(pb), timeout_seconds=None)) or bool(
            self._verify(list(pb), list(pa), timeout_seconds=None)
        )


def serve(conn_in: Connection, conn_out: Connection) -> int:
    checker = Checker()
    checker.equal("1", "1")  # warm sympy and the LaTeX parser before saying ready
    try:
        conn_out.send(("ready", os.getpid()))
    except OSError:  # the parent is gone (it exited, or killed us as too slow to start)
        return 0
    ops = {
        "gold_ok": checker.gold_ok,
        "equal": checker.equal,
        "equivalent": checker.equivalent,
        "extract": checker.extract,
    }
    while True:
        try:
            op, args = conn_in.recv()
        except (EOFError, OSError):
            return 0  # the parent went away
        try:
            reply = ("ok", ops[op](*args))
        except RecursionError:
            reply = ("error", "recursion too deep")
        except MemoryError:
            reply = ("error", "out of memory")
        except Exception as err:  # any sympy/antlr failure is "not equal", reported as such
            reply = ("error", f"{type(err).__name__}: {err}"[:300])
        try:
            conn_out.send(reply)
        except OSError:
            return 0


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; we exit on EOF
    _limit_memory()
    # math-verify warns that its timeout is disabled: the deadline lives in the parent.
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    conn_in = Connection(int(argv[0]), writable=False)
    conn_out = Connection(int(argv[1]), readable=False)
    return serve(conn_in, conn_out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
