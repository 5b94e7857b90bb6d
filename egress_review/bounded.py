"""Parsing quarantined files (pandas, openpyxl, pyarrow, Pillow) in a worker process whose address
space is capped (``RLIMIT_AS``): a workbook or Parquet file that expands far beyond its size on disk
fails with :class:`OverMemoryLimit` in the worker instead of pushing the service out of memory.

One small pool per limit, started on first use (``spawn``: the service has threads) and restarted
after a worker died or ran out of memory. Used for the request page's previews
(:mod:`egress_review.web.preview`) and the canonical rebuild at upload (:mod:`egress_review.upload`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


class OverMemoryLimit(Exception):
    """The work needed more memory than the worker may use."""


def _limit_worker(memory_bytes: int) -> None:
    import os
    import resource

    from egress_review.autocheck import _die_with_parent

    # Arrow's own allocator (jemalloc/mimalloc) and thread pool can hang, rather than fail, when an
    # allocation is refused: the system allocator on one thread turns the limit into a MemoryError.
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    os.environ["OMP_NUM_THREADS"] = "1"
    import pyarrow

    pyarrow.set_cpu_count(1)
    pyarrow.set_io_thread_count(1)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    _die_with_parent()


class BoundedPool:
    def __init__(self, memory_bytes: int, workers: int = 1) -> None:
        self.memory_bytes = memory_bytes
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                import multiprocessing

                # a fresh worker now and then hands back the memory a large file left fragmented
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_limit_worker,
                    initargs=(self.memory_bytes,), max_tasks_per_child=50,
                )
            return self._pool

    def _reset(self) -> None:
        with self._lock:
            if self._pool is not None:
                # a worker stuck at its limit never finishes on its own
                for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                    proc.kill()
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def run(self, fn: Callable[..., T], *args: Any, timeout: float = 300) -> T:
        """``fn(*args)`` in a worker; :class:`OverMemoryLimit` when it ran out of memory or died."""
        try:
            return self._executor().submit(fn, *args).result(timeout=timeout)
        except MemoryError as exc:
            self._reset()  # a worker that hit the limit may be left in a poor state
            raise OverMemoryLimit(f"more than {self.memory_bytes // 2**20} MiB of memory needed") from exc
        except BrokenProcessPool as exc:
            self._reset()
            raise OverMemoryLimit("the worker process died (out of memory?)") from exc
        except TimeoutError as exc:
            self._reset()
            raise OverMemoryLimit(f"no answer within {timeout:.0f} s (stuck at its memory limit?)") from exc

    def close(self) -> None:
        self._reset()


_pools: dict[int, BoundedPool] = {}
_pools_lock = threading.Lock()


def pool(memory_bytes: int) -> BoundedPool:
    with _pools_lock:
        if memory_bytes not in _pools:
            _pools[memory_bytes] = BoundedPool(memory_bytes)
        return _pools[memory_bytes]


def close_all() -> None:
    with _pools_lock:
        for p in _pools.values():
            p.close()
        _pools.clear()
