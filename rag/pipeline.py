"""The answering pipeline: retrieve -> assess evidence -> answer -> verify citations.

One pipeline serves the UI, the CLI, the Python API and eval. ``Answer`` objects are built here
and only here, from the retrieved passages.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from rag.answer_type import answer_categories, missing_types
from rag.answerability import AnswerabilityModel
from rag.decompose import (
    counts_the_list,
    question_parts,
    questions_about_documents,
    split_parallel,
)
from rag.docinfo import (
    DATE,
    INFO_HEADING,
    answers_fact,
    asked_facts,
    asks_effect,
    effect_clause,
    fact_label,
)
from rag.docref import ranking_query
from rag.extractive import LEAD_IN, ExtractiveAnswerer, Unit, relevance_score, whole_articles
from rag.llm import LLMError
from rag.outline import DocumentChunks, outline_lines, outline_passages, section_heading
from rag.query import (
    QueryAnalyzer,
    QueryTerms,
    coverage,
    defined_items,
    measured_wordings,
    missing_specific,
    quantity_focus,
    unanswered_years,
)
from rag.refusal import Evidence, asks_in_chinese, assess, refusal_text
from rag.retriever import ChunkFilter, HybridRetriever
from rag.synonyms import term_forms
from rag.taxonomy import Taxonomy
from rag.termsim import TermSimilarity
from rag.types import REFUSAL_TEXT, Answer, Citation, Passage
from rag.verify import MARKER, CitationVerifier, faithfulness, strip_footnotes

_DIGITS = re.compile(r"\d")
ANSWER_PASSAGES = 4  # passages the answer may draw on (of the top_k retrieved)


@dataclass
class _Found:
    """What retrieval found for one question, and whether it is evidence enough."""

    terms: QueryTerms
    weights: dict[str, float]
    passages: list[Passage]
    candidates: list[Passage]  # the passages an answer may cite
    units: list[Unit]
    evidence: Evidence
    doc_ids: frozenset[str] | None = None  # the documents the question was restricted to
    signals: dict[str, float] | None = None  # set once sentences are chosen (answerability)


@dataclass
class StreamEvent:
    kind: Literal["delta", "answer"]
    text: str = ""
    answer: Answer | None = None


class QAPipeline:
    def __init__(
        self,
        retriever: HybridRetriever,
        embed_model: BaseEmbedding,
        *,
        llm_answerer: Any | None = None,
        strict: bool = False,
        taxonomy: Taxonomy | None = None,
        term_similarity: float | None = None,
        max_reworded_terms: int = 1,
        low_relevance: float = 0.0,
        answerability: AnswerabilityModel | None = None,
    ) -> None:
        self.retriever = retriever
        self.embed_model = embed_model
        self.analyzer: QueryAnalyzer = retriever.analyzer
        self.extractive = ExtractiveAnswerer(
            embed_model, stored=retriever.store.stored_sentence_vectors
        )
        self.verifier = CitationVerifier(embed_model, self.analyzer)
        self.llm_answerer = llm_answerer
        self.strict = strict
        self.taxonomy = taxonomy
        self.term_similarity = term_similarity
        self.max_reworded_terms = max_reworded_terms
        self.low_relevance = low_relevance
        self.answerability = answerability
        self.term_neighbours = TermSimilarity(embed_model, self.analyzer.tokenizer.tokenize)

    def _rewordings(self, terms: list[str], text: str) -> dict[str, str]:
        """Absent question terms the passages word differently, closer than the floor."""
        if self.term_similarity is None:
            return {}
        floor = self.term_similarity
        closest = self.term_neighbours.closest(terms, text)
        near = sorted(
            ((sim, t, word) for t, (sim, word) in closest.items() if sim >= floor), reverse=True
        )
        # A colloquial question rewords a word or two; passages that need many of the
        # question's terms reworded are about something else.
        return {t: word for _, t, word in near[: self.max_reworded_terms]}

    # ----- public --------------------------------------------------------------------
    def run(self, question: str, query: str, filters: ChunkFilter, top_k: int) -> Answer:
        answer: Answer | None = None
        for event in self.events(question, query, filters, top_k):
            if event.kind == "answer":
                answer = event.answer
        assert answer is not None
        return answer

    def events(
        self, question: str, query: str, filters: ChunkFilter, top_k: int
    ) -> Iterator[StreamEvent]:
        """Text deltas while answering, then the verified ``Answer``."""
        started = time.perf_counter()
        found = self._retrieve(query, filters, top_k)
        passages, evidence = found.passages, found.evidence
        if filters.absent:
            # Asked about a document the library does not hold: other documents' passages
            # about the same topic are not its content.
            reason = f"资料库中没有{'、'.join(filters.absent)}"
            evidence = dataclasses.replace(evidence, refuse=True, reason=reason)
            found.evidence = evidence
        retrieved = time.perf_counter()
        outline = outline_passages(
            query,
            found.weights,
            passages,
            self._admitted_chunks(filters),
            found.terms.listed,
            self.retriever.store.term_index().contains,
        )
        parts = question_parts(query) if self.llm_answerer is None else []
        questions = questions_about_documents(parts)
        multi = None
        supplement: list[tuple[Unit, Passage]] = []
        if filters.absent:
            pass  # refused below, whatever other documents say
        elif outline and counts_the_list(parts):
            pass  # all the parts of the section the list question names also say how many
        elif questions:
            multi = self._several_questions(question, questions, filters, top_k)
        elif parts and passages and query == question:  # a glued follow-up is one question
            # Several questions that name no document ("该找谁申请？批下来以后拖着不开工，会有
            # 什么后果？") are about the document the whole message retrieves: each is
            # answered from it, not only the one whose sentence happens to score highest. A
            # part is only answerable with its context, so unless every part is answered the
            # message is answered (or refused) whole.
            topic = dataclasses.replace(
                filters, doc_ids=frozenset({passages[0].doc_id}), doc_groups=(), doc_group_names=()
            )
            answered, every = self._answered_parts(parts, topic, top_k)
            if every:
                multi = self._compose(question, answered)
            else:
                # The whole message decides whether to answer; what the answered parts found
                # is added to its answer, never a reason to answer.
                supplement = answered
        if multi is None and len(filters.doc_groups) >= 2 and self.llm_answerer is None:
            multi = self._by_document(question, query, filters, top_k)
        if filters.absent:
            answer = self._refusal(question, passages, evidence)
            yield StreamEvent("delta", answer.text)
        elif multi is not None:
            answer = multi
            yield StreamEvent("delta", answer.text)
        elif outline and not evidence.missing_terms and self.llm_answerer is None:
            answer = self._compose_outline(question, outline)
            yield StreamEvent("delta", answer.text)
        elif evidence.refuse:
            answer = self._refusal(question, passages, evidence)
            yield StreamEvent("delta", answer.text)
        elif self.llm_answerer is not None:
            pieces: list[str] = []
            try:
                for piece in self.llm_answerer.stream(query, found.candidates):
                    pieces.append(piece)
                    yield StreamEvent("delta", piece)
                text = "".join(pieces).strip()
                answer = self._from_llm(question, text, found.candidates, passages)
            except LLMError as exc:
                # A broken endpoint is said as such; the extractive answer still helps.
                answer = self._extractive(question, query, found, filters, top_k)
                answer.notice = f"{exc}。以下为不经大模型的抽取式答案。"
                yield StreamEvent("delta", f"\n\n⚠ {answer.notice}\n\n{answer.text}")
        else:
            answer = self._extractive(question, query, found, filters, top_k, supplement)
            yield StreamEvent("delta", answer.text)
        done = time.perf_counter()
        answer.timings_ms = {
            "retrieve": (retrieved - started) * 1000,
            "answer": (done - retrieved) * 1000,
            "total": (done - started) * 1000,
        }
        if query != question:
            answer.rewritten_question = query
        yield StreamEvent("answer", answer=answer)

    # ----- retrieval and extraction ----------------------------------------------------
    def _retrieve(self, query: str, filters: ChunkFilter, top_k: int) -> _Found:
        """Passages, scored answer units and the evidence verdict for one question."""
        query = ranking_query(query, filters.named_by)
        query_embedding = self.embed_model.get_query_embedding(query)
        terms = self.analyzer.terms(query)
        weights = self.retriever.term_weights(terms)
        passages = self.retriever.search(query, filters, top_k, query_embedding, weights)
        candidates = passages[:ANSWER_PASSAGES]
        corpus = self.retriever.store.term_index()
        missing = missing_specific(terms, corpus, self.analyzer.tokenizer.general_informativeness)
        # Sentences should speak of what the question names: the taxonomy label it mentions
        # ("管理维度") and the names it asks about ("长沙").
        focus = self.taxonomy.mentions(query) if self.taxonomy is not None else []
        names = [t for t in terms.specific if corpus.contains(t) and not _DIGITS.search(t)]
        units = self.extractive.score_units(query_embedding, candidates, weights, focus, names)
        # The category a "哪个省份/哪些部门" question asks for is checked as an answer type;
        # the passages name an instance of it, not the category word.
        categories = answer_categories(query, list(weights))
        judged = {t: w for t, w in weights.items() if t not in categories} or weights
        evidence = assess(
            passages,
            judged,
            missing,
            max((u.score for u in units), default=0.0),
            quantity_focus(query, terms),
            self._rewordings,
        )
        return _Found(terms, weights, passages, candidates, units, evidence, filters.doc_ids)

    def _several_questions(
        self, question: str, parts: list[str], filters: ChunkFilter, top_k: int
    ) -> Answer | None:
        """A message asking several things ("是哪天通过的，从什么时候开始施行？") gets each part
        answered from its own evidence; parts the documents do not answer are left out, and
        None (answer the message whole) when no part is answered."""
        cited, _ = self._answered_parts(parts, filters, top_k)
        return self._compose(question, cited) if cited else None

    def _answered_parts(
        self, parts: list[str], filters: ChunkFilter, top_k: int
    ) -> tuple[list[tuple[Unit, Passage]], bool]:
        """The units answering each part that the documents answer, and whether every part
        was answered."""
        cited: list[tuple[Unit, Passage]] = []
        every = True
        for part in parts:
            found = self._retrieve(part, filters, top_k)
            units, reason = self._extract(part, found)
            if not reason and units:
                cited += [(u, found.candidates[u.passage]) for u in units]
            else:
                every = False
        return cited, every

    def _by_document(
        self, question: str, query: str, filters: ChunkFilter, top_k: int
    ) -> Answer | None:
        """A question comparing documents ("上海和深圳的条例对…有什么不同") is answered for each
        document from that document's passages, each part under its title; a document that
        does not answer is left out, and None (answer as usual) when none does."""
        cited: list[tuple[Unit, Passage]] = []
        answered = 0
        names = filters.doc_group_names
        for group in filters.doc_groups:
            one = dataclasses.replace(filters, doc_ids=group, doc_groups=(), doc_group_names=())
            # Asked of one document, the question need not name any: each name would only
            # match that document's 文档信息 passage (or count as absent from the others).
            part = query
            for name in names:
                part = part.replace(name, "") if name else part
            found = self._retrieve(part, one, top_k)
            units, reason = self._extract(part, found)
            if not reason and units:
                answered += 1
                cited += [(u, found.candidates[u.passage]) for u in units]
        return self._compose(question, cited, by_document=True) if answered >= 2 else None

    def _extractive(
        self,
        question: str,
        query: str,
        found: _Found,
        filters: ChunkFilter,
        top_k: int,
        supplement: Sequence[tuple[Unit, Passage]] = (),
    ) -> Answer:
        """Verbatim sentences; a question about parallel items gets each item answered.
        ``supplement``: what parts of the message found, added after an answer (not to a
        refusal)."""
        parts = split_parallel(query, self.analyzer.tokenizer.pos_cut)
        if parts:
            cited: list[tuple[Unit, Passage]] = []
            for part in parts:
                part_found = self._retrieve(part, filters, top_k)
                units, _ = self._extract(part, part_found)
                if not units:  # an item the documents do not cover: answer the question whole
                    break
                cited += [(u, part_found.candidates[u.passage]) for u in units]
            else:
                return self._compose(question, cited)
        chosen, reason = self._extract(query, found)
        if reason:
            answer = self._refusal(question, found.passages, Evidence(True, reason))
        else:
            cited = [(u, found.candidates[u.passage]) for u in chosen]
            answer = self._compose(question, _merged(cited, supplement))
        answer.signals = found.signals
        return answer

    def _extract(self, query: str, found: _Found) -> tuple[list[Unit], str]:
        """The chosen answer units, or [] and the reason the evidence does not answer."""
        facts = self._document_facts(query, found)
        if facts:
            return facts, ""
        if found.evidence.refuse:
            return [], found.evidence.reason
        chosen = whole_articles(
            self.extractive.select(query, found.units), found.units, found.candidates
        )
        missing = self._missing_types(query, found, chosen)
        if missing:
            return [], f"资料中没有给出问题所问的{'、'.join(missing)}"
        years = unanswered_years(query, [u.text for u in chosen])
        if years:
            return [], f"资料中没有关于{'、'.join(y + '年' for y in years)}的内容"
        # "“2”指什么" is not answered by a sentence that never says “2”.
        unexplained = [q for q in defined_items(query) if not any(q in u.text for u in chosen)]
        if unexplained:
            return [], f"资料中没有解释{'、'.join(unexplained)}"
        found.signals = self._signals(found, chosen)
        if self.answerability is not None and not self.answerability.answers(found.signals):
            return [], "相关段落没有直接回答这个问题"
        return chosen, ""

    def _signals(self, found: _Found, chosen: list[Unit]) -> dict[str, float]:
        """The graded evidence for the chosen sentences (rag.answerability.FEATURES)."""
        own = "\n".join(f"{found.candidates[u.passage].context}\n{u.text}" for u in chosen)
        asked = [w for w in (found.terms.asked, found.terms.listed) if w]
        return {
            "coverage": found.evidence.coverage,
            "answer_coverage": coverage(found.weights, own),
            "top_score": found.evidence.top_score,
            "best_sentence": found.evidence.best_sentence,
            "asked_in_answer": float(all(w in own for w in asked)),
        }

    def _document_facts(self, query: str, found: _Found) -> list[Unit]:
        """For a question about a document's identity (文号, issuers, date, authors), the
        labelled lines of the top document's 文档信息 passage; when the question is restricted
        to that one document, looked up in the store if retrieval did not bring it (the
        answer is a fact of the named document, not a matter of ranking). The date a law takes
        effect comes from its own effect clause when the header does not give it."""
        asked = asked_facts(query)
        if not asked or not found.passages:
            return []
        named = found.passages[0].doc_id
        # Only for a question restricted to one document (it names it, or the user chose it):
        # "哪年发布的" about something a passage mentions is not about the document.
        restricted = found.doc_ids is not None and found.doc_ids == {named}
        info = next(
            (p for p in found.candidates if p.section == INFO_HEADING and p.doc_id == named),
            None,
        )
        if info is None and restricted:
            info = self._info_passage(named)
        units: list[Unit] = []
        if info is not None:
            index = _candidate_index(found, info)
            # The labelled lines themselves, in their order; no ranking is needed to pick them.
            lines = [line.strip() for line in info.text.splitlines() if line.strip()]
            units = [
                Unit(line, index, position, 1.0, group=(info.doc_id, info.section))
                for position, line in enumerate(lines)
                if fact_label(line) in asked and answers_fact(query, line)
            ]
        if not units and restricted and asked == [DATE] and asks_effect(query):
            units = self._effect_clause(named, found)
        return units

    def _effect_clause(self, doc_id: str, found: _Found) -> list[Unit]:
        """When the header gives no effect date, the document's own effect clause does."""
        for chunk in self.retriever.store.document_chunks(doc_id):
            sentence = effect_clause(chunk.text)
            if sentence is None:
                continue
            index = _candidate_index(found, Passage(chunk.id, chunk.text, chunk.metadata))
            position = chunk.text.find(sentence)
            group = (doc_id, str(chunk.metadata.get("section", "")))
            return [Unit(sentence, index, max(position, 0), 1.0, group=group)]
        return []

    def _info_passage(self, doc_id: str) -> Passage | None:
        for chunk in self.retriever.store.document_chunks(doc_id):
            if chunk.metadata.get("section") == INFO_HEADING:
                return Passage(chunk.id, chunk.text, chunk.metadata, score=0.0)
        return None

    def _admitted_chunks(self, filters: ChunkFilter) -> DocumentChunks:
        """One document's chunks, those the filters admit: an outline lists only these."""
        store = self.retriever.store
        if not filters.active:
            return store.document_chunks
        return lambda doc_id: [
            c for c in store.document_chunks(doc_id) if filters.accepts(c.metadata)
        ]

    def _missing_types(self, query: str, found: _Found, units: list[Unit]) -> list[str]:
        return missing_types(
            query,
            [u.text for u in units],
            self.analyzer.tokenizer.pos_cut,
            _anchor_wordings(found.terms),
            measured_wordings(query, found.terms),
        )

    # ----- building answers ----------------------------------------------------------
    def _compose(
        self, question: str, cited: list[tuple[Unit, Passage]], by_document: bool = False
    ) -> Answer:
        """Each unit followed by its passage's marker, under the heading of its section;
        repeated units appear once.

        The heading says where a sentence stands and often names what was asked: "which path
        does Qingdao follow" is answered by "3.2 数字底座驱动路径" above the Qingdao sentences."""
        numbers: dict[str, int] = {}
        passages: dict[str, Passage] = {}
        parts: list[str] = []
        seen: set[str] = set()
        current = ""
        document = ""
        opened = False  # a document's title line was just written
        for unit, passage in cited:
            if unit.text in seen:
                continue
            seen.add(unit.text)
            n = numbers.setdefault(passage.id, len(numbers) + 1)
            passages[passage.id] = passage
            title = str(passage.metadata.get("doc_title", ""))
            if by_document and title != document:
                # Each document's part under its title, cited like a heading.
                parts.append(f"\n\n《{title}》[{n}]")
                document, current, opened = title, "", True
            heading = section_heading(passage)
            if heading and heading != current:
                parts.append(f"\n【{heading}】[{n}]\n")
            elif opened:
                parts.append("\n")
            current, opened = heading, False
            parts.append(f"{unit.text}[{n}]")
        citations = [Citation.from_passage(n, passages[pid]) for pid, n in numbers.items()]
        answer = self._verified(question, LEAD_IN + "".join(parts), citations, "extractive")
        return self._rated(answer, max((u.score for u, _ in cited), default=0.0))

    def _compose_outline(self, question: str, children: list[Passage]) -> Answer:
        lines = [f"{line}[{n}]" for n, line in enumerate(outline_lines(children), start=1)]
        citations = [Citation.from_passage(n, p) for n, p in enumerate(children, start=1)]
        answer = self._verified(
            question, LEAD_IN + "\n" + "\n".join(lines), citations, "extractive"
        )
        # The parent heading's coverage of the question is what made this the answer.
        return self._rated(answer, max(p.score for p in children))

    def _from_llm(
        self, question: str, text: str, candidates: list[Passage], passages: list[Passage]
    ) -> Answer:
        if not text or text.startswith(REFUSAL_TEXT):
            evidence = Evidence(True, "模型判断资料不足")
            return self._refusal(question, passages, evidence, answerer="llm")
        # Renumber the prompt's [n] in order of first use; unknown numbers stay and get flagged.
        mapping: dict[int, int] = {}
        for n in (int(x) for x in MARKER.findall(text)):
            if 1 <= n <= len(candidates) and n not in mapping:
                mapping[n] = len(mapping) + 1
        # Unknown numbers are > len(candidates) >= any new number, so they cannot collide.
        renumbered = MARKER.sub(
            lambda m: f"[{mapping.get(int(m.group(1)), int(m.group(1)))}]", text
        )
        citations = [
            Citation.from_passage(new, candidates[old - 1]) for old, new in mapping.items()
        ]
        answer = self._verified(question, renumbered, citations, "llm")
        return self._rated(answer, self._llm_relevance(question, answer))

    def _llm_relevance(self, question: str, answer: Answer) -> float:
        """A generated answer scored like an extracted one: its best sentence's similarity to
        the question, blended with the question's weighted terms it contains."""
        claims = [c.text for c in answer.claims][:8]
        if not claims:
            return 0.0
        weights = self.retriever.term_weights(self.analyzer.terms(question))
        query = np.asarray(self.embed_model.get_query_embedding(question), np.float32)
        vectors = np.asarray(self.embed_model.get_text_embedding_batch(claims), np.float32)
        return max(
            relevance_score(float(v @ query), coverage(weights, claim))
            for v, claim in zip(vectors, claims, strict=True)
        )

    def _rated(self, answer: Answer, relevance: float) -> Answer:
        if not answer.refused:
            answer.relevance = min(1.0, max(0.0, relevance))
            answer.low_relevance = answer.relevance < self.low_relevance
        return answer

    def _verified(
        self, question: str, text: str, citations: list[Citation], answerer: str
    ) -> Answer:
        checks = self.verifier.check(text, citations)
        if self.strict and any(not c.supported for c in checks):
            kept = [c for c in checks if c.supported]
            text = LEAD_IN + "".join(c.text for c in kept) if kept else REFUSAL_TEXT
            checks = kept
        # Checked with the sources' own reference marks, shown without them.
        checks = [dataclasses.replace(c, text=strip_footnotes(c.text)) for c in checks]
        return Answer(
            question=question,
            text=strip_footnotes(text),
            citations=citations,
            refused=not checks,
            faithfulness=faithfulness(checks) if checks else 1.0,
            sentences=checks,
            answerer=answerer,
        )

    def _refusal(
        self,
        question: str,
        passages: list[Passage],
        evidence: Evidence,
        answerer: str = "extractive",
    ) -> Answer:
        closest = passages[:3]
        return Answer(
            question=question,
            text=strip_footnotes(refusal_text(closest, question)),
            citations=[Citation.from_passage(n, p) for n, p in enumerate(closest, start=1)],
            refused=True,
            faithfulness=1.0,  # a refusal claims nothing
            answerer=answerer,
            refusal_reason=evidence.reason if asks_in_chinese(question) else "问题不是中文",
        )


def _candidate_index(found: _Found, passage: Passage) -> int:
    """Where ``passage`` stands among the answer candidates; a passage looked up in the
    store because retrieval did not bring it is appended."""
    for index, candidate in enumerate(found.candidates):
        if candidate.id == passage.id:
            return index
    found.candidates.append(passage)
    return len(found.candidates) - 1


def _merged(
    first: Sequence[tuple[Unit, Passage]], more: Sequence[tuple[Unit, Passage]]
) -> list[tuple[Unit, Passage]]:
    """``first``, then the units of ``more`` it does not already hold."""
    held = {(p.id, u.text) for u, p in first}
    return [*first, *((u, p) for u, p in more if (p.id, u.text) not in held)]


def _anchor_wordings(terms: QueryTerms) -> list[str]:
    """What the question names, in every wording the thesaurus or the documents' own short
    names give it: a sentence saying "合作区" is about "横琴粤澳深度合作区" where a document
    defined it so."""
    wordings: list[str] = []
    for anchor in (*terms.specific, terms.subject):
        forms = next((term_forms(t) for t in terms.content if anchor in term_forms(t)), [anchor])
        wordings += forms
    return list(dict.fromkeys(wordings))
