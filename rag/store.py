"""The index: a Chroma collection (dense) plus a BM25 index (lexical) plus the catalog.

Only this module talks to chromadb. ``open_store`` is the one builder: it picks the embedded
``PersistentClient`` under ``$CITYQA_HOME`` or, when ``CITYQA_CHROMA_HOST`` is set, a Chroma
server, without callers knowing which.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.schema import TextNode

from rag.catalog import Catalog, DocRecord
from rag.errors import EmbedderMismatchError
from rag.lexical import BM25Index, ChineseTokenizer
from rag.settings import Settings

_EMBEDDER_KEY = "cityqa_embedder"
_DIMENSION_KEY = "cityqa_dimension"
# Sentence vectors live in a sibling collection: a paraphrased question usually matches one
# sentence far better than the whole chunk around it ("small-to-big" retrieval).
_SENTENCES_SUFFIX = "__sentences"
# Chunk metadata copied onto each sentence so that Chroma filters work on both collections.
_FILTER_KEY_PREFIXES = ("dim_", "path_")
_WRITE_BATCH = 1000


@dataclass(frozen=True)
class SentenceVector:
    """One answer-sized sentence of a chunk and its embedding."""

    chunk_id: str
    position: int
    text: str
    vector: list[float]


@dataclass(frozen=True)
class ChunkRecord:
    """One stored chunk: its id, verbatim text and flat metadata."""

    id: str
    text: str
    metadata: dict[str, Any]

    @property
    def lexical_text(self) -> str:
        # The heading path and title are searchable too: "数字治理驱动路径" is in the section.
        return (
            f"{self.metadata.get('doc_title', '')}\n{self.metadata.get('section', '')}\n{self.text}"
        )


def build_chroma_client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
        )
    path = settings.index_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def index_exists(settings: Settings) -> bool:
    return (settings.index_dir / "catalog.json").is_file()


def open_store(settings: Settings, embedder_id: str, dimension: int) -> IndexStore:
    """Open (or create) the index for this embedder; refuse one built with another."""
    client = build_chroma_client(settings)
    collections = []
    for name in (settings.collection, settings.collection + _SENTENCES_SUFFIX):
        collection = client.get_or_create_collection(
            name,
            embedding_function=None,  # we always supply vectors; never let Chroma download one
            configuration={"hnsw": {"space": "cosine"}},
            metadata={_EMBEDDER_KEY: embedder_id, _DIMENSION_KEY: dimension},
        )
        _check_embedder(collection, embedder_id, dimension)
        collections.append(collection)
    return IndexStore(settings, *collections)


def reset_index(settings: Settings) -> None:
    """Delete the whole index (all documents) so it can be rebuilt, e.g. with a new embedder."""
    client = build_chroma_client(settings)
    names = [getattr(c, "name", c) for c in client.list_collections()]
    for name in (settings.collection, settings.collection + _SENTENCES_SUFFIX):
        if name in names:
            client.delete_collection(name)
    for name in ("catalog.json", "bm25"):
        target = settings.index_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def _check_embedder(collection: Any, embedder_id: str, dimension: int) -> None:
    meta = collection.metadata or {}
    built_with = meta.get(_EMBEDDER_KEY)
    built_dim = meta.get(_DIMENSION_KEY)
    if built_with == embedder_id and built_dim == dimension:
        return
    if collection.count() == 0:  # an empty index can simply be re-stamped
        collection.modify(metadata={_EMBEDDER_KEY: embedder_id, _DIMENSION_KEY: dimension})
        return
    raise EmbedderMismatchError(
        f"索引是用 embedder '{built_with}'（{built_dim} 维）建立的，当前配置为 '{embedder_id}'"
        f"（{dimension} 维），不能混用。请改回 CITYQA_EMBEDDER={built_with}，"
        f"或用当前 embedder 重建索引：cityqa ingest --rebuild"
    )


class IndexStore:
    """Dense + lexical index with a catalog; keeps both in step."""

    def __init__(self, settings: Settings, collection: Any, sentences: Any) -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.settings = settings
        self.collection = collection
        self.sentences = sentences
        self.vector_store = ChromaVectorStore(chroma_collection=collection)
        self.catalog = Catalog(settings.index_dir / "catalog.json")
        self._bm25_dir = settings.index_dir / "bm25"
        self._chunks: dict[str, ChunkRecord] | None = None
        self._texts: tuple[list[str], str] | None = None
        self._bm25: BM25Index | None = None

    @property
    def embedder_id(self) -> str:
        return str((self.collection.metadata or {}).get(_EMBEDDER_KEY))

    # ----- writing -------------------------------------------------------------------
    def write_document(
        self,
        record: DocRecord,
        nodes: list[TextNode],
        sentences: Sequence[SentenceVector] = (),
    ) -> None:
        """Replace a document's chunks and sentences in Chroma; BM25 follows in ``commit``."""
        record.status = "pending"
        record.chunk_ids = [n.node_id for n in nodes]
        self.catalog.put(record)  # written before Chroma, so a crash leaves a trace
        self.collection.delete(where={"doc_id": record.doc_id})
        self.sentences.delete(where={"doc_id": record.doc_id})
        if nodes:
            self.vector_store.add(nodes)
        self._add_sentences(nodes, sentences)
        self._invalidate()

    def _add_sentences(self, nodes: list[TextNode], sentences: Sequence[SentenceVector]) -> None:
        by_id = {n.node_id: n.metadata for n in nodes}
        for start in range(0, len(sentences), _WRITE_BATCH):
            part = sentences[start : start + _WRITE_BATCH]
            self.sentences.add(
                ids=[f"{s.chunk_id}:{s.position}" for s in part],
                embeddings=[s.vector for s in part],
                documents=[s.text for s in part],
                metadatas=[_sentence_metadata(s, by_id[s.chunk_id]) for s in part],
            )

    def delete_document(self, doc_id: str) -> None:
        self.collection.delete(where={"doc_id": doc_id})
        self.sentences.delete(where={"doc_id": doc_id})
        self.catalog.remove(doc_id)
        self._invalidate()

    def commit(self, tokenizer: ChineseTokenizer) -> None:
        """Rebuild BM25 from Chroma, then mark pending documents done."""
        self.rebuild_bm25(tokenizer)
        pending = [d.doc_id for d in self.catalog.docs.values() if d.status == "pending"]
        if pending:
            self.catalog.mark_done(pending)

    def reconcile(self, tokenizer: ChineseTokenizer) -> int:
        """Remove chunks left by an interrupted run; return how many were removed."""
        wanted = self.catalog.done_chunk_ids()
        stored = set(self.collection.get(include=[])["ids"])
        orphans = sorted(stored - wanted)
        for start in range(0, len(orphans), _WRITE_BATCH):
            self.collection.delete(ids=orphans[start : start + _WRITE_BATCH])
        self._remove_orphan_sentences(wanted)
        for doc_id in [d.doc_id for d in self.catalog.docs.values() if d.status == "pending"]:
            self.catalog.docs.pop(doc_id)
        self.catalog.save()
        self._invalidate()
        if orphans or not self._bm25_matches():
            self.rebuild_bm25(tokenizer)
        return len(orphans)

    def sentence_owners(self) -> dict[str, str]:
        """Stored sentence id -> the id of the chunk it belongs to."""
        got = self.sentences.get(include=["metadatas"])
        return {
            sid: str((meta or {}).get("chunk_id"))
            for sid, meta in zip(got["ids"], got["metadatas"], strict=True)
        }

    def _remove_orphan_sentences(self, wanted: set[str]) -> None:
        orphans = [sid for sid, cid in self.sentence_owners().items() if cid not in wanted]
        for start in range(0, len(orphans), _WRITE_BATCH):
            self.sentences.delete(ids=orphans[start : start + _WRITE_BATCH])

    def rebuild_bm25(self, tokenizer: ChineseTokenizer) -> None:
        chunks = list(self.chunks().values())
        index = BM25Index.build(
            [c.id for c in chunks], [tokenizer.tokenize(c.lexical_text) for c in chunks]
        )
        index.save(self._bm25_dir)
        self._bm25 = index

    # ----- reading -------------------------------------------------------------------
    def chunks(self) -> dict[str, ChunkRecord]:
        """Every stored chunk, cached until the next write.

        Returns the local mapping rather than re-reading the attribute, so a concurrent write
        (which resets the cache) can never make a reader see ``None``.
        """
        chunks = self._chunks
        if chunks is None:
            got = self.collection.get(include=["documents", "metadatas"])
            chunks = {
                cid: ChunkRecord(cid, text or "", _public_metadata(meta))
                for cid, text, meta in zip(
                    got["ids"], got["documents"], got["metadatas"], strict=True
                )
            }
            self._chunks = chunks
        return chunks

    def bm25(self, tokenizer: ChineseTokenizer) -> BM25Index:
        index = self._bm25
        if index is None:
            index = BM25Index.load(self._bm25_dir)
            if index is None or set(index.ids) != set(self.chunks()):
                self.rebuild_bm25(tokenizer)
                index = self._bm25
            self._bm25 = index
        assert index is not None
        return index

    def dense_search(
        self, embedding: list[float], k: int, where: dict | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the k nearest chunks."""
        total = self.collection.count()
        if total == 0:
            return []
        kwargs: dict[str, Any] = {"query_embeddings": [embedding], "n_results": min(k, total)}
        if where:
            kwargs["where"] = where
        result = self.collection.query(include=["distances"], **kwargs)
        return [
            (cid, 1.0 - float(dist))
            for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def sentence_search(
        self, embedding: list[float], k: int, where: dict | None = None
    ) -> dict[str, float]:
        """Chunk id -> cosine of its best-matching sentence, over the k nearest sentences."""
        total = self.sentences.count()
        if total == 0:
            return {}
        kwargs: dict[str, Any] = {"query_embeddings": [embedding], "n_results": min(k, total)}
        if where:
            kwargs["where"] = where
        result = self.sentences.query(include=["distances", "metadatas"], **kwargs)
        best: dict[str, float] = {}
        for meta, dist in zip(result["metadatas"][0], result["distances"][0], strict=True):
            cid = str((meta or {}).get("chunk_id"))
            best[cid] = max(best.get(cid, -1.0), 1.0 - float(dist))
        return best

    def sentence_cosines(self, embedding: list[float], chunk_ids: list[str]) -> dict[str, float]:
        """Chunk id -> cosine of its best sentence, for chunks a search did not reach."""
        if not chunk_ids or self.sentences.count() == 0:
            return {}
        got = self.sentences.get(
            where={"chunk_id": {"$in": chunk_ids}}, include=["embeddings", "metadatas"]
        )
        query = np.asarray(embedding, dtype=np.float32)
        best: dict[str, float] = {}
        for meta, vec in zip(got["metadatas"], got["embeddings"], strict=True):
            cid = str((meta or {}).get("chunk_id"))
            best[cid] = max(best.get(cid, -1.0), float(np.dot(np.asarray(vec), query)))
        return best

    def texts(self) -> list[str]:
        """Each chunk's heading and text (for document frequencies, counted the way coverage
        reads passages), cached with the chunks."""
        return self._text_cache()[0]

    def corpus_text(self) -> str:
        """All chunk texts, titles and headings in one string: "does the corpus say X?"."""
        return self._text_cache()[1]

    def _text_cache(self) -> tuple[list[str], str]:
        cached = self._texts
        if cached is None:
            chunks = self.chunks().values()
            texts = [f"{c.metadata.get('section', '')}\n{c.text}" for c in chunks]
            titles = {str(c.metadata.get("doc_title", "")) for c in chunks}
            cached = (texts, "\n".join([*texts, *titles]))
            self._texts = cached
        return cached

    def _invalidate(self) -> None:
        self._chunks = None
        self._texts = None

    def embeddings(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the given chunks (L2-normalised, as they were added)."""
        got = self.collection.get(ids=ids, include=["embeddings"])
        return {
            cid: np.asarray(vec, dtype=np.float32)
            for cid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }

    def _bm25_matches(self) -> bool:
        loaded = BM25Index.load(self._bm25_dir)
        return loaded is not None and set(loaded.ids) == set(self.chunks())


def _sentence_metadata(sentence: SentenceVector, chunk_meta: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "chunk_id": sentence.chunk_id,
        "doc_id": chunk_meta.get("doc_id", ""),
        "position": sentence.position,
    }
    meta.update({k: v for k, v in chunk_meta.items() if k.startswith(_FILTER_KEY_PREFIXES)})
    return meta


def _public_metadata(meta: dict | None) -> dict[str, Any]:
    # llama-index keeps its own serialised node in "_node_content"; callers never need it.
    return {k: v for k, v in (meta or {}).items() if not k.startswith("_")}


def doc_id_for(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
