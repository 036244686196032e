"""The seeded problem generator behind the embedded default and the learning benchmark."""

import pytest

from mathgrpo.demo import generate, parse_spec, split_of
from mathgrpo.errors import UserError


def test_seeded_and_deterministic():
    spec = "generated:arithmetic?n=50&seed=3"
    assert generate(spec) == generate(spec)
    assert generate(spec) != generate("generated:arithmetic?n=50&seed=4")


def test_train_and_test_splits_never_share_a_problem():
    train = {r["problem"] for r in generate("generated:arithmetic?n=300&seed=0&split=train")}
    test = {r["problem"] for r in generate("generated:arithmetic?n=200&seed=9&split=test")}
    assert len(train) == 300 and len(test) == 200 and not train & test
    assert all(split_of(p) == "test" for p in test)


@pytest.mark.parametrize("op,check", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
])  # fmt: skip
def test_answers_are_right(op, check):
    for row in generate(f"generated:bare?n=40&ops={op}&max_operand=30"):
        a, b = (int(t) for t in row["problem"].rstrip("?").split()[2::2])
        assert int(row["answer"]) == check(a, b)


def test_division_is_exact():
    for row in generate("generated:bare?n=40&ops=div"):
        a, b = (int(t) for t in row["problem"].rstrip("?").split()[2::2])
        assert a % b == 0 and int(row["answer"]) == a // b


@pytest.mark.parametrize("spec,msg", [
    ("generated:poetry", "unknown generated dataset"),
    ("generated:arithmetic?n=ten", "must be integers"),
    ("generated:arithmetic?colour=red", "unknown option 'colour'"),
    ("generated:arithmetic?ops=pow", "ops must be"),
    ("generated:arithmetic?split=dev", "split must be"),
    ("generated:bare?n=100000&max_operand=2&ops=add", "can only produce"),
])  # fmt: skip
def test_bad_specs_are_one_line_errors(spec, msg):
    with pytest.raises(UserError, match=msg):
        generate(spec)


def test_defaults():
    assert parse_spec("generated:arithmetic")["n"] == 256
