"""``Assistant``: the one public entry point used by the UI, the CLI, eval and staff scripts.

It loads the embedder, taxonomy and index once (``Assistant.open``) and reuses them for every
call. The index is written through ``ingest.Indexer`` and read through ``rag`` components.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from llama_index.core.base.embeddings.base import BaseEmbedding

from rag.answerability import AnswerabilityModel
from rag.catalog import DocRecord
from rag.docref import (
    absent_documents,
    named_groups,
    names_number,
    naming_words,
    ranking_query,
    referenced_documents,
)
from rag.embeddings import build_embedder, embedding_dimension
from rag.errors import InvalidInputError
from rag.followup import standalone_question
from rag.lexical import ChineseTokenizer, build_tokenizer
from rag.library import DocumentInfo, Library, document_info
from rag.pipeline import QAPipeline, StreamEvent
from rag.rerank import build_reranker
from rag.retriever import ChunkFilter, HybridRetriever
from rag.settings import Settings
from rag.store import IndexStore, open_store
from rag.synonyms import Thesaurus
from rag.taxonomy import Taxonomy
from rag.types import Answer, Passage

MAX_QUESTION_CHARS = 2000
log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ingest.pipeline import Indexer, IngestProgress, IngestReport


class Filters(TypedDict, total=False):
    """What answers can be restricted to: taxonomy tags and document properties."""

    dimension: str | None  # 技术 / 业务 / 管理 (or an English alias)
    path: str | None  # one of the six paths
    doc: str | None  # a title part, a file, a 文号 ("660号") or a doc_id
    doc_type: str | None  # 地方性法规, 规范性文件, 法规, 研究论文 …
    issuer: str | None  # part of an issuing body's name
    year: int | str | None


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
        self.library = Library(settings, store, taxonomy)
        self.retriever = HybridRetriever(
            store,
            embed_model,
            tokenizer,
            top_k=settings.top_k,
            mode=settings.retrieval,
            reranker=build_reranker(settings),
            thesaurus=Thesaurus.load_all(settings.thesaurus_paths),
        )
        llm_answerer = None
        if settings.answerer == "llm":
            from rag.llm import LLMAnswerer, build_llm

            llm_answerer = LLMAnswerer(build_llm(settings))
        self.pipeline = QAPipeline(
            self.retriever,
            embed_model,
            llm_answerer=llm_answerer,
            strict=settings.strict,
            taxonomy=taxonomy,
            term_similarity=settings.term_similarity,
            max_reworded_terms=settings.max_reworded_terms,
            low_relevance=settings.low_relevance,
            answerability=AnswerabilityModel.from_dict(settings.answerability),
        )

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        build_if_missing: bool = True,
        repair: bool = True,
        progress: IngestProgress | None = None,
    ) -> Assistant:
        """Load models and the index once; build the index from the corpus if it is empty,
        and (unless ``repair=False``) heal what a crash or a lost vector store left."""
        settings = settings or Settings()
        embed_model = build_embedder(settings)
        store = open_store(settings, embed_model.model_name, embedding_dimension(embed_model))
        taxonomy = Taxonomy.load(settings.taxonomy_path)
        assistant = cls(settings, embed_model, store, taxonomy, build_tokenizer(taxonomy))
        if build_if_missing and not store.catalog.done():
            assistant.ingest([settings.corpus_dir], progress=progress)
        elif repair:
            assistant.repair(progress=progress)
        return assistant

    def repair(self, progress: IngestProgress | None = None) -> str:
        """Check that catalog, Chroma and BM25 agree; when they do not (a lost vector store,
        a crashed writer's leftovers), repair by re-ingesting what is missing. Returns what was
        repaired ("" when nothing was wrong). A read-only index is left as it is: readers
        already serve only the documents whose chunks are all there."""
        found = self.store.check()
        if not found.changed and self.store.bm25_current():
            return ""
        if not _writable(self.settings.index_dir):
            log.warning("索引不一致但目录不可写，跳过修复：%s", found.describe() or "BM25 过期")
            return ""
        report = self.indexer.ingest([], files=[], progress=progress)
        if report.repaired:
            log.warning("索引已修复：%s", report.repaired)
        return report.repaired

    # ----- questions -----------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        history: Sequence[Any] | None = None,
        id: str | None = None,  # mirrors the JSON schema's "id"
        **filters: Unpack[Filters],
    ) -> Answer:
        """Answer with verified citations, or refuse when the documents do not support it.

        Filters: ``dimension``/``path`` (taxonomy tags), ``doc`` (title part, source or 文号),
        ``doc_type`` (地方性法规, 规范性文件, 法规 …), ``issuer`` (part of an issuing body's name)
        and ``year``; every kind of answer honours all of them."""
        chosen = self.filters(**filters)
        answer = self.pipeline.run(*self._prepare(question, chosen, top_k, history))
        answer.id = id
        return answer

    def chat(self, history: Sequence[Any], message: str, **filters: Any) -> Answer:
        """A multi-turn question: follow-ups are rewritten with the previous user turn."""
        return self.ask(message, history=history, **filters)

    def stream(
        self, question: str, *, history: Sequence[Any] | None = None, **filters: Any
    ) -> Iterator[str]:
        """Text pieces of the answer as they are produced (LLM tokens, or the whole answer)."""
        for event in self.stream_events(question, history=history, **filters):
            if event.kind == "delta":
                yield event.text

    def stream_events(
        self,
        question: str,
        *,
        history: Sequence[Any] | None = None,
        top_k: int | None = None,
        **filters: Unpack[Filters],
    ) -> Iterator[StreamEvent]:
        """Deltas, then one final event carrying the verified ``Answer`` (for the UI)."""
        chosen = self.filters(**filters)
        yield from self.pipeline.events(*self._prepare(question, chosen, top_k, history))

    def retrieve(
        self, question: str, *, top_k: int | None = None, **filters: Unpack[Filters]
    ) -> list[Passage]:
        """Passages only, best first."""
        question = validate_question(question)
        chosen = self._with_references(question, self.filters(**filters))
        query = ranking_query(question, chosen.named_by)
        return self.retriever.search(query, chosen, self._top_k(top_k))

    def passages(self, *, limit: int = 50, **filters: Unpack[Filters]) -> list[Passage]:
        """Stored passages carrying the given tags, in document order (for browsing)."""
        chosen = self.filters(**filters)
        records = [c for c in self.store.chunks().values() if chosen.accepts(c.metadata)]
        records.sort(
            key=lambda c: (str(c.metadata.get("source", "")), c.metadata.get("char_start", 0))
        )
        return [Passage(c.id, c.text, c.metadata) for c in records[:limit]]

    def filters(
        self,
        dimension: str | None = None,
        path: str | None = None,
        doc: str | None = None,
        *,
        doc_type: str | None = None,
        issuer: str | None = None,
        year: int | str | None = None,
    ) -> ChunkFilter:  # the keywords of ``Filters``
        """Resolve user-facing filter values (Chinese names or English aliases). Document
        filters resolve to the set of documents that satisfy all of them."""
        docs = self.store.documents()
        chosen: set[str] | None = None
        for given, pick in (
            (doc, lambda v: {self._resolve_doc(v)}),
            (doc_type, lambda v: _by_doc_type(docs, v)),
            (issuer, lambda v: _by_issuer(docs, v)),
            (year, lambda v: _by_year(docs, v)),
        ):
            if _given(given):
                ids = pick(str(given).strip())
                chosen = ids if chosen is None else chosen & ids
        return ChunkFilter(
            dimension=self.taxonomy.resolve("dimension", dimension) if _given(dimension) else None,
            path=self.taxonomy.resolve("path", path) if _given(path) else None,
            doc_ids=frozenset(chosen) if chosen is not None else None,
        )

    def _prepare(
        self,
        question: str,
        filters: ChunkFilter,
        top_k: int | None,
        history: Sequence[Any] | None,
    ) -> tuple[str, str, ChunkFilter, int]:
        """Validated (question, standalone query, filters, top_k) for the pipeline."""
        question = validate_question(question)
        query = (
            standalone_question(history, question, self.taxonomy, self.tokenizer.pos_cut)
            if history
            else question
        )
        return question, query, self._with_references(query, filters), self._top_k(top_k)

    def _with_references(self, query: str, filters: ChunkFilter) -> ChunkFilter:
        """A question that names its document ("论文里", "《上海市数据条例》", "660号文") is
        answered from that document, unless the caller chose documents already."""
        if filters.doc_ids is not None:
            return filters
        documents = self.store.documents()
        absent = absent_documents(query, documents)
        if absent:
            return dataclasses.replace(filters, absent=tuple(absent))
        groups = named_groups(query, documents)
        named_by = tuple(naming_words(query, documents))
        if groups:
            named = frozenset().union(*(ids for ids, _ in groups))
            return dataclasses.replace(
                filters,
                doc_ids=named,
                doc_groups=tuple(ids for ids, _ in groups),
                doc_group_names=tuple(name for _, name in groups),
                named_by=named_by,
            )
        named = referenced_documents(query, documents)
        if not named:
            return filters
        return dataclasses.replace(filters, doc_ids=frozenset(named), named_by=named_by)

    def _top_k(self, top_k: int | None) -> int:
        if top_k is None:
            return self.settings.top_k
        if not isinstance(top_k, int) or not 1 <= top_k <= 50:
            raise InvalidInputError(f"top_k 必须是 1 到 50 之间的整数，收到 {top_k!r}")
        return top_k

    def _resolve_doc(self, doc: str) -> str:
        """A document by id, source path, 文号 ("660号文" finds 发改数据〔2024〕660号) or a
        unique part of its title; an ambiguous value is an error listing the matches."""
        docs = self.store.documents()
        wanted = doc.strip()
        for d in docs:
            if wanted in (d.doc_id, d.source, d.title, d.doc_number):
                return d.doc_id
        partial = [
            d for d in docs if wanted in d.title or wanted in d.source or names_number(wanted, d)
        ]
        if len(partial) == 1:
            return partial[0].doc_id
        if partial:
            listing = "；".join(_doc_label(d) for d in partial[:20])
            raise InvalidInputError(f"“{doc}”对应多篇文档，请写得更具体：{listing}")
        listing = "；".join(_doc_label(d) for d in docs[:20])
        raise InvalidInputError(f"找不到文档 '{doc}'。资料库中的文档：{listing}")

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

    def delete_document(self, doc_id: str) -> DocumentInfo:
        """Remove a document; return what it was. Unknown ids are an error."""
        record = self.indexer.delete(doc_id)
        if record is None:
            raise InvalidInputError(f"文档 '{doc_id}' 不在资料库中")
        return document_info(record, self.settings.corpus_dir)

    def documents(self) -> list[DocumentInfo]:
        return self.library.documents()

    def stats(self) -> dict[str, Any]:
        """Documents, chunks, embedder and the dimension x path matrix of chunk counts."""
        return self.library.stats()


def validate_question(question: Any) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError("问题不能为空")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInputError(
            f"问题过长（{len(question)} 字），请控制在 {MAX_QUESTION_CHARS} 字以内"
        )
    return question


def _given(value: str | None) -> bool:
    return value is not None and str(value).strip() not in ("", "全部", "all", "不限")


def _doc_label(d: DocRecord) -> str:
    number = f"，{d.doc_number}" if d.doc_number else ""
    return f"{d.title}（{d.source}{number}）"


def _by_doc_type(docs: Sequence[DocRecord], wanted: str) -> set[str]:
    """Documents whose type or kind contains the value (法规 covers 地方性法规 and 行政法规)."""
    found = {d.doc_id for d in docs if wanted in d.doc_type or (d.kind and wanted in d.kind)}
    if not found:
        kinds = sorted({d.doc_type for d in docs if d.doc_type} | {d.kind for d in docs if d.kind})
        raise InvalidInputError(f"没有类型为“{wanted}”的文档。可选：{'、'.join(kinds) or '（无）'}")
    return found


def _by_issuer(docs: Sequence[DocRecord], wanted: str) -> set[str]:
    found = {d.doc_id for d in docs if any(wanted in i for i in d.issuers)}
    if not found:
        names = sorted({i for d in docs for i in d.issuers})
        raise InvalidInputError(
            f"没有“{wanted}”发布的文档。发文机关：{'、'.join(names) or '（无）'}"
        )
    return found


def _by_year(docs: Sequence[DocRecord], wanted: str) -> set[str]:
    if not re.fullmatch(r"(?:19|20)\d{2}", wanted.removesuffix("年")):
        raise InvalidInputError(f"年份应为四位数字，如 2024，收到 '{wanted}'")
    year = int(wanted.removesuffix("年"))
    found = {d.doc_id for d in docs if d.year == year}
    if not found:
        years = sorted({d.year for d in docs if d.year})
        raise InvalidInputError(f"没有 {year} 年的文档。已有年份：{'、'.join(map(str, years))}")
    return found


def _writable(folder: Path) -> bool:
    probe = folder if folder.exists() else folder.parent
    return os.access(probe, os.W_OK)
