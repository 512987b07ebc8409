"""Errors users see. Each message says what is wrong and what to do, in Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class CityQAError(Exception):
    """Base class for errors that the CLI/UI show to users as plain messages."""


class ConfigError(CityQAError):
    """A setting or an optional component is missing or invalid."""


class EmbedderMismatchError(CityQAError):
    """The index was built with another embedder than the one configured now."""


class IndexNotFoundError(CityQAError):
    """No index exists yet under $CITYQA_HOME."""


class InvalidInputError(CityQAError, ValueError):
    """A question, filter or batch line is not acceptable."""


class IndexBusyError(CityQAError):
    """Another process or thread holds the index's writer lock for too long."""


class IndexCorruptError(CityQAError):
    """A file of the index cannot be read; the message says how to repair it."""


class DiskFullError(CityQAError):
    """A write ran out of disk space; committed data is untouched."""


class ReadOnlyIndexError(CityQAError):
    """The index folder cannot be written (read-only volume, no permission)."""


def storage_error(exc: BaseException, where: object) -> CityQAError | None:
    """The user-facing error for a storage failure (disk full, read-only, corrupt), or None
    when ``exc`` is not one. Chroma reports SQLite's errors as text, so both forms count."""
    import errno

    if isinstance(exc, CityQAError):
        return exc
    code = getattr(exc, "errno", None)
    text = str(exc)
    lowered = text.lower()
    if (
        code == errno.ENOSPC
        or "disk is full" in lowered
        or "no space left" in lowered
        or (type(exc).__module__.startswith("chromadb") and _nearly_full(where))
    ):
        return DiskFullError(
            f"磁盘已满：无法写入 {where}。请清理磁盘空间后重试；已提交的索引没有受影响，"
            "下次入库会自动清理本次未完成的写入。"
        )
    if (
        code in (errno.EROFS, errno.EACCES, errno.EPERM)
        or "readonly database" in lowered
        or "read-only file system" in lowered
    ):
        return ReadOnlyIndexError(
            f"目录不可写：{where}（只读文件系统或没有写权限）。只读的索引仍然可以提问；"
            "入库、上传和删除需要可写的 CITYQA_HOME。"
        )
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return IndexCorruptError(
            f"索引损坏：{where} 无法读取（{text[:160]}）。请运行 cityqa ingest --rebuild 修复"
            "（从原文件重建索引）。"
        )
    return None


@contextmanager
def storage_errors(where: object) -> Iterator[None]:
    """Re-raise a storage failure inside the block as its user-facing error."""
    try:
        yield
    except CityQAError:
        raise
    except Exception as exc:
        mapped = storage_error(exc, where)
        if mapped is None:
            raise
        raise mapped from exc


# Chroma reports a full disk only as a failed write ("Error in compaction: Failed to apply
# logs…"); a failure while the volume has less than this left is taken as the disk being full.
_FULL_BELOW_BYTES = 32 * 1024 * 1024


def _nearly_full(where: object) -> bool:
    import shutil
    from pathlib import Path

    path = Path(str(where))
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free < _FULL_BELOW_BYTES
    except OSError:
        return False
