"""Evaluation metrics as pure functions over plain strings, lists and numbers.

Nothing here imports the product: the support check below is written independently of
``rag.verify`` (its own sentence splitter, marker stripping and bigram recall), so a bug in the
product's verifier cannot hide itself in the recomputed faithfulness.

Conventions:
* a passage is *relevant* when it contains a gold span, compared with all whitespace removed (a
  passage is what the system indexed: the product's section path above its text);
* a key point is covered when any of its ``|``-separated alternatives occurs in the answer;
* a sentence is *supported* by passages when, with its ``[n]`` markers (and the paper's ``[^n]``
  footnote marks) removed and punctuation/whitespace dropped, it is a substring of them or has
  a character-bigram recall of at least ``SUPPORT_RECALL`` against them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SUPPORT_RECALL = 0.7
_MARKER = re.compile(r"\[(\d+)\]")
_FOOTNOTE = re.compile(r"\[\^\d+\]")
# A sentence ends at a terminator (with closing quotes and the markers after it), at a run of
# markers ("……创新[2]下一句" cites [2] for "……创新"), at a line break, or at the end.
_SENTENCE = re.compile(
    r".*?(?:[。！？!?]+[”’」』）)】\"]*(?:\s*\[\d+\])*|(?:\[\d+\])+|\n|$)", re.DOTALL
)
_PUNCT_SPACE = re.compile(r"[\s\W_]+", re.UNICODE)
_LEAD_IN = re.compile(r"^(?:根据资料|资料显示|据资料|综上所述|综上|总之)[：:,，]?")


# ----- text helpers --------------------------------------------------------------------------
def squeeze(text: str) -> str:
    """Text with all whitespace removed (the comparison form for spans and key points)."""
    return "".join(text.split())


def content_chars(text: str) -> str:
    """Text without footnote marks, whitespace and punctuation (the form claims are checked in)."""
    return _PUNCT_SPACE.sub("", _FOOTNOTE.sub("", text))


def split_sentences(answer: str) -> list[str]:
    """Answer sentences, each keeping the ``[n]`` markers that directly follow it."""
    return [s.strip() for s in _SENTENCE.findall(answer) if s.strip()]


def markers(sentence: str) -> list[int]:
    """Citation numbers of a sentence, de-duplicated, in order of first appearance."""
    return list(dict.fromkeys(int(n) for n in _MARKER.findall(sentence)))


def claim_of(sentence: str) -> str:
    """The sentence's content: markers, footnote marks and a leading lead-in removed."""
    text = _FOOTNOTE.sub("", _MARKER.sub("", sentence)).strip()
    return _LEAD_IN.sub("", text).strip()


def bigram_recall(claim: str, passage: str) -> float:
    """Share of the claim's character bigrams that occur anywhere in the passage."""
    grams = [claim[i : i + 2] for i in range(len(claim) - 1)]
    if not grams:
        return 1.0 if claim and claim in passage else 0.0
    pool = {passage[i : i + 2] for i in range(len(passage) - 1)}
    return sum(g in pool for g in grams) / len(grams)


def supports(claim: str, passages: Sequence[str], min_recall: float = SUPPORT_RECALL) -> bool:
    """Do the passages (together) support the claim: containment or strong bigram recall?"""
    target = content_chars(claim)
    if not target:
        return True
    pool = content_chars("\n".join(passages))
    if not pool:
        return False
    return target in pool or bigram_recall(target, pool) >= min_recall


# ----- retrieval -----------------------------------------------------------------------------
def relevance(passages: Sequence[str], gold: Sequence[str]) -> list[int]:
    """1 for each passage that contains at least one gold span (whitespace-insensitive)."""
    spans = [squeeze(g) for g in gold if squeeze(g)]
    return [int(any(s in squeeze(p) for s in spans)) for p in passages]


def hit_at_k(passages: Sequence[str], gold: Sequence[str], k: int) -> float:
    return float(any(relevance(passages[:k], gold)))


def recall_at_k(passages: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of the gold spans found in at least one of the top-k passages."""
    spans = [squeeze(g) for g in gold if squeeze(g)]
    if not spans:
        return 0.0
    top = [squeeze(p) for p in passages[:k]]
    return sum(any(s in p for p in top) for s in spans) / len(spans)


def mrr_at_k(passages: Sequence[str], gold: Sequence[str], k: int = 10) -> float:
    for rank, rel in enumerate(relevance(passages[:k], gold), start=1):
        if rel:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(
    passages: Sequence[str], gold: Sequence[str], k: int = 10, n_relevant: int | None = None
) -> float:
    """Binary-gain nDCG@k. ``n_relevant`` is how many relevant passages exist in the whole
    collection (the ideal ranking puts min(n_relevant, k) of them first); by default, the
    number of relevant passages in the list itself."""
    rels = relevance(passages[:k], gold)
    dcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(rels))
    ideal_count = min(k, sum(rels) if n_relevant is None else max(n_relevant, sum(rels)))
    idcg = sum(1.0 / math.log2(i + 2) for i in range(ideal_count))
    return dcg / idcg if idcg else 0.0


# ----- answers -------------------------------------------------------------------------------
def key_point_coverage(answer: str, key_points: Sequence[str]) -> float:
    """Share of the key points found in the answer; ``a|b`` means either form counts."""
    if not key_points:
        return 0.0
    text = squeeze(answer)
    found = 0
    for key in key_points:
        alternatives = [squeeze(a) for a in key.split("|") if squeeze(a)]
        found += any(a in text for a in alternatives)
    return found / len(key_points)


def missing_key_points(answer: str, key_points: Sequence[str]) -> list[str]:
    return [k for k in key_points if key_point_coverage(answer, [k]) == 0.0]


@dataclass(frozen=True)
class SentenceSupport:
    sentence: str
    cited: tuple[int, ...]
    supported: bool  # by all its cited passages together
    supporting: tuple[int, ...]  # cited passages that support it on their own
    unknown: tuple[int, ...] = ()  # cited numbers with no such passage


def sentence_support(answer: str, cited: Mapping[int, str]) -> list[SentenceSupport]:
    """Check every claim-bearing sentence against the passages it cites (``cited[n]`` is
    the text of passage ``[n]``). A sentence without markers is unsupported."""
    results = []
    for sentence in split_sentences(answer):
        claim = claim_of(sentence)
        if not content_chars(claim):
            continue  # a bare lead-in such as "根据资料：" claims nothing
        numbers = markers(sentence)
        known = [n for n in numbers if n in cited]
        unknown = tuple(n for n in numbers if n not in cited)
        together = bool(known) and not unknown and supports(claim, [cited[n] for n in known])
        alone = tuple(n for n in known if supports(claim, [cited[n]]))
        results.append(SentenceSupport(sentence, tuple(numbers), together, alone, unknown))
    return results


def faithfulness(checks: Sequence[SentenceSupport]) -> float:
    """Share of the answer's sentences that their citations support (0 for no sentences)."""
    return sum(c.supported for c in checks) / len(checks) if checks else 0.0


def citation_precision(checks: Sequence[SentenceSupport]) -> float:
    """Share of (sentence, cited passage) pairs in which the passage supports the sentence.

    A passage cited twice by the same sentence counts once; an unknown number is a miss."""
    pairs = sum(len(c.cited) for c in checks)
    good = sum(len(c.supporting) for c in checks)
    return good / pairs if pairs else 0.0


def citation_recall(cited_passages: Sequence[str], gold: Sequence[str]) -> float:
    """Share of the gold spans that appear in at least one cited passage."""
    return recall_at_k(cited_passages, gold, len(cited_passages))


def answer_length(answer: str) -> int:
    """Characters of the answer without markers and whitespace."""
    return len(squeeze(_MARKER.sub("", answer)))


# ----- refusal and latency -------------------------------------------------------------------
def refusal_recall(refused: Sequence[bool], answerable: Sequence[bool]) -> float:
    """Share of the unanswerable questions that were refused (RGB negative rejection)."""
    negatives = [r for r, a in zip(refused, answerable, strict=True) if not a]
    return sum(negatives) / len(negatives) if negatives else 0.0


def false_refusal_rate(refused: Sequence[bool], answerable: Sequence[bool]) -> float:
    """Share of the answerable questions that were refused (lower is better)."""
    positives = [r for r, a in zip(refused, answerable, strict=True) if a]
    return sum(positives) / len(positives) if positives else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def mean(values: Sequence[float]) -> float | None:
    """The average, or None when there is nothing to average (shown as "–")."""
    return sum(values) / len(values) if values else None
