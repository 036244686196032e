"""Seeded generator of easy math word problems with integer answers: the embedded default data.

Usage: ``generate("generated:arithmetic?n=256&seed=0&split=train&max_operand=10")``

A dataset reference ``generated:KIND?key=value&...`` works wherever a dataset is named
(``mathgrpo train --dataset_name ...``, ``prepare-data``, ``eval``). Keys:
  n            number of problems (default 256)
  seed         random seed (default 0)
  split        ``train`` or ``test``; a problem's split is fixed by a hash of its text, so
               the two splits never share a problem, whatever the seeds (default train)
  max_operand  largest operand (default 10)
  ops          which operations, e.g. ``add,sub`` (default: all of add,sub,mul,div)
KIND is ``arithmetic`` (word problems) or ``bare`` (``What is 3 + 4?``).
"""

from __future__ import annotations

import hashlib
import random
from urllib.parse import parse_qsl

from mathgrpo.errors import UserError

PREFIX = "generated:"
KINDS = ("arithmetic", "bare")
OPS = ("add", "sub", "mul", "div")
TEST_SHARE = 5  # one problem text in 5 belongs to the test split

NAMES = ["Ava", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jia", "Kofi", "Lena"]
ITEMS = ["apples", "marbles", "stickers", "books", "coins", "pencils", "cards", "shells"]

WORD = {
    "add": "{name} has {a} {item}. {name} gets {b} more {item}. How many {item} does {name} have now?",
    "sub": "{name} has {a} {item} and gives {b} of them away. How many {item} does {name} have left?",
    "mul": "{name} has {a} bags with {b} {item} in each bag. How many {item} does {name} have in total?",
    "div": "{name} shares {a} {item} equally among {b} friends. How many {item} does each friend get?",
}
BARE = {"add": "What is {a} + {b}?", "sub": "What is {a} - {b}?", "mul": "What is {a} * {b}?",
        "div": "What is {a} / {b}?"}  # fmt: skip


def is_generated(source: str) -> bool:
    return source.startswith(PREFIX)


def parse_spec(spec: str) -> dict:
    """``generated:KIND?k=v&...`` -> dict of settings, with one-line errors for bad values."""
    body = spec[len(PREFIX) :] if spec.startswith(PREFIX) else spec
    kind, _, query = body.partition("?")
    kind = kind or "arithmetic"
    if kind not in KINDS:
        raise UserError(f"unknown generated dataset {kind!r} in {spec!r}; choose one of: {', '.join(KINDS)}")
    opts = {"kind": kind, "n": 256, "seed": 0, "split": "train", "max_operand": 10, "ops": ",".join(OPS)}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in opts or key == "kind":
            raise UserError(f"unknown option {key!r} in {spec!r}; options: n, seed, split, max_operand, ops")
        opts[key] = value
    try:
        opts["n"], opts["seed"], opts["max_operand"] = int(opts["n"]), int(opts["seed"]), int(opts["max_operand"])
    except ValueError:
        raise UserError(f"n, seed and max_operand must be integers in {spec!r}") from None
    ops = [o for o in str(opts["ops"]).split(",") if o]
    if not ops or any(o not in OPS for o in ops):
        raise UserError(f"ops must be a comma list of {', '.join(OPS)} in {spec!r}")
    opts["ops"] = ops
    if opts["split"] not in ("train", "test"):
        raise UserError(f"split must be train or test in {spec!r}")
    if opts["n"] < 1 or opts["max_operand"] < 2:
        raise UserError(f"n must be >= 1 and max_operand >= 2 in {spec!r}")
    return opts


def split_of(problem: str) -> str:
    digest = hashlib.sha256(problem.encode()).digest()
    return "test" if digest[0] % TEST_SHARE == 0 else "train"


def _one(rng: random.Random, kind: str, op: str, max_operand: int) -> tuple[str, int]:
    a, b = rng.randint(1, max_operand), rng.randint(1, max_operand)
    if op == "sub" and a < b:
        a, b = b, a
    if op == "div":
        b = max(b, 2)
        a, answer = a * b, a  # exact division, integer answer
    else:
        answer = {"add": a + b, "sub": a - b, "mul": a * b}[op]
    table = WORD if kind == "arithmetic" else BARE
    text = table[op].format(a=a, b=b, name=rng.choice(NAMES), item=rng.choice(ITEMS))
    return text, answer


def generate(spec: str) -> list[dict]:
    """Problems for ``spec`` as ``[{"problem": str, "answer": str}, ...]`` (distinct texts)."""
    opts = parse_spec(spec)
    rng = random.Random(f"{opts['seed']}:{opts['split']}")
    rows: list[dict] = []
    seen: set[str] = set()
    attempts = 0
    # The space of distinct problems is finite; stop rather than loop forever when n is
    # larger than what these settings can produce.
    while len(rows) < opts["n"] and attempts < 200 * opts["n"]:
        attempts += 1
        text, answer = _one(rng, opts["kind"], rng.choice(opts["ops"]), opts["max_operand"])
        if text in seen or split_of(text) != opts["split"]:
            continue
        seen.add(text)
        rows.append({"problem": text, "answer": str(answer)})
    if len(rows) < opts["n"]:
        raise UserError(
            f"{spec!r} can only produce {len(rows)} distinct problems; lower n or raise max_operand"
        )
    return rows
