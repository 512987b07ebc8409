"""Which documents a question itself points at.

Planners name the document they mean: by its title in book-title marks (《上海市数据条例》), by
its 文号 or the colloquial "660号文", or by its genre ("论文里", "这篇文章", "条例规定"). In a
library of many documents such a question must be answered from that document, not from
whichever text happens to score highest. Only used when the caller set no document filter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.catalog import DocRecord
from rag.docinfo import asked_facts, asks_effect

_TITLE = re.compile(r"《([^《》]{2,80})》")
_NUMBER = re.compile(r"(?:〔\d{4}〕)?(\d{1,4})\s*号(?:文|文件)?")
# Genre words -> the document kind they name. 论文/文章 are what a research paper is called;
# 条例 and 法规 are what regulations are called (a 规范性文件 has too many names to list).
_KIND_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"论文|这篇文章|文章(?:里|中|认为|提出|说|讲|怎么)|作者"), "研究论文"),
    (re.compile(r"条例|法规"), "法规"),
)
_NOISE = re.compile(r"[\s“”\"'‘’「」（）()]")


@dataclass(frozen=True)
class _TitleForms:
    """The forms of the library's titles that questions are compared with, computed once per
    set of documents: per question, the work is a few substring tests per title, never a
    regular expression per title (a provincial library holds thousands of documents)."""

    plain: dict[str, str]  # doc id -> title without quotes, brackets and spaces
    variants: dict[str, tuple[str, ...]]  # doc id -> plain title, and without 市/省 after the place
    written: tuple[str, ...]  # the titles as written, and without 市/省 after the place
    order: dict[str, int]  # doc id -> its place in the library's list
    nicknames: dict[str, str]  # doc id -> the short name the title carries ("数据二十条")
    places: dict[str, str]  # doc id -> the place the title begins with ("上海")
    # a 4-character piece of a plain title -> the ids of the titles holding it
    pieces: dict[str, frozenset[str]]


def _forms(documents: Sequence[DocRecord]) -> _TitleForms:
    """The title forms of ``documents``, computed once per list: a generation's document list
    is one object that is never mutated (rag.store), so the list last seen is recognised by
    identity (it is held here, so its id cannot be reused)."""
    last = _LAST_FORMS.get("documents")
    if last is not None and last[0] is documents:
        return last[1]
    forms = _title_forms([(d.doc_id, d.title) for d in documents])
    _LAST_FORMS["documents"] = (documents, forms)
    return forms


_LAST_FORMS: dict[str, tuple[Sequence[DocRecord], _TitleForms]] = {}


def _title_forms(titles: list[tuple[str, str]]) -> _TitleForms:
    plain = {doc_id: _NOISE.sub("", title) for doc_id, title in titles}
    variants = {
        doc_id: tuple(dict.fromkeys((p, _PLACE.sub(r"\1", p, count=1))))
        for doc_id, p in plain.items()
    }
    written = tuple(
        v for _, title in titles for v in dict.fromkeys((title, _PLACE.sub(r"\1", title, count=1)))
    )
    pieces: dict[str, set[str]] = {}
    for doc_id, p in plain.items():
        for i in range(len(p) - MIN_SHORT_NAME_CHARS + 1):
            pieces.setdefault(p[i : i + MIN_SHORT_NAME_CHARS], set()).add(doc_id)
    return _TitleForms(
        plain,
        variants,
        written,
        {doc_id: n for n, (doc_id, _) in enumerate(titles)},
        {doc_id: n for doc_id, title in titles if (n := nickname(title))},
        {doc_id: m.group(1) for doc_id, title in titles if (m := _PLACE.match(title))},
        {piece: frozenset(ids) for piece, ids in pieces.items()},
    )


def referenced_documents(question: str, documents: Sequence[DocRecord]) -> set[str]:
    """The ids of the documents the question names; empty when it names none (or names a
    kind of document the library does not hold)."""
    named = (
        _by_title(question, documents)
        or _by_unquoted_title(question, documents)
        or _by_nickname(question, documents)
        or set().union(*(ids for _, ids, _ in _by_short_name(question, documents)))
    )
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
        groups = [
            (at, frozenset(ids), name) for at, ids, name in _by_short_name(question, documents)
        ]
    if len(groups) < 2:
        referenced = referenced_documents(question, documents)
        candidates = [d for d in documents if d.doc_id in referenced]
        by_place: dict[str, set[str]] = {}
        places = _forms(documents).places
        for d in candidates or documents:
            if d.doc_id in places:
                by_place.setdefault(places[d.doc_id], set()).add(d.doc_id)
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
    forms = _forms(documents)
    return {
        doc_id
        for doc_id, variants in forms.variants.items()
        if len(forms.plain[doc_id]) >= MIN_UNQUOTED_TITLE_CHARS
        and any(v in asked for v in variants if len(v) >= MIN_UNQUOTED_TITLE_CHARS)
    }


def _by_title(question: str, documents: Sequence[DocRecord]) -> set[str]:
    found: set[str] = set()
    plain = _forms(documents).plain if _TITLE.search(question) else {}
    for quoted in _TITLE.findall(question):
        wanted = _NOISE.sub("", quoted)
        found |= {
            i for i, title in plain.items() if wanted and (wanted in title or title in wanted)
        }
    return found


# Planners call an official document by a distinctive part of its title and its genre word:
# "十四五数字经济规划", "“数据要素×”行动计划", "数据要素×那个计划", "一网通办那个决定". The
# genre word must occur in the title; the words between the distinctive part and the genre
# word must be the title's own ("行动" of 三年行动计划) or a demonstrative (那个, 这份…).
_GENRE = re.compile(r"条例|办法|规定|决定|意见|通知|计划|方案|规划|纲要|指引|指南|细则")
_DEMONSTRATIVE = re.compile(r"(?:那个|这个|那份|这份|那部|这部|那项|这项|的)+$")
_CLAUSE_BREAK = re.compile(r"[，,。？?！!；;：:、\s]")
MIN_SHORT_NAME_CHARS = 4
SHORT_NAME_WINDOW = 16


def _by_short_name(
    question: str, documents: Sequence[DocRecord]
) -> list[tuple[int, set[str], str]]:
    """(position, ids, wording) of each document named by a distinctive part of its title
    and its genre word; the longest distinctive part wins where several documents share the
    genre word."""
    forms = _forms(documents)
    found: list[tuple[int, set[str], str]] = []
    for genre in _GENRE.finditer(question):
        before = _CLAUSE_BREAK.split(question[: genre.start()])[-1]
        window = _DEMONSTRATIVE.sub("", _NOISE.sub("", before))[-SHORT_NAME_WINDOW:]
        best: tuple[int, set[str], str] = (0, set(), "")
        # only titles sharing a piece of the shortest length a name may have with the window
        candidates: set[str] = set()
        for i in range(len(window) - MIN_SHORT_NAME_CHARS + 1):
            candidates |= forms.pieces.get(window[i : i + MIN_SHORT_NAME_CHARS], frozenset())
        for doc_id in sorted(candidates, key=forms.order.__getitem__):  # the library's order
            title = forms.plain[doc_id]
            if genre.group(0) not in title:
                continue
            core = _named_part(window, title)
            if len(core) > best[0]:
                best = (len(core), {doc_id}, core)
            elif core and len(core) == best[0]:
                best[1].add(doc_id)
        if best[0] >= MIN_SHORT_NAME_CHARS:
            start = _literal_start(question, genre.start(), best[2])
            found.append((start, best[1], question[start : genre.end()]))
    return found


def _literal_start(question: str, end: int, core: str) -> int:
    """Where in the question the words naming the document begin (quotes and spaces that
    ``_NOISE`` dropped from the comparison included)."""
    start = end
    while start > 0 and not _NOISE.sub("", question[start:end]).startswith(core):
        start -= 1
    return start


def naming_words(question: str, documents: Sequence[DocRecord]) -> list[str]:
    """The words of the question that name a document it points at ("《上海市数据条例》",
    "660号文", "数据要素×那个计划"). Once the question is answered from that document they
    describe every passage of it, so they no longer tell its passages apart."""
    words = [m.group(0) for m in _TITLE.finditer(question) if _by_title(m.group(0), documents)]
    words += [
        m.group(0)
        for m in _NUMBER.finditer(question)
        if any(d.doc_number.endswith(f"{m.group(1)}号") for d in documents)
    ]
    forms = _forms(documents)
    words += [v for v in forms.written if len(v) >= MIN_UNQUOTED_TITLE_CHARS and v in question]
    words += [n for n in forms.nicknames.values() if n in question]
    words += [name for _, _, name in _by_short_name(question, documents)]
    return sorted(dict.fromkeys(words), key=len, reverse=True)


def ranking_query(question: str, words: Sequence[str]) -> str:
    """The question to rank a named document's passages with: without the words that named
    it, unless it asks about the document itself (its 文号, issuers, date or effect), where
    those words are what the 文档信息 passage and the effect clause answer to."""
    if not words or asked_facts(question) or asks_effect(question):
        return question
    return without_naming_words(question, words)


def without_naming_words(question: str, words: Sequence[str]) -> str:
    """The question with the words that named its documents removed; the question itself
    when nothing else would be left."""
    rest = question
    for word in words:
        rest = rest.replace(word, " ")
    rest = re.sub(r"\s+", " ", rest).strip(" ，,、和与及")
    return rest if _NOISE.sub("", rest) else question


# A title may end with the short name the document goes by: "…的意见（“数据二十条”）",
# "…（简称“个保法”）".
_NICKNAME = re.compile(r"[（(](?:以下)?(?:简称)?[“\"「]([^”\"」]{2,16})[”\"」][）)]$")


def nickname(title: str) -> str:
    match = _NICKNAME.search(title.strip())
    return match.group(1) if match else ""


def _by_nickname(question: str, documents: Sequence[DocRecord]) -> set[str]:
    return {doc_id for doc_id, n in _forms(documents).nicknames.items() if n in question}


def _named_part(window: str, title: str) -> str:
    """The longest part of ``window`` that occurs in ``title`` and is followed in the window
    only by characters of the title (so it is a name, not a phrase that happens to precede a
    genre word: "数据基础设施的解决方案" is not 《…数据基础设施…实施方案》)."""
    for length in range(len(window), MIN_SHORT_NAME_CHARS - 1, -1):
        for start in range(len(window) - length + 1):
            part = window[start : start + length]
            rest = window[start + length :]
            if part in title and all(ch in title for ch in rest):
                return part
    return ""
