"""Which documents a question itself points at.

Planners name the document they mean: by its title in book-title marks (《上海市数据条例》), by
its 文号 or the colloquial "660号文", or by its genre ("论文里", "这篇文章", "条例规定"). In a
library of many documents such a question must be answered from that document, not from
whichever text happens to score highest. Only used when the caller set no document filter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.catalog import DocRecord

_TITLE = re.compile(r"《([^《》]{2,80})》")
_NUMBER = re.compile(r"(?:〔\d{4}〕)?(\d{1,4})\s*号(?:文|文件)?")
# Genre words -> the document kind they name. 论文/文章 are what a research paper is called;
# 条例 and 法规 are what regulations are called (a 规范性文件 has too many names to list).
_KIND_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"论文|这篇文章|文章(?:里|中|认为|提出|说|讲|怎么)|作者"), "研究论文"),
    (re.compile(r"条例|法规"), "法规"),
)
_NOISE = re.compile(r"[\s“”\"'‘’「」（）()]")


def referenced_documents(question: str, documents: Sequence[DocRecord]) -> set[str]:
    """The ids of the documents the question names; empty when it names none (or names a
    kind of document the library does not hold)."""
    named = _by_title(question, documents) or _by_unquoted_title(question, documents)
    for number in _NUMBER.finditer(question):
        named |= {d.doc_id for d in documents if d.doc_number.endswith(f"{number.group(1)}号")}
    if named:
        return named
    for pattern, kind in _KIND_WORDS:
        if pattern.search(question):
            found = {d.doc_id for d in documents if d.kind == kind}
            if found and len(found) < len(documents):
                return found
    return set()


# A local regulation is named by its place: "上海的数据条例" is 《上海市数据条例》.
_PLACE = re.compile(r"^([\u4e00-\u9fff]{2,4}?)(?:市|省|自治区|经济特区|特别行政区)")


def document_groups(question: str, documents: Sequence[DocRecord]) -> list[frozenset[str]]:
    return [ids for ids, _ in named_groups(question, documents)]


def named_groups(question: str, documents: Sequence[DocRecord]) -> list[tuple[frozenset[str], str]]:
    """``document_groups`` with the wording that names each group ("《…》", "660号文", "上海")."""
    """The separate documents a question compares ("《A》和《B》", "上海和深圳的数据条例"), one
    set of ids per document named, in the order named; [] unless it names two or more.

    Each 《title》 is one group; without titles, each place that begins the titles of the
    documents the question otherwise points at (by kind: "条例") is one group."""
    groups: list[tuple[int, frozenset[str], str]] = []
    for match in _TITLE.finditer(question):
        ids = _by_title(match.group(0), documents)
        if ids:
            groups.append((match.start(), frozenset(ids), match.group(0)))
    for match in _NUMBER.finditer(question):  # "660号文和《…》"
        ids = {d.doc_id for d in documents if d.doc_number.endswith(f"{match.group(1)}号")}
        if ids:
            groups.append((match.start(), frozenset(ids), match.group(0)))
    if len(groups) < 2:
        candidates = [d for d in documents if d.doc_id in referenced_documents(question, documents)]
        by_place: dict[str, set[str]] = {}
        for d in candidates or documents:
            place = _PLACE.match(d.title)
            if place:
                by_place.setdefault(place.group(1), set()).add(d.doc_id)
        groups = [
            (question.find(place), frozenset(ids), place)
            for place, ids in by_place.items()
            if place in question
        ]
    unique: dict[frozenset[str], str] = {}
    for _, ids, wording in sorted(groups, key=lambda g: g[0]):
        unique.setdefault(ids, wording)
    return list(unique.items()) if len(unique) >= 2 else []


# How the titles of official documents and research papers end: a book-title phrase ending
# so names a document, not a book or a concept ("《数字中国》").
_DOCUMENT_TITLE_END = re.compile(
    r"(?:条例|办法|规定|决定|意见|通知|计划|方案|规划|纲要|指引|指南|细则|法|研究|报告)"
    r"(?:[（(][^）)]*[）)])?$"
)


def absent_documents(question: str, documents: Sequence[DocRecord]) -> list[str]:
    """Documents the question names that the library does not hold: a 《title》 of an official
    document or paper that matches no document's title, or "论文" when the library holds no
    research paper. Asked about such a document, the library can only answer from others."""
    absent = []
    for match in _TITLE.finditer(question):
        name = match.group(1).strip()
        if _DOCUMENT_TITLE_END.search(name) and not _by_title(match.group(0), documents):
            absent.append(f"《{name}》")
    if "论文" in question and not any(d.kind == "研究论文" for d in documents):
        absent.append("论文")
    return absent


def names_number(text: str, document: DocRecord) -> bool:
    """Whether ``text`` cites the document's 文号, in full or by its number ("660号文")."""
    number = _NUMBER.search(text)
    return bool(number and document.doc_number.endswith(f"{number.group(1)}号"))


# A title written out without book-title marks ("河南省开发区条例是从哪天开始实行的") names the
# document just as well; readers also drop the 市/省 (经济特区…) after the place
# ("郑州农业投资保障条例").
MIN_UNQUOTED_TITLE_CHARS = 6


def _by_unquoted_title(question: str, documents: Sequence[DocRecord]) -> set[str]:
    asked = _NOISE.sub("", question)
    found: set[str] = set()
    for d in documents:
        title = _NOISE.sub("", d.title)
        if len(title) < MIN_UNQUOTED_TITLE_CHARS:
            continue
        variants = {title, _PLACE.sub(r"\1", title, count=1)}
        if any(v in asked for v in variants if len(v) >= MIN_UNQUOTED_TITLE_CHARS):
            found.add(d.doc_id)
    return found


def _by_title(question: str, documents: Sequence[DocRecord]) -> set[str]:
    found: set[str] = set()
    for quoted in _TITLE.findall(question):
        wanted = _NOISE.sub("", quoted)
        for d in documents:
            title = _NOISE.sub("", d.title)
            if wanted and (wanted in title or title in wanted):
                found.add(d.doc_id)
    return found
