"""Typed results shared by every interface: ``Passage`` (retrieval), ``Citation``, ``Answer``.

``Answer.to_dict()`` is the stable JSON schema of the CLI, the UI's ``/ask`` endpoint and eval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rag.places import place_of

REFUSAL_TEXT = "资料中未找到与该问题直接相关的内容。"


@dataclass
class Passage:
    """A retrieved chunk with its retrieval evidence."""

    id: str
    text: str
    metadata: dict[str, Any]
    score: float = 0.0  # relevance in [0, 1]: dense similarity blended with term coverage
    dense: float = 0.0  # cosine similarity to the question
    lexical: float = 0.0  # BM25 score (unnormalised)
    fused: float = 0.0  # reciprocal-rank-fusion score
    coverage: float = 0.0  # share of the question's content terms found in the passage

    @property
    def doc_id(self) -> str:
        return str(self.metadata.get("doc_id", ""))

    @property
    def section(self) -> str:
        return str(self.metadata.get("section", ""))

    @property
    def context(self) -> str:
        """Where the passage stands: its document (title, 文号) and its heading path. A
        question naming the document ("上海的数据条例里…") is about every passage of it."""
        meta = self.metadata
        return "\n".join(
            str(v) for v in (meta.get("doc_title"), meta.get("doc_number"), self.section) if v
        )

    @property
    def page(self) -> int | None:
        page = self.metadata.get("page")
        return int(page) if isinstance(page, int | float) and page else None

    def names(self, key: str) -> list[str]:
        value = str(self.metadata.get(key, "") or "")
        return [v for v in value.split(",") if v]


@dataclass
class Citation:
    n: int
    doc_id: str
    doc_title: str
    source: str
    section: str
    page: int | None
    text: str  # the whole cited passage, verbatim
    score: float
    dimensions: list[str]
    paths: list[str]
    chunk_id: str = ""
    char_start: int | None = None
    char_end: int | None = None
    doc_number: str = ""  # 文号
    issuers: list[str] = field(default_factory=list)
    doc_type: str = ""
    date: str = ""
    article: str = ""  # 第三十九条
    item: str = ""  # 二、（四）

    @property
    def place(self) -> str:
        """Where in the document: the article, else the items, else the section heading."""
        return place_of(self.section)

    @property
    def label(self) -> str:
        """《上海市数据条例》第三十九条 / 《…指导意见》（发改数据〔2024〕660号）二、（四）."""
        number = f"（{self.doc_number}）" if self.doc_number else ""
        return f"《{self.doc_title}》{number}{self.place}"

    @classmethod
    def from_passage(cls, n: int, passage: Passage) -> Citation:
        meta = passage.metadata
        return cls(
            n=n,
            doc_id=passage.doc_id,
            doc_title=str(meta.get("doc_title", "")),
            source=str(meta.get("source", "")),
            section=passage.section,
            page=passage.page,
            text=passage.text,
            score=round(float(passage.score), 4),
            dimensions=passage.names("dimensions"),
            paths=passage.names("paths"),
            chunk_id=passage.id,
            char_start=_int_or_none(meta.get("char_start")),
            char_end=_int_or_none(meta.get("char_end")),
            doc_number=str(meta.get("doc_number", "") or ""),
            issuers=[i for i in str(meta.get("issuers", "") or "").split("；") if i],
            doc_type=str(meta.get("doc_type", "") or ""),
            date=str(meta.get("doc_date", "") or ""),
            article=str(meta.get("article", "") or ""),
            item=str(meta.get("item", "") or ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "doc_title": self.doc_title,
            "source": self.source,
            "section": self.section,
            "page": self.page,
            "text": self.text,
            "score": self.score,
            "dimensions": self.dimensions,
            "paths": self.paths,
            "doc_number": self.doc_number,
            "issuers": self.issuers,
            "doc_type": self.doc_type,
            "date": self.date,
            "article": self.article,
            "item": self.item,
            "label": self.label,
        }


@dataclass
class SentenceCheck:
    """One answer sentence and whether the passages it cites support it."""

    text: str
    citations: list[int]
    supported: bool
    score: float
    reason: str = ""
    # A heading or document-title line ("【3.1 …】", "《…》") placed above the sentences it
    # introduces: checked like any line, but not a claim the reader counts.
    label: bool = False


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    refused: bool
    faithfulness: float
    sentences: list[SentenceCheck] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    id: str | None = None
    rewritten_question: str | None = None  # follow-ups: the standalone question retrieved with
    answerer: str = "extractive"
    refusal_reason: str = ""
    notice: str = ""  # what the user must know beside the answer (an LLM endpoint failed)
    # How well the answer addresses the question (0..1): the relevance score of its best
    # sentence, the same score that chose the sentences (embedding similarity to the question
    # and the question's weighted terms in the sentence and its heading). None when refused.
    # Faithful is not the same as relevant: a cited sentence about something else is both
    # faithful and useless; ``low_relevance`` marks such answers.
    relevance: float | None = None
    low_relevance: bool = False
    # The graded evidence the answerability decision used (rag.answerability.FEATURES), when
    # sentences were chosen; for calibration and inspection, not part of the JSON.
    signals: dict[str, float] | None = None

    @property
    def claims(self) -> list[SentenceCheck]:
        """The answer's sentences as the reader sees them: heading and title lines left out."""
        return [s for s in self.sentences if not s.label]

    @property
    def unsupported(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if not s.supported]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        out.update(
            {
                "question": self.question,
                "answer": self.text,
                "refused": self.refused,
                "faithfulness": round(self.faithfulness, 4),
                "citations": [c.to_dict() for c in self.citations],
                "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            }
        )
        if self.relevance is not None:
            out["relevance"] = round(self.relevance, 4)
            out["low_relevance"] = self.low_relevance
        if self.refused:
            out["refusal_reason"] = self.refusal_reason
        if self.notice:
            out["notice"] = self.notice
        return out


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
