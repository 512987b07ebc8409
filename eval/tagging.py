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

LABELS_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "tag_labels.jsonl"


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


def measure(labels_file: Path = LABELS_FILE) -> list[LabelScore]:
    from ingest.tagger import TaxonomyTagger
    from rag.embeddings import build_embedder
    from rag.settings import Settings
    from rag.taxonomy import Taxonomy

    settings = Settings()
    embedder = build_embedder(settings)
    taxonomy = Taxonomy.load(settings.taxonomy_path)
    tagger = TaxonomyTagger(taxonomy, embedder)
    rows = [json.loads(line) for line in labels_file.read_text("utf-8").splitlines() if line]
    vectors = embedder.get_text_embedding_batch([f"{r['section']}\n{r['text']}" for r in rows])
    gold, predicted = [], []
    for row, vector in zip(rows, vectors, strict=True):
        scores = tagger.score(row["text"], row["section"], vector)
        chosen = tagger.assign(scores, "dimension") + tagger.assign(scores, "path")
        predicted.append({s.label.name for s in chosen})
        gold.append(set(row["dimensions"]) | set(row["paths"]))
    names = [lb.name for lb in taxonomy.all_labels]
    return [prf(gold, predicted, name) for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS_FILE)
    args = parser.parse_args(argv)
    scores = measure(args.labels)
    print(f"{'label':<10} {'P':>6} {'R':>6} {'F1':>6} {'n':>4}")
    for s in scores:
        print(f"{s.label:<10} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.support:4d}")
    macro = sum(s.f1 for s in scores) / len(scores)
    print(f"macro F1 {macro:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
