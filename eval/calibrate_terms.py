"""Sweep the term-similarity floor of the refusal check and write the chosen value.

``python -m eval.calibrate_terms`` answers every dev question (the paper's, the national
policies' and, when ``../shared/regulations`` exists, the regulations') once per floor and
prints, per kind of document, the false refusals of answerable questions and the answered
unanswerable ones. The floor with the fewest errors of both kinds together (ties: the higher,
more cautious floor) is written to ``rag/calibration/answering.json`` with ``--write``;
``Settings.term_similarity`` reads it from there. Hold-out sets are never used here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.dataset import DEFAULT_DATASET, SHARED_REGULATIONS, EvalItem, load_runnable

ROOT = Path(__file__).resolve().parents[1]
DEV_SETS = (DEFAULT_DATASET,)
# Refusal calibration questions written against the paper alone: asked of a paper-only index.
PAPER_QUESTIONS = ROOT / "tests" / "data" / "calibration.jsonl"
PAPER_ONLY = "论文单独索引"
FLOORS: tuple[float | None, ...] = (0.55, 0.6, 0.65, 0.7, 0.75)
CAPS = (1, 2)
# (floor, most reworded terms); (None, 0) is the check switched off.
GRID: tuple[tuple[float | None, int], ...] = ((None, 0), *((f, c) for c in CAPS for f in FLOORS))
CALIBRATION_FILE = ROOT / "rag" / "calibration" / "answering.json"


def dev_items(paths: Sequence[Path], corpus_dir: Path, taxonomy: Path) -> list[EvalItem]:
    items: list[EvalItem] = []
    for path in dict.fromkeys(paths):
        if path.is_file():
            items += load_runnable(path, corpus_dir, taxonomy).items
    return items


def paper_items(path: Path = PAPER_QUESTIONS) -> list[EvalItem]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [EvalItem(r["id"], PAPER_ONLY, r["question"], bool(r["answerable"])) for r in rows]


def ask_item(assistant: Any, item: EvalItem) -> Any:
    """An eval item asked as the eval asks it: with its chat history and its filters."""
    return assistant.ask(
        item.question,
        history=list(item.history) or None,
        dimension=item.dimension,
        path=item.path,
    )


def dev_library(items: Sequence[EvalItem], settings: Any) -> Any:
    """The library the dev items are asked of, up to date: the bundled corpus, plus the
    regulations in an index of their own when the items need them."""
    from rag.assistant import Assistant

    extra = [SHARED_REGULATIONS] if any(i.requires == "regulations" for i in items) else []
    if extra:
        settings = settings.model_copy(update={"home": settings.home / "eval-regulations"})
    library = Assistant.open(settings)
    library.ingest([settings.corpus_dir, *extra])
    return library


def refusals(assistant: Any, items: Sequence[EvalItem]) -> dict[str, dict[str, int]]:
    """Per kind of document: answerable, false refusals, unanswerable, answered ones."""
    table: dict[str, dict[str, int]] = {}
    for item in items:
        kind = PAPER_ONLY if item.type == PAPER_ONLY else item.doc_kind
        answer = ask_item(assistant, item)
        row = table.setdefault(
            kind, {"answerable": 0, "refused": 0, "unanswerable": 0, "answered": 0}
        )
        if item.answerable:
            row["answerable"] += 1
            row["refused"] += answer.refused
        else:
            row["unanswerable"] += 1
            row["answered"] += not answer.refused
    return table


def sweep(
    runs: Sequence[tuple[Any, Sequence[EvalItem]]], grid: Sequence[tuple[float | None, int]]
) -> list[Any]:
    """Each setting on every (assistant, questions) pair; the tables are merged per kind."""
    results = []
    for floor, cap in grid:
        table: dict[str, dict[str, int]] = {}
        for assistant, items in runs:
            assistant.pipeline.term_similarity = floor
            assistant.pipeline.max_reworded_terms = cap
            table.update(refusals(assistant, items))
        results.append(((floor, cap), table))
    return results


def errors(table: dict[str, dict[str, int]]) -> int:
    return sum(r["refused"] + r["answered"] for r in table.values())


def choose(results: Sequence[Any]) -> tuple[float | None, int]:
    """Fewest errors of both kinds; ties go to the more cautious setting (off, then the
    higher floor, then fewer reworded terms)."""

    def caution(setting: tuple[float | None, int]) -> tuple[float, int]:
        floor, cap = setting
        return (2.0 if floor is None else floor, -cap)

    best = min(results, key=lambda r: (errors(r[1]), tuple(-x for x in caution(r[0]))))
    return best[0]


def print_table(results: Sequence[Any]) -> None:
    kinds = sorted({k for _, table in results for k in table})
    header = (
        "floor   " + "".join(f"{k + ' 误拒/可答  未拒/不可答':>28}" for k in kinds) + "  errors"
    )
    print(header)
    for floor, table in results:
        cells = ""
        for kind in kinds:
            r = table.get(kind, {"answerable": 0, "refused": 0, "unanswerable": 0, "answered": 0})
            cell = f"{r['refused']}/{r['answerable']}  {r['answered']}/{r['unanswerable']}"
            cells += f"{cell:>28}"
        label = "off" if floor[0] is None else f"{floor[0]:.2f}×{floor[1]}"
        print(f"{label:<8}{cells}  {errors(table):>6}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, action="append", help="dev set(s) to sweep on")
    parser.add_argument(
        "--write", action="store_true", help=f"write the choice to {CALIBRATION_FILE}"
    )
    args = parser.parse_args(argv)

    from rag.assistant import Assistant
    from rag.settings import Settings

    settings = Settings()
    items = dev_items(args.dataset or DEV_SETS, settings.corpus_dir, settings.taxonomy_path)
    library = dev_library(items, settings)
    settings = library.settings
    paper_home = settings.home.parent / "calibrate-paper-only"
    paper = Assistant.open(settings.model_copy(update={"home": paper_home}), build_if_missing=False)
    paper.ingest([next(settings.corpus_dir.glob("城市数字化转型总体架构和实践路径研究.*"))])
    questions = paper_items()
    print(f"{len(items)} dev questions on the library, {len(questions)} on the paper alone")
    print("floor×cap: similarity floor × most reworded terms")
    results = sweep([(library, items), (paper, questions)], GRID)
    print_table(results)
    floor, cap = choose(results)
    print(f"chosen: term_similarity={floor}, max_reworded_terms={cap}")
    if args.write:
        data = json.loads(CALIBRATION_FILE.read_text("utf-8"))  # keep the other scripts' keys
        data |= {"term_similarity": floor, "max_reworded_terms": cap}
        CALIBRATION_FILE.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
        print(f"wrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
