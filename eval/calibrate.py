"""Fit the answerability model and its threshold: ``python -m eval.calibrate [--write]``.

The calibration set spans every kind of document in the library (the paper, the national
policies and, when ``../shared/regulations`` exists, the regulations): the dev questions,
answerable and unanswerable, and the dev questions asked again without the document that
answers them (``eval.related``: related passages, no answer). Every question is answered with
the answerability gate off; each answer that passes the other checks contributes its signals
(``rag.answerability.FEATURES``) and a label: answer it (an answerable dev question, or a
related one another document still answers) or refuse it.

A logistic model is fitted (classes weighted equally). Its threshold curve is printed: per
threshold, the answerable questions the gate would refuse and the unanswerable ones it would
still answer, per kind. The threshold chosen catches the most unanswerable answers while
refusing at most ``--max-false-refusals`` of the answerable questions. Then each kind is left
out in turn: fitted and thresholded without it, tested on it. ``--write`` stores the model in
``rag/calibration/answering.json`` (``Settings.answerability``). Hold-out sets are never used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.calibrate_terms import CALIBRATION_FILE, DEV_SETS, ask_item, dev_items
from eval.dataset import SHARED_REGULATIONS, EvalItem
from rag.answerability import FEATURES, AnswerabilityModel

THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))
MAX_FALSE_REFUSALS = 0.02  # of the answerable questions, refused by this gate alone
L2 = 0.01
STEPS = 3000
RATE = 0.5


@dataclass(frozen=True)
class Example:
    kind: str
    source: str  # "dev" or "related"
    signals: dict[str, float]
    answer: bool  # the right decision


def examples_from_dev(assistant: Any, items: Sequence[EvalItem]) -> list[Example]:
    out = []
    for item in items:
        answer = ask_item(assistant, item)
        if answer.signals is not None and not answer.refused:
            out.append(Example(item.doc_kind, "dev", dict(answer.signals), item.answerable))
    return out


def examples_from_related(records: Sequence[Any]) -> list[Example]:
    return [
        Example(r.kind, "related", dict(r.signals), r.still_answered)
        for r in records
        if r.signals is not None and not r.refused
    ]


def fit(examples: Sequence[Example]) -> AnswerabilityModel:
    """Logistic regression by gradient descent, both classes weighted equally."""
    x = np.array([[e.signals.get(f, 0.0) for f in FEATURES] for e in examples], dtype=float)
    y = np.array([1.0 if e.answer else 0.0 for e in examples])
    positives = max(y.sum(), 1.0)
    negatives = max(len(y) - y.sum(), 1.0)
    weight = np.where(y == 1.0, 0.5 / positives, 0.5 / negatives)
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        g = weight * (p - y)
        w -= RATE * (x.T @ g + L2 * w)
        b -= RATE * g.sum()
    return AnswerabilityModel(float(b), dict(zip(FEATURES, map(float, w), strict=True)), 0.5)


def counts(model: AnswerabilityModel, examples: Sequence[Example], threshold: float) -> list[int]:
    """[answerable refused, answerable, unanswerable answered, unanswerable]."""
    row = [0, 0, 0, 0]
    for e in examples:
        answered = model.score(e.signals) >= threshold
        if e.answer:
            row[0] += not answered
            row[1] += 1
        else:
            row[2] += answered
            row[3] += 1
    return row


def choose_threshold(
    model: AnswerabilityModel, examples: Sequence[Example], answerable_total: int, budget: float
) -> float:
    """The highest threshold that refuses at most ``budget`` of all answerable questions."""
    allowed = budget * answerable_total
    ok = [t for t in THRESHOLDS if counts(model, examples, t)[0] <= allowed]
    return max(ok) if ok else THRESHOLDS[0]


def calibrate(
    examples: Sequence[Example], answerable_total: int, budget: float
) -> AnswerabilityModel:
    model = fit(examples)
    threshold = choose_threshold(model, examples, answerable_total, budget)
    return AnswerabilityModel(model.bias, model.weights, threshold)


def print_curve(model: AnswerabilityModel, examples: Sequence[Example]) -> None:
    kinds = sorted({e.kind for e in examples})
    print("阈值  " + "".join(f"{k + ' 误拒/可答 未拒/不可答':>26}" for k in kinds))
    for t in THRESHOLDS:
        cells = ""
        for kind in kinds:
            r = counts(model, [e for e in examples if e.kind == kind], t)
            cells += f"{f'{r[0]}/{r[1]}  {r[2]}/{r[3]}':>26}"
        print(f"{t:<6.2f}{cells}")


def leave_one_kind_out(
    examples: Sequence[Example], answerable: dict[str, int], budget: float
) -> list[tuple[str, float, list[int]]]:
    rows = []
    for kind in sorted({e.kind for e in examples}):
        train = [e for e in examples if e.kind != kind]
        total = sum(n for k, n in answerable.items() if k != kind)
        model = calibrate(train, total, budget)
        rows.append(
            (
                kind,
                model.threshold,
                counts(model, [e for e in examples if e.kind == kind], model.threshold),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, action="append", help="dev set(s)")
    parser.add_argument("--max-false-refusals", type=float, default=MAX_FALSE_REFUSALS)
    parser.add_argument("--write", action="store_true", help=f"write to {CALIBRATION_FILE}")
    args = parser.parse_args(argv)

    from eval import related
    from rag.assistant import Assistant
    from rag.settings import Settings

    settings = Settings()
    items = dev_items(args.dataset or DEV_SETS, settings.corpus_dir, settings.taxonomy_path)
    extra = [SHARED_REGULATIONS] if SHARED_REGULATIONS.is_dir() else []
    home = settings.home / "eval-related"
    assistant = Assistant.open(settings.model_copy(update={"home": home}))
    assistant.ingest([settings.corpus_dir, *extra])
    assistant.pipeline.answerability = None  # the signals of every answer, ungated
    examples = examples_from_dev(assistant, items)
    examples += examples_from_related(related.run(assistant, items))
    answerable: dict[str, int] = {}
    for item in items:
        answerable[item.doc_kind] = answerable.get(item.doc_kind, 0) + item.answerable
    total = sum(answerable.values())
    print(
        f"{len(items)} dev questions ({total} answerable); {len(examples)} answers scored "
        f"({sum(e.source == 'related' for e in examples)} from questions without their document)"
    )
    model = calibrate(examples, total, args.max_false_refusals)
    print("weights:", json.dumps(model.to_dict(), ensure_ascii=False))
    print_curve(model, examples)
    print(
        f"chosen threshold {model.threshold} (at most {args.max_false_refusals:.0%} of the "
        "answerable questions refused by this gate)"
    )
    print("leave one kind out (fitted without it, tested on it):")
    for kind, threshold, r in leave_one_kind_out(examples, answerable, args.max_false_refusals):
        print(
            f"  {kind}: threshold {threshold}, answerable refused {r[0]}/{answerable[kind]}, "
            f"unanswerable answered {r[2]}/{r[3]}"
        )
    if args.write:
        data = json.loads(CALIBRATION_FILE.read_text("utf-8"))
        data["answerability"] = model.to_dict()
        CALIBRATION_FILE.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
        print(f"wrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
