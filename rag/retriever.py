"""Hybrid retrieval: dense (Chroma) + BM25 (jieba) fused by reciprocal rank, then filtered,
optionally re-ranked by a cross-encoder, and de-duplicated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.lexical import ChineseTokenizer
from rag.query import QueryAnalyzer, QueryTerms, coverage, idf_weights
from rag.store import ChunkRecord, IndexStore
from rag.synonyms import Thesaurus, term_forms
from rag.taxonomy import Label
from rag.types import Passage

RRF_K = 60  # the constant of Cormack et al.; damps the head of each ranking
RRF_WEIGHT = 0.2  # weight of the min-max normalised fused rank when ordering passages
DENSE_WEIGHT = 0.5  # relevance = DENSE_WEIGHT * cosine + (1 - DENSE_WEIGHT) * term coverage
# A chunk's dense score blends its own cosine with its best sentence's: a paraphrase that
# matches one sentence is not drowned by the rest of the chunk, and a chunk whose sentences
# each match a little still counts as a whole.
SENTENCE_WEIGHT = 0.5
SENTENCES_PER_CHUNK = 4  # sentence hits fetched per wanted chunk
# A document filter admitting at most this many chunks is searched exactly, chunk by chunk
# (a lookup by id costs about 0.1 ms a chunk; a filtered vector search grows with the library).
EXACT_SEARCH_CHUNKS = 1500


@dataclass(frozen=True)
class ChunkFilter:
    dimension: Label | None = None
    path: Label | None = None
    doc_ids: frozenset[str] | None = None
    # Documents a question compares, answered one by one (see rag.docref.document_groups).
    doc_groups: tuple[frozenset[str], ...] = ()
    doc_group_names: tuple[str, ...] = ()  # how the question names each group ("660号文")
    # Documents the question names that the library does not hold ("《…条例》"): refused.
    absent: tuple[str, ...] = ()
    # The question's words that chose ``doc_ids`` ("《上海市数据条例》", "数据要素×那个计划"):
    # they describe every admitted passage, so passages are ranked without them.
    named_by: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.dimension or self.path or self.doc_ids)

    def where(self) -> dict[str, Any] | None:
        """The Chroma ``where`` clause."""
        clauses: list[dict[str, Any]] = []
        for label in (self.dimension, self.path):
            if label is not None:
                clauses.append({label.meta_key: True})
        if self.doc_ids:
            clauses.append({"doc_id": {"$in": sorted(self.doc_ids)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, metadata: dict[str, Any]) -> bool:
        """The same filter in Python, for the BM25 side."""
        for label in (self.dimension, self.path):
            if label is not None and not metadata.get(label.meta_key):
                return False
        return not self.doc_ids or metadata.get("doc_id") in self.doc_ids


class HybridRetriever(BaseRetriever):
    """A llama-index retriever; ``search`` is the typed entry point used by ``Assistant``."""

    def __init__(
        self,
        store: IndexStore,
        embed_model: BaseEmbedding,
        tokenizer: ChineseTokenizer,
        *,
        top_k: int = 5,
        candidates: int = 30,
        mode: str = "hybrid",
        reranker: Callable[[str, list[Passage]], list[float]] | None = None,
        thesaurus: Thesaurus | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.embed_model = embed_model
        self.tokenizer = tokenizer
        self.analyzer = QueryAnalyzer(
            tokenizer, thesaurus, aliases=lambda: store.aliases(tokenizer.pos_cut)
        )
        self.top_k = top_k
        self.candidates = candidates
        self.reranker = reranker
        self.mode = mode  # "hybrid", or "dense" / "bm25" alone (baselines for eval)
        self.filters = ChunkFilter()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        passages = self.search(query_bundle.query_str, self.filters, self.top_k)
        return [
            NodeWithScore(node=TextNode(id_=p.id, text=p.text, metadata=p.metadata), score=p.score)
            for p in passages
        ]

    def search(
        self,
        query: str,
        filters: ChunkFilter | None = None,
        top_k: int | None = None,
        query_embedding: list[float] | None = None,
        weights: dict[str, float] | None = None,
    ) -> list[Passage]:
        filters = filters or ChunkFilter()
        top_k = top_k or self.top_k
        chunks = self.store.chunks()
        if not chunks:
            return []
        embedding = query_embedding or self.embed_model.get_query_embedding(query)
        wanted = max(self.candidates, top_k)
        if weights is None:
            weights = self.term_weights(self.analyzer.terms(query))
        # BM25 also searches the other wordings of the question's thesaurus terms.
        expansion = " ".join(form for term in weights for form in term_forms(term)[1:])
        lexical = []
        if self.mode != "dense":
            lexical = self._bm25(f"{query} {expansion}", filters, chunks)
        cosine = _Cosines(self, embedding)
        dense = []
        if self.mode != "bm25":
            dense = cosine.search(wanted, filters, [cid for cid, _ in lexical])
        fused = _rrf([[cid for cid, _ in dense], [cid for cid, _ in lexical]])
        ranked = sorted(fused, key=lambda cid: -fused[cid])[:wanted]
        cosines = dict(dense)
        cosines |= cosine.blended([c for c in ranked if c not in cosines])
        bm25 = dict(lexical)
        passages = [
            Passage(
                id=cid,
                text=chunks[cid].text,
                metadata=chunks[cid].metadata,
                dense=cosines.get(cid, 0.0),
                lexical=bm25.get(cid, 0.0),
                fused=fused[cid],
            )
            for cid in ranked
            if cid in chunks
        ]
        _score(passages, weights)
        if self.mode == "hybrid":
            passages = rank_by_relevance(passages)
        if self.reranker is not None and passages:
            scores = self.reranker(query, passages)
            order = np.argsort(-np.asarray(scores))
            passages = [passages[i] for i in order]
        return collapse_near_duplicates(passages, limit=top_k)

    def _bm25(
        self, query: str, filters: ChunkFilter, chunks: dict[str, ChunkRecord]
    ) -> list[tuple[str, float]]:
        index = self.store.bm25(self.tokenizer)
        scores = index.scores(self.tokenizer.tokenize(query))
        if filters.doc_ids:
            # Only the named documents' chunks are ranked: walking the whole library's
            # ranking until enough of theirs turn up costs tens of ms at 100,000 chunks.
            # Positions are in index order and the sort is stable: the same order as
            # filtering the full ranking.
            positions = index.positions(
                c.id for doc_id in filters.doc_ids for c in self.store.document_chunks(doc_id)
            )
            order = positions[_best_first(scores[positions], None)]
        else:
            order = _best_first(scores, None if filters.active else self.candidates)
        hits: list[tuple[str, float]] = []
        for i in order:
            if scores[i] <= 0 or len(hits) >= self.candidates:
                break
            cid = index.ids[i]
            if cid in chunks and (not filters.active or filters.accepts(chunks[cid].metadata)):
                hits.append((cid, float(scores[i])))
        return hits

    def _chunk_cosines(self, embedding: list[float], ids: list[str]) -> dict[str, float]:
        if not ids:
            return {}
        vectors = self.store.embeddings(ids)
        query = np.asarray(embedding, dtype=np.float32)
        return {cid: float(np.dot(vec, query)) for cid, vec in vectors.items()}

    def term_weights(self, terms: QueryTerms) -> dict[str, float]:
        """IDF weights of the question's content terms over the stored chunks."""
        return idf_weights(
            terms.content,
            self.store.term_index(),
            self.tokenizer.general_informativeness,
            terms.pieces,
        )


def _best_first(scores: np.ndarray, limit: int | None) -> np.ndarray:
    """Indices by descending score; only the ``limit`` best when given (a partial sort, so
    a large corpus is not sorted whole for a few hits)."""
    if limit is None or limit >= len(scores):
        return np.argsort(-scores, kind="stable")
    top = np.argpartition(-scores, limit)[:limit]
    return top[np.argsort(-scores[top], kind="stable")]


class _Cosines:
    """A question's chunk and best-sentence cosines, fetched from the store at most twice
    more after the two vector searches: once for the chunk vectors and once for the sentence
    vectors of every candidate either search or BM25 found (each Chroma call costs more than
    the rows it returns)."""

    def __init__(self, retriever: HybridRetriever, embedding: list[float]) -> None:
        self.retriever = retriever
        self.store = retriever.store
        self.embedding = embedding
        self.chunk: dict[str, float] = {}
        self.sentence: dict[str, float | None] = {}

    def search(self, k: int, filters: ChunkFilter, also: list[str]) -> list[tuple[str, float]]:
        """Chunks ranked by blended chunk and best-sentence cosine; ``also`` (BM25 hits) get
        their cosines in the same fetches, for fusing later."""
        within = self._within(filters)
        if within is not None:
            # A few documents: every one of their chunks is scored exactly, by id. A vector
            # search restricted by a metadata filter scans the filter's matches first and
            # takes seconds on a large library.
            self._complete(within)
            scored = [cid for cid in within if cid in self.chunk]
            ids = sorted(scored, key=lambda cid: -self._blend(cid))[:k]
        else:
            where = filters.where()
            self.chunk = dict(self.store.dense_search(self.embedding, k, where))
            self.sentence = self.store.sentence_search(
                self.embedding, k * SENTENCES_PER_CHUNK, where
            )
            ids = list(self.chunk) + [cid for cid in self.sentence if cid not in self.chunk]
        self._complete(
            ids + [cid for cid in also if cid not in self.chunk and cid not in self.sentence]
        )
        scores = {cid: self._blend(cid) for cid in ids if cid in self.chunk}
        return sorted(scores.items(), key=lambda item: -item[1])

    def _within(self, filters: ChunkFilter) -> list[str] | None:
        """The chunks a document filter admits, when they are few enough to score one by one."""
        if not filters.doc_ids:
            return None
        admitted: list[str] = []
        for doc_id in sorted(filters.doc_ids):
            admitted += [
                c.id for c in self.store.document_chunks(doc_id) if filters.accepts(c.metadata)
            ]
            if len(admitted) > EXACT_SEARCH_CHUNKS:
                return None
        return admitted

    def blended(self, ids: list[str]) -> dict[str, float]:
        """Blended dense scores of chunks the dense search did not return (BM25-only hits)."""
        self._complete(ids)
        return {cid: self._blend(cid) for cid in ids if cid in self.chunk}

    def _complete(self, ids: list[str]) -> None:
        missing_chunk = [c for c in dict.fromkeys(ids) if c not in self.chunk]
        if missing_chunk:
            self.chunk |= self.retriever._chunk_cosines(self.embedding, missing_chunk)
        missing_sentence = [c for c in dict.fromkeys(ids) if c not in self.sentence]
        if missing_sentence:
            found = self.store.sentence_cosines(self.embedding, missing_sentence)
            # A chunk without stored sentences is marked, so it is not looked up again.
            self.sentence |= {c: found.get(c) for c in missing_sentence}

    def _blend(self, cid: str) -> float:
        return _blend(self.chunk[cid], self.sentence.get(cid))


def _blend(chunk_cosine: float, sentence_cosine: float | None) -> float:
    # A chunk without stored sentences (too short, or an index built before sentence
    # vectors) is judged by its own cosine alone.
    if sentence_cosine is None:
        return chunk_cosine
    return (1 - SENTENCE_WEIGHT) * chunk_cosine + SENTENCE_WEIGHT * sentence_cosine


def _score(passages: list[Passage], weights: dict[str, float]) -> None:
    for p in passages:
        p.coverage = coverage(weights, f"{p.context}\n{p.text}")
        p.score = DENSE_WEIGHT * max(p.dense, 0.0) + (1 - DENSE_WEIGHT) * p.coverage


def rank_by_relevance(passages: list[Passage]) -> list[Passage]:
    """Order by absolute relevance, with the fused rank (dense + BM25 agreement) added as a
    min-max normalised bonus so that both retrievers' agreement still counts."""
    if not passages:
        return passages
    low = min(p.fused for p in passages)
    spread = max(p.fused for p in passages) - low or 1.0
    return sorted(passages, key=lambda p: -(p.score + RRF_WEIGHT * (p.fused - low) / spread))


def _rrf(rankings: list[list[str]]) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
    return fused


def collapse_near_duplicates(
    passages: list[Passage], threshold: float = 0.6, limit: int | None = None
) -> list[Passage]:
    """Drop a passage that mostly repeats a better-ranked one (overlapping chunks, copies);
    stop once ``limit`` are kept. Each passage's bigrams are computed once."""
    kept: list[Passage] = []
    grams: dict[str, set[str]] = {}
    for p in passages:
        if limit is not None and len(kept) >= limit:
            break
        if not any(_overlap_ratio(p, q, grams) >= threshold for q in kept):
            kept.append(p)
    return kept


def _overlap_ratio(a: Passage, b: Passage, grams: dict[str, set[str]]) -> float:
    if a.doc_id == b.doc_id:
        a0, a1 = a.metadata.get("char_start"), a.metadata.get("char_end")
        b0, b1 = b.metadata.get("char_start"), b.metadata.get("char_end")
        if None not in (a0, a1, b0, b1):
            inter = max(0, min(a1, b1) - max(a0, b0))  # type: ignore[type-var, operator]
            return inter / max(1, min(a1 - a0, b1 - b0))  # type: ignore[operator]
    for p in (a, b):
        if p.id not in grams:
            grams[p.id] = _bigrams(p.text)
    grams_a, grams_b = grams[a.id], grams[b.id]
    if not grams_a or not grams_b:
        return 0.0
    return len(grams_a & grams_b) / min(len(grams_a), len(grams_b))


def _bigrams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + 2] for i in range(len(compact) - 1)}
