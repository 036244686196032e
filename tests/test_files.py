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
