"""Ingestion: files -> load -> chunk -> embed -> tag -> Chroma + BM25, incrementally.

Unchanged files (same bytes, same chunking settings and taxonomy) are skipped; a changed file's
chunks are replaced; ``prune`` drops the chunks of files that are gone. A file is marked done in
the catalog only after both indexes hold its chunks, and every run starts by removing what an
interrupted run may have left, so a killed ingest never leaves duplicates or orphans.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import Document, MetadataMode, TextNode

from ingest.chunker import ChineseStructureSplitter
from ingest.loaders import SUPPORTED_SUFFIXES, LoadError, load_file
from ingest.tagger import TaxonomyTagger
from rag.catalog import DocRecord
from rag.extractive import split_units
from rag.lexical import ChineseTokenizer, build_tokenizer
from rag.settings import Settings
from rag.store import IndexStore, SentenceVector, doc_id_for
from rag.taxonomy import Taxonomy

PIPELINE_VERSION = "3"  # bump when loaders, chunking, tagging or sentence vectors change
# Shorter units (headings, "一是…" stubs) say too little to be matched on their own.
MIN_SENTENCE_CHARS = 8
Status = Literal["ingested", "unchanged", "failed", "pruned"]
_IGNORED_NAMES = ("readme",)


class IngestProgress(Protocol):
    """What a progress display implements (rich in the CLI, gr.Progress in the UI)."""

    def start(self, total_files: int) -> None: ...
    def file_started(self, source: str) -> None: ...
    def chunks_embedded(self, done: int, total: int) -> None: ...
    def file_finished(self, source: str, status: Status) -> None: ...


class NoProgress:
    def start(self, total_files: int) -> None:
        pass

    def file_started(self, source: str) -> None:
        pass

    def chunks_embedded(self, done: int, total: int) -> None:
        pass

    def file_finished(self, source: str, status: Status) -> None:
        pass


@dataclass
class FileOutcome:
    source: str
    status: Status
    chunks: int = 0
    seconds: float = 0.0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    files: list[FileOutcome]
    seconds: float
    documents: int
    chunks: int
    embedder: str
    skipped: list[str] = field(default_factory=list)
    recovered_orphans: int = 0

    def count(self, status: Status) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def changed(self) -> bool:
        return any(f.status in ("ingested", "pruned") for f in self.files) or bool(
            self.recovered_orphans
        )

    def to_dict(self) -> dict:
        return {
            "changed": self.changed,
            "ingested": self.count("ingested"),
            "unchanged": self.count("unchanged"),
            "failed": self.count("failed"),
            "pruned": self.count("pruned"),
            "documents": self.documents,
            "chunks": self.chunks,
            "embedder": self.embedder,
            "seconds": round(self.seconds, 2),
            "recovered_orphans": self.recovered_orphans,
            "skipped": self.skipped,
            "files": [asdict(f) for f in self.files],
        }


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source: str  # path relative to the corpus root (or the scanned folder), POSIX style
    key: str = ""  # identity when ``source`` is only a file name (a file named on its own)

    @property
    def doc_id(self) -> str:
        return doc_id_for(self.key or self.source)


def discover(paths: Iterable[Path], settings: Settings) -> tuple[list[SourceFile], list[str]]:
    """Files to ingest, and files skipped in folder scans (unsupported types, READMEs)."""
    found: dict[str, SourceFile] = {}
    skipped: list[str] = []
    for root in paths:
        root = Path(root).expanduser().resolve()
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                if any(part.startswith(".") for part in path.relative_to(root).parts):
                    continue
                if (
                    path.suffix.lower() not in SUPPORTED_SUFFIXES
                    or path.stem.lower() in _IGNORED_NAMES
                ):
                    skipped.append(source_name(path, root, settings))
                    continue
                sf = SourceFile(path, source_name(path, root, settings))
                found[sf.source] = sf
        else:  # a named file is always attempted, so a bad one gets its error reported
            source = source_name(root, None, settings)
            # Outside the corpus and home only the name is shown; the full path keeps two
            # different "通知.pdf" apart.
            key = root.as_posix() if source == root.name else ""
            sf = SourceFile(root, source, key)
            found[sf.key or sf.source] = sf
    return list(found.values()), skipped


def source_name(path: Path, root: Path | None, settings: Settings) -> str:
    for base in (settings.corpus_dir.resolve(), settings.home.resolve()):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    if root is not None:
        return (Path(root.name) / path.relative_to(root)).as_posix()
    return path.name


class Indexer:
    """Writes documents into the index. Used by ``cityqa ingest``, the UI and ``Assistant``."""

    def __init__(
        self,
        settings: Settings,
        embed_model: BaseEmbedding,
        store: IndexStore,
        taxonomy: Taxonomy,
        tokenizer: ChineseTokenizer | None = None,
    ) -> None:
        self.settings = settings
        self.embed_model = embed_model
        self.store = store
        self.taxonomy = taxonomy
        self.tokenizer = tokenizer or build_tokenizer(taxonomy)
        self.splitter = ChineseStructureSplitter(
            min_chars=settings.chunk_min_chars,
            max_chars=settings.chunk_max_chars,
            overlap_chars=settings.chunk_overlap_chars,
        )
        self._tagger: TaxonomyTagger | None = None
        self.pipeline = _pipeline_fingerprint(settings)

    @property
    def tagger(self) -> TaxonomyTagger:
        if self._tagger is None:
            self._tagger = TaxonomyTagger(self.taxonomy, self.embed_model)
        return self._tagger

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        progress: IngestProgress | None = None,
    ) -> IngestReport:
        progress = progress or NoProgress()
        started = time.perf_counter()
        recovered = self.store.reconcile(self.tokenizer)
        files, skipped = discover(paths, self.settings)
        progress.start(len(files))
        outcomes = [self._ingest_one(sf, progress) for sf in files]
        if prune:
            outcomes += self._prune(paths, {sf.source for sf in files})
        if any(o.status in ("ingested", "pruned") for o in outcomes) or recovered:
            self.store.commit(self.tokenizer)
        done = self.store.catalog.done()
        return IngestReport(
            files=outcomes,
            seconds=time.perf_counter() - started,
            documents=len(done),
            chunks=sum(len(d.chunk_ids) for d in done),
            embedder=self.embed_model.model_name,
            skipped=skipped,
            recovered_orphans=recovered,
        )

    def delete(self, doc_id: str) -> None:
        """Remove a document from both indexes and the catalog."""
        self.store.delete_document(doc_id)
        self.store.commit(self.tokenizer)

    def _ingest_one(self, sf: SourceFile, progress: IngestProgress) -> FileOutcome:
        started = time.perf_counter()
        progress.file_started(sf.source)
        doc_id = sf.doc_id
        try:
            content_hash = hashlib.sha256(sf.path.read_bytes()).hexdigest()
        except OSError as exc:
            return self._finish(progress, FileOutcome(sf.source, "failed", error=str(exc)))
        known = self.store.catalog.docs.get(doc_id)
        if (
            known is not None
            and known.status == "done"
            and known.content_hash == content_hash
            and known.pipeline == self.pipeline
        ):
            return self._finish(progress, FileOutcome(sf.source, "unchanged", len(known.chunk_ids)))
        try:
            loaded = load_file(sf.path)
        except LoadError as exc:
            return self._finish(progress, FileOutcome(sf.source, "failed", error=exc.reason))
        nodes = self._chunk(loaded, doc_id, sf.source)
        if not nodes:
            reason = "只有标题、没有可入库的正文"
            return self._finish(progress, FileOutcome(sf.source, "failed", error=reason))
        sentences = self._embed_and_tag(nodes, progress)
        record = DocRecord(
            doc_id=doc_id,
            source=sf.source,
            path=str(sf.path),
            title=loaded.title,
            content_hash=content_hash,
            file_type=loaded.file_type,
            pipeline=self.pipeline,
            pages=len(loaded.page_starts) if loaded.page_starts else None,
            chars=len(loaded.text),
            warnings=loaded.warnings,
        )
        self.store.write_document(record, nodes, sentences)
        outcome = FileOutcome(
            sf.source,
            "ingested",
            len(nodes),
            time.perf_counter() - started,
            warnings=loaded.warnings,
        )
        return self._finish(progress, outcome)

    @staticmethod
    def _finish(progress: IngestProgress, outcome: FileOutcome) -> FileOutcome:
        progress.file_finished(outcome.source, outcome.status)
        return outcome

    def _chunk(self, loaded, doc_id: str, source: str) -> list[TextNode]:
        metadata = {
            "doc_id": doc_id,
            "doc_title": loaded.title,
            "source": source,
            "file_type": loaded.file_type,
        }
        if loaded.page_starts:
            metadata["page_starts"] = loaded.page_starts
        document = Document(text=loaded.text, id_=doc_id, metadata=metadata)
        nodes = self.splitter.get_nodes_from_documents([document])
        return [n for n in nodes if isinstance(n, TextNode)]

    def _embed_and_tag(
        self, nodes: list[TextNode], progress: IngestProgress
    ) -> list[SentenceVector]:
        """Embed and tag the chunks; return their sentences, embedded for sentence search."""
        sentences = [
            (node.node_id, position, text)
            for node in nodes
            for position, text in enumerate(split_units(node.get_content()))
            if len(text) >= MIN_SENTENCE_CHARS
        ]
        texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        texts += [text for _, _, text in sentences]
        batch = self.settings.embed_batch_size
        vectors: list[list[float]] = []
        for start in range(0, len(texts), batch):
            vectors += self.embed_model.get_text_embedding_batch(texts[start : start + batch])
            progress.chunks_embedded(len(vectors), len(texts))
        for node, vector in zip(nodes, vectors, strict=False):
            node.embedding = vector
            self.tagger.tag(node, vector)
        return [
            SentenceVector(cid, position, text, vector)
            for (cid, position, text), vector in zip(sentences, vectors[len(nodes) :], strict=True)
        ]

    def _prune(self, paths: Sequence[Path], present: set[str]) -> list[FileOutcome]:
        roots = [Path(p).expanduser().resolve() for p in paths]
        gone = [
            d
            for d in list(self.store.catalog.docs.values())
            if d.source not in present
            and not Path(d.path).exists()
            and any(Path(d.path).is_relative_to(r) for r in roots)
        ]
        for doc in gone:
            self.store.delete_document(doc.doc_id)
        return [FileOutcome(d.source, "pruned", len(d.chunk_ids)) for d in gone]


def _pipeline_fingerprint(settings: Settings) -> str:
    taxonomy_bytes = (
        settings.taxonomy_path.read_bytes() if settings.taxonomy_path.is_file() else b""
    )
    key = (
        f"{PIPELINE_VERSION}:{settings.chunk_min_chars}:{settings.chunk_max_chars}:"
        f"{settings.chunk_overlap_chars}:"
    ).encode() + taxonomy_bytes
    return hashlib.sha256(key).hexdigest()[:16]
