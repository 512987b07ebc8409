"""The extractive answerer: verbatim sentences from the retrieved passages, each cited.

Sentences are scored against the question by embedding similarity plus IDF-weighted term
overlap. For list questions ("包括哪些…") an enumeration is kept whole: its lead sentence
("此种路径主要包含3方面内容。") and every "一是/二是/三是" item of the same passage.
Answer units end at 。！？ or a paragraph end, never at ；, so "一是…；二是…" stays one unit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from rag.query import coverage
from rag.types import Passage

LEAD_IN = "根据资料："
_UNIT_END = re.compile(r"[。！？!?]+[”’」』）)】\"]*")
_LIST_QUESTION = re.compile(
    r"哪些|哪几|几个|几大|几类|几项|几方面|几阶段|包括|包含|分别|构成|组成|有哪"
)
_ITEM_START = re.compile(
    r"^(?:[一二三四五六七八九十]是|第[一二三四五六七八九十]|首先|其次|再次|最后|[（(]\d+[)）])"
)
_ENUM_INTRO = re.compile(
    r"(?:包含|包括|主要有|分为|如下)[^。]{0,12}(?:方面|内容|环节|层级|部分|阶段|类)?[。：:]$"
)
EMBED_WEIGHT = 0.6
MAX_UNITS = 3
CLOSE_TO_BEST = 0.85
OFF_FOCUS_DAMPING = 0.7
MAX_ANSWER_CHARS = 700


@dataclass
class Unit:
    text: str
    passage: int  # index into the passages list
    position: int  # order within its passage
    score: float = 0.0


def split_units(text: str) -> list[str]:
    """Answer units of a passage: sentences ending at 。！？ or at a paragraph end."""
    units: list[str] = []
    for para in text.split("\n"):
        pos = 0
        for match in _UNIT_END.finditer(para):
            units.append(para[pos : match.end()].strip())
            pos = match.end()
        if para[pos:].strip():
            units.append(para[pos:].strip())
    return [u for u in units if u]


def is_list_question(question: str) -> bool:
    return bool(_LIST_QUESTION.search(question))


class ExtractiveAnswerer:
    """Picks and orders answer sentences; caches sentence vectors per chunk."""

    def __init__(self, embed_model: BaseEmbedding) -> None:
        self.embed_model = embed_model
        self._cache: dict[str, tuple[list[str], np.ndarray]] = {}

    def units(self, passage: Passage) -> tuple[list[str], np.ndarray]:
        cached = self._cache.get(passage.id)
        if cached is None:
            texts = split_units(passage.text)
            vectors = np.asarray(self.embed_model.get_text_embedding_batch(texts), np.float32)
            cached = (texts, vectors.reshape(len(texts), -1))
            self._cache[passage.id] = cached
        return cached

    def score_units(
        self,
        query_embedding: list[float],
        passages: list[Passage],
        weights: dict[str, float],
        focus: Sequence[str] = (),
    ) -> list[Unit]:
        """Score every unit; units missing a taxonomy term the question names ("管理维度")
        are damped, so "那管理维度呢？" is not answered with the technology dimension."""
        query = np.asarray(query_embedding, dtype=np.float32)
        scored: list[Unit] = []
        for p_index, passage in enumerate(passages):
            texts, vectors = self.units(passage)
            sims = vectors @ query if len(texts) else np.zeros(0)
            for position, (text, sim) in enumerate(zip(texts, sims, strict=True)):
                # The section heading is the sentence's context ("3.3 数据要素驱动路径").
                lexical = coverage(weights, f"{passage.section}\n{text}")
                score = EMBED_WEIGHT * max(float(sim), 0.0) + (1 - EMBED_WEIGHT) * lexical
                if any(term not in f"{passage.section}\n{text}" for term in focus):
                    score *= OFF_FOCUS_DAMPING
                scored.append(Unit(text, p_index, position, score))
        return scored

    def select(self, question: str, units: list[Unit]) -> list[Unit]:
        """The answer's units in reading order, de-duplicated, within the length budget.

        For a list question whose best unit belongs to an enumeration, the answer is that
        enumeration; otherwise it is the few units scoring close to the best one.
        """
        if not units:
            return []
        ranked = sorted(units, key=lambda u: (-u.score, u.passage, u.position))
        best = ranked[0]
        close = [u for u in ranked[:MAX_UNITS] if u.score >= best.score * CLOSE_TO_BEST]
        if is_list_question(question):
            for unit in close:
                enumeration = _enumeration(unit, units) if _in_enumeration(unit) else []
                if len(enumeration) > 1:
                    return _dedupe_and_budget(enumeration)
        chosen = close
        return _dedupe_and_budget(sorted(chosen, key=lambda u: (u.passage, u.position)))


def _in_enumeration(unit: Unit) -> bool:
    return bool(_ENUM_INTRO.search(unit.text) or _ITEM_START.match(unit.text))


def _enumeration(unit: Unit, units: list[Unit]) -> list[Unit]:
    """The intro and all items of the enumeration ``unit`` belongs to, in its passage."""
    siblings = sorted((u for u in units if u.passage == unit.passage), key=lambda u: u.position)
    start = end = unit.position
    while end + 1 < len(siblings) and _ITEM_START.match(siblings[end + 1].text):
        end += 1
    while start > 0 and _ITEM_START.match(siblings[start].text):
        start -= 1
    if not _in_enumeration(siblings[start]):
        start += 1
    return siblings[start : end + 1]


def _dedupe_and_budget(units: list[Unit]) -> list[Unit]:
    seen: set[str] = set()
    kept: list[Unit] = []
    total = 0
    for unit in units:
        key = "".join(unit.text.split())
        if key in seen:
            continue
        if kept and total + len(unit.text) > MAX_ANSWER_CHARS:
            break
        seen.add(key)
        kept.append(unit)
        total += len(unit.text)
    return kept
