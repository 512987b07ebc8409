"""Citation verification, applied to every answer whatever produced it.

Each answer sentence must carry ``[n]`` markers, every ``n`` must exist, and the cited passages
must support it: verbatim containment, or strong character-bigram overlap (optionally backed by
embedding similarity), with every number and name of the sentence present in the passages.
The paper's own reference marks are ``[^n]`` and are ignored here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from rag.query import QueryAnalyzer
from rag.types import Citation, SentenceCheck

MARKER = re.compile(r"\[(\d+)\]")
FOOTNOTE_MARK = re.compile(r"\[\^(\d+)\]")
_TERMINATORS = "。！？!?\n"
_CLOSERS = '”’」』）)】"'
_LEAD_INS = re.compile(r"^(?:根据资料|资料显示|据资料|综上所述|综上|总之)[：:,，]?")
_QUANTITY = re.compile(
    r"\d+(?:\.\d+)?|[一二两三四五六七八九十百千万]+(?=[个大项类条种层级方面阶段环节年月])"
)
_LABEL_LINE = re.compile(r"【[^【】]+】|《[^《》]+》")  # a heading or a document title alone
_NON_CONTENT = re.compile(r"[\s\W_]+", re.UNICODE)

# Negation words, longest first: a claim may not add one the passage lacks, nor drop one.
_NEGATORS = ("不是", "并非", "没有", "不得", "不能", "不会", "不再", "不", "未", "无", "非", "没")
_CLAUSE_SPLIT = re.compile(r"[，,；;：:、]")
_PASSAGE_SENTENCES = re.compile(r"[^。！？!?；;\n]+")
MIN_CLAUSE_CHARS = 4  # shorter clauses ("一是", "包括") say too little to be checked alone

CONTAIN_RECALL = 0.7  # bigram recall that counts as support on its own
PARAPHRASE_RECALL = 0.45  # lower recall accepted when the embeddings agree
PARAPHRASE_SIMILARITY = 0.6


def split_answer_sentences(text: str) -> list[str]:
    """Sentences of an answer, each keeping the ``[n]`` markers that follow it."""
    sentences: list[str] = []
    current = ""
    i = 0
    while i < len(text):
        ch = text[i]
        current += ch
        i += 1
        if ch in _TERMINATORS:
            while i < len(text) and (text[i] in _CLOSERS or text[i] in _TERMINATORS.strip()):
                current += text[i]
                i += 1
            match = re.match(r"(?:\s*\[\d+\])+", text[i:])
            if match:
                current += match.group(0)
                i += match.end()
            sentences.append(current)
            current = ""
    sentences.append(current)
    return [s.strip() for s in sentences if s.strip()]


def strip_footnotes(text: str) -> str:
    """``text`` without a source's own reference marks (``[^n]``): an answer cites with ``[n]``
    only, so a reader never sees two kinds of bracketed number side by side."""
    return FOOTNOTE_MARK.sub("", text)


def claim_text(sentence: str) -> str:
    """The sentence without citation markers, footnote marks and a leading lead-in."""
    text = FOOTNOTE_MARK.sub("", MARKER.sub("", sentence)).strip()
    return _LEAD_INS.sub("", text).strip()


def _compact(text: str) -> str:
    return _NON_CONTENT.sub("", FOOTNOTE_MARK.sub("", text))


def _bigram_recall(claim: str, passage: str) -> float:
    grams = [claim[i : i + 2] for i in range(len(claim) - 1)]
    if not grams:
        return 1.0 if claim and claim in passage else 0.0
    pool = {passage[i : i + 2] for i in range(len(passage) - 1)}
    return sum(1 for g in grams if g in pool) / len(grams)


class CitationVerifier:
    def __init__(self, embed_model: BaseEmbedding, analyzer: QueryAnalyzer) -> None:
        self.embed_model = embed_model
        self.analyzer = analyzer

    def check(self, answer: str, citations: Sequence[Citation]) -> list[SentenceCheck]:
        by_n = {c.n: c for c in citations}
        checks = []
        for sentence in split_answer_sentences(answer):
            claim = claim_text(sentence)
            if not _compact(claim):
                continue  # a bare lead-in such as "根据资料：" is not a claim
            check = self._check_one(sentence, claim, by_n)
            check.label = bool(_LABEL_LINE.fullmatch(claim.strip()))
            checks.append(check)
        return checks

    def _check_one(self, sentence: str, claim: str, by_n: dict[int, Citation]) -> SentenceCheck:
        numbers = [int(n) for n in MARKER.findall(sentence)]
        if not numbers:
            return SentenceCheck(sentence, [], False, 0.0, "没有引用标注")
        unknown = [n for n in numbers if n not in by_n]
        if unknown:
            return SentenceCheck(sentence, numbers, False, 0.0, f"引用编号不存在：{unknown}")
        # A heading belongs to its passage: "3.4 数字治理驱动路径" supports what it names, and
        # so does the title of its document (the line above each document's part).
        passage = "\n".join(
            f"《{by_n[n].doc_title}》\n{by_n[n].section}\n{by_n[n].text}" for n in numbers
        )
        compact_claim, compact_passage = _compact(claim), _compact(passage)
        if compact_claim in compact_passage:
            return SentenceCheck(sentence, numbers, True, 1.0, "原文摘录")
        missing = self._missing_facts(claim, passage)
        recall = _bigram_recall(compact_claim, compact_passage)
        if missing:
            return SentenceCheck(
                sentence, numbers, False, recall, f"引文中没有：{'、'.join(missing)}"
            )
        flipped = _negation_mismatch(compact_claim, compact_passage)
        if flipped:
            return SentenceCheck(sentence, numbers, False, recall, f"否定与引文不一致：{flipped}")
        detached = _unsupported_clause(claim, passage)
        if detached:
            return SentenceCheck(
                sentence, numbers, False, recall, f"引文中没有同一句话这样说：{detached}"
            )
        if recall >= CONTAIN_RECALL:
            return SentenceCheck(sentence, numbers, True, recall, "与引文高度重合")
        if recall >= PARAPHRASE_RECALL:
            similarity = self._similarity(claim, [by_n[n].text for n in numbers])
            if similarity >= PARAPHRASE_SIMILARITY:
                return SentenceCheck(sentence, numbers, True, recall, "转述，语义一致")
        return SentenceCheck(sentence, numbers, False, recall, "引文不支持该句")

    def _missing_facts(self, claim: str, passage: str) -> list[str]:
        """Numbers and names in the claim that the cited passages do not contain."""
        facts = {m.group(0) for m in _QUANTITY.finditer(claim)}
        facts |= set(self.analyzer.terms(claim).specific)
        return sorted(f for f in facts if f not in passage)

    def _similarity(self, claim: str, passages: list[str]) -> float:
        vectors = np.asarray(self.embed_model.get_text_embedding_batch([claim, *passages]))
        return float(np.max(vectors[1:] @ vectors[0]))


def _negator_at(text: str, i: int) -> str:
    return next((n for n in _NEGATORS if text.startswith(n, i)), "")


def _negation_mismatch(claim: str, passage: str) -> str:
    """A negation the claim adds ("分别不是…") or drops ("不得收取" -> "收取"), else "".

    Bigram overlap cannot see either: one character turns a supported sentence into its
    opposite. Compared on compacted text (no spaces or punctuation)."""
    i = 0
    while i < len(claim):
        word = _negator_at(claim, i)
        if word:
            negated = claim[i : i + len(word) + 1]
            if len(negated) > len(word) and negated not in passage:
                return negated
            i += len(word)
        else:
            i += 1
    for j in range(len(passage)):
        word = _negator_at(passage, j)
        if not word or (j > 0 and _negator_at(passage, j - 1)):
            continue
        tail = passage[j + len(word) : j + len(word) + 3]
        if len(tail) < 3 or tail not in claim:
            continue
        k = claim.index(tail)
        said_negated = any(claim[max(0, k - len(n)) : k] == n for n in _NEGATORS)
        said_plainly = any(
            not any(passage[max(0, m - len(n)) : m] == n for n in _NEGATORS)
            for m in _occurrences(passage, tail)
        )
        if not said_negated and not said_plainly:
            return word + tail
    return ""


def _occurrences(text: str, part: str) -> list[int]:
    found, start = [], text.find(part)
    while start >= 0:
        found.append(start)
        start = text.find(part, start + 1)
    return found


def _unsupported_clause(claim: str, passage: str) -> str:
    """A clause of the claim that no single sentence of the passage supports, else "".

    Overlap over the whole passage lets a claim attach one sentence's subject to another
    sentence's content ("一是业务维度，包含城市数字底座…" from "一是技术维度，包含…"):
    each clause must be borne out by one sentence of the passage."""
    sentences = [_compact(m.group(0)) for m in _PASSAGE_SENTENCES.finditer(passage)]
    sentences = [s for s in sentences if s]
    for clause in _CLAUSE_SPLIT.split(claim):
        compact = _compact(clause)
        if len(compact) < MIN_CLAUSE_CHARS:
            continue
        if not any(_bigram_recall(compact, s) >= CONTAIN_RECALL for s in sentences):
            return clause.strip()
    return ""


def faithfulness(checks: Sequence[SentenceCheck]) -> float:
    """Share of the answer's claims that their citations support. A heading or title line is
    not a claim, so it does not raise the share; one citing the wrong passage still lowers it."""
    if not checks:
        return 0.0
    counted = [c for c in checks if not c.label or not c.supported] or list(checks)
    return sum(1 for c in counted if c.supported) / len(counted)
