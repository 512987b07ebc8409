"""Measure the taxonomy tagger against passages labelled by hand.

``python -m eval.tagging`` reads ``tests/data/tag_labels.jsonl`` (policy passages labelled by
someone who never saw the tagger; guidelines in ``tests/data/tag_guidelines.md``), tags each
passage's text with the product's tagger and prints precision, recall and F1 per label, with
the macro averages. Passages are tagged from their text and section exactly as ingest does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LABELS_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "tag_labels.jsonl"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "rag" / "calibration" / "tagger.json"


@dataclass(frozen=True)
class LabelScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


def prf(gold: Sequence[set[str]], predicted: Sequence[set[str]], label: str) -> LabelScore:
    tp = sum(1 for g, p in zip(gold, predicted, strict=True) if label in g and label in p)
    fp = sum(1 for g, p in zip(gold, predicted, strict=True) if label not in g and label in p)
    fn = sum(1 for g, p in zip(gold, predicted, strict=True) if label in g and label not in p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return LabelScore(label, precision, recall, f1, tp + fn)


@dataclass(frozen=True)
class Evidence:
    """One labelled passage: its gold labels and the tagger's raw signals per label."""

    gold: set[str]
    signals: dict[str, tuple[bool, float, float]]  # label -> (structural, lexicon, centred)


def collect(labels_file: Path = LABELS_FILE) -> tuple[Any, list[Evidence]]:
    from ingest.tagger import TaxonomyTagger
    from rag.embeddings import build_embedder
    from rag.settings import Settings
    from rag.taxonomy import Taxonomy

    settings = Settings()
    embedder = build_embedder(settings)
    taxonomy = Taxonomy.load(settings.taxonomy_path)
    tagger = TaxonomyTagger(taxonomy, embedder, _calibration(settings))
    rows = [json.loads(line) for line in labels_file.read_text("utf-8").splitlines() if line]
    # Embedded exactly as ingest embeds a chunk: its section path above its text.
    vectors = embedder.get_text_embedding_batch([f"{r['section']}\n{r['text']}" for r in rows])
    items = []
    for row, vector in zip(rows, vectors, strict=True):
        signals = {
            label.name: (structural, lexicon, centred)
            for label, structural, lexicon, centred in tagger.evidence(
                row["text"], row["section"], vector
            )
        }
        items.append(Evidence(set(row["dimensions"]) | set(row["paths"]), signals))
    return tagger, items


def _calibration(settings: Any) -> Any:
    from ingest.tagger import TagCalibration

    return TagCalibration.load(settings.tag_calibration_file)


def predict(tagger: Any, items: Sequence[Evidence], calibration: Any = None) -> list[set[str]]:
    if calibration is not None:
        tagger = replace_calibration(tagger, calibration)
    from ingest.tagger import LabelScore as Scored

    labels = tagger.taxonomy.all_labels
    out = []
    for item in items:
        scores = [Scored(label, _score(tagger, item, label)) for label in labels]
        chosen = tagger.assign(scores, "dimension") + tagger.assign(scores, "path")
        out.append({s.label.name for s in chosen})
    return out


def _score(tagger: Any, item: Evidence, label: Any) -> float:
    """The tagger's score of one label for one passage, from the collected signals (as
    ``TaxonomyTagger.score`` computes it, without re-embedding)."""
    structural, lexicon, centred = item.signals[label.name]
    return 1.0 if structural else tagger.mix(label, lexicon, centred)


def replace_calibration(tagger: Any, calibration: Any) -> Any:
    import copy

    clone = copy.copy(tagger)
    clone.calibration = calibration
    return clone


def measure(labels_file: Path = LABELS_FILE) -> list[LabelScore]:
    tagger, items = collect(labels_file)
    predicted = predict(tagger, items)
    return [prf([i.gold for i in items], predicted, lb.name) for lb in tagger.taxonomy.all_labels]


WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


def fit(tagger: Any, items: Sequence[Evidence]) -> Any:
    """The calibration that maximises each label's F1 on ``items``: for each kind the lexicon
    weight (on a grid) with the best mean F1 of its labels, then each label's threshold."""
    from ingest.tagger import TagCalibration

    base = tagger.calibration
    weights: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    for kind in ("dimension", "path"):
        labels = tagger.taxonomy.labels(kind)
        best: tuple[float, float, dict[str, float]] | None = None
        for weight in WEIGHT_GRID:
            trial = TagCalibration({**base.lexicon_weight, kind: weight}, base.temperature)
            probe = replace_calibration(tagger, trial)
            fitted = {lb.name: _best_threshold(probe, items, lb)[0] for lb in labels}
            mean_f1 = sum(_best_threshold(probe, items, lb)[1] for lb in labels) / len(labels)
            if best is None or mean_f1 > best[0] + 1e-9:
                best = (mean_f1, weight, fitted)
        assert best is not None
        weights[kind] = best[1]
        thresholds.update(best[2])
    return TagCalibration(
        weights, base.temperature, thresholds, base.default_threshold, base.beside_structure
    )


def _best_threshold(tagger: Any, items: Sequence[Evidence], label: Any) -> tuple[float, float]:
    """The threshold with the best F1 for one label; ties go to the higher (more selective)
    threshold. It stays above the score of a passage with no evidence (no keyword, average
    similarity): tagging such passages would be the forced label this tagger does not give."""
    scores = [_score(tagger, item, label) for item in items]
    gold = [label.name in item.gold for item in items]
    floor = tagger.calibration.no_evidence(label.kind)
    best = (1.0, -1.0)
    for cut in sorted({s for s in scores if s > floor}, reverse=True):
        tp = sum(1 for s, g in zip(scores, gold, strict=True) if s >= cut and g)
        fp = sum(1 for s, g in zip(scores, gold, strict=True) if s >= cut and not g)
        fn = sum(1 for s, g in zip(scores, gold, strict=True) if s < cut and g)
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best[1] + 1e-9:
            # midway to the next lower score, so a passage scoring just under still misses
            lower = [s for s in scores if s < cut] + [floor]
            best = (round((cut + max(lower)) / 2 if lower else cut, 4), f1)
    return best


def cross_validated(tagger: Any, items: Sequence[Evidence], folds: int = 5) -> list[LabelScore]:
    """Scores of calibrations fitted without the passages they are scored on (k-fold)."""
    import random

    order = list(range(len(items)))
    random.Random(13).shuffle(order)
    predicted: dict[int, set[str]] = {}
    for k in range(folds):
        held = [i for n, i in enumerate(order) if n % folds == k]
        train = [items[i] for n, i in enumerate(order) if n % folds != k]
        calibration = fit(tagger, train)
        chosen = predict(tagger, [items[i] for i in held], calibration)
        predicted.update(zip(held, chosen, strict=True))
    gold = [item.gold for item in items]
    preds = [predicted[i] for i in range(len(items))]
    return [prf(gold, preds, lb.name) for lb in tagger.taxonomy.all_labels]


def print_table(scores: Sequence[LabelScore], title: str) -> float:
    print(title)
    print(f"{'label':<10} {'P':>6} {'R':>6} {'F1':>6} {'n':>4}")
    for s in scores:
        print(f"{s.label:<10} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.support:4d}")
    macro = sum(s.f1 for s in scores) / len(scores)
    print(f"macro F1 {macro:.3f}")
    return macro


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS_FILE)
    parser.add_argument(
        "--calibrate",
        type=Path,
        nargs="?",
        const=DEFAULT_OUT,
        help=f"fit weights and thresholds on the labels and write them (default {DEFAULT_OUT})",
    )
    args = parser.parse_args(argv)
    tagger, items = collect(args.labels)
    if args.calibrate:
        calibration = fit(tagger, items)
        args.calibrate.write_text(calibration.to_json(), "utf-8")
        print(f"wrote {args.calibrate}")
        tagger = replace_calibration(tagger, calibration)
    gold = [i.gold for i in items]
    predicted = predict(tagger, items)
    names = [lb.name for lb in tagger.taxonomy.all_labels]
    print_table([prf(gold, predicted, n) for n in names], "shipped calibration, all passages:")
    print()
    print_table(cross_validated(tagger, items), "5-fold cross-validated (fit without the fold):")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def summary(labels_file: Path = LABELS_FILE) -> dict[str, Any]:
    """The tagger's scores for the eval report: per label with the shipped calibration, and
    the macro F1 of a 5-fold cross-validated calibration (the figure to expect on new text)."""
    from dataclasses import asdict

    tagger, items = collect(labels_file)
    gold = [i.gold for i in items]
    names = [lb.name for lb in tagger.taxonomy.all_labels]
    shipped = [prf(gold, predict(tagger, items), n) for n in names]
    validated = cross_validated(tagger, items)
    return {
        "passages": len(items),
        "labels": [asdict(s) for s in shipped],
        "macro_f1": sum(s.f1 for s in shipped) / len(shipped),
        "cross_validated_macro_f1": sum(s.f1 for s in validated) / len(validated),
    }
