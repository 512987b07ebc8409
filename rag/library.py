"""The document library as a reader sees it: which documents are indexed, with their
metadata, and how their chunks are tagged.

It needs the store and the taxonomy only, never the embedder or the tokenizer, so listing the
library (``cityqa stats``) does not load models. :meth:`Library.open` opens the index as it was
built, stamped embedder included: it counts and lists, it never queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.settings import Settings
from rag.taxonomy import Taxonomy

if TYPE_CHECKING:
    from rag.catalog import DocRecord
    from rag.store import IndexStore


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    title: str
    source: str
    file_type: str
    chunks: int
    pages: int | None
    ingested_at: str
    warnings: tuple[str, ...] = ()
    doc_number: str = ""
    issuers: tuple[str, ...] = ()
    date: str = ""
    doc_type: str = ""
    kind: str = ""
    completeness: str = "full"
    missing: str = ""
    bundled: bool = False  # part of the corpus shipped with the product

    @property
    def completeness_note(self) -> str:
        """ "" for a full text, else 部分缺失：<what is missing>."""
        return "" if self.completeness == "full" else f"部分缺失：{self.missing or '见原文说明'}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["issuers"] = list(self.issuers)
        out["warnings"] = list(self.warnings)
        out["completeness_note"] = self.completeness_note
        return out


class Library:
    """Documents and tag counts of one index."""

    def __init__(self, settings: Settings, store: IndexStore, taxonomy: Taxonomy) -> None:
        self.settings = settings
        self.store = store
        self.taxonomy = taxonomy

    @classmethod
    def open(cls, settings: Settings | None = None) -> Library:
        """The library of the configured index, opened without loading any model."""
        from rag.store import open_store_as_built

        settings = settings or Settings()
        return cls(settings, open_store_as_built(settings), Taxonomy.load(settings.taxonomy_path))

    def documents(self) -> list[DocumentInfo]:
        corpus = self.settings.corpus_dir
        docs = sorted(self.store.documents(), key=lambda d: d.source)
        return [document_info(d, corpus) for d in docs]

    def stats(self) -> dict[str, Any]:
        """Documents, chunks, embedder and the dimension x path matrix of chunk counts."""
        chunks = self.store.chunks().values()
        library = self.documents()
        dims, paths = self.taxonomy.dimensions, self.taxonomy.paths
        matrix = {d.name: {p.name: 0 for p in paths} for d in dims}
        for chunk in chunks:
            for d in dims:
                if chunk.metadata.get(d.meta_key):
                    for p in paths:
                        matrix[d.name][p.name] += bool(chunk.metadata.get(p.meta_key))
        return {
            "documents": len(self.store.documents()),
            "chunks": len(chunks),
            "generation": self.store.generation,
            "embedder": self.store.embedder_id,
            "index_dir": str(self.settings.index_dir),
            "library": [d.to_dict() for d in library],
            "dimensions": {d.name: _count(chunks, d.meta_key) for d in dims},
            "paths": {p.name: _count(chunks, p.meta_key) for p in paths},
            "matrix": matrix,
            "documents_by_path": self._documents_by_path(chunks, library),
        }

    def _documents_by_path(
        self, chunks: Any, library: Sequence[DocumentInfo]
    ) -> list[dict[str, Any]]:
        """Per document: its chunk count per path, untagged chunks and the total, so a planner
        sees which paths each document speaks to (the map's documents x paths view)."""
        paths = self.taxonomy.paths
        rows: dict[str, dict[str, Any]] = {}
        for doc in library:
            rows[doc.doc_id] = {
                "doc_id": doc.doc_id,
                "title": doc.title,
                "paths": {p.name: 0 for p in paths},
                "untagged": 0,
                "chunks": 0,
            }
        for chunk in chunks:
            row = rows.get(str(chunk.metadata.get("doc_id", "")))
            if row is None:
                continue
            row["chunks"] += 1
            tagged = [p.name for p in paths if chunk.metadata.get(p.meta_key)]
            for name in tagged:
                row["paths"][name] += 1
            row["untagged"] += not tagged
        return list(rows.values())


def document_info(d: DocRecord, corpus_dir: Path | None = None) -> DocumentInfo:
    bundled = corpus_dir is not None and Path(d.path).is_relative_to(corpus_dir.resolve())
    return DocumentInfo(
        doc_id=d.doc_id,
        title=d.title,
        source=d.source,
        file_type=d.file_type,
        chunks=len(d.chunk_ids),
        pages=d.pages,
        ingested_at=d.ingested_at,
        warnings=tuple(d.warnings),
        doc_number=d.doc_number,
        issuers=tuple(d.issuers),
        date=d.date,
        doc_type=d.doc_type,
        kind=d.kind,
        completeness=d.completeness,
        missing=d.missing,
        bundled=bundled,
    )


def _count(chunks: Any, key: str) -> int:
    return sum(1 for c in chunks if c.metadata.get(key))
