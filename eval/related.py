"""Unanswerable questions with related passages, built by design: ``python -m eval.related``.

Every answerable dev question whose gold evidence lies in one document is asked again of the
library *without that document*: the other documents still hold related passages (the same
topic, the same terms), but not the answer. That is the case users meet daily, and the one a
refusal check tuned on obviously off-topic questions misses.

Each document is removed from a library index of its own (``$CITYQA_HOME/eval-related``),
its questions asked, and the document ingested again. An answer counts as correct when it
refuses, or when it still holds a key point (another document answers the question too); an
answer without any key point is an answered unanswerable. The table gives both per kind of
document; ``--json PATH`` writes the records. Hold-out sets are never used here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eval.dataset import DEFAULT_DATASET, SHARED_REGULATIONS, EvalItem, load_runnable
from eval.metrics import key_point_coverage, squeeze


@dataclass
class RelatedRecord:
    id: str
    kind: str  # the kind of the removed document
    removed: str  # its title
    question: str
    refused: bool
    still_answered: bool  # a key point is in the answer: another document answers it too
    answer: str
    refusal_reason: str
    signals: dict[str, float] | None = None  # the answerability signals, when answered

    @property
    def error(self) -> bool:
        return not self.refused and not self.still_answered


def source_document(item: EvalItem, documents: dict[str, str]) -> str | None:
    """The one document (id) holding all of an item's gold evidence, or None."""
    spans = [squeeze(g) for g in item.gold_evidence if squeeze(g)]
    if not spans:
        return None
    holders = {doc for doc, text in documents.items() if all(s in text for s in spans)}
    return next(iter(holders)) if len(holders) == 1 else None


def document_texts(assistant: Any) -> dict[str, str]:
    store = assistant.store
    return {
        d.doc_id: squeeze("".join(c.text for c in store.document_chunks(d.doc_id)))
        for d in store.documents()
    }


def run(assistant: Any, items: Sequence[EvalItem], progress: Any = None) -> list[RelatedRecord]:
    texts = document_texts(assistant)
    by_doc: dict[str, list[EvalItem]] = defaultdict(list)
    for item in items:
        if item.answerable and not item.history:
            doc = source_document(item, texts)
            if doc is not None:
                by_doc[doc].append(item)
    records: list[RelatedRecord] = []
    catalog = assistant.store.catalog.docs
    for doc_id, asked in sorted(by_doc.items()):
        record = catalog[doc_id]
        path, title = Path(record.path), record.title
        assistant.delete_document(doc_id)
        try:
            for item in asked:
                answer = assistant.ask(item.question, dimension=item.dimension, path=item.path)
                records.append(
                    RelatedRecord(
                        item.id,
                        item.doc_kind,
                        title,
                        item.question,
                        answer.refused,
                        not answer.refused and key_point_coverage(answer.text, item.key_points) > 0,
                        answer.text,
                        answer.refusal_reason,
                        answer.signals,
                    )
                )
                if progress is not None:
                    progress()
        finally:
            assistant.ingest([path])  # the library is whole again for the next document
    return records


def table(records: Sequence[RelatedRecord]) -> list[tuple[str, int, int, int, int]]:
    """(kind, questions, refused, answered from another document, answered wrongly)."""
    rows = []
    for kind in [*sorted({r.kind for r in records}), "合计"]:
        mine = [r for r in records if kind in ("合计", r.kind)]
        rows.append(
            (
                kind,
                len(mine),
                sum(r.refused for r in mine),
                sum(r.still_answered for r in mine),
                sum(r.error for r in mine),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--json", type=Path, default=None, help="write the records here")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from rag.assistant import Assistant
    from rag.settings import Settings

    settings = Settings()
    loaded = load_runnable(args.dataset, settings.corpus_dir, settings.taxonomy_path)
    for item_id, reason in loaded.skipped.items():
        print(f"跳过 {item_id}：{reason}", file=sys.stderr)
    extra = [SHARED_REGULATIONS] if SHARED_REGULATIONS.is_dir() else []
    settings = settings.model_copy(update={"home": settings.home / "eval-related"})
    assistant = Assistant.open(settings)
    assistant.ingest([settings.corpus_dir, *extra])
    records = run(assistant, loaded.items)
    out = Table(title="有相关段落、没有答案的问题（去掉答案所在文档后再问）")
    for name in ("文档类型", "题数", "拒答", "他处仍答出要点", "答非所问（错误）"):
        out.add_column(name, justify="right")
    for row in table(records):
        out.add_row(*(str(x) for x in row))
    Console().print(out)
    if args.json is not None:
        args.json.write_text(
            json.dumps([asdict(r) for r in records], ensure_ascii=False, indent=1), "utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
