"""Document metadata: what an official document says about itself, from a front-matter header
or, for a user's own file without one, from the document's first and last lines.

Chinese official documents state their identity in fixed places (GB/T 9704 公文格式): the title,
the 发文字号 (``发改数据〔2024〕660号``; a State Council decree is ``国务院令第716号``) under the
issuing body's name, and the 成文日期 in the signature block at the end; a law or regulation
states its adoption (``2021年11月25日…通过``) under its title. Those are what is detected here.
A header's value is checked field by field, and a bad one is an error naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rag import docinfo as info

# 文号: issuer abbreviation + 〔year〕 + number + 号 (brackets vary in practice: 〔〕[]［］()（）).
DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fff]{1,14}[〔\[［(（]\s*(?:19|20)\d{2}\s*[〕\]］)）]\s*\d{1,4}\s*号"
    r"|[\u4e00-\u9fff]{0,16}令\s*第\s*\d{1,4}\s*号"
)
_ISO_DATE = re.compile(r"((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})")
_CN_DATE = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}
_CN_NUMERAL_DATE = re.compile(
    r"([〇零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日"
)
_NOTE = re.compile(r"[（(][^（）()]*[）)]")  # a parenthetical remark
_LIST_SEPARATORS = re.compile(r"[；;、,，]\s*")
HEAD_LINES = 15  # where a 文号 or an adoption date stands, under the title
TAIL_LINES = 8  # where the signature block's date stands
COMPLETENESS = ("full", "partial")

# doc_type values -> the coarse kinds the eval reports by.
KIND_PAPER, KIND_REGULATION, KIND_POLICY = "研究论文", "法规", "规范性文件"
_REGULATION_WORDS = ("法规", "条例", "规章", "法律", "决定", "若干规定", "办法")
_POLICY_TITLE_WORDS = ("意见", "通知", "方案", "计划", "规划", "指引", "指南", "纲要")


class MetadataError(ValueError):
    """A header field is unusable; ``field`` names it."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"文件头字段 {field_name}：{reason}")
        self.field = field_name


@dataclass
class DocumentMeta:
    title: str = ""
    doc_number: str = ""  # 文号, "" when the document has none
    issuers: list[str] = field(default_factory=list)
    date: str = ""  # ISO date of the first date given (成文/通过/发布)
    date_note: str = ""  # the header's own wording of its dates
    doc_type: str = ""  # 地方性法规, 行政法规, 部门规范性文件, 规划, 研究论文 …
    completeness: str = "full"  # "full" or "partial"
    missing: str = ""  # what a partial text lacks
    source: str = ""
    authors: list[str] = field(default_factory=list)
    journal: str = ""
    citation: str = ""  # a paper's reference as it asks to be cited

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date[:4].isdigit() else None

    @property
    def kind(self) -> str:
        return document_kind(self.doc_type, self.title)

    def info_lines(self) -> list[str]:
        """The facts a "文档信息" passage states: identity only, never provenance notes. The
        title is not among them: every passage carries it as context, and a bare title line
        would otherwise answer any question that names the document."""
        facts = (
            (info.NUMBER, self.doc_number),
            (info.ISSUERS, "、".join(self.issuers)),
            (info.AUTHORS, "、".join(self.authors)),
            (info.JOURNAL, self.journal),
            (info.DATE, self.date_note or self.date),
            (info.TYPE, self.doc_type),
            (info.CITATION, self.citation),
        )
        return [f"{label}：{value}" for label, value in facts if value]


def document_kind(doc_type: str, title: str = "") -> str:
    if doc_type == KIND_PAPER or "论文" in doc_type:
        return KIND_PAPER
    words = doc_type or title
    if any(w in words for w in _REGULATION_WORDS) and "规范性文件" not in doc_type:
        return KIND_REGULATION
    if doc_type or any(w in title for w in _POLICY_TITLE_WORDS):
        return KIND_POLICY
    return ""


# ----- from a header ------------------------------------------------------------------------
_ALIASES = {
    "title": ("title", "标题", "题名"),
    "issuers": ("issuing bodies", "issuers", "issuer", "发文机关"),
    "doc_number": ("document number", "doc_number", "文号"),
    "date": ("date", "日期"),
    "doc_type": ("type", "doc_type", "文件类型"),
    "completeness": ("completeness", "完整性"),
    "source": ("source", "来源"),
    "authors": ("authors", "作者"),
    "journal": ("journal", "期刊"),
    "year": ("year", "年份"),
    "citation": ("citation", "引用格式"),
}


def from_header(front: dict[str, Any]) -> DocumentMeta:
    """Metadata from a parsed front-matter mapping; ``MetadataError`` names a bad field."""
    values = {name: _pick(front, keys) for name, keys in _ALIASES.items()}
    meta = DocumentMeta()
    meta.title = _text(values["title"], "title")
    meta.issuers = _names(values["issuers"], "issuing bodies")
    meta.authors = _names(values["authors"], "authors")
    meta.journal = _text(values["journal"], "journal")
    number = _text(values["doc_number"], "document number")
    found = DOC_NUMBER.search(number)
    meta.doc_number = _compact_number(found.group(0)) if found else ""
    date_text = _text(values["date"], "date")
    if date_text:
        meta.date = find_date(date_text)
        if not meta.date:
            raise MetadataError(
                "date", f"无法识别日期（应含 2024-05-14 或 2024年5月14日）：{date_text}"
            )
        # Written as Chinese documents write dates (2021年12月12日), the way users quote them.
        meta.date_note = _ISO_DATE.sub(_chinese_date, _NOTE.sub(_keep_chinese_note, date_text))
        meta.date_note = meta.date_note.strip()
    year = values["year"]
    if year not in (None, "") and not meta.date:
        if not re.fullmatch(r"(?:19|20)\d{2}", str(year).strip()):
            raise MetadataError("year", f"应为四位年份：{year}")
        meta.date = f"{str(year).strip()}-01-01"
        meta.date_note = str(year).strip()
    meta.doc_type = _NOTE.sub("", _text(values["doc_type"], "type")).strip()
    if not meta.doc_type and meta.journal:
        meta.doc_type = KIND_PAPER
    completeness = _text(values["completeness"], "completeness")
    if completeness:
        head = completeness.split()[0].strip(" —-:：").lower()
        if head not in COMPLETENESS:
            raise MetadataError("completeness", f"应以 full 或 partial 开头：{completeness[:40]}")
        meta.completeness = head
        if head == "partial":
            meta.missing = _missing_part(completeness)
    meta.source = _text(values["source"], "source")
    meta.citation = _text(values["citation"], "citation")
    return meta


def _pick(front: dict[str, Any], keys: tuple[str, ...]) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in front.items()}
    return next((lowered[k] for k in keys if k in lowered), None)


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise MetadataError(name, "应为一段文本")
    return str(value).strip()


def _names(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        items = [str(v) for v in value]
    else:  # remarks first: they may hold separators of their own
        items = _LIST_SEPARATORS.split(_NOTE.sub("", _text(value, name)))
    names = [_NOTE.sub("", v).strip() for v in items]
    return [n for n in names if n]


def _chinese_date(match: re.Match[str]) -> str:
    year, month, day = (int(g) for g in match.groups())
    return f"{year}年{month}月{day}日"


def _keep_chinese_note(match: re.Match[str]) -> str:
    # "（成文）" stays, "(per the repository index)" goes.
    return "" if re.search(r"[A-Za-z]", match.group(0)) else match.group(0)


def _missing_part(value: str) -> str:
    text = re.sub(r"^\s*partial\s*(?:[（(][^）)]*[）)])?\s*[—\-:：.]*\s*", "", value, flags=re.I)
    found = re.search(r"(?:Missing|missing|缺少|缺失)\s*[—\-:：]*\s*(.+)", text)
    return (found.group(1) if found else text).strip()


def _compact_number(number: str) -> str:
    return re.sub(r"\s+", "", number)


# ----- from the text ------------------------------------------------------------------------
def find_date(text: str) -> str:
    """The first date in ``text`` as YYYY-MM-DD, or ""."""
    candidates = []
    for pattern in (_ISO_DATE, _CN_DATE):
        found = pattern.search(text)
        if found:
            candidates.append((found.start(), *map(int, found.groups())))
    found = _CN_NUMERAL_DATE.search(text)
    if found:
        year = int("".join(str(_CN_DIGITS[c]) for c in found.group(1)))
        candidates.append(
            (found.start(), year, _cn_small(found.group(2)), _cn_small(found.group(3)))
        )
    if not candidates:
        return ""
    _, year, month, day = min(candidates)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return ""
    return f"{year:04d}-{month:02d}-{day:02d}"


def _cn_small(numeral: str) -> int:
    """一 .. 三十一."""
    if numeral == "十":
        return 10
    tens, _, ones = numeral.partition("十")
    if "十" not in numeral:
        return _CN_DIGITS[numeral]
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def from_text(text: str, title: str) -> DocumentMeta:
    """What a header-less document says about itself: its 文号 under the title, a date under
    the title (a law's adoption) or in the closing signature block, and its issuers - the
    names above that date, else the issuer a 公文 title opens with (发文机关+关于+事由+文种)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    head, tail = "\n".join(lines[:HEAD_LINES]), "\n".join(lines[-TAIL_LINES:])
    meta = DocumentMeta(title=title)
    found = DOC_NUMBER.search(head)
    meta.doc_number = _compact_number(found.group(0)) if found else ""
    meta.date = find_date(head) or find_date(tail)
    meta.issuers = (
        _signature_names(lines[-TAIL_LINES:]) or _title_issuer(title) or _adopted_by(head)
    )
    adopted = "".join(meta.issuers)
    if not meta.doc_type and _LOCAL_CONGRESS.search(adopted):
        meta.doc_type = LOCAL_REGULATION
    elif not meta.doc_type and "全国人民代表大会" in adopted and title.endswith("法"):
        meta.doc_type = NATIONAL_LAW
    return meta


# A law states who adopted it under its title: "（2021年5月26日广东省第十三届人民代表大会常务
# 委员会第三十二次会议通过）". The adopting body, without its term (第十三届), is its issuer; a
# regulation a local people's congress adopts is a 地方性法规, a law the national one adopts
# is a 法律 (Legislation Law, Art. 10 and 80-81).
_ADOPTION = re.compile(
    r"(?:^|(?<=[日\s（(]))([\u4e00-\u9fff]{2,12}?)(?:第[一二三四五六七八九十百]+届)?"
    r"(人民代表大会常务委员会|人民代表大会)第[一二三四五六七八九十百]+次(?:全体)?会议"
    r"(?:审议)?通过",
    re.MULTILINE,
)
_LOCAL_CONGRESS = re.compile(r"(?<!全国)人民代表大会")
LOCAL_REGULATION = "地方性法规"
NATIONAL_LAW = "法律"
_TERM = re.compile(r"^第[一二三四五六七八九十百]+届")


def _adopted_by(head: str) -> list[str]:
    found = _ADOPTION.search(head)
    if found is None:
        return []
    return [_TERM.sub("", found.group(1)) + found.group(2)]


def _signature_names(tail: list[str]) -> list[str]:
    """The name lines of the last signature block (the chunker's reading of it)."""
    from ingest.chunker import signature_lines

    blocks = signature_lines(tail)
    if not blocks:
        return []
    start = max(blocks)
    return [line for line in tail[start : blocks[start]] if line.strip()]


_TITLE_ISSUER = re.compile(r"^(.{2,40}?)关于.{2,}的(?:通知|意见|决定|通告|公告|批复|函|报告)")


def _title_issuer(title: str) -> list[str]:
    found = _TITLE_ISSUER.match(title)
    return [n for n in re.split(r"\s+", found.group(1).strip()) if n] if found else []
