"""Choose the relevance below which an answer is marked as possibly not answering the question.

``python -m eval.calibrate_relevance`` answers every dev question once (the paper's, the
national policies' and, when ``../shared/regulations`` exists, the regulations') and takes
each answer that was given: it is *useful* when the question is answerable and the answer
holds at least one of its key points, and *off the question* otherwise (no key point, or a
question the documents cannot answer). For each threshold it prints, per kind of document,
how many useful answers would be marked (false alarms) and how many off-question answers
would not (misses). The threshold with the fewest of both (ties: the lower, quieter one) is
written to ``rag/calibration/answering.json`` as ``low_relevance`` with ``--write``;
``Settings.low_relevance`` reads it from there. Hold-out sets are never used here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.calibrate_terms import CALIBRATION_FILE, DEV_SETS, ask_item, dev_items, dev_library
from eval.metrics import key_point_coverage

THRESHOLDS = tuple(round(0.20 + 0.02 * i, 2) for i in range(26))  # 0.20 … 0.70


def rated_answers(assistant: Any, items: Sequence[Any]) -> list[tuple[str, float, bool]]:
    """(kind of document, relevance, useful) for every answer given."""
    rated = []
    for item in items:
        answer = ask_item(assistant, item)
        if answer.refused or answer.relevance is None:
            continue
        useful = item.answerable and key_point_coverage(answer.text, item.key_points) > 0
        rated.append((item.doc_kind, answer.relevance, useful))
    return rated


def errors_at(rated: Sequence[tuple[str, float, bool]], threshold: float) -> dict[str, list[int]]:
    """Per kind: [useful answers marked, useful answers, off-question not marked, off-question]."""
    table: dict[str, list[int]] = {}
    for kind, relevance, useful in rated:
        row = table.setdefault(kind, [0, 0, 0, 0])
        if useful:
            row[0] += relevance < threshold
            row[1] += 1
        else:
            row[2] += relevance >= threshold
            row[3] += 1
    return table


def total_errors(table: dict[str, list[int]]) -> int:
    return sum(row[0] + row[2] for row in table.values())


def choose(rated: Sequence[tuple[str, float, bool]]) -> float:
    return min(THRESHOLDS, key=lambda t: (total_errors(errors_at(rated, t)), t))


def print_table(rated: Sequence[tuple[str, float, bool]]) -> None:
    kinds = sorted({kind for kind, _, _ in rated})
    print("阈值  " + "".join(f"{k + ' 误标/有用  漏标/答非所问':>30}" for k in kinds) + "  errors")
    for threshold in THRESHOLDS:
        table = errors_at(rated, threshold)
        cells = ""
        for kind in kinds:
            row = table.get(kind, [0, 0, 0, 0])
            cells += f"{f'{row[0]}/{row[1]}  {row[2]}/{row[3]}':>30}"
        print(f"{threshold:<6.2f}{cells}  {total_errors(table):>6}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, action="append", help="dev set(s) to use")
    parser.add_argument(
        "--write", action="store_true", help=f"write the choice to {CALIBRATION_FILE}"
    )
    args = parser.parse_args(argv)

    from rag.settings import Settings

    settings = Settings()
    items = dev_items(args.dataset or DEV_SETS, settings.corpus_dir, settings.taxonomy_path)
    library = dev_library(items, settings)
    rated = rated_answers(library, items)
    useful = sum(1 for _, _, u in rated if u)
    print(f"{len(items)} dev questions; {len(rated)} answered: {useful} useful")
    print_table(rated)
    threshold = choose(rated)
    print(f"chosen: low_relevance={threshold}")
    if args.write:
        data = json.loads(CALIBRATION_FILE.read_text("utf-8"))
        data["low_relevance"] = threshold
        CALIBRATION_FILE.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
        print(f"wrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
