"""The index: a Chroma collection (dense) plus a BM25 index (lexical) plus the catalog.

Only this module talks to chromadb. ``open_store`` is the one builder: it picks the embedded
``PersistentClient`` under ``$CITYQA_HOME`` or, when ``CITYQA_CHROMA_HOST`` is set, a Chroma
server, without callers knowing which.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from rag.aliases import PosCut, learn_aliases, mentions_definition
from rag.catalog import Catalog, CatalogBackend, ChromaCatalog, DocRecord, FileCatalog
from rag.errors import EmbedderMismatchError, storage_error, storage_errors
from rag.extractive import split_units
from rag.lexical import BM25Index, ChineseTokenizer
from rag.locking import writer_lock
from rag.settings import Settings
from rag.snapshot import INTERNED_CHARS, load_snapshot, save_snapshot
from rag.termindex import TermIndex

if TYPE_CHECKING:  # LlamaIndex is imported by the write path only: reading needs none of it
    from llama_index.core.schema import TextNode

_EMBEDDER_KEY = "cityqa_embedder"
_DIMENSION_KEY = "cityqa_dimension"
# Sentence vectors live in a sibling collection: a paraphrased question usually matches one
# sentence far better than the whole chunk around it ("small-to-big" retrieval).
_SENTENCES_SUFFIX = "__sentences"
# With a Chroma server the catalog lives there too, so all workers share it.
_CATALOG_SUFFIX = "__catalog"
# Chunk metadata copied onto each sentence so that Chroma filters work on both collections.
_FILTER_KEY_PREFIXES = ("dim_", "path_")
_WRITE_BATCH = 1000
_READ_BATCH = 1000
log = logging.getLogger(__name__)
T = TypeVar("T")


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


def build_chroma_client(settings: Settings, fresh: bool = False) -> Any:
    """A Chroma client for the configured store.

    ``fresh`` opens the embedded store anew: chromadb shares one in-memory vector index per
    folder and process and never reloads it when another process writes, so a reader that saw
    another process commit must open a new one to see (and not trip over) the new vectors.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
        )
    path = settings.index_dir / "chroma"
    if path.is_dir() and not os.access(path, os.W_OK):
        path = _writable_copy(path)
    else:
        path.mkdir(parents=True, exist_ok=True)
    from chromadb.api.shared_system_client import SharedSystemClient

    if fresh:
        SharedSystemClient._identifier_to_system.pop(str(path), None)
    try:
        if (path / "chroma.sqlite3").is_file():
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        # A new store: chromadb creates its tables on first open, and two processes doing
        # that at once make one fail ("table collections already exists"). One at a time.
        from filelock import FileLock

        with FileLock(path.parent / "chroma-create.lock"):
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception:
        # chromadb keeps a system that failed to start; drop it so a repaired store (or a
        # retry) is opened afresh rather than through the broken one.
        SharedSystemClient._identifier_to_system.pop(str(path), None)
        raise


def _writable_copy(path: Path) -> Path:
    """A private copy of a read-only embedded store: chromadb cannot open SQLite read-only,
    but serving a prebuilt index from a read-only volume is a real deployment."""
    import tempfile

    stamp = max((p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()), default=0)
    key = hashlib.sha1(f"{path.resolve()}:{stamp}".encode()).hexdigest()[:12]
    copy = Path(tempfile.gettempdir()) / f"cityqa-readonly-{key}"
    if not copy.is_dir():
        partial = copy.with_name(copy.name + f".{os.getpid()}.tmp")
        shutil.copytree(path, partial, dirs_exist_ok=True)
        os.replace(partial, copy)
        log.warning("索引目录只读：向量库复制到 %s 后以只读方式提供问答", copy)
    return copy


def index_exists(settings: Settings) -> bool:
    if settings.chroma_host:
        client = build_chroma_client(settings)
        names = [getattr(c, "name", c) for c in client.list_collections()]
        if settings.collection + _CATALOG_SUFFIX not in names:
            return False
        return (
            ChromaCatalog(client.get_collection(settings.collection + _CATALOG_SUFFIX)).read()
            is not None
        )
    return (settings.index_dir / "catalog.json").is_file()


def open_store(settings: Settings, embedder_id: str, dimension: int) -> IndexStore:
    """Open (or create) the index for this embedder; refuse one built with another."""
    store = IndexStore(settings, embedder_id, dimension)
    with storage_errors(settings.index_dir / "chroma"):
        store.open_collections(build_chroma_client(settings))
    return store


def open_store_as_built(settings: Settings) -> IndexStore:
    """Open the index with the embedder id and dimension it is stamped with, without loading
    that embedder: for listing and counting only. Queries need :func:`open_store`, which
    refuses an index built with another embedder."""
    client = build_chroma_client(settings)
    with storage_errors(settings.index_dir / "chroma"):
        names = {getattr(c, "name", c) for c in client.list_collections()}
        stamp: dict[str, Any] = {}
        if settings.collection in names:
            stamp = client.get_collection(settings.collection).metadata or {}
        embedder_id = str(stamp.get(_EMBEDDER_KEY) or settings.embedder.strip())
        store = IndexStore(settings, embedder_id, int(stamp.get(_DIMENSION_KEY) or 0))
        store.open_collections(client)
    return store


def reset_index(settings: Settings, on_wait: Callable[[str], None] | None = None) -> None:
    """Delete the whole index (all documents) so it can be rebuilt, e.g. with a new embedder.

    The catalog goes first: whatever a kill leaves behind is then an orphan that the next
    ingest removes, never a document that claims chunks the store no longer has.
    """
    with (
        storage_errors(settings.index_dir),
        writer_lock(settings.writer_lock_dir, settings.write_lock_timeout_s, on_wait),
    ):
        for name in ("catalog.json", "bm25", "terms", "chunks"):
            target = settings.index_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        try:
            client = build_chroma_client(settings)
        except Exception as exc:  # a corrupt embedded store: remove it whole
            if settings.chroma_host or storage_error(exc, "") is None:
                raise
            shutil.rmtree(settings.index_dir / "chroma", ignore_errors=True)
            return
        names = [getattr(c, "name", c) for c in client.list_collections()]
        # The catalog first (see above), then the vectors.
        ordered = [settings.collection + s for s in (_CATALOG_SUFFIX, "", _SENTENCES_SUFFIX)]
        for name in ordered:
            if name in names:
                client.delete_collection(name)


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


@dataclass
class Repair:
    """What ``IndexStore.reconcile`` found and put right."""

    orphans: int = 0  # chunks no committed document owns (an interrupted run's)
    pending: list[str] = field(default_factory=list)  # sources of uncommitted documents
    lost: list[DocRecord] = field(default_factory=list)  # committed, but chunks gone

    @property
    def changed(self) -> bool:
        return bool(self.orphans or self.pending or self.lost)

    def describe(self) -> str:
        parts = []
        if self.orphans:
            parts.append(f"清理了中断写入残留的 {self.orphans} 个片段")
        if self.pending:
            parts.append(f"撤销了 {len(self.pending)} 个未完成的入库")
        if self.lost:
            names = "、".join(d.source for d in self.lost[:5])
            more = f" 等 {len(self.lost)} 个" if len(self.lost) > 5 else ""
            parts.append(f"{names}{more}文档的向量丢失，已重新入库")
        return "；".join(parts)


class _View:
    """One committed generation as readers see it: catalog, chunks, texts and BM25.

    Built lazily and never mutated once filled, so a reader holding it is never disturbed by
    a write; a newer generation is a new view.
    """

    def __init__(self, signature: Any, catalog: Catalog) -> None:
        self.signature = signature
        self.catalog = catalog
        self.chunks: dict[str, ChunkRecord] | None = None
        self.documents: tuple[DocRecord, ...] | None = None
        self.terms: TermIndex | None = None
        self.by_document: dict[str, list[ChunkRecord]] | None = None
        self.bm25: BM25Index | None = None
        self.bm25_saved = False  # whether ``bm25`` is the index saved on disk
        self.sentence_count: int | None = None
        self.aliases: tuple[tuple[str, str], ...] | None = None
        # The ids Chroma held when ``check`` looked, kept only until ``chunks`` uses them (a
        # second read of every id costs seconds at 100,000 chunks).
        self.stored_ids: set[str] | None = None
        # Whether ``chunks`` are the commit snapshot's (the texts that commit saved).
        self.chunks_from_snapshot = False


class _PerChunk(Generic[T]):
    """What one tokenizer made of each chunk's text, kept across a writer's commits (with the
    text it is of): every commit of a long ingest needs it for every committed chunk, and
    making it again each time would grow with the square of the corpus."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, T]] = {}
        self._by: ChineseTokenizer | None = None

    def values(
        self, texts: dict[str, str], tokenizer: ChineseTokenizer, make: Callable[[str], T]
    ) -> list[T]:
        """One value per text (chunk id -> text), in order; only the chunks given are kept."""
        if tokenizer is not self._by:
            self._known, self._by = {}, tokenizer
        fresh: dict[str, tuple[str, T]] = {}
        for cid, text in texts.items():
            known = self._known.get(cid)
            if known is None or known[0] != text:
                known = (text, make(text))
            fresh[cid] = known
        self._known = fresh
        return [value for _, value in fresh.values()]


class IndexStore:
    """Dense + lexical index with a catalog.

    Readers see only committed generations: chunks of a document whose catalog entry is
    ``done`` and whose chunks are all in Chroma. Writers work inside ``writing()``, which holds
    the index's writer lock and a catalog freshly read from disk, and publish their work with
    ``commit``: the catalog file is the commit point, BM25 is saved just before it.
    """

    def __init__(self, settings: Settings, embedder_id: str, dimension: int) -> None:
        self.settings = settings
        self._embedder = (embedder_id, dimension)
        self._backend: CatalogBackend = FileCatalog(settings.index_dir / "catalog.json")
        # With a Chroma server, BM25 comes from the shared store (rebuilt per generation), never
        # from one worker's disk.
        self._bm25_dir: Path | None = None if settings.chroma_host else settings.index_dir / "bm25"
        self._terms_dir: Path | None = (
            None if settings.chroma_host else settings.index_dir / "terms"
        )
        self._chunks_dir: Path | None = (
            None if settings.chroma_host else settings.index_dir / "chunks"
        )
        self._checked_at = 0.0
        self._view_lock = threading.Lock()
        self._view: _View | None = None
        self._own: set[Any] = set()  # catalog signatures this process committed
        self._writer: Catalog | None = None
        self._retired_client: Any = None
        # A writer's BM25 tokens per chunk id (with the text they are of): every commit of a
        # long ingest rebuilds BM25, and re-tokenizing the whole corpus each time would make
        # ingest time grow with the square of the corpus.
        self._tokens: _PerChunk[list[str]] = _PerChunk()
        # A writer's records of the chunks Chroma holds, by id: what this process sent, plus
        # the snapshot of the commit it started from. Each commit needs every committed
        # chunk (for BM25, term index and snapshot); reading them all back from Chroma at
        # every commit of a long ingest would grow with the square of the corpus.
        self._records: dict[str, ChunkRecord] = {}
        self._records_token: str | None = None  # the commit ``_records`` is current for
        self._records_seeded = False  # whether that commit's snapshot was read into it
        self._aliases: _PerChunk[list[tuple[str, str]]] = _PerChunk()  # defined per chunk
        # Chunks and sentences written but not yet sent to Chroma: a write costs several times
        # more per record in the small batches of one file than in batches of a thousand.
        self._unsent_nodes: list[TextNode] = []
        self._unsent_sentences: list[tuple[SentenceVector, dict[str, Any]]] = []

    def open_collections(self, client: Any) -> None:
        embedder_id, dimension = self._embedder
        collections = []
        for name in (self.settings.collection, self.settings.collection + _SENTENCES_SUFFIX):
            collection = client.get_or_create_collection(
                name,
                embedding_function=None,  # we always supply vectors; never let Chroma download
                configuration={"hnsw": {"space": "cosine"}},
                metadata={_EMBEDDER_KEY: embedder_id, _DIMENSION_KEY: dimension},
            )
            _check_embedder(collection, embedder_id, dimension)
            collections.append(collection)
        self.client = client
        self.collection, self.sentences = collections
        if self.settings.chroma_host:
            self._backend = ChromaCatalog(
                client.get_or_create_collection(
                    self.settings.collection + _CATALOG_SUFFIX, embedding_function=None
                )
            )

    @property
    def embedder_id(self) -> str:
        return str((self.collection.metadata or {}).get(_EMBEDDER_KEY))

    # ----- generations -----------------------------------------------------------------
    def refresh(self) -> bool:
        """Pick up a generation another process committed; True if there was one.

        Embedded: one ``stat`` of catalog.json per call. Server: one small request, at most
        every ``chroma_refresh_interval_s``.
        """
        if self.settings.chroma_host and self._view is not None and self._writer is None:
            now = time.monotonic()
            if now - self._checked_at < self.settings.chroma_refresh_interval_s:
                return False
            self._checked_at = now
        signature = self._backend.signature()
        view = self._view
        if view is not None and view.signature == signature:
            return False
        with self._view_lock:
            view = self._view
            if view is not None and view.signature == signature:
                return False
            foreign = view is not None and signature not in self._own
            if foreign and not self.settings.chroma_host:
                self._reopen_chroma()
            self._view = _View(signature, Catalog(self._backend))
        return True

    def _reopen_chroma(self) -> None:
        # The client retired last time is closed now; the one retired now may still serve a
        # question that started before this refresh.
        old, self._retired_client = self._retired_client, self.client
        self.open_collections(build_chroma_client(self.settings, fresh=True))
        if old is not None:
            with contextlib.suppress(Exception):
                old._system.stop()

    def view(self) -> _View:
        """The newest committed generation (one ``stat`` to check; reloaded when it moved)."""
        self.refresh()
        view = self._view
        assert view is not None
        return view

    @property
    def generation(self) -> int:
        return self.view().catalog.generation

    @property
    def catalog(self) -> Catalog:
        """The committed catalog (read-only for callers; writers use ``writing()``)."""
        return self.view().catalog

    # ----- writing -------------------------------------------------------------------
    @contextmanager
    def writing(self, on_wait: Callable[[str], None] | None = None) -> Iterator[Catalog]:
        """Hold the writer lock; yield the catalog as on disk now, to change and commit."""
        lock_dir, timeout = self.settings.writer_lock_dir, self.settings.write_lock_timeout_s
        with writer_lock(lock_dir, timeout, on_wait):
            if self._writer is not None:  # re-entered by the same writer
                yield self._writer
                return
            self.refresh()  # another process may have written since we last looked
            self._writer = Catalog(self._backend)
            if self._writer.chunks_token != self._records_token:
                # Another process committed since: what this one remembers may be stale.
                self._records, self._records_seeded = {}, False
                self._records_token = self._writer.chunks_token
            try:
                yield self._writer
            finally:
                self._writer = None
                # What a failed writer did not send stays unsent: nothing committed owns it.
                self._unsent_nodes, self._unsent_sentences = [], []

    def _write_catalog(self) -> Catalog:
        if self._writer is None:
            raise RuntimeError("index writes must run inside IndexStore.writing()")
        return self._writer

    def write_document(
        self,
        record: DocRecord,
        nodes: list[TextNode],
        sentences: Sequence[SentenceVector] = (),
    ) -> None:
        """Replace a document's chunks and sentences in Chroma; published by ``commit``.

        Until then the document is ``pending`` in the writer's catalog only: readers keep
        serving the previous version, and a crash leaves chunks no committed entry owns,
        which ``reconcile`` removes.
        """
        catalog = self._write_catalog()
        record.status = "pending"
        record.chunk_ids = [n.node_id for n in nodes]
        # Upserts, never deletes: the previous version stays whole for readers until the
        # commit, which removes the chunks no committed document owns any more. Records are
        # sent in large batches across documents; ``commit`` sends the rest first.
        by_id = {n.node_id: n.metadata for n in nodes}
        self._unsent_nodes += nodes
        self._unsent_sentences += [(s, by_id[s.chunk_id]) for s in sentences]
        catalog.docs[record.doc_id] = record
        if len(self._unsent_nodes) + len(self._unsent_sentences) >= _WRITE_BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the buffered chunks and sentences to Chroma."""
        nodes, self._unsent_nodes = self._unsent_nodes, []
        sentences, self._unsent_sentences = self._unsent_sentences, []
        for start in range(0, len(nodes), _WRITE_BATCH):
            self._upsert_nodes(nodes[start : start + _WRITE_BATCH])
        for start in range(0, len(sentences), _WRITE_BATCH):
            part = sentences[start : start + _WRITE_BATCH]
            self.sentences.upsert(
                ids=[f"{s.chunk_id}:{s.position}" for s, _ in part],
                embeddings=[s.vector for s, _ in part],
                documents=[s.text for s, _ in part],
                metadatas=[_sentence_metadata(s, meta) for s, meta in part],
            )

    def _upsert_nodes(self, nodes: list[TextNode]) -> None:
        # llama-index's ChromaVectorStore.add record layout, as an upsert (a chunk id is
        # stable across versions of a document), less its "_node_content": a JSON copy of
        # the node's whole metadata and relations, more than half of each record, which no
        # reader here uses (chunks are read back as text plus flat metadata). It made each
        # write of a chunk about a third slower, and every index larger.
        from llama_index.core.schema import MetadataMode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        metadatas = []
        for node in nodes:
            meta = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
            meta.pop("_node_content", None)
            metadatas.append({k: ("" if v is None else v) for k, v in meta.items()})
        documents = [n.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        self.collection.upsert(
            ids=[n.node_id for n in nodes],
            embeddings=[n.get_embedding() for n in nodes],
            metadatas=metadatas,
            documents=documents,
        )
        # As Chroma will give them back: the same text and flat metadata.
        for node, text, meta in zip(nodes, documents, metadatas, strict=True):
            self._records[node.node_id] = ChunkRecord(node.node_id, text, _public_metadata(meta))

    def delete_document(self, doc_id: str) -> None:
        """Drop a document from the catalog; its chunks go once the deletion is committed."""
        self._write_catalog().docs.pop(doc_id, None)

    def commit(self, tokenizer: ChineseTokenizer) -> None:
        """Publish the writer's catalog: pending documents become done, BM25 follows them,
        and chunks no committed document owns (replaced versions, deletions) are removed."""
        catalog = self._write_catalog()
        self.flush()
        for doc in catalog.docs.values():
            doc.status = "done"
        wanted = catalog.done_chunk_ids()
        stored = self.collection.get(include=[])["ids"]  # read once: nothing writes until done
        records = self._committed_records(wanted, stored)
        index = BM25Index.build(list(records), self._token_lists(records, tokenizer))
        if self._bm25_dir is not None:
            index.save(self._bm25_dir)
        # A new token per commit, also where no snapshot is kept (a Chroma server): it is how
        # a writer tells that another committed since (``writing``).
        token = uuid.uuid4().hex
        if self._terms_dir is not None:
            # Saved with BM25: the first question of a new process loads it, not builds it.
            term_texts = {cid: _term_text(c) for cid, c in records.items()}
            TermIndex(list(term_texts.values()), _titles(records.values())).save(
                self._terms_dir, list(term_texts), token
            )
        if self._chunks_dir is not None:
            # Written before the catalog that names it: a crash in between leaves a
            # snapshot nobody reads.
            save_snapshot(
                self._chunks_dir,
                token,
                ((r.id, r.text, r.metadata) for r in records.values()),
                self._defined_aliases(records, tokenizer),
            )
        catalog.chunks_token = token
        catalog.save()  # the commit point
        self._records_token = token
        self._own.add(self._backend.signature())
        self._remove_unowned(wanted, stored)

    def _committed_records(self, wanted: set[str], stored: list[str]) -> dict[str, ChunkRecord]:
        """The stored chunks among ``wanted`` in Chroma's order, from the writer's records
        where it has them; only the rest are read from Chroma."""
        if not self._records_seeded:
            self._records_seeded = True
            if self._chunks_dir is not None and self._records_token:
                saved = load_snapshot(self._chunks_dir, self._records_token, ChunkRecord)
                sent, self._records = self._records, (saved.records if saved else {})
                self._records.update(sent)  # what this writer sent since is newer
        ids = [cid for cid in stored if cid in wanted]
        missing = [cid for cid in ids if cid not in self._records]
        self._records.update(self._read_chunks(missing))
        self._records = {cid: self._records[cid] for cid in ids}  # only the committed ones
        return self._records

    def _defined_aliases(
        self, records: dict[str, ChunkRecord], tokenizer: ChineseTokenizer
    ) -> list[tuple[str, str]]:
        """What ``aliases`` learns from these chunks, kept per chunk across commits (as the
        BM25 tokens are), so a reader gets them without loading jieba's POS tagger."""
        per_chunk = self._aliases.values(
            {cid: r.text for cid, r in records.items()},
            tokenizer,
            lambda text: learn_aliases([text], tokenizer.pos_cut),
        )
        return list(dict.fromkeys(pair for pairs in per_chunk for pair in pairs))

    def _token_lists(
        self, records: dict[str, ChunkRecord], tokenizer: ChineseTokenizer
    ) -> list[list[str]]:
        return self._tokens.values(
            {cid: r.lexical_text for cid, r in records.items()},
            tokenizer,
            lambda text: [sys.intern(t) for t in tokenizer.tokenize(text)],
        )

    def reconcile(self) -> Repair:
        """Put the writer's catalog and Chroma back in agreement (after a crash or a lost
        store): drop uncommitted entries and orphan chunks, and committed documents whose
        chunks are gone (the caller re-ingests those). Nothing is committed here."""
        catalog = self._write_catalog()
        repair = Repair()
        for doc in [d for d in catalog.docs.values() if d.status != "done"]:
            repair.pending.append(doc.source)
            catalog.docs.pop(doc.doc_id)
        stored = set(self.collection.get(include=[])["ids"])
        for doc in list(catalog.docs.values()):
            if not set(doc.chunk_ids) <= stored:
                repair.lost.append(doc)
                catalog.docs.pop(doc.doc_id)
        repair.orphans = len(stored - catalog.done_chunk_ids())
        return repair

    def check(self) -> Repair:
        """What ``reconcile`` would repair, without the lock or any change (for opening)."""
        view = self.view()
        catalog = view.catalog
        stored = set(self.collection.get(include=[])["ids"])
        if view.chunks is None:
            view.stored_ids = stored
        lost = [d for d in catalog.done() if not set(d.chunk_ids) <= stored]
        return Repair(
            orphans=len(stored - catalog.done_chunk_ids()),
            pending=[d.source for d in catalog.docs.values() if d.status != "done"],
            lost=lost,
        )

    def bm25_current(self) -> bool:
        """Whether the BM25 index on disk matches this generation (loaded once, then kept)."""
        if self._bm25_dir is None:
            return True  # rebuilt in memory per generation
        return self._saved_bm25() is not None

    def _saved_bm25(self) -> BM25Index | None:
        """The BM25 index saved for this generation, kept in the view; None when stale."""
        view = self.view()
        if view.bm25 is None and self._bm25_dir is not None:
            loaded = BM25Index.load(self._bm25_dir)
            if loaded is not None and set(loaded.ids) == set(self.chunks()):
                view.bm25, view.bm25_saved = loaded, True
        return view.bm25 if view.bm25_saved else None

    def _remove_unowned(self, wanted: set[str], stored: list[str]) -> None:
        orphans = [cid for cid in stored if cid not in wanted]
        for start in range(0, len(orphans), _WRITE_BATCH):
            self.collection.delete(ids=orphans[start : start + _WRITE_BATCH])
        owners = self.sentence_owners()
        stray = [sid for sid, cid in owners.items() if cid not in wanted]
        for start in range(0, len(stray), _WRITE_BATCH):
            self.sentences.delete(ids=stray[start : start + _WRITE_BATCH])

    def sentence_owners(self) -> dict[str, str]:
        """Stored sentence id -> the id of the chunk it belongs to (``<chunk id>:<position>``:
        read from the ids alone, without loading every sentence's metadata)."""
        return {sid: sid.rsplit(":", 1)[0] for sid in self.sentences.get(include=[])["ids"]}

    def _stored_chunks(self, wanted: set[str]) -> dict[str, ChunkRecord]:
        """The stored chunks among ``wanted``, read a batch of ids at a time: reading every
        record in one call makes Chroma hold all of them natively at once (several times the
        memory of the records themselves, and not given back)."""
        ids = [cid for cid in self.collection.get(include=[])["ids"] if cid in wanted]
        return self._read_chunks(ids)

    def _read_chunks(self, ids: Sequence[str]) -> dict[str, ChunkRecord]:
        records: dict[str, ChunkRecord] = {}
        for start in range(0, len(ids), _READ_BATCH):
            got = self.collection.get(
                ids=ids[start : start + _READ_BATCH], include=["documents", "metadatas"]
            )
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                records[cid] = ChunkRecord(cid, text or "", _public_metadata(meta))
        return records

    # ----- reading -------------------------------------------------------------------
    def chunks(self) -> dict[str, ChunkRecord]:
        """The committed chunks of the current generation.

        A document counts only when every one of its chunks is stored: a half-lost document
        is never answered from (the next writer re-ingests it).
        """
        view = self.view()
        chunks = view.chunks
        if chunks is None:
            chunks = self._snapshot_chunks(view)
            view.chunks_from_snapshot = chunks is not None
            if chunks is None:
                chunks = self._stored_chunks(view.catalog.done_chunk_ids())
            complete = [d for d in view.catalog.done() if all(c in chunks for c in d.chunk_ids)]
            if len(complete) < len(view.catalog.done()):
                keep = {cid for d in complete for cid in d.chunk_ids}
                chunks = {cid: c for cid, c in chunks.items() if cid in keep}
            view.documents = tuple(complete)
            view.chunks = chunks
        return chunks

    def _snapshot_chunks(self, view: _View) -> dict[str, ChunkRecord] | None:
        """The view's chunks as the commit that wrote them saved them, limited (like a read
        from Chroma) to those Chroma still holds; None without a valid snapshot."""
        token = view.catalog.chunks_token
        saved = load_snapshot(self._chunks_dir, token, ChunkRecord) if self._chunks_dir else None
        stored, view.stored_ids = view.stored_ids, None
        if saved is None:
            return None
        if stored is None:
            stored = set(self.collection.get(include=[])["ids"])
        wanted = view.catalog.done_chunk_ids()
        chunks = saved.records
        if not (chunks.keys() == wanted and stored.issuperset(wanted)):  # set tests, in C
            chunks = {cid: c for cid, c in chunks.items() if cid in wanted and cid in stored}
        if len(chunks) == len(saved.records):  # else learned from the chunks that are left
            view.aliases = tuple(saved.aliases)
        return chunks

    def document_chunks(self, doc_id: str) -> list[ChunkRecord]:
        """One document's committed chunks in reading order (grouped once per generation, so
        looking at one document never walks the whole corpus)."""
        view = self.view()
        grouped = view.by_document
        if grouped is None:
            grouped = {}
            for chunk in self.chunks().values():
                grouped.setdefault(str(chunk.metadata.get("doc_id", "")), []).append(chunk)
            for records in grouped.values():
                records.sort(key=lambda c: int(c.metadata.get("char_start", 0)))
            view.by_document = grouped
        return grouped.get(doc_id, [])

    def documents(self) -> tuple[DocRecord, ...]:
        """The committed documents that readers can be answered from: one tuple per
        generation, the same object on every call (``rag.docref`` computes the forms of the
        titles once per library by recognising it)."""
        self.chunks()
        return self.view().documents or ()

    def bm25(self, tokenizer: ChineseTokenizer) -> BM25Index:
        view = self.view()
        index = self._saved_bm25() or view.bm25
        if index is None:
            # Saved by another generation (or lost): rebuild in memory; writers save it.
            chunks = self.chunks()
            index = BM25Index.build(
                list(chunks), [tokenizer.tokenize(c.lexical_text) for c in chunks.values()]
            )
            view.bm25 = index
        return index

    def dense_search(
        self, embedding: list[float], k: int, where: dict | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the k nearest committed chunks."""
        chunks = self.chunks()
        total = len(chunks)  # never more than are stored: committed chunks are all there
        if total == 0:
            return []
        kwargs: dict[str, Any] = {"query_embeddings": [embedding], "n_results": min(k, total)}
        if where:
            kwargs["where"] = where
        result = self._query("collection", include=["distances"], **kwargs)
        if result is None:
            return []
        return [
            (cid, 1.0 - float(dist))
            for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)
            if cid in chunks
        ]

    def sentence_search(
        self, embedding: list[float], k: int, where: dict | None = None
    ) -> dict[str, float]:
        """Chunk id -> cosine of its best-matching sentence, over the k nearest sentences."""
        chunks = self.chunks()
        total = self._sentence_count()
        if total == 0 or not chunks:
            return {}
        kwargs: dict[str, Any] = {"query_embeddings": [embedding], "n_results": min(k, total)}
        if where:
            kwargs["where"] = where
        # The chunk is named by the sentence's id (``<chunk id>:<position>``): reading the
        # metadata of every hit would cost several times the search itself.
        result = self._query("sentences", include=["distances"], **kwargs)
        if result is None:
            return {}
        best: dict[str, float] = {}
        for sid, dist in zip(result["ids"][0], result["distances"][0], strict=True):
            cid = sid.rsplit(":", 1)[0]
            if cid in chunks:
                best[cid] = max(best.get(cid, -1.0), 1.0 - float(dist))
        return best

    def _sentence_count(self) -> int:
        """Stored sentences, counted once per generation (a request to Chroma otherwise)."""
        view = self.view()
        if view.sentence_count is None:
            view.sentence_count = self.sentences.count()
        return view.sentence_count

    def _query(self, which: str, **kwargs: Any) -> Any:
        """A vector query that survives another process's writes: chromadb's in-memory vector
        index is not reloaded when another process adds vectors (a writer killed before its
        commit changes no catalog generation), and queries then fail. Reopen once and retry;
        if the store still cannot answer, dense search sits this question out (BM25 answers)
        and the log says why."""
        try:
            return getattr(self, which).query(**kwargs)
        except Exception as first:
            if self.settings.chroma_host:
                log.warning("向量检索失败（%s），本次只用关键词检索", first)
                return None
            with self._view_lock:
                self._reopen_chroma()
            try:
                return getattr(self, which).query(**kwargs)
            except Exception as exc:
                log.warning("向量检索失败（%s），本次只用关键词检索", exc)
                return None

    def sentence_cosines(self, embedding: list[float], chunk_ids: list[str]) -> dict[str, float]:
        """Chunk id -> cosine of its best sentence, for chunks a search did not reach.

        Sentences are looked up by id (``<chunk id>:<position>``, the positions of the chunk's
        answer units): a lookup by the ``chunk_id`` field scans the sentences' metadata and
        grows with the corpus."""
        if not chunk_ids or self._sentence_count() == 0:
            return {}
        chunks = self.chunks()
        ids = [
            f"{cid}:{position}"
            for cid in chunk_ids
            if cid in chunks
            for position in range(len(split_units(chunks[cid].text)))
        ]
        if not ids:
            return {}
        got = self.sentences.get(ids=ids, include=["embeddings"])
        query = np.asarray(embedding, dtype=np.float32)
        best: dict[str, float] = {}
        for sid, vec in zip(got["ids"], got["embeddings"], strict=True):
            cid = sid.rsplit(":", 1)[0]
            best[cid] = max(best.get(cid, -1.0), float(np.dot(np.asarray(vec), query)))
        return best

    def stored_sentence_vectors(
        self, wanted: Sequence[tuple[str, int, str]]
    ) -> dict[tuple[str, int], np.ndarray]:
        """The vectors ingest stored for these (chunk id, position, text) sentences, by
        (chunk id, position): only where the stored sentence has that very text."""
        if not wanted or self._sentence_count() == 0:
            return {}
        texts = {f"{cid}:{pos}": (cid, pos, text) for cid, pos, text in wanted}
        try:
            got = self.sentences.get(ids=list(texts), include=["embeddings", "documents"])
        except Exception as exc:  # a store that cannot answer: the answerer embeds them
            log.warning("读取句向量失败（%s），改为现场计算", exc)
            return {}
        found: dict[tuple[str, int], np.ndarray] = {}
        for sid, vector, text in zip(got["ids"], got["embeddings"], got["documents"], strict=True):
            cid, pos, wanted_text = texts[sid]
            if text == wanted_text:
                found[(cid, pos)] = np.asarray(vector, dtype=np.float32)
        return found

    def term_index(self) -> TermIndex:
        """Where terms occur: each chunk's heading and text (for document frequencies, counted
        the way coverage reads passages) and the documents' titles. Loaded as the last commit
        saved it, or built, once per generation."""
        view = self.view()
        if view.terms is None:
            chunks = self.chunks()
            texts = {cid: _term_text(c) for cid, c in chunks.items()}
            token = view.catalog.chunks_token if view.chunks_from_snapshot else ""
            loaded = TermIndex.load(self._terms_dir, texts, token) if self._terms_dir else None
            view.terms = loaded or TermIndex(list(texts.values()), _titles(chunks.values()))
        return view.terms

    def aliases(self, pos_cut: PosCut) -> tuple[tuple[str, str], ...]:
        """The short names the documents define ("（以下简称X）"), learned once per generation
        (the same tuple until a commit changes the library)."""
        chunks = self.chunks()  # a commit's snapshot brings the aliases with its chunks
        view = self.view()
        if view.aliases is None:
            texts = (c.text for c in chunks.values() if mentions_definition(c.text))
            view.aliases = tuple(learn_aliases(texts, pos_cut))
        return view.aliases

    def embeddings(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the given chunks (L2-normalised, as they were added)."""
        got = self.collection.get(ids=ids, include=["embeddings"])
        return {
            cid: np.asarray(vec, dtype=np.float32)
            for cid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }


def _term_text(chunk: ChunkRecord) -> str:
    return f"{chunk.metadata.get('section', '')}\n{chunk.text}"


def _titles(chunks: Iterable[ChunkRecord]) -> list[str]:
    return sorted({str(c.metadata.get("doc_title", "")) for c in chunks})


def _sentence_metadata(sentence: SentenceVector, chunk_meta: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "chunk_id": sentence.chunk_id,
        "doc_id": chunk_meta.get("doc_id", ""),
        "position": sentence.position,
    }
    meta.update({k: v for k, v in chunk_meta.items() if k.startswith(_FILTER_KEY_PREFIXES)})
    return meta


def _public_metadata(meta: dict | None) -> dict[str, Any]:
    """A chunk's metadata as readers keep it. llama-index keeps its own serialised node in
    "_node_content"; callers never need it. Keys and short values (a document's title,
    source, 文号, tags) repeat on every chunk: interned, each is held once, not per chunk."""
    return {
        sys.intern(k): (sys.intern(v) if isinstance(v, str) and len(v) <= INTERNED_CHARS else v)
        for k, v in (meta or {}).items()
        if not k.startswith("_")
    }


def doc_id_for(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
