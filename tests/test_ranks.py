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
    assert (
        len(
            {
                base,
                rows_digest(rows("2", "1"), None),
                rows_digest(rows("1"), None),
                rows_digest(rows("1", "3"), None),
                rows_digest(rows("1", "2"), rows("9")),
            }
        )
        == 5
    )


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


def test_one_process_hands_on_any_error_unchanged():
    with pytest.raises(KeyError):  # one process: nobody waits, the error is the builder's own
        built_once(lambda: {}["x"])


FAILING_BUILD = """
import sys
import mathgrpo.data.clean as clean

def broken(script_args):  # not a UserError: a bug, a full disk, a lost mount
    raise OSError("disk full\\nwhile reading the parquet")

clean.training_rows = broken
from mathgrpo.cli import main
sys.exit(main(["train", *sys.argv[1:]]))
"""


@pytest.mark.slow
def test_any_error_while_rank_0_builds_the_data_reaches_every_rank_as_one_line(tiny_qwen_dir, tmp_path):
    import os
    import subprocess
    import time

    from conftest import accelerate_launch, tiny_run_argv

    script = tmp_path / "train_broken.py"
    script.write_text(FAILING_BUILD)
    argv = tiny_run_argv(tiny_qwen_dir, tmp_path / "out", "--reward_funcs", "accuracy", "--reward_weights", "1.0")
    cmd = accelerate_launch("ddp", script, *argv)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    line = "mathgrpo train: error: building the data failed on rank 0 (OSError: disk full while reading the parquet)"
    errors = [x for x in proc.stderr.splitlines() if "mathgrpo train: error:" in x]
    assert proc.returncode != 0 and errors == [line, line], proc.stderr[-3000:]  # both ranks, the same line
    assert "Connection closed by peer" not in proc.stderr
    # Within seconds of each other: the launcher returns as soon as both have exited (startup and
    # imports of two processes on a loaded 2-core machine take most of this bound).
    assert time.monotonic() - started < 240
