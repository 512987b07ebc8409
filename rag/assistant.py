"""``Assistant``: the one public entry point used by the UI, the CLI, eval and staff scripts.

It loads the embedder, taxonomy and index once (``Assistant.open``) and reuses them for every
call. The index is written through ``ingest.Indexer`` and read through ``rag`` components.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.base.embeddings.base import BaseEmbedding

from rag.embeddings import build_embedder, embedding_dimension
from rag.lexical import ChineseTokenizer, build_tokenizer
from rag.settings import Settings
from rag.store import IndexStore, open_store
from rag.taxonomy import Taxonomy

if TYPE_CHECKING:
    from ingest.pipeline import Indexer, IngestProgress, IngestReport


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


class Assistant:
    def __init__(
        self,
        settings: Settings,
        embed_model: BaseEmbedding,
        store: IndexStore,
        taxonomy: Taxonomy,
        tokenizer: ChineseTokenizer,
    ) -> None:
        self.settings = settings
        self.embed_model = embed_model
        self.store = store
        self.taxonomy = taxonomy
        self.tokenizer = tokenizer
        self._indexer: Indexer | None = None

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        build_if_missing: bool = True,
        progress: IngestProgress | None = None,
    ) -> Assistant:
        """Load models and the index once; build the index from the corpus if it is empty."""
        settings = settings or Settings()
        embed_model = build_embedder(settings)
        store = open_store(settings, embed_model.model_name, embedding_dimension(embed_model))
        taxonomy = Taxonomy.load(settings.taxonomy_path)
        assistant = cls(settings, embed_model, store, taxonomy, build_tokenizer(taxonomy))
        if build_if_missing and not store.catalog.done():
            assistant.ingest([settings.corpus_dir], progress=progress)
        return assistant

    # ----- library -------------------------------------------------------------------
    @property
    def indexer(self) -> Indexer:
        if self._indexer is None:
            from ingest.pipeline import Indexer  # the write side, loaded only when needed

            self._indexer = Indexer(
                self.settings, self.embed_model, self.store, self.taxonomy, self.tokenizer
            )
        return self._indexer

    def ingest(
        self,
        paths: Sequence[Path] | None = None,
        *,
        prune: bool = False,
        progress: IngestProgress | None = None,
    ) -> IngestReport:
        """Add or update documents (default: the corpus folder); unchanged files are skipped."""
        return self.indexer.ingest(
            paths or [self.settings.corpus_dir], prune=prune, progress=progress
        )

    def delete_document(self, doc_id: str) -> None:
        if doc_id not in self.store.catalog.docs:
            from rag.errors import InvalidInputError

            raise InvalidInputError(f"文档 '{doc_id}' 不在资料库中")
        self.indexer.delete(doc_id)

    def documents(self) -> list[DocumentInfo]:
        return [
            DocumentInfo(
                doc_id=d.doc_id,
                title=d.title,
                source=d.source,
                file_type=d.file_type,
                chunks=len(d.chunk_ids),
                pages=d.pages,
                ingested_at=d.ingested_at,
                warnings=tuple(d.warnings),
            )
            for d in sorted(self.store.catalog.done(), key=lambda d: d.source)
        ]

    def stats(self) -> dict[str, Any]:
        """Documents, chunks, embedder and the dimension x path matrix of chunk counts."""
        chunks = self.store.chunks().values()
        dims, paths = self.taxonomy.dimensions, self.taxonomy.paths
        matrix = {d.name: {p.name: 0 for p in paths} for d in dims}
        for chunk in chunks:
            for d in dims:
                if chunk.metadata.get(d.meta_key):
                    for p in paths:
                        matrix[d.name][p.name] += bool(chunk.metadata.get(p.meta_key))
        return {
            "documents": len(self.store.catalog.done()),
            "chunks": len(chunks),
            "embedder": self.store.embedder_id,
            "index_dir": str(self.settings.index_dir),
            "dimensions": {d.name: _count(chunks, d.meta_key) for d in dims},
            "paths": {p.name: _count(chunks, p.meta_key) for p in paths},
            "matrix": matrix,
        }


def _count(chunks: Any, key: str) -> int:
    return sum(1 for c in chunks if c.metadata.get(key))
