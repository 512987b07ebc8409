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
from typing import Any, Literal, Protocol

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
    # What the document says about itself (front-matter header, or detected in its text).
    doc_number: str = ""  # 文号
    issuers: list[str] = field(default_factory=list)
    date: str = ""  # YYYY-MM-DD
    doc_type: str = ""  # 地方性法规, 部门规范性文件, 研究论文 …
    kind: str = ""  # 研究论文 / 规范性文件 / 法规 (for reports)
    completeness: str = "full"  # "full" or "partial"
    missing: str = ""  # what a partial text lacks

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date[:4].isdigit() else None


class CatalogBackend(Protocol):
    """Where committed catalog generations live: a file beside an embedded store, or the
    Chroma server itself, so that every worker of a deployment reads the same catalog."""

    def read(self) -> str | None: ...  # the JSON payload of the newest generation
    def write(self, payload: str, generation: int) -> None: ...  # atomically, the commit point
    def signature(self) -> Any: ...  # changes whenever a new generation is committed
    def where(self) -> str: ...  # for messages


class FileCatalog:
    """``index/catalog.json``, replaced atomically (temporary file, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write(self, payload: str, generation: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".json.{os.getpid()}.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as out:
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def signature(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def where(self) -> str:
        return str(self.path)


class ChromaCatalog:
    """The catalog inside a Chroma server: one record per generation plus a ``head`` record
    naming the newest. A generation is written whole before ``head`` moves to it, so a reader
    never sees half a catalog; the previous generation is kept for readers still on it."""

    HEAD = "head"

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    def _head(self) -> int | None:
        got = self.collection.get(ids=[self.HEAD], include=["metadatas"])
        if not got["ids"]:
            return None
        return int((got["metadatas"][0] or {}).get("generation", 0))

    def read(self) -> str | None:
        generation = self._head()
        if generation is None:
            return None
        got = self.collection.get(ids=[f"gen-{generation}"], include=["documents"])
        return got["documents"][0] if got["ids"] else None

    def write(self, payload: str, generation: int) -> None:
        self.collection.upsert(
            ids=[f"gen-{generation}"],
            documents=[payload],
            embeddings=[[1.0]],
            metadatas=[{"generation": generation}],
        )
        self.collection.upsert(
            ids=[self.HEAD],
            documents=[""],
            embeddings=[[1.0]],
            metadatas=[{"generation": generation}],
        )
        stale = [f"gen-{g}" for g in range(max(0, generation - 5), generation - 1)]
        if stale:
            self.collection.delete(ids=stale)

    def signature(self) -> int | None:
        return self._head()

    def where(self) -> str:
        return f"Chroma 集合 {self.collection.name}"


class Catalog:
    """The documents of one generation, read from and committed to a ``CatalogBackend``."""

    def __init__(self, backend: CatalogBackend | Path) -> None:
        self.backend: CatalogBackend = (
            FileCatalog(backend) if isinstance(backend, Path) else backend
        )
        self.docs: dict[str, DocRecord] = {}
        self.generation = 0
        # Names the chunk snapshot written with this generation (``IndexStore.commit``): a
        # snapshot is read only by the catalog that names it.
        self.chunks_token = ""
        raw_text = self.backend.read()
        if raw_text is not None:
            try:
                raw = json.loads(raw_text)
                self.docs = {d["doc_id"]: DocRecord(**d) for d in raw.get("documents", [])}
                self.generation = int(raw.get("generation", 0))
                self.chunks_token = str(raw.get("chunks_token", ""))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise IndexCorruptError(
                    f"索引损坏：无法读取 {self.backend.where()}（{exc}）。请运行 "
                    "cityqa ingest --rebuild 修复（从原文件重建索引）。"
                ) from exc

    def reload(self) -> Catalog:
        """The newest committed generation."""
        return Catalog(self.backend)

    def save(self) -> None:
        """Commit this catalog as a new generation."""
        self.generation += 1
        payload = {
            "generation": self.generation,
            "chunks_token": self.chunks_token,
            "documents": [asdict(d) for d in self.docs.values()],
        }
        self.backend.write(json.dumps(payload, ensure_ascii=False, indent=1), self.generation)

    def done(self) -> list[DocRecord]:
        return [d for d in self.docs.values() if d.status == "done"]

    def done_chunk_ids(self) -> set[str]:
        return {cid for d in self.done() for cid in d.chunk_ids}
