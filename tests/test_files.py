"""One atomic write for every writer: concurrent writers never collide, a reader never sees half a file."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from mathgrpo.files import atomic_path, write_atomic

A, B = "a" * 300_000 + "\n", "b" * 200_000 + "\n"


def _writer(path: str, text: str, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        write_atomic(path, text)


def test_two_writers_and_a_reader_never_see_a_partial_file(tmp_path):
    path = tmp_path / "shared.txt"
    write_atomic(path, A)
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_writer, args=(str(path), text, 2.0)) for text in (A, B)]
    for w in writers:
        w.start()
    seen = set()
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        content = path.read_text()
        assert content in (A, B), f"read a partial file of {len(content)} characters"
        seen.add(content[0])
    for w in writers:
        w.join(timeout=30)
        assert w.exitcode == 0
    assert seen == {"a", "b"}  # both writers' files were read, whole
    assert [p.name for p in tmp_path.iterdir()] == ["shared.txt"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    path = tmp_path / "kept.txt"
    write_atomic(path, "old\n")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["kept.txt"]


@pytest.fixture(params=[0o022, 0o027])
def user_umask(request):
    import os

    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_written_files_and_folders_get_the_mode_the_umask_gives(tmp_path, user_umask):
    # mkstemp / mkdtemp make 0600 / 0700, and safetensors' save_file makes 0600: a colleague of the
    # same group could not read the run record, the card, the eval summary or the model.
    import os
    import stat

    import torch
    from safetensors.torch import save_file

    from mathgrpo.files import atomic_dir, share_modes, umask

    assert umask() == user_umask
    want_file, want_dir = 0o666 & ~user_umask, 0o777 & ~user_umask
    write_atomic(tmp_path / "record.json", "{}")
    with atomic_path(tmp_path / "data.parquet") as tmp:
        tmp.write_bytes(b"x")
    with atomic_dir(tmp_path / "model") as tmp:
        save_file({"w": torch.zeros(2)}, str(tmp / "model.safetensors"))
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "record.json") == mode(tmp_path / "data.parquet") == want_file
    assert mode(tmp_path / "model") == want_dir and mode(tmp_path / "model" / "model.safetensors") == want_file
    # A folder written by others (Trainer's checkpoints): only the private modes change.
    (tmp_path / "run" / "checkpoint-1").mkdir(parents=True, mode=0o700)
    save_file({"w": torch.zeros(2)}, str(tmp_path / "run" / "checkpoint-1" / "model.safetensors"))
    (tmp_path / "run" / "script.sh").write_text("")
    os.chmod(tmp_path / "run" / "script.sh", 0o750)
    assert share_modes(tmp_path / "run") == 2
    assert mode(tmp_path / "run" / "checkpoint-1") == want_dir
    assert mode(tmp_path / "run" / "checkpoint-1" / "model.safetensors") == want_file
    assert mode(tmp_path / "run" / "script.sh") == 0o750
