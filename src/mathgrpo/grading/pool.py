"""A small pool of math-verify worker processes with a hard deadline per call.

Usage: ``pool = WorkerPool(); status, value = pool.call("equal", (gold, pred), timeout=1.5)``

The deadline counts the worker's own CPU time where the OS tells it (Linux ``/proc``): on a busy
machine (a training step beside the grader) a worker that got little CPU is given more wall time,
up to ``WALL_FACTOR`` times the limit, so a correct answer is not failed for the machine's load.

Why processes: math-verify bounds its own time with ``signal.alarm``, which only works on the
main thread of the main interpreter (TRL may grade elsewhere), and a thread cannot be stopped.
A worker that misses the deadline is killed and replaced; a warm spare keeps the next call fast.
Workers are plain ``python -m mathgrpo.grading.worker`` subprocesses talking over two pipes, so
they never re-import the caller's ``__main__`` (no torch in the worker) and are safe next to
torch's threads. Each is started lazily, once per process (a forked child makes its own).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection
from pathlib import Path

logger = logging.getLogger(__name__)

OK, TIMEOUT, ERROR = "ok", "timeout", "error"
WALL_FACTOR = 8  # a call never takes more than this many times its CPU limit of wall time
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (Linux), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


class _Worker:
    def __init__(self) -> None:
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[2])  # the folder holding the `mathgrpo` package
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mathgrpo.grading.worker", str(req_r), str(res_w)],
                pass_fds=(req_r, res_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # a terminal's Ctrl-C goes to the caller, not the workers
            )
        finally:
            os.close(req_r)
            os.close(res_w)
        self.send_conn = Connection(req_w, readable=False)
        self.recv_conn = Connection(res_r, writable=False)
        self.ready = False

    def wait_ready(self, timeout: float) -> bool:
        try:
            if not self.ready and self.recv_conn.poll(max(0.0, timeout)):
                self.ready = self.recv_conn.recv()[0] == "ready"
        except (EOFError, OSError):  # died while importing; the caller replaces it
            return False
        return self.ready

    def kill(self) -> None:
        for conn in (self.send_conn, self.recv_conn):
            with contextlib.suppress(OSError):
                conn.close()
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a kill -9 that does not land
            logger.warning("grading worker %d did not exit after SIGKILL", self.proc.pid)


class _Idle:
    """Idle workers. ``get`` prefers the most recently used ready one (its parse cache is warm);
    fresh replacements wait at the other end until they have finished importing."""

    def __init__(self) -> None:
        self._items: deque[_Worker] = deque()
        self._cond = threading.Condition()

    def put(self, worker: _Worker, fresh: bool = False) -> None:
        with self._cond:
            self._items.appendleft(worker) if fresh else self._items.append(worker)
            self._cond.notify()

    def get(self, timeout: float) -> _Worker | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._items, timeout=max(0.0, timeout)):
                return None
            for i in range(len(self._items) - 1, -1, -1):
                if self._items[i].wait_ready(0.0):
                    worker = self._items[i]
                    del self._items[i]
                    return worker
            return self._items.pop()

    def drain(self) -> list[_Worker]:
        with self._cond:
            items, self._items = list(self._items), deque()
            return items


class WorkerPool:
    """``size`` workers (one busy, one warm spare by default); thread-safe."""

    def __init__(self, size: int = 2, queue_timeout: float = 120.0) -> None:
        self.size = max(1, int(size))
        self.queue_timeout = queue_timeout
        self.restarts = 0
        self._idle: _Idle | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def _ensure_started(self) -> _Idle:
        with self._lock:
            if self._idle is None or self._pid != os.getpid():
                # After a fork the parent's workers belong to the parent: start our own.
                self._idle = _Idle()
                self._pid = os.getpid()
                for _ in range(self.size):
                    self._idle.put(_Worker(), fresh=True)
            return self._idle

    def warm_up(self, timeout: float | None = None) -> bool:
        """Start the workers and wait until all have imported sympy (the spare too)."""
        idle = self._ensure_started()
        end = time.monotonic() + (self.queue_timeout if timeout is None else timeout)
        with idle._cond:
            workers = list(idle._items)
        ready = [w.wait_ready(end - time.monotonic()) for w in workers]
        return bool(ready) and all(ready)

    def call(self, op: str, args: tuple, timeout: float, queue_timeout: float | None = None, retry: bool = True):
        """Run ``op(*args)`` in a worker; ``(OK, value)``, ``(TIMEOUT, None)`` or ``(ERROR, message)``.

        ``timeout`` bounds the work: it starts once a ready worker is ours. Waiting for one (other
        threads' calls, or a fresh worker still importing) is bounded by ``queue_timeout``
        (default ``self.queue_timeout``); a single caller -- TRL computes rewards in one thread --
        finds the warm spare at once, so for it the whole call stays within ``timeout``.
        """
        idle = self._ensure_started()
        wait_limit = self.queue_timeout if queue_timeout is None else queue_timeout
        waited = time.monotonic() + wait_limit
        worker = idle.get(wait_limit)
        if worker is None:
            return TIMEOUT, None
        if not worker.wait_ready(waited - time.monotonic()):
            if worker.proc.poll() is not None:
                return self._replace(worker, ERROR, "grading worker died while starting")
            idle.put(worker, fresh=True)  # still importing: keep it for a later call
            return TIMEOUT, None
        started = time.monotonic()
        cpu_before = cpu_seconds(worker.proc.pid)
        try:
            worker.send_conn.send((op, args))
        except OSError:  # it died while idle (killed from outside): replace it and try once more
            self._replace(worker, ERROR, None)
            return self.call(op, args, timeout, queue_timeout, retry=False) if retry else (ERROR, "grading worker died")
        deadline, last = started + timeout, started + timeout * WALL_FACTOR
        try:
            while True:
                if worker.recv_conn.poll(max(0.0, deadline - time.monotonic())):
                    reply = worker.recv_conn.recv()
                    idle.put(worker)
                    return reply[0], reply[1]
                # Wall time is up. If the worker was starved of CPU (a busy machine), give it the
                # CPU time it has not had yet, within the WALL_FACTOR bound.
                now, cpu_after = time.monotonic(), cpu_seconds(worker.proc.pid)
                if cpu_before is None or cpu_after is None or now >= last:
                    break
                owed = timeout - (cpu_after - cpu_before)
                if owed <= 0.02:
                    break
                deadline = min(last, now + owed)
        except (EOFError, OSError) as err:  # the worker crashed (a C-level fault in a parser)
            return self._replace(worker, ERROR, f"grading worker died: {err}")
        return self._replace(worker, TIMEOUT, None)

    def _replace(self, worker: _Worker, status: str, value):
        """Kill a late or dead worker and start a fresh one in its place (it imports meanwhile)."""
        worker.kill()
        self.restarts += 1
        with self._lock:
            if self._idle is not None and self._pid == os.getpid():  # not closed meanwhile
                self._idle.put(_Worker(), fresh=True)
        return status, value

    def close(self) -> None:
        """Stop every idle worker (busy ones exit when their pipe closes)."""
        with self._lock:
            idle, self._idle = self._idle, None
            mine = self._pid == os.getpid()
        if idle is not None and mine:
            for worker in idle.drain():
                worker.kill()
