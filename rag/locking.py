"""One writer at a time per index: an OS file lock under ``$CITYQA_HOME/index``.

Every write (CLI ingest, web upload, delete, ``--rebuild``) runs inside ``writer_lock``. The lock
is an ``flock`` held by the ``filelock`` package, so it is released by the kernel when a writer
dies, even by SIGKILL: a crashed writer never blocks the next one. A second writer waits, says
so once through ``on_wait``, and gives up with ``IndexBusyError`` after the configured time.
Readers never take it: they read the last committed generation (see ``rag.store``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from rag.errors import IndexBusyError

LOCK_NAME = "write.lock"
OWNER_NAME = "write.owner"
# Index folders whose lock this thread holds: a writer that calls another writer (an upload
# that ingests) re-enters instead of waiting for itself.
_held = threading.local()


@contextmanager
def writer_lock(
    index_dir: Path, timeout_s: float, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the index's writer lock for the duration of the block (re-entrant per thread)."""
    from filelock import FileLock, Timeout

    key = str(index_dir.resolve())
    held: set[str] = _held.__dict__.setdefault("dirs", set())
    if key in held:
        yield
        return
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(index_dir / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _owner(index_dir)
        if on_wait is not None:
            on_wait(f"另一个写入进程（{holder}）正在更新索引，等待其完成…")
        try:
            lock.acquire(timeout=timeout_s)
        except Timeout:
            raise IndexBusyError(
                f"索引 {index_dir} 正被另一个写入进程（{holder}）占用，等待 {timeout_s:.0f} 秒后"
                "仍未释放。请等它结束后重试；如该进程已不存在，锁会自动释放。"
            ) from None
    held.add(key)
    try:
        _write_owner(index_dir)
        yield
    finally:
        held.discard(key)
        lock.release()


def _write_owner(index_dir: Path) -> None:
    # Only for the waiting message: the flock itself is what excludes other writers.
    with suppress(OSError):
        (index_dir / OWNER_NAME).write_text(f"pid {os.getpid()}", encoding="utf-8")


def _owner(index_dir: Path) -> str:
    try:
        return (index_dir / OWNER_NAME).read_text(encoding="utf-8").strip() or "未知进程"
    except OSError:
        return "未知进程"
