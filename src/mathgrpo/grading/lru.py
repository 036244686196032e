"""A small thread-safe LRU map for the grader's caches.

Usage: ``cache = LRU(1024); value = cache.get(key); if value is LRU._MISSING: cache.put(key, compute())``
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class LRU:
    """A small thread-safe LRU map (functools.lru_cache cannot take a per-call deadline)."""

    _MISSING = object()

    def __init__(self, size: int) -> None:
        self.size, self._data, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key, self._MISSING)
            if value is not self._MISSING:
                self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            if len(self._data) > self.size:
                self._data.popitem(last=False)
