"""Ingestion: files -> load -> chunk -> embed -> tag -> Chroma + BM25, incrementally.

Unchanged files (same bytes, same chunking settings and taxonomy) are skipped; a changed file's
chunks are replaced; ``prune`` drops the chunks of files that are gone. A file is marked done in
the catalog only after both indexes hold its chunks, and every run starts by removing what an
interrupted run may have left, so a killed ingest never leaves duplicates or orphans.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import Document, MetadataMode, TextNode

from ingest.chunker import ChineseStructureSplitter
from ingest.loaders import SUPPORTED_SUFFIXES, LoadError, load_file
from ingest.tagger import DEFAULT_CALIBRATION, TagCalibration, TaxonomyTagger
from rag.catalog import Catalog, DocRecord
from rag.errors import storage_errors
from rag.extractive import split_units
from rag.lexical import ChineseTokenizer, build_tokenizer
from rag.places import article_of, item_of
from rag.settings import Settings
from rag.store import IndexStore, Repair, SentenceVector, doc_id_for
from rag.taxonomy import Taxonomy

PIPELINE_VERSION = "7"  # bump when loaders, chunking, tagging or sentence vectors change
# Shorter units (headings, "一是…" stubs) say too little to be matched on their own.
MIN_SENTENCE_CHARS = 8
Status = Literal["ingested", "unchanged", "failed", "pruned"]
_IGNORED_NAMES = ("readme",)
log = logging.getLogger(__name__)


class IngestProgress(Protocol):
    """What a progress display implements (rich in the CLI, gr.Progress in the UI)."""

    def start(self, total_files: int) -> None: ...
    def file_started(self, source: str) -> None: ...
    def chunks_embedded(self, done: int, total: int) -> None: ...
    def file_finished(self, source: str, status: Status) -> None: ...
    def message(self, text: str) -> None: ...  # e.g. "waiting for another writer"


class NoProgress:
    def start(self, total_files: int) -> None:
        pass

    def file_started(self, source: str) -> None:
        pass

    def chunks_embedded(self, done: int, total: int) -> None:
        pass

    def file_finished(self, source: str, status: Status) -> None:
        pass

    def message(self, text: str) -> None:
        log.warning("%s", text)


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
    skip_reasons: dict[str, str] = field(default_factory=dict)  # skipped name -> why
    recovered_orphans: int = 0
    repaired: str = ""  # what was put right before this run (crash leftovers, lost vectors)

    def count(self, status: Status) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def changed(self) -> bool:
        return any(f.status in ("ingested", "pruned") for f in self.files) or bool(
            self.recovered_orphans or self.repaired
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
            "repaired": self.repaired,
            "skipped": self.skipped,
            "skip_reasons": self.skip_reasons,
            "files": [asdict(f) for f in self.files],
        }


@dataclass(frozen=True)
class SourceFile:
    path: Path  # where the bytes are read from
    source: str  # path relative to the corpus root (or the scanned folder), POSIX style
    key: str = ""  # identity when ``source`` is only a file name (a file named on its own)
    # Where the document lives once ingested, when its bytes are read from elsewhere (an
    # upload staged until its ingest commits).
    stored_path: Path | None = None
    fixed_doc_id: str = ""  # re-ingesting a known document keeps its id
    unreadable: str = ""  # why the path itself cannot be used (reported as a failed file)

    @property
    def doc_id(self) -> str:
        return self.fixed_doc_id or doc_id_for(self.key or self.source)


def _lost_files(repair: Repair, found: Sequence[SourceFile]) -> list[SourceFile]:
    """Documents whose vectors were lost, to re-ingest from their files where these exist."""
    named = {sf.doc_id for sf in found}
    return [
        SourceFile(Path(d.path), d.source, fixed_doc_id=d.doc_id)
        for d in repair.lost
        if d.doc_id not in named and Path(d.path).is_file()
    ]


def discover(paths: Iterable[Path], settings: Settings) -> tuple[list[SourceFile], dict[str, str]]:
    """Files to ingest, and what folder scans passed over, each with its reason (other file
    types, READMEs, hidden files, dangling links, unreadable folders).

    A document's identity is its path relative to the corpus folder or ``$CITYQA_HOME`` (stable
    when those move) and otherwise its resolved absolute path: never a bare file name, so two
    different ``a.md`` in two folders stay two documents, and one file reached through a folder
    scan or named on its own stays one.
    """
    found: dict[str, SourceFile] = {}
    skipped: dict[str, str] = {}
    for given in paths:
        given = Path(given).expanduser()
        try:
            root = given.resolve(strict=False)
        except (OSError, RuntimeError) as exc:  # a symlink loop
            found[str(given)] = SourceFile(given, str(given), unreadable=f"无法解析路径：{exc}")
            continue
        if root.is_dir():
            for path, reason in _scan(root):
                name = source_name(path, root, settings)
                if reason:
                    skipped[name] = reason
                    continue
                sf = _source_file(path, name, settings)
                found.setdefault(sf.doc_id, sf)
        else:  # a named file is always attempted, so a bad one gets its error reported
            sf = _source_file(root, source_name(root, None, settings), settings)
            found.setdefault(sf.doc_id, sf)
    return _unique_names(list(found.values())), skipped


def source_name(path: Path, root: Path | None, settings: Settings) -> str:
    """The name a document is shown under: relative to the corpus or home, else to the
    scanned folder's parent, else the file name."""
    for base in (settings.corpus_dir.resolve(), settings.home.resolve()):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    if root is not None:
        return (Path(root.name) / path.relative_to(root)).as_posix()
    return path.name


def _scan(root: Path) -> Iterator[tuple[Path, str]]:
    """(path, reason to skip or "") for everything under a folder, in a stable order."""

    def unreadable(exc: OSError) -> None:
        errors.append((Path(exc.filename or root), f"无法读取文件夹：{exc.strerror or exc}"))

    errors: list[tuple[Path, str]] = []
    entries: list[tuple[Path, str]] = []
    for folder, dirs, files in os.walk(root, onerror=unreadable, followlinks=False):
        base = Path(folder)
        hidden = [d for d in dirs if d.startswith(".")]
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        entries += [(base / d, "隐藏文件夹，未扫描") for d in hidden]
        for name in sorted(files):
            path = base / name
            if name.startswith("."):
                entries.append((path, "隐藏文件"))
            elif path.is_symlink() and not path.exists():
                entries.append((path, "符号链接指向的文件不存在"))
            elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
                entries.append((path, "非文档类型"))
            elif path.stem.lower() in _IGNORED_NAMES:
                entries.append((path, "说明文件"))
            else:
                entries.append((path, ""))
    yield from sorted(entries + errors)


def _source_file(path: Path, source: str, settings: Settings) -> SourceFile:
    inside = any(
        path.is_relative_to(base)
        for base in (settings.corpus_dir.resolve(), settings.home.resolve())
    )
    return SourceFile(path, source, key="" if inside else path.resolve().as_posix())


def _unique_names(files: list[SourceFile]) -> list[SourceFile]:
    """Two documents never show the same name: a clash shows the full path instead."""
    counts: dict[str, int] = {}
    for sf in files:
        counts[sf.source] = counts.get(sf.source, 0) + 1
    return [
        dataclasses.replace(sf, source=sf.key or str(sf.path)) if counts[sf.source] > 1 else sf
        for sf in files
    ]


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
            calibration = TagCalibration.load(self.settings.tag_calibration_file)
            self._tagger = TaxonomyTagger(self.taxonomy, self.embed_model, calibration)
        return self._tagger

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        progress: IngestProgress | None = None,
        files: Sequence[SourceFile] | None = None,
    ) -> IngestReport:
        """Ingest the files under ``paths`` (or exactly ``files``) as one writer.

        The run holds the index's writer lock, starts from the catalog on disk (never from a
        reader's copy, which may be stale), repairs what a crash or a lost store left, and
        commits at the end and every ``ingest_commit_interval_s`` seconds.
        """
        with storage_errors(self.settings.index_dir):
            return self._ingest(paths, prune, progress or NoProgress(), files)

    def _ingest(
        self,
        paths: Sequence[Path],
        prune: bool,
        progress: IngestProgress,
        files: Sequence[SourceFile] | None,
    ) -> IngestReport:
        started = time.perf_counter()
        with self.store.writing(on_wait=progress.message) as catalog:
            repair = self.store.reconcile()
            skipped: dict[str, str] = {}
            if files is None:
                found, skipped = discover(paths, self.settings)
            else:
                found = list(files)
            found += _lost_files(repair, found)
            progress.start(len(found))
            outcomes: list[FileOutcome] = []
            last_commit = time.monotonic()
            for sf in found:
                outcomes.append(self._ingest_one(sf, catalog, progress))
                if time.monotonic() - last_commit > self.settings.ingest_commit_interval_s:
                    self.store.commit(self.tokenizer)
                    last_commit = time.monotonic()
            if prune:
                outcomes += self._prune(paths, {sf.source for sf in found}, catalog)
            if (
                any(o.status in ("ingested", "pruned") for o in outcomes)
                or repair.changed
                or not self.store.bm25_current()
            ):
                self.store.commit(self.tokenizer)
            done = catalog.done()
        return IngestReport(
            files=outcomes,
            seconds=time.perf_counter() - started,
            documents=len(done),
            chunks=sum(len(d.chunk_ids) for d in done),
            embedder=self.embed_model.model_name,
            skipped=list(skipped),
            skip_reasons=skipped,
            recovered_orphans=repair.orphans,
            repaired=repair.describe(),
        )

    def delete(self, doc_id: str) -> DocRecord | None:
        """Remove a document from both indexes and the catalog; return its record."""
        with storage_errors(self.settings.index_dir), self.store.writing() as catalog:
            record = catalog.docs.get(doc_id)
            if record is not None:
                self.store.delete_document(doc_id)
                self.store.commit(self.tokenizer)
        return record

    def _ingest_one(
        self, sf: SourceFile, catalog: Catalog, progress: IngestProgress
    ) -> FileOutcome:
        started = time.perf_counter()
        progress.file_started(sf.source)
        doc_id = sf.doc_id
        if sf.unreadable:
            return self._finish(progress, FileOutcome(sf.source, "failed", error=sf.unreadable))
        try:
            content_hash = hashlib.sha256(sf.path.read_bytes()).hexdigest()
        except OSError as exc:
            return self._finish(progress, FileOutcome(sf.source, "failed", error=str(exc)))
        known = catalog.docs.get(doc_id)
        if (
            known is not None
            and known.status == "done"
            and known.content_hash == content_hash
            and known.pipeline == self.pipeline
        ):
            return self._finish(progress, FileOutcome(sf.source, "unchanged", len(known.chunk_ids)))
        try:
            loaded = load_file(sf.path)
            nodes = self._chunk(loaded, doc_id, sf.source)
        except LoadError as exc:
            return self._finish(progress, FileOutcome(sf.source, "failed", error=exc.reason))
        except Exception as exc:  # a parser bug or a malformed file: this file only
            log.exception("parsing %s failed", sf.path)
            reason = f"无法解析（{type(exc).__name__}：{str(exc)[:200]}）"
            return self._finish(progress, FileOutcome(sf.source, "failed", error=reason))
        if not nodes:
            reason = "只有标题、没有可入库的正文"
            return self._finish(progress, FileOutcome(sf.source, "failed", error=reason))
        sentences = self._embed_and_tag(nodes, progress)
        record = DocRecord(
            doc_id=doc_id,
            source=sf.source,
            path=str(sf.stored_path or sf.path),
            title=loaded.title,
            content_hash=content_hash,
            file_type=loaded.file_type,
            pipeline=self.pipeline,
            pages=len(loaded.page_starts) if loaded.page_starts else None,
            chars=len(loaded.text),
            warnings=loaded.warnings,
            doc_number=loaded.meta.doc_number,
            issuers=loaded.meta.issuers,
            date=loaded.meta.date,
            doc_type=loaded.meta.doc_type,
            kind=loaded.meta.kind,
            completeness=loaded.meta.completeness,
            missing=loaded.meta.missing,
        )
        # One file is one document: a record of the same file under an older identity (a
        # bare file name, before identities were paths) is replaced, not kept beside it.
        for old in [d for d in catalog.docs.values() if d.path == record.path]:
            if old.doc_id != doc_id:
                self.store.delete_document(old.doc_id)
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
        meta = loaded.meta
        metadata = {
            "doc_id": doc_id,
            "doc_title": loaded.title,
            "source": source,
            "file_type": loaded.file_type,
            # Document identity on every chunk: citations name it without a catalog lookup.
            "doc_number": meta.doc_number,
            "issuers": "；".join(meta.issuers),
            "doc_type": meta.doc_type,
            "doc_kind": meta.kind,
            "doc_date": meta.date,
        }
        if loaded.page_starts:
            metadata["page_starts"] = loaded.page_starts
        document = Document(text=loaded.text, id_=doc_id, metadata=metadata)
        nodes = [
            n for n in self.splitter.get_nodes_from_documents([document]) if isinstance(n, TextNode)
        ]
        for node in nodes:
            section = str(node.metadata.get("section", ""))
            node.metadata["article"] = article_of(section)
            node.metadata["item"] = item_of(section)
            # Only the heading path goes into the embedded text (as the splitter set it).
            node.excluded_embed_metadata_keys += ["article", "item"]
            node.excluded_llm_metadata_keys += ["article", "item"]
        return nodes

    def _embed_and_tag(
        self, nodes: list[TextNode], progress: IngestProgress
    ) -> list[SentenceVector]:
        """Embed and tag the chunks; return their sentences, embedded for sentence search."""
        sentences = [
            (node.node_id, position, text)
            for node in nodes
            for position, text in enumerate(split_units(node.get_content()))
            if len(text) >= MIN_SENTENCE_CHARS and self.settings.sentence_vectors
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

    def _prune(
        self, paths: Sequence[Path], present: set[str], catalog: Catalog
    ) -> list[FileOutcome]:
        roots = [Path(p).expanduser().resolve() for p in paths]
        gone = [
            d
            for d in list(catalog.docs.values())
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
    calibration = settings.tag_calibration_file or DEFAULT_CALIBRATION
    calibration_bytes = calibration.read_bytes() if calibration.is_file() else b""
    key = (
        (
            f"{PIPELINE_VERSION}:{settings.chunk_min_chars}:{settings.chunk_max_chars}:"
            f"{settings.chunk_overlap_chars}:"
            # Only when off, so indexes built before the switch existed stay current.
            + ("" if settings.sentence_vectors else "no-sentence-vectors:")
        ).encode()
        + taxonomy_bytes
        + calibration_bytes
    )
    return hashlib.sha256(key).hexdigest()[:16]
