"""Seeded generator of easy math word problems with integer answers, split by *fact*.

Usage: ``generate("generated:arithmetic?n=256&seed=0&split=train&max_operand=10")``

A dataset reference ``generated:KIND?key=value&...`` works wherever a dataset is named
(``mathgrpo train --dataset_name ...``, ``prepare-data``, ``eval``). KIND is ``arithmetic`` (word
problems) or ``bare`` (``What is 3 + 4?``). Keys:
  n            number of problems (default 256), all different texts
  seed         random seed (default 0)
  split        ``train``, ``validation`` or ``test`` (default train)
  max_operand  largest operand, 2..1000 (default 10)
  ops          which operations, e.g. ``add,sub`` (default: all of add,sub,mul,div)

Splits are disjoint in their *facts*, not only in their texts. A fact is an addition or a
multiplication of two numbers, in either order: ``7 + 5 = 12`` and ``5 + 7 = 12`` are one fact,
and so are ``12 - 5 = 7`` (the same addition, read backwards) and ``12 / 3 = 4`` (``3 x 4 = 12``).
Each fact belongs to one split, fixed by a hash of the fact (20% test, 10% validation, 70% train),
whatever the seed, the kind, the wording or the operand range. So a test problem never asks
anything a training or validation problem could have taught by rote.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import parse_qsl

import numpy as np

from mathgrpo.errors import UserError

PREFIX = "generated:"
KINDS = ("arithmetic", "bare")
OPS = ("add", "sub", "mul", "div")
SPLITS = {"test": (0, 20), "validation": (20, 30), "train": (30, 100)}  # percent buckets of the fact hash
MAX_OPERAND = 1000  # operand pairs are enumerated: 1,000 x 1,000 per operation at most
FAMILY = {"add": 1, "sub": 1, "mul": 2, "div": 2}  # sub is addition read backwards, div multiplication

NAMES = ["Ava", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jia", "Kofi", "Lena"]
ITEMS = ["apples", "marbles", "stickers", "books", "coins", "pencils", "cards", "shells"]
WORD = {
    "add": "{name} has {a} {item}. {name} gets {b} more {item}. How many {item} does {name} have now?",
    "sub": "{name} has {a} {item} and gives {b} of them away. How many {item} does {name} have left?",
    "mul": "{name} has {a} bags with {b} {item} in each bag. How many {item} does {name} have in total?",
    "div": "{name} shares {a} {item} equally among {b} friends. How many {item} does each friend get?",
}
BARE = {
    "add": "What is {a} + {b}?",
    "sub": "What is {a} - {b}?",
    "mul": "What is {a} * {b}?",
    "div": "What is {a} / {b}?",
}


@dataclass(frozen=True)
class Spec:
    kind: str
    n: int
    seed: int
    split: str
    max_operand: int
    ops: tuple[str, ...]


def parse_spec(spec: str) -> Spec:
    """``generated:KIND?k=v&...`` -> :class:`Spec`, with one-line errors for bad values."""
    body = spec[len(PREFIX) :] if spec.startswith(PREFIX) else spec
    kind, _, query = body.partition("?")
    kind = kind or "arithmetic"
    if kind not in KINDS:
        raise UserError(f"unknown generated dataset {kind!r} in {spec!r}; choose one of: {', '.join(KINDS)}")
    opts = {"n": "256", "seed": "0", "split": "train", "max_operand": "10", "ops": ",".join(OPS)}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in opts:
            raise UserError(f"unknown option {key!r} in {spec!r}; options: {', '.join(opts)}")
        opts[key] = value
    try:
        n, seed, top = int(opts["n"]), int(opts["seed"]), int(opts["max_operand"])
    except ValueError:
        raise UserError(f"n, seed and max_operand must be integers in {spec!r}") from None
    ops = tuple(o for o in opts["ops"].split(",") if o)
    if not ops or any(o not in OPS for o in ops) or len(set(ops)) != len(ops):
        raise UserError(f"ops must be a comma list of {', '.join(OPS)} in {spec!r}")
    if opts["split"] not in SPLITS:
        raise UserError(f"split must be one of {', '.join(SPLITS)} in {spec!r}")
    if n < 1 or not 2 <= top <= MAX_OPERAND:
        raise UserError(f"n must be >= 1 and max_operand in 2..{MAX_OPERAND} in {spec!r}")
    return Spec(kind, n, seed, opts["split"], top, ops)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash, vectorised."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def fact_of(op: str, a, b):
    """The fact a problem asks, as (family, smaller, larger): ``a - b`` is ``b + (a - b)``,
    ``a / b`` is ``b x (a / b)``. Works on ints and on numpy arrays."""
    if op == "sub":
        a, b = b, a - b
    elif op == "div":
        a, b = b, a // b
    return FAMILY[op], np.minimum(a, b), np.maximum(a, b)


def split_of_facts(family: int, x, y) -> np.ndarray:
    """The split of each fact: ``test``, ``validation`` or ``train`` (an array of names)."""
    with np.errstate(over="ignore"):
        key = (
            (np.uint64(family) << np.uint64(42))
            | (np.asarray(x, np.uint64) << np.uint64(21))
            | np.asarray(y, np.uint64)
        )
        bucket = _mix(key ^ np.uint64(0x5EED_FAC7)) % np.uint64(100)
    out = np.full(bucket.shape, "train", dtype=object)
    for name, (lo, hi) in SPLITS.items():
        out[(bucket >= lo) & (bucket < hi)] = name
    return out


def operand_pairs(op: str, max_operand: int) -> tuple[np.ndarray, np.ndarray]:
    """Every operand pair the generator writes for ``op`` (the numbers as they appear in the text)."""
    r = np.arange(1, max_operand + 1, dtype=np.int64)
    a, b = np.meshgrid(r, r, indexing="ij")
    a, b = a.ravel(), b.ravel()
    if op == "sub":
        keep = a >= b  # no negative answers
    elif op == "div":
        keep = b >= 2  # a = q x b: exact, and dividing by 1 teaches nothing
        a = a * b  # the dividend; the quotient is the first number of the grid
    else:
        keep = np.ones_like(a, dtype=bool)
    return a[keep], b[keep]


def pairs_in_split(op: str, max_operand: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = operand_pairs(op, max_operand)
    family, x, y = fact_of(op, a, b)
    mask = split_of_facts(family, x, y) == split
    return a[mask], b[mask]


def _answer(op: str, a: int, b: int) -> int:
    return {"add": a + b, "sub": a - b, "mul": a * b, "div": a // b}[op]


def _pick(rng: random.Random, op: str, a_all, b_all, q: int, wordings: int, used: set) -> list[tuple[int, int, int]]:
    """``q`` distinct (a, b, wording) texts for ``op``, spread over as many different facts as the
    pool holds: first one pair for each fact no earlier operation took, in random order, then
    further texts of those facts."""
    family, x, y = fact_of(op, a_all, b_all)
    by_fact: dict[tuple[int, int, int], list[int]] = {}
    for i, key in enumerate(zip(x.tolist(), y.tolist())):
        by_fact.setdefault((family, *key), []).append(i)
    facts = list(by_fact)
    rng.shuffle(facts)
    facts.sort(key=lambda f: f in used)  # stable: facts no other operation asked come first
    picked: list[tuple[int, int, int]] = []
    taken: set[tuple[int, int]] = set()
    for fact in facts[:q]:
        pair = rng.choice(by_fact[fact])
        taken.add((pair, wording := rng.randrange(wordings)))
        picked.append((int(a_all[pair]), int(b_all[pair]), wording))
        used.add(fact)
    if len(picked) < q:  # more problems than facts: other texts, drawn without replacement
        rest = (divmod(i, wordings) for i in rng.sample(range(len(a_all) * wordings), len(a_all) * wordings))
        for pair, wording in rest:
            if len(picked) == q:
                break
            if (pair, wording) not in taken:
                taken.add((pair, wording))
                picked.append((int(a_all[pair]), int(b_all[pair]), wording))
    return picked


def generate(spec: str) -> list[dict]:
    """Problems for ``spec``: ``[{"problem", "answer", "op", "a", "b"}, ...]``, distinct texts, the
    operations in equal shares. What cannot be made is refused before anything is generated."""
    s = parse_spec(spec)
    rng = random.Random(f"{s.seed}:{s.split}:{s.kind}")
    wordings = len(NAMES) * len(ITEMS) if s.kind == "arithmetic" else 1
    table = WORD if s.kind == "arithmetic" else BARE
    quota = [s.n // len(s.ops) + (i < s.n % len(s.ops)) for i in range(len(s.ops))]
    pools = {op: pairs_in_split(op, s.max_operand, s.split) for op in s.ops}
    short = [
        f"{op}: {len(pools[op][0]) * wordings} < {q}" for op, q in zip(s.ops, quota) if len(pools[op][0]) * wordings < q
    ]
    if short:
        can = sum(len(a) * wordings for a, _ in pools.values())
        raise UserError(
            f"{spec!r} can make at most {can} distinct problems in split {s.split} (per operation {'; '.join(short)}); "
            "lower n or raise max_operand"
        )
    rows: list[dict] = []
    used: set[tuple[int, int, int]] = set()
    for op, q in zip(s.ops, quota):
        for a, b, wording in _pick(rng, op, *pools[op], q, wordings, used):
            name, item = NAMES[wording % len(NAMES)], ITEMS[wording // len(NAMES)]
            rows.append(
                {
                    "problem": table[op].format(a=a, b=b, name=name, item=item),
                    "answer": str(_answer(op, a, b)),
                    "op": op,
                    "a": a,
                    "b": b,
                }
            )
    rng.shuffle(rows)
    return rows


def split_of(op: str, a: int, b: int) -> str:
    """The split of the fact that ``a op b`` asks."""
    family, x, y = fact_of(op, np.int64(a), np.int64(b))
    return str(split_of_facts(family, x, y))
