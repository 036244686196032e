"""Every rank trains on the same rows (train/ranks.py): the digest, the check, one line on mismatch.
The two-process runs that use them are in tests/test_scaling.py."""

from __future__ import annotations

import pytest
from datasets import Dataset

from mathgrpo.errors import UserError
from mathgrpo.train.ranks import built_once, check_same_rows, rows_digest


def rows(*answers):
    return Dataset.from_dict({"prompt": [f"q{a}" for a in answers], "answer": list(answers)})


def test_the_digest_sees_order_content_and_length():
    base = rows_digest(rows("1", "2"), None)
    assert base == rows_digest(rows("1", "2"), None)
    assert len({base, rows_digest(rows("2", "1"), None), rows_digest(rows("1"), None),
                rows_digest(rows("1", "3"), None), rows_digest(rows("1", "2"), rows("9"))}) == 5  # fmt: skip


def test_a_rank_with_other_rows_is_one_line_on_every_rank():
    same = rows_digest(rows("1", "2"))
    check_same_rows(rows("1", "2"), gather=lambda mine: [same, *mine])
    with pytest.raises(UserError, match=r"rank\(s\) 1 differ from rank 0") as err:
        check_same_rows(rows("1", "2"), gather=lambda mine: [*mine, rows_digest(rows("1"))])
    assert "\n" not in str(err.value)


def test_one_process_builds_and_raises_as_itself():
    assert built_once(lambda: 7) == 7
    with pytest.raises(UserError, match="no rows"):
        built_once(lambda: (_ for _ in ()).throw(UserError("no rows")))
