"""Every training process holds the same data and the same run id: built once, handed to all, checked.

Usage: ``train_ds, eval_ds, stats = built_once(lambda: build_datasets(...))``; ``check_same_rows(train_ds, eval_ds)``

Why: cleaning the data decides, row by row, whether the grader can read a gold answer, and a gold
whose check ran out of time is kept. Run on every rank, a busy rank could keep a row another rank
drops; ranks would then hold datasets of different lengths and hang or train misaligned batches.
So the main process builds the datasets and broadcasts them (pickled Arrow tables: 17k DAPO rows are
a few MB), and every rank then compares a digest of its rows with the others' -- a mismatch is a
one-line error on every rank, never a hang (every rank reaches the same gather). Building fails the
same way: whatever the main process raises reaches every rank as one line (tests/test_ranks.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TypeVar

from mathgrpo.errors import UserError

log = logging.getLogger(__name__)
T = TypeVar("T")


def _state():
    from accelerate import PartialState

    return PartialState()


def built_once(build: Callable[[], T]) -> T:
    """``build()`` on the main process only; every process gets its result, or the same one-line
    UserError when it raised anything (a UserError's own line; any other exception named, with its
    traceback logged on the main process)."""
    state = _state()
    if state.num_processes == 1:
        return build()
    from accelerate.utils import broadcast_object_list

    box: list = [None]
    cause: BaseException | None = None
    if state.is_main_process:
        # The other ranks wait in the broadcast: whatever goes wrong, hand them the error. Left to
        # rank 0's exit, they would die of "Connection closed by peer" on gloo, or wait for the
        # distributed timeout on NCCL.
        try:
            box[0] = ("ok", build())
        except UserError as err:
            box[0], cause = ("error", str(err)), err
        except Exception as err:
            log.exception("building the data failed on the main process")
            detail = " ".join(str(err).split())[:300]
            box[0], cause = ("error", f"building the data failed on rank 0 ({type(err).__name__}: {detail})"), err
    broadcast_object_list(box, from_process=0)
    kind, value = box[0]
    if kind == "error":
        raise UserError(value) from cause
    return value


def rows_digest(*datasets) -> str:
    """A digest of the rows, in order (their prompt and answer; row count included)."""
    digest = hashlib.sha256()
    for ds in datasets:
        if ds is None:
            digest.update(b"none")
            continue
        digest.update(str(len(ds)).encode())
        columns = [c for c in ("prompt", "answer") if c in ds.column_names]
        for column in columns:
            for value in ds[column]:
                digest.update(repr(value).encode())
                digest.update(b"\x00")
    return digest.hexdigest()[:16]


def check_same_rows(*datasets, gather=None) -> str:
    """Gather each rank's digest; raise the same one-line UserError on every rank if any differs."""
    mine = rows_digest(*datasets)
    state = _state()
    if gather is None:
        if state.num_processes == 1:
            return mine
        from accelerate.utils import gather_object

        gather = gather_object
    digests = list(gather([mine]))
    if len(set(digests)) > 1:
        odd = [rank for rank, d in enumerate(digests) if d != digests[0]]
        raise UserError(
            f"training processes hold different datasets (row digests {', '.join(digests)}; rank(s) "
            f"{', '.join(map(str, odd))} differ from rank 0); every rank must train on the same rows: "
            "report this with the command and the data"
        )
    log.info("data: the same %s rows on all %d processes (digest %s)", len(datasets[0]), len(digests), mine)
    return mine


def shared_run_id(new_run_id: Callable[[], str]) -> str:
    """A run id minted once, on the main process, and the same on every process."""
    return built_once(new_run_id)
