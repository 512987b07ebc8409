"""The document catalog: which files are indexed, with which content hash and chunk ids.

A document is ``pending`` while its chunks are being written and ``done`` only once both the
Chroma collection and the BM25 index hold them. Anything in the store that is not backed by a
``done`` entry is an orphan of an interrupted run and is removed by ``IndexStore.reconcile``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

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
        if path.is_file():
            raw = json.loads(path.read_text(encoding="utf-8"))
            self.docs = {d["doc_id"]: DocRecord(**d) for d in raw.get("documents", [])}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        payload = {"documents": [asdict(d) for d in self.docs.values()]}
        tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

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
