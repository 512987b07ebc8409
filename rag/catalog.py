"""The document catalog: which files are indexed, with which content hash and chunk ids.

A document is ``pending`` while its chunks are being written and ``done`` only once both the
Chroma collection and the BM25 index hold them. Anything in the store that is not backed by a
``done`` entry is an orphan of an interrupted run and is removed by ``IndexStore.reconcile``.

Every save is a new *generation* (a counter in the file, and a new file by atomic rename):
readers compare the file's signature to notice that another process committed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from rag.errors import IndexCorruptError

Status = Literal["pending", "done"]


@dataclass
class DocRecord:
    doc_id: str
    source: str
    path: str
    title: str
    content_hash: str
    file_type: str
    pipeline: str = ""  # fingerprint of chunking settings + taxonomy: re-ingest when it changes
    chunk_ids: list[str] = field(default_factory=list)
    pages: int | None = None
    chars: int = 0
    status: Status = "pending"
    ingested_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )
    warnings: list[str] = field(default_factory=list)


class Catalog:
    """A JSON file written atomically (temporary file + rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.docs: dict[str, DocRecord] = {}
        self.generation = 0
        if path.is_file():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                self.docs = {d["doc_id"]: DocRecord(**d) for d in raw.get("documents", [])}
                self.generation = int(raw.get("generation", 0))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise IndexCorruptError(
                    f"索引损坏：无法读取 {path}（{exc}）。请运行 cityqa ingest --rebuild 修复"
                    "（从原文件重建索引）。"
                ) from exc

    def save(self) -> None:
        """Write a new generation atomically (temporary file, fsync, rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.generation += 1
        tmp = self.path.with_suffix(f".json.{os.getpid()}.tmp")
        payload = {
            "generation": self.generation,
            "documents": [asdict(d) for d in self.docs.values()],
        }
        try:
            with tmp.open("w", encoding="utf-8") as out:
                out.write(json.dumps(payload, ensure_ascii=False, indent=1))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def done(self) -> list[DocRecord]:
        return [d for d in self.docs.values() if d.status == "done"]

    def done_chunk_ids(self) -> set[str]:
        return {cid for d in self.done() for cid in d.chunk_ids}

    def put(self, record: DocRecord) -> None:
        self.docs[record.doc_id] = record
        self.save()

    def remove(self, doc_id: str) -> None:
        if self.docs.pop(doc_id, None) is not None:
            self.save()

    def mark_done(self, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            self.docs[doc_id].status = "done"
        self.save()


def catalog_signature(path: Path) -> tuple[int, int, int] | None:
    """What changes whenever a catalog generation is committed (the file is replaced)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
