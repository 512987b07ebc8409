"""The extractive answerer: verbatim sentences from the retrieved passages, each cited.

Sentences are scored against the question by embedding similarity plus IDF-weighted term
overlap. For list questions ("包括哪些…") an enumeration is kept whole: its lead sentence
("此种路径主要包含3方面内容。") and every "一是/二是/三是" item of the same passage.
Answer units end at 。！？ or a paragraph end, never at ；, so "一是…；二是…" stays one unit.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from rag.query import coverage
from rag.types import Passage

if TYPE_CHECKING:  # a type only: the store imports this module and must not load LlamaIndex
    from llama_index.core.base.embeddings.base import BaseEmbedding

LEAD_IN = "根据资料："
_UNIT_END = re.compile(r"[。！？!?]+[”’」』）)】\"]*")
_LIST_QUESTION = re.compile(
    r"哪些|哪几|几个|几大|几类|几项|几方面|几阶段|包括|包含|分别|构成|组成|有哪"
)
# The ways official documents number the items of a list: 一是/第一/首先, （一）/(1), 一、,
# ①, "1." / "1、" (not "3.5亿"), and the em-dash lines of a list of targets ("——数据要素市场…").
_ITEM_STYLES = {
    "shi": r"[一二三四五六七八九十]是",
    "ordinal": r"第[一二三四五六七八九十]",
    "sequence": r"首先|其次|再次|最后",
    "paren_digit": r"[（(]\d{1,2}[)）]",
    "paren_cn": r"[（(][一二三四五六七八九十]{1,3}[)）]",
    "cn_comma": r"[一二三四五六七八九十]{1,3}、",
    "circled": r"[①-⑳]",
    "digit": r"\d{1,2}[.．、](?!\d)",
    "dash": r"——",
}
_ITEM_START = re.compile("^(?:" + "|".join(f"(?P<{k}>{v})" for k, v in _ITEM_STYLES.items()) + ")")
_ENUM_INTRO = re.compile(
    r"(?:包含|包括|主要有|分为|如下)[^。]{0,12}(?:方面|内容|环节|层级|部分|阶段|类)?[。：:]$"
)
# "提出了三大核心观点。", "主要包含3方面内容：": a sentence whose items follow it.
# A legal text announces its items with 下列/如下/以下 and a colon ("符合下列条件的，…：").
_ANNOUNCES_ITEMS = re.compile(
    r"[一二三四五六七八九十两\d]+\s*(?:大|个|项|点|类|条|方面)[\u4e00-\u9fff]{0,8}[。：:]$"
    r"|(?:下列|如下|以下)[^。]*[：:]$"
)
# "这一阶段…", "此种路径…": a sentence that goes on about the one before it.
_ANAPHOR = re.compile(r"^(?:这一|这些|这个|这种|此种|此外|该|其)")
# A paragraph that is only a name or a short label, without punctuation or digits.
_LABEL = re.compile(r"[\u4e00-\u9fffA-Za-z·]{2,8}")
SHORT_HEADING_CHARS = 40  # an item this short is a heading; its explanation follows it
# Paragraphs opening with short sentences that begin alike ("坚持创新引领、融合发展。",
# "坚持应用牵引、数据赋能。") are the items of a list written without numbers.
PARALLEL_PREFIX_CHARS = 2
MIN_PARALLEL_ITEMS = 3
EMBED_WEIGHT = 0.6
MAX_UNITS = 3
CLOSE_TO_BEST = 0.85
OFF_FOCUS_DAMPING = 0.7
SIBLING_ITEM_SCORE = 0.75  # another item this close to the best one: the list is the answer
REDUNDANT_SIMILARITY = 0.75  # cosine above which a sentence restates one already chosen
MAX_ANSWER_CHARS = 700
MAX_LIST_CHARS = 1500  # a list answer keeps every item; explanations only while this allows
# Sentence vectors of this many passages stay cached (about 20 KB each with a 512-d embedder).
CACHED_PASSAGES = 2048


@dataclass
class Unit:
    text: str
    passage: int  # index into the passages list
    position: int  # order within its passage
    score: float = 0.0
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    # (doc, section): an enumeration may continue in the next chunk of the same section
    group: tuple[str, str] = ("", "")
    order: tuple[int, int] = (0, 0)  # (chunk start, position): reading order across chunks
    opens_paragraph: bool = False  # the first sentence of its paragraph (an item's lead)

    def __hash__(self) -> int:
        return hash((self.passage, self.position))


def relevance_score(similarity: float, term_coverage: float) -> float:
    """How well a sentence answers a question: its embedding similarity to the question and
    the IDF-weighted share of the question's terms it (with its heading) contains."""
    return EMBED_WEIGHT * max(similarity, 0.0) + (1 - EMBED_WEIGHT) * term_coverage


def split_units(text: str) -> list[str]:
    """Answer units of a passage: sentences ending at 。！？ or at a paragraph end."""
    return [unit for unit, _ in units_with_leads(text)]


def units_with_leads(text: str) -> list[tuple[str, str]]:
    """Each unit with the first sentence of its paragraph ("" for that sentence itself).

    The lead is context: in "…呈现“6123”总体架构。“2”是指…两大支撑。" the second sentence is about
    "6123" although it does not repeat it. A paragraph that is only a short label (a name
    above a biography) is not a unit: it heads the next paragraph ("张竞涛：中国信息通信…")."""
    pairs: list[tuple[str, str]] = []
    label = ""
    paragraphs = [para.strip() for para in text.split("\n") if para.strip()]
    for index, para in enumerate(paragraphs):
        if _LABEL.fullmatch(para) and not _ITEM_START.match(para) and index + 1 < len(paragraphs):
            label = para  # "张竞涛" above the paragraph about him
            continue
        pieces, pos = [], 0
        for match in _UNIT_END.finditer(para):
            pieces.append(para[pos : match.end()].strip())
            pos = match.end()
        pieces.append(para[pos:].strip())
        pieces = [p for p in pieces if p]
        if label and pieces:
            pieces[0] = f"{label}：{pieces[0]}"
            label = ""
        pairs += [(unit, pieces[0] if i else "") for i, unit in enumerate(pieces)]
    return pairs


def is_list_question(question: str) -> bool:
    return bool(_LIST_QUESTION.search(question))


# Vectors the index already holds for units: (chunk id, position, unit text) -> vector, for
# those it has (a sentence stored at ingest under that position with that very text).
StoredVectors = Callable[[Sequence[tuple[str, int, str]]], dict[tuple[str, int], np.ndarray]]


class ExtractiveAnswerer:
    """Picks and orders answer sentences; caches sentence vectors per chunk.

    A unit's vector comes from the index when ingest stored it (its sentence vectors), and
    is embedded only otherwise (short units, indexes without sentence vectors)."""

    def __init__(
        self,
        embed_model: BaseEmbedding,
        cache_size: int = CACHED_PASSAGES,
        stored: StoredVectors | None = None,
    ) -> None:
        self.embed_model = embed_model
        self.cache_size = cache_size
        self.stored = stored
        self._cache: OrderedDict[str, tuple[list[tuple[str, str]], np.ndarray]] = OrderedDict()

    def units(self, passage: Passage) -> tuple[list[tuple[str, str]], np.ndarray]:
        """(unit, paragraph lead) pairs of a passage and the units' vectors, cached (LRU)."""
        self.prefetch([passage])
        cached = self._cache[passage.id]
        self._cache.move_to_end(passage.id)
        return cached

    def prefetch(self, passages: Sequence[Passage]) -> None:
        """Bring the units of these passages into the cache: one lookup of stored vectors and
        one embedding batch for all of them."""
        todo = {p.id: units_with_leads(p.text) for p in passages if p.id not in self._cache}
        if not todo:
            return
        wanted = [
            (pid, i, unit) for pid, pairs in todo.items() for i, (unit, _) in enumerate(pairs)
        ]
        found = self.stored(wanted) if self.stored is not None and wanted else {}
        missing = [(pid, i, unit) for pid, i, unit in wanted if (pid, i) not in found]
        if missing:
            embedded = self.embed_model.get_text_embedding_batch([u for _, _, u in missing])
            for (pid, i, _), vector in zip(missing, embedded, strict=True):
                found[(pid, i)] = np.asarray(vector, np.float32)
        for pid, pairs in todo.items():
            vectors = [found[(pid, i)] for i in range(len(pairs))]
            matrix = np.asarray(vectors, np.float32).reshape(len(pairs), -1)
            self._cache[pid] = (pairs, matrix)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)  # a long-running server must not grow without end

    def score_units(
        self,
        query_embedding: list[float],
        passages: list[Passage],
        weights: dict[str, float],
        focus: Sequence[str] = (),
        names: Sequence[str] = (),
    ) -> list[Unit]:
        """Score every unit; units missing a taxonomy term the question names ("管理维度"),
        or all of the names it asks about ("长沙"), are damped, so "那管理维度呢？" is not
        answered with the technology dimension, nor a question on Changsha with Hangzhou."""
        query = np.asarray(query_embedding, dtype=np.float32)
        scored: list[Unit] = []
        self.prefetch(passages)
        for p_index, passage in enumerate(passages):
            pairs, vectors = self.units(passage)
            sims = vectors @ query if len(pairs) else np.zeros(0)
            where = _squeeze(passage.context)
            for position, ((text, lead), sim, vec) in enumerate(
                zip(pairs, sims, vectors, strict=True)
            ):
                if len(_squeeze(text)) >= 2 and _squeeze(text) in where:
                    continue  # a line restating the title or heading says nothing of its own
                # Heading and paragraph lead are the sentence's context ("3.3 数据要素驱动路径").
                lexical = coverage(weights, f"{passage.context}\n{lead}\n{text}")
                score = relevance_score(float(sim), lexical)
                # The document's title counts too: in "临江市公共数据条例", 本市 is 临江市.
                context = f"{passage.context}\n{text}"
                if any(term not in context for term in focus) or (
                    names and not any(name in context for name in names)
                ):
                    score *= OFF_FOCUS_DAMPING
                group = (passage.doc_id, passage.section)
                order = (int(passage.metadata.get("char_start", 0)), position)
                scored.append(Unit(text, p_index, position, score, vec, group, order, not lead))
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
        close = _non_redundant([u for u in ranked if u.score >= best.score * CLOSE_TO_BEST])
        chosen = close
        if is_list_question(question):
            enumeration = _relevant_enumeration(best, units)
            if enumeration:
                listed = [best, *enumeration]
                # Every item first; explanations of short items only as the budget allows.
                items = _dedupe_and_budget(_reading_order(listed), MAX_LIST_CHARS)
                room = MAX_LIST_CHARS - sum(len(u.text) for u in items)
                extra = _dedupe_and_budget(_continuations(items, units), room, strict=True)
                return _reading_order(_unique([*items, *extra]))
        chosen = chosen + _continuations(chosen, units)
        return _dedupe_and_budget(_reading_order(chosen))


def whole_articles(
    chosen: list[Unit], units: list[Unit], passages: Sequence[Passage], budget: int = MAX_LIST_CHARS
) -> list[Unit]:
    """The articles the chosen sentences stand in, whole.

    An article (第X条) is the unit of meaning of a legal text: its paragraphs (款) and items
    (项) qualify each other ("…分为无条件开放、有条件开放和非开放三类" is the second 款 of the
    article whose first states its principles), and a regulation is cited, read and applied
    article by article. A chunk never spans two articles, so a chunk whose section ends in an
    article is (a piece of) one: all its sentences join the answer, the best articles first,
    while the answer stays within ``budget`` characters."""
    by_passage: dict[int, list[Unit]] = {}
    for unit in units:
        by_passage.setdefault(unit.passage, []).append(unit)
    kept = list(chosen)
    total = sum(len(u.text) for u in kept)
    best_first = sorted(chosen, key=lambda u: -u.score)
    for index in dict.fromkeys(u.passage for u in best_first):
        if not passages[index].metadata.get("article"):
            continue
        extra = [u for u in by_passage.get(index, []) if u not in kept]
        size = sum(len(u.text) for u in extra)
        if extra and total + size <= budget:
            kept += extra
            total += size
    return _reading_order(_unique(kept)) if len(kept) > len(chosen) else chosen


def _continuations(chosen: list[Unit], units: list[Unit]) -> list[Unit]:
    """What a chosen sentence needs to say anything: the explanation after a short item
    heading ("三是研究制定…标准规范。" then "通过规划编制指南…") or after a short sentence the
    next one goes on about ("…即条线建设期。" then "这一阶段…"), and the items after a
    sentence that announces them ("提出了三大核心观点。" then "一是…")."""
    added: list[Unit] = []
    for unit in chosen:
        siblings = sorted((u for u in units if u.group == unit.group), key=lambda u: u.order)
        after = siblings[siblings.index(unit) + 1 :] if unit in siblings else []
        if not after:
            continue
        items = _items(siblings)
        if _ANNOUNCES_ITEMS.search(unit.text) and _ITEM_START.match(after[0].text):
            style = _item_style(after[0])
            added += [u for u in after if _item_style(u) == style]
        elif (
            len(unit.text) <= SHORT_HEADING_CHARS
            and after[0] not in items
            and not _ITEM_START.match(after[0].text)
            and (unit in items or _ANAPHOR.match(after[0].text))
        ):
            added.append(after[0])
    return added


def _items(siblings: list[Unit]) -> list[Unit]:
    """The list items among the units of one section, in reading order: numbered units, or
    else the short opening sentences of paragraphs that begin alike (an unnumbered list)."""
    by_style: dict[str, list[Unit]] = {}
    for u in siblings:
        style = _item_style(u)
        if style:
            by_style.setdefault(style, []).append(u)
    # One list numbers its items one way: 第九条's （一）…（四） are its items, 第十条 is not one.
    numbered = max(by_style.values(), key=len, default=[])
    if len(numbered) >= 2:
        return numbered
    openers = [
        u
        for u in siblings
        if u.opens_paragraph and len(u.text) <= SHORT_HEADING_CHARS and u.text.endswith("。")
    ]
    by_prefix: dict[str, list[Unit]] = {}
    for u in openers:
        by_prefix.setdefault(u.text[:PARALLEL_PREFIX_CHARS], []).append(u)
    parallel = max(by_prefix.values(), key=len, default=[])
    return parallel if len(parallel) >= MIN_PARALLEL_ITEMS else numbered


def _item_style(unit: Unit) -> str | None:
    match = _ITEM_START.match(unit.text)
    return match.lastgroup if match else None


def _unique(units: list[Unit]) -> list[Unit]:
    seen: set[tuple[int, int]] = set()
    out = []
    for u in units:
        if (u.passage, u.position) not in seen:
            seen.add((u.passage, u.position))
            out.append(u)
    return out


def _reading_order(units: list[Unit]) -> list[Unit]:
    """Sections in the order of their best passage; within a section, document order."""
    rank: dict[tuple[str, str], int] = {}
    for unit in units:
        rank[unit.group] = min(rank.get(unit.group, unit.passage), unit.passage)
    return sorted(units, key=lambda u: (rank[u.group], u.order))


def _non_redundant(ranked: list[Unit]) -> list[Unit]:
    """Up to MAX_UNITS units, skipping any that mostly restates a better one (MMR-style)."""
    chosen: list[Unit] = []
    for unit in ranked:
        if len(chosen) >= MAX_UNITS:
            break
        if unit.vector is not None and any(
            c.vector is not None and float(unit.vector @ c.vector) > REDUNDANT_SIMILARITY
            for c in chosen
        ):
            continue
        chosen.append(unit)
    return chosen


def _relevant_enumeration(best: Unit, units: list[Unit]) -> list[Unit]:
    """The enumeration a list question should get whole, or [].

    * the best sentence leads into the list ("三大维度分别是…", "…等问题。" then "一是…"):
      the items of its own section;
    * the best sentence is itself an item: the list only if another item also answers the
      question (scores close to it), otherwise the other items are about something else.
    """
    enumeration = _enumeration(best, units)
    siblings = sorted((u for u in units if u.group == best.group), key=lambda u: u.order)
    all_items = _items(siblings)
    items = [u for u in enumeration if u in all_items]
    if len(items) < 2:
        return []
    if best not in all_items:
        return enumeration
    others = [u for u in items if u is not best and u.text != best.text]
    if any(u.score >= best.score * SIBLING_ITEM_SCORE for u in others):
        return enumeration
    return []


def _enumeration(unit: Unit, units: list[Unit]) -> list[Unit]:
    """The intro and every item ("一是…", "二是…") of the passage ``unit`` belongs to.

    Items need not be adjacent: in "一是技术维度… 城市数字底座包含… 二是业务维度…" the
    explanations between items are left out and the items kept."""
    siblings = sorted((u for u in units if u.group == unit.group), key=lambda u: u.order)
    items = _items(siblings)
    if not items:
        return [unit]
    first = siblings.index(items[0])
    intro = (
        siblings[first - 1 : first]
        if first and _ENUM_INTRO.search(siblings[first - 1].text)
        else []
    )
    return intro + items


def _dedupe_and_budget(
    units: list[Unit], budget: int = MAX_ANSWER_CHARS, strict: bool = False
) -> list[Unit]:
    """Units in order without repeats, up to ``budget`` characters (the first unit always,
    unless ``strict``)."""
    seen: set[str] = set()
    kept: list[Unit] = []
    total = 0
    for unit in units:
        key = "".join(unit.text.split())
        if key in seen:
            continue
        if (kept or strict) and total + len(unit.text) > budget:
            break
        seen.add(key)
        kept.append(unit)
        total += len(unit.text)
    return kept


def _squeeze(text: str) -> str:
    """Text without spaces and punctuation, for comparing a line with a title."""
    return re.sub(r"[\s\W_]+", "", text)
