"""The grader: fast exact paths first, math-verify (in bounded workers) for everything else.

Usage: ``grader = Grader(); grader.grade_answer("\\frac{14}{3}", "\\frac{14}{3}")  # True``

Two verdicts from one set of paths (``verdict=``):
- ``strict`` (the training reward's default): an integer gold wants an integer *written*. An
  expression or fraction that only evaluates to it (``4*1``, ``\\frac{8}{2}``, ``10^3``) is wrong, as
  in DAPO's verifier and PRM800K's grader: a small model learns within a few dozen GRPO steps to
  box unfinished computations when they are accepted (docs/learning.md).
- ``equivalent`` (evaluation's headline, comparable with published numbers): mathematically equal
  answers count, as math-verify and the Qwen2.5-Math grader count them.

Order of the paths, cheapest first:
1. integer gold, i.e. a gold *written* as an integer (every DAPO-Math-17k answer, AIME's ``025``):
   a prediction that writes an integer (``1{,}000``, ``5.0``, ``x = 5``, ``12 \\text{ cm}``) is compared
   as an exact ``int``, no float and no math-verify. Anything else is wrong under ``strict``, and
   goes to math-verify under ``equivalent``. A gold such as ``\\frac{8}{2}`` is not an integer gold;
2. other golds: identical canonical strings, or equal exact numbers, are equal;
3. math-verify on the gold wrapped in ``$...$`` and the prediction, in a worker process with a
   deadline on the worker's own CPU time (a busy machine slows it, never fails it). A comparison
   that still runs out of time is retried once on a fresh worker; if that too runs out, the verdict
   is unknown: None, counted, and never cached.
A gold that is empty, over-long, malformed (unbalanced braces) or that math-verify cannot parse
is ungradeable: None, counted, logged once per gold -- never True. A list of golds is True when
any gold matches, None when none matched and a comparison stayed unknown (or no gold is gradeable).

The answer is read first (``extraction=``): ``boxed`` takes the last box; ``text`` takes the final
box (with the boxes of the same answer just before it) and, without a box, asks math-verify's own
extraction in a worker, under the same deadline, for the answer the text states.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field, fields
from fractions import Fraction

from mathgrpo.grading import normalize as N
from mathgrpo.grading.extract import (
    completion_text,
    count_boxes,
    extract_boxed,
    extract_final_boxes,
    last_box_end,
)
from mathgrpo.grading.failures import FAILURES
from mathgrpo.grading.lru import LRU as _LRU
from mathgrpo.grading.pool import OK, TIMEOUT, WorkerPool

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 1000  # longer answers are not parsed: no competition answer is this long
TIME_LIMIT_S = 1.5  # math-verify CPU seconds per comparison (one retry after a timeout)
STRICT, EQUIVALENT = "strict", "equivalent"
VERDICTS = (STRICT, EQUIVALENT)
# Readings of a completion's answer: `boxed`, the last box only (the training reward's, Oat-Zero's);
# `text`, the final box (several boxes of one answer together) or, without a box, the answer the
# text states as math-verify, lighteval and the Qwen2.5-Math harness find it.
BOXED, TEXT = "boxed", "text"
EXTRACTIONS = (BOXED, TEXT)
# The text reading hands math-verify at most this much of a box-less completion's end: a final
# answer is stated last, and math-verify's regexes scan the whole text they are given.
MAX_TEXT_CHARS = 20_000


@dataclass
class GradingStats:
    """What the grader did since it was made; ``ungradeable_gold`` and ``timeouts`` are the alarms."""

    calls: int = 0
    no_box: int = 0
    text_extractions: int = 0  # box-less completions read by math-verify's extraction (text reading)
    integer_path: int = 0
    exact_path: int = 0
    math_verify: int = 0
    timeouts: int = 0
    retries: int = 0
    unknown: int = 0  # verdicts left undecided after the retry
    worker_errors: int = 0
    too_long: int = 0
    too_complex: int = 0
    ungradeable_gold: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        # No lock: these are statistics, and a lock per grade costs more than the integer path.
        setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


@dataclass(frozen=True)
class Gold:
    raw: str  # what math-verify sees
    canonical: str
    integer: int | None  # the gold is written as this integer
    number: Fraction | None  # the exact value of a plain-number gold (integers included)
    certain: bool  # known to parse without asking math-verify (a number or simple LaTeX)


def gold_list(gold) -> list:
    """The golds of one problem: a list/tuple (or array) of golds as a list, anything else as one."""
    if hasattr(gold, "tolist") and not isinstance(gold, (str, bytes)):  # numpy/pandas arrays
        gold = gold.tolist()
    return list(gold) if isinstance(gold, (list, tuple)) else [gold]


def gold_text(gold) -> str | None:
    """A gold answer as text: strings, ints and floats (AMC stores ``27.0``); lists of one item."""
    if isinstance(gold, (list, tuple)) and len(gold) == 1:
        gold = gold[0]
    if isinstance(gold, bool) or gold is None:
        return None
    if isinstance(gold, (int, float)):
        return N.number_text(gold)
    return gold if isinstance(gold, str) else None


# math-verify's LaTeX grammar reads a bare e/E as Euler's number and fails on `E_{1}` (an energy,
# a matrix entry...): a subscripted e/E is always a name, so spell it as one. Both sides get it.
_PLAIN_INT = re.compile(r"[+-]?\d{1,900}")
_SUBSCRIPTED_E = re.compile(r"(?<![\\A-Za-z])([eE])(?=\s*_)")


def _mv_text(s: str) -> str:
    """What math-verify gets: no dollars (we wrap in our own), no control characters."""
    return _SUBSCRIPTED_E.sub(r"\\mathrm{\1}", N.basic_clean(N.unwrap_boxed(s)))


_FINAL_ANSWER = re.compile(r"final answer.{0,100}?\sis", re.IGNORECASE | re.DOTALL)


class Grader:
    """One checker for rewards and evaluation. Thread-safe; one per process is plenty.

    ``time_limit`` bounds the math-verify time of one ``grade``/``equivalent`` call (gold check and
    comparison together); the rest is linear-time Python on at most ``max_chars`` characters.
    Called from one thread (as TRL's reward loop does) a call therefore never takes much over
    ``time_limit``; concurrent callers also queue for the ``workers`` processes (see pool.py).
    """

    def __init__(
        self,
        time_limit: float = TIME_LIMIT_S,
        max_chars: int = MAX_ANSWER_CHARS,
        workers: int = 2,
        cache_size: int = 1 << 16,
        verdict: str = STRICT,
    ) -> None:
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        self.verdict = verdict  # the default for grade() / grade_answer()
        self.time_limit = time_limit
        self.max_chars = max_chars
        self.stats = GradingStats()
        self.pool = WorkerPool(size=workers)
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        self._golds = _LRU(cache_size)  # gold text -> Gold | None
        self._gold_ok = _LRU(cache_size)  # Gold.raw -> does math-verify parse it
        self._verdicts = _LRU(cache_size)  # (pred, Gold, verdict) -> bool; GRPO groups repeat answers
        self._equivalents = _LRU(cache_size)

    # -- golds -----------------------------------------------------------------------------
    def _parse_gold(self, text: str) -> Gold | None:
        if len(text) > 4 * self.max_chars:  # never even scan a huge gold
            return None
        plain = text.strip()
        if _PLAIN_INT.fullmatch(plain):  # every DAPO gold: skip the general normalisation
            return Gold(plain, plain, int(plain), Fraction(int(plain)), True)
        raw = N.unwrap_boxed(text.strip())
        if count_boxes(raw):  # a worked solution given as the gold: its final answer, as math-verify reads it
            raw = extract_final_boxes(raw) or ""
        if not raw or len(raw) > self.max_chars or not N.balanced(raw):
            return None
        canonical = N.canonical(raw)
        if not any(c.isalnum() for c in canonical):
            return None
        number = N.exact_number(raw)
        # An integer gold is one *written* as an integer (`025`, `5.0`, `1{,}000`); `\frac{8}{2}` is a
        # fraction gold whose value happens to be whole, and its own spelling must grade as right.
        integer = N.integer_literal(raw)
        certain = number is not None or N.simple_latex(N.basic_clean(raw))
        return Gold(_mv_text(raw), canonical, integer, number, certain)

    def gold(self, gold, deadline: float | None = None) -> Gold | None:
        """The parsed gold, or None (and counted, logged once) when it cannot be graded.

        Whether a gold is gradeable depends on the gold alone, never on the prediction: a gold
        that math-verify cannot parse is None even for a prediction identical to it.
        """
        text = gold_text(gold)
        parsed = None
        if text is not None:
            parsed = self._golds.get(text)
            if parsed is _LRU._MISSING:
                parsed = self._parse_gold(text)
                self._golds.put(text, parsed)
        if parsed is not None and not parsed.certain:
            ok = self._gold_ok.get(parsed.raw)
            if ok is _LRU._MISSING:
                deadline = time.monotonic() + self.time_limit if deadline is None else deadline
                ok = self._call("gold_ok", (parsed.raw,), deadline, retry=True)
                if ok is None:  # out of time twice: the machine, not the gold -- unknown, not cached
                    self.stats.add("unknown")
                    return None
                self._gold_ok.put(parsed.raw, ok)
            if not ok:
                parsed = None
        if parsed is None:
            self._ungradeable(text)
        return parsed

    def gradeable(self, gold) -> bool | None:
        """Whether the grader can read ``gold`` (any of a list of golds); None: could not tell in time
        (the machine is busy)."""
        unknown = False
        for item in gold_list(gold):
            before = self.stats.unknown
            if self.gold(item) is not None:
                return True
            unknown |= self.stats.unknown > before
        return None if unknown else False

    def _ungradeable(self, text: str | None) -> None:
        self.stats.add("ungradeable_gold")
        key = repr(text)[:200]
        with self._lock:
            new = key not in self._logged
            if new and len(self._logged) < 100_000:
                self._logged.add(key)
        if new:
            logger.warning("ungradeable gold answer %s: scored None (left out), never correct", key)

    # -- comparing -------------------------------------------------------------------------
    def answer(self, completion, extraction: str = BOXED) -> tuple[str | None, bool]:
        """``(answer, known)``: the answer the ``extraction`` reading finds in a completion (None: no
        answer), and False when math-verify's text extraction ran out of time twice."""
        if extraction not in EXTRACTIONS:
            raise ValueError(f"extraction must be one of {EXTRACTIONS}, got {extraction!r}")
        text = completion_text(completion)
        if extraction == BOXED:
            return extract_boxed(text), True
        found = extract_final_boxes(text)
        # "... \boxed{255} ... The final answer is $10,455$." states its answer after the box: a box
        # is the answer unless such a statement follows it (math-verify ranks the later one first).
        if not text.strip() or (found is not None and not _FINAL_ANSWER.search(text, last_box_end(text))):
            return found, True
        self.stats.add("text_extractions")
        # Upright constants first, for the reason normalize gives; the final answer sits at the end.
        args = (N.upright_constants(text[-MAX_TEXT_CHARS:]),)
        status_unknown = object()
        found = self._call("extract", args, time.monotonic() + self.time_limit, retry=True, failed=status_unknown)
        if found is status_unknown:
            return None, False
        # A stated chain `3^3 = 27` ends in its answer (math-verify compares an equation by its last side).
        return (N.stated_value(N.clean_stated(found)) or None if isinstance(found, str) else None), True

    def grade(self, completion, gold, verdict: str | None = None, extraction: str = BOXED) -> bool | None:
        """Grade a completion's answer (``extraction``: boxed or text) against the gold or golds
        (``verdict``: strict or equivalent)."""
        if extraction == BOXED:  # the training reward's path: no detour
            return self.grade_answer(extract_boxed(completion_text(completion)), gold, verdict)
        pred, known = self.answer(completion, extraction)
        if not known:  # the text reading could not finish: unknown, unless no gold is gradeable anyway
            verdict = verdict or self.verdict
            if verdict not in VERDICTS:
                raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
            self.stats.add("calls")
            self.stats.add("unknown")
            return None
        return self.grade_answer(pred, gold, verdict)

    def grade_answer(self, pred: str | None, gold, verdict: str | None = None) -> bool | None:
        """Grade an already extracted answer (None = no answer) against the gold, or a list of golds
        of which any may match: True when one matches; None when none matched and a comparison
        stayed unknown, or when no gold can be graded; False otherwise. Each gold gets its own
        ``time_limit`` of math-verify time."""
        verdict = verdict or self.verdict
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        self.stats.add("calls")
        if isinstance(gold, str) and isinstance(pred, str):  # every training row: the short path, inlined
            one = self.gold(gold, time.monotonic() + self.time_limit)
            if one is None:
                return None
            if not pred.strip() or len(pred) > self.max_chars:
                self.stats.add("no_box" if not pred.strip() else "too_long")
                return False
            return self._verdict(pred, one, verdict)
        parsed, unknown = [], False
        for item in gold_list(gold):
            before = self.stats.unknown
            one = self.gold(item, time.monotonic() + self.time_limit)
            if one is None:
                unknown |= self.stats.unknown > before  # out of time on the gold check, not a bad gold
            else:
                parsed.append(one)
        if not parsed:
            return None
        checked = self._answer_text(pred)
        if checked is False:
            return False
        for one in parsed:
            result = self._verdict(checked, one, verdict)
            if result is True:
                return True
            unknown |= result is None
        return None if unknown else False

    def _answer_text(self, pred) -> str | bool:
        """The answer as text, or False (counted) when there is none or it is too long to read."""
        if isinstance(pred, (int, float)) and not isinstance(pred, bool):  # a number read from JSON
            pred = N.number_text(pred)
        if not isinstance(pred, str) or not pred.strip():
            self.stats.add("no_box")
            return False
        if len(pred) > self.max_chars:
            self.stats.add("too_long")
            return False
        return pred

    def _verdict(self, pred: str, parsed: Gold, verdict: str) -> bool | None:
        key = (pred, parsed.raw, parsed.integer, verdict)
        result = self._verdicts.get(key)
        if result is _LRU._MISSING:
            result = self._compare(pred, parsed, verdict)
            if result is None:  # unknown (out of time twice): never cached, the next call tries again
                self.stats.add("unknown")
            else:
                self._verdicts.put(key, result)
        return result

    def _compare(self, pred: str, gold: Gold, verdict: str) -> bool | None:
        plain = pred.strip()
        if gold.integer is not None:
            self.stats.add("integer_path")
            written = int(plain) if _PLAIN_INT.fullmatch(plain) else N.integer_literal(pred)
            if written is not None:
                return written == gold.integer
            if verdict == STRICT:
                # An unfinished computation (`4*1`, `2+2`, `\frac{8}{2}`, `10^3`) is not the integer it
                # evaluates to: accepting it is the reward hack docs/learning.md describes.
                return False
            number = N.exact_number(pred)
            if number is not None:
                return number == gold.integer
            return self._by_math_verify(gold, pred)
        number = N.exact_number(pred)
        if N.canonical(pred) == gold.canonical or (number is not None and number == gold.number):
            self.stats.add("exact_path")
            return True
        return self._by_math_verify(gold, pred)

    def _by_math_verify(self, gold: Gold, pred: str) -> bool | None:
        mv_pred = _mv_text(pred)
        if N.too_complex(mv_pred):
            self.stats.add("too_complex")
            return False
        # The gold was checked (or is certain to parse): a None here is a timeout or a math-verify quirk.
        result = self._call("equal", (gold.raw, mv_pred), time.monotonic() + self.time_limit, retry=True)
        return None if result is None else result is True

    def _call(self, op: str, args: tuple, deadline: float, retry: bool = False, failed=None):
        """A math-verify call within the deadline (of the worker's CPU time); ``failed`` (None unless
        given) when it timed out or failed. With ``retry``, a timeout is tried once more on a fresh worker."""
        self.stats.add("math_verify")
        remaining = deadline - time.monotonic()
        # Out of budget already (a slow gold check): do not hand a worker work only to kill it.
        status, value = self.pool.call(op, args, timeout=remaining) if remaining > 0.05 else (TIMEOUT, None)
        if status == TIMEOUT and retry:
            self.stats.add("retries")
            status, value = self.pool.call(op, args, timeout=self.time_limit)
        if status == OK:
            return value
        if status == TIMEOUT:
            self.stats.add("timeouts")
            logger.info("math-verify out of time (%.1fs of CPU) on %.80r: verdict unknown", self.time_limit, args)
        else:
            self.stats.add("worker_errors")
            FAILURES.note("grading worker", str(value))
        return failed

    def equivalent(self, a: str | None, b: str | None) -> bool:
        """Symmetric equivalence of two extracted answers (majority voting groups with this)."""
        if not isinstance(a, str) or not isinstance(b, str) or not a.strip() or not b.strip():
            return False
        if a == b:
            return True
        if len(a) > self.max_chars or len(b) > self.max_chars:
            return False
        key = (a, b) if a <= b else (b, a)  # one cache entry and one verdict for both orders
        verdict = self._equivalents.get(key)
        if verdict is _LRU._MISSING:
            verdict = self._equivalent(*key)
            if verdict is not None:
                self._equivalents.put(key, verdict)
        return verdict is True

    def _equivalent(self, a: str, b: str) -> bool | None:
        ca, cb = N.canonical(a), N.canonical(b)
        if ca == cb:
            return bool(ca)
        na, nb = N.exact_number(a), N.exact_number(b)
        if na is not None and nb is not None:
            return na == nb
        ma, mb = _mv_text(a), _mv_text(b)
        if N.too_complex(ma) or N.too_complex(mb):
            self.stats.add("too_complex")
            return False
        result = self._call("equivalent", (ma, mb), time.monotonic() + self.time_limit)
        return None if result is None else result is True

    def warm_up(self, timeout: float | None = None) -> bool:
        """Start the math-verify workers and wait for one (do this before timing-sensitive work)."""
        return self.pool.warm_up(timeout)

    def close(self) -> None:
        self.pool.close()
