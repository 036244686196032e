"""The seeded problem generator behind the embedded default and the learning benchmark: splits
that share no fact, answers that are right, and specs that cannot be met refused at once."""

import time

import pytest

from mathgrpo.data.synthetic import SPLITS, fact_of, generate, parse_spec, split_of
from mathgrpo.errors import UserError


def facts(rows):
    return {tuple(int(v) for v in fact_of(r["op"], r["a"], r["b"])) for r in rows}


def test_seeded_and_deterministic():
    spec = "generated:arithmetic?n=50&seed=3"
    assert generate(spec) == generate(spec)
    assert generate(spec) != generate("generated:arithmetic?n=50&seed=4")


def test_splits_never_share_a_fact():
    # Every problem of each split, whatever the seed, wording or kind: facts are disjoint, where a
    # fact is read in either order and backwards (12 - 5 is 5 + 7; 12 / 3 is 3 x 4).
    by_split = {
        split: facts(generate(f"generated:{kind}?n=400&seed={seed}&split={split}&max_operand=30"))
        for split in SPLITS
        for kind, seed in (("arithmetic", 0),)
    }
    bare_test = facts(generate("generated:bare?n=200&seed=9&split=test&max_operand=30"))
    assert not by_split["train"] & by_split["test"] and not by_split["validation"] & by_split["test"]
    assert not by_split["train"] & by_split["validation"] and not bare_test & by_split["train"]
    assert fact_of("sub", 12, 5) == fact_of("add", 7, 5) == fact_of("add", 5, 7)
    assert fact_of("div", 12, 3) == fact_of("mul", 4, 3)
    assert split_of("sub", 12, 5) == split_of("add", 5, 7)


def test_a_test_set_spreads_over_many_facts():
    rows = generate("generated:arithmetic?n=200&seed=1&split=test&max_operand=40")
    assert len(facts(rows)) == 200 and len({r["problem"] for r in rows}) == 200
    assert {r["op"] for r in rows} == {"add", "sub", "mul", "div"}


@pytest.mark.parametrize(
    "op,check",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
    ],
)
def test_answers_are_right(op, check):
    for row in generate(f"generated:bare?n=40&ops={op}&max_operand=30"):
        a, b = (int(t) for t in row["problem"].rstrip("?").split()[2::2])
        assert int(row["answer"]) == check(a, b) and (a, b) == (row["a"], row["b"])


def test_division_is_exact():
    for row in generate("generated:bare?n=40&ops=div"):
        a, b = (int(t) for t in row["problem"].rstrip("?").split()[2::2])
        assert a % b == 0 and int(row["answer"]) == a // b


@pytest.mark.parametrize(
    "spec,msg",
    [
        ("generated:poetry", "unknown generated dataset"),
        ("generated:arithmetic?n=ten", "must be integers"),
        ("generated:arithmetic?colour=red", "unknown option 'colour'"),
        ("generated:arithmetic?ops=pow", "ops must be"),
        ("generated:arithmetic?split=dev", "split must be"),
        ("generated:arithmetic?max_operand=5000", "max_operand in 2..1000"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, msg):
    with pytest.raises(UserError, match=msg):
        generate(spec)


def test_impossible_spec_is_refused_before_generating():
    started = time.process_time()  # CPU of this process: load-proof
    with pytest.raises(UserError, match="can make at most 4 distinct problems"):
        generate("generated:bare?n=100000&max_operand=2&ops=add")
    assert time.process_time() - started < 1


def test_exactly_as_many_as_can_be_made():
    spec = "generated:bare?n={n}&max_operand=10&ops=add&split=validation"
    most = int(str(pytest.raises(UserError, generate, spec.format(n=10**6)).value).split("at most ")[1].split()[0])
    assert len({r["problem"] for r in generate(spec.format(n=most))}) == most


def test_defaults():
    assert parse_spec("generated:arithmetic").n == 256
