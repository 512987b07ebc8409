"""Measure the taxonomy tagger against passages labelled by hand, and train it.

Two sets of passages were labelled by helpers who never saw the tagger, with the guidelines in
``tests/data/tag_guidelines.md``:

* ``tests/data/tag_labels.jsonl``: 90 policy passages, the **test set**;
* the **training set**: ``tests/data/tag_train.jsonl`` (passages of the bundled policies and
  the paper, other than the test set's) and ``tests/data/tag_train_regulations.jsonl``
  (articles of the regulations in ``../shared/regulations``, stored as references
  ``{file, at, len, sha1}`` into the loaded text: the third-party texts are never copied into
  the repository; skipped, with the reason, when the folder is absent).

``--calibrate`` fits on every labelled passage: a logistic classifier per label on each
embedder's chunk vectors (regularisation and threshold chosen out of fold) and the
description-similarity fallback's weights and thresholds, and writes
``rag/calibration/tagger.json``. ``python -m eval.tagging`` prints precision, recall and F1
per label on the test set **held out**: in 5 folds, each fold's passages are tagged by
classifiers fitted on the training set and the other folds only, so no passage is scored by a
classifier that saw it. Passages are embedded and tagged from their text and section exactly
as ingest does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LABELS_FILE = ROOT / "tests" / "data" / "tag_labels.jsonl"
TRAIN_FILE = ROOT / "tests" / "data" / "tag_train.jsonl"
TRAIN_REGULATIONS_FILE = ROOT / "tests" / "data" / "tag_train_regulations.jsonl"
SHARED_REGULATIONS = ROOT.parent / "shared" / "regulations"
DEFAULT_OUT = ROOT / "rag" / "calibration" / "tagger.json"
DEFAULT_EMBEDDERS = ("use-m3", "e5-small")


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
    vector: Any = None  # the normalised chunk vector (numpy), as the classifiers see it


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def collect(
    labels_file: Path = LABELS_FILE, embedder_name: str | None = None
) -> tuple[Any, list[Evidence]]:
    """The tagger (shipped calibration) and the labelled passages of ``labels_file``."""
    tagger, embedder = _tagger(embedder_name)
    return tagger, evidence(tagger, embedder, read_rows(labels_file))


def _tagger(embedder_name: str | None = None) -> tuple[Any, Any]:
    from ingest.tagger import TaxonomyTagger
    from rag.embeddings import build_embedder
    from rag.settings import Settings
    from rag.taxonomy import Taxonomy

    settings = Settings() if embedder_name is None else Settings(embedder=embedder_name)
    embedder = build_embedder(settings)
    taxonomy = Taxonomy.load(settings.taxonomy_path)
    return TaxonomyTagger(taxonomy, embedder, _calibration(settings)), embedder


def evidence(tagger: Any, embedder: Any, rows: Sequence[dict[str, Any]]) -> list[Evidence]:
    import numpy as np

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
        unit = np.asarray(vector, dtype=np.float32)
        unit = unit / (np.linalg.norm(unit) or 1.0)
        items.append(Evidence(set(row["dimensions"]) | set(row["paths"]), signals, unit))
    return items


def training_rows(
    train_file: Path = TRAIN_FILE,
    regulations_file: Path = TRAIN_REGULATIONS_FILE,
    regulations_dir: Path = SHARED_REGULATIONS,
) -> list[dict[str, Any]]:
    """The training passages: the bundled documents' as stored, the regulations' resolved
    from their references (each checked against its sha1; the section path as the product's
    chunker gives it)."""
    rows = read_rows(train_file)
    if not regulations_file.is_file():
        return rows
    if not regulations_dir.is_dir():
        print(
            f"跳过 {regulations_file.name}：{regulations_dir} 不存在（第三方法规原文不随仓库分发）"
        )
        return rows
    return rows + resolve_regulation_rows(read_rows(regulations_file), regulations_dir)


def resolve_regulation_rows(refs: Sequence[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    import hashlib

    from ingest.loaders import load_file

    loaded: dict[str, Any] = {}
    rows = []
    for ref in refs:
        name = ref["file"]
        if name not in loaded:
            loaded[name] = (load_file(folder / name), _sections(folder / name))
        document, sections = loaded[name]
        text = document.text[ref["at"] : ref["at"] + ref["len"]]
        if hashlib.sha1(text.encode()).hexdigest()[: len(ref["sha1"])] != ref["sha1"]:
            raise ValueError(f"{ref['id']}：{name} 的第 {ref['at']} 字起与标注时不同（sha1 不符）")
        rows.append({**ref, "text": text, "section": sections.get(ref["at"], "")})
    return rows


def _sections(path: Path) -> dict[int, str]:
    """Section path of each chunk by its start, as ingest chunks the file."""
    from llama_index.core import Document

    from ingest.chunker import ChineseStructureSplitter
    from ingest.loaders import load_file
    from rag.settings import Settings

    settings = Settings()
    splitter = ChineseStructureSplitter(
        min_chars=settings.chunk_min_chars,
        max_chars=settings.chunk_max_chars,
        overlap_chars=settings.chunk_overlap_chars,
    )
    loaded = load_file(path)
    # the document's title is not a heading of its passages (as at ingest)
    document = Document(text=loaded.text, metadata={"doc_title": loaded.title})
    nodes = splitter.get_nodes_from_documents([document])
    return {
        int(n.metadata.get("char_start", -1)): str(n.metadata.get("section", "")) for n in nodes
    }


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
    if structural:
        return 1.0
    classifiers = tagger.classifiers
    if classifiers:
        return min(classifiers[label.name].probability(item.vector), 0.999)
    return tagger.mix(label, lexicon, centred)


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
        weights,
        base.temperature,
        thresholds,
        base.default_threshold,
        base.beside_structure,
        base.classifiers,
    )


def _best_threshold(tagger: Any, items: Sequence[Evidence], label: Any) -> tuple[float, float]:
    """The threshold with the best F1 for one label; ties go to the higher (more selective)
    threshold. It stays above the score of a passage with no evidence (no keyword, average
    similarity): tagging such passages would be the forced label this tagger does not give."""
    scores = [_score(tagger.without_classifiers(), item, label) for item in items]
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


# Inverse regularisation strengths tried per label; the cross-validated F1 picks one.
C_GRID = (0.3, 1.0, 3.0, 10.0)
FOLDS = 5


def fit_classifiers(items: Sequence[Evidence], labels: Sequence[str]) -> dict[str, Any]:
    """Per label: the logistic classifier on the chunk vectors, with the regularisation
    strength and probability threshold that give the best F1 out of fold (the threshold is
    what new passages will meet, not what the training passages themselves score)."""
    import numpy as np

    from ingest.tagger import LabelClassifier

    x = np.stack([item.vector for item in items])
    fitted = {}
    for name in labels:
        y = np.asarray([name in item.gold for item in items], dtype=int)
        best = (-1.0, C_GRID[0], 0.5)
        for c in C_GRID:
            scores = _out_of_fold(x, y, c)
            threshold, f1 = _best_cut(scores, y)
            if f1 > best[0] + 1e-9:
                best = (f1, c, threshold)
        model = _logistic(best[1]).fit(x, y)
        fitted[name] = LabelClassifier(
            tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]), best[2]
        )
    return fitted


def _logistic(c: float) -> Any:
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # pragma: no cover - a maintainer tool
        raise SystemExit("训练分类器需要 scikit-learn：pip install -e '.[test]'") from exc
    # balanced: the rarer labels (数字生活, 数字治理) are not traded away for the common ones
    return LogisticRegression(C=c, class_weight="balanced", max_iter=5000)


def _out_of_fold(x: Any, y: Any, c: float) -> Any:
    import numpy as np

    order = np.random.default_rng(13).permutation(len(y))
    scores = np.zeros(len(y))
    for k in range(FOLDS):
        held = order[k::FOLDS]
        train = np.setdiff1d(order, held)
        if len(set(y[train])) < 2:
            scores[held] = float(y[train].mean())
            continue
        scores[held] = _logistic(c).fit(x[train], y[train]).predict_proba(x[held])[:, 1]
    return scores


def _best_cut(scores: Any, y: Any) -> tuple[float, float]:
    """The probability threshold with the best F1 (midway between neighbouring scores)."""
    best = (0.5, 0.0)
    ordered = sorted(set(float(s) for s in scores), reverse=True)
    for n, cut in enumerate(ordered):
        predicted = scores >= cut
        tp = int((predicted & (y == 1)).sum())
        fp = int((predicted & (y == 0)).sum())
        fn = int((~predicted & (y == 1)).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best[1] + 1e-9:
            lower = ordered[n + 1] if n + 1 < len(ordered) else 0.0
            best = ((cut + lower) / 2, f1)
    return best


def calibrate(
    embedders: Sequence[str] = DEFAULT_EMBEDDERS, out: Path = DEFAULT_OUT
) -> tuple[Any, list[Evidence]]:
    """Fit everything on all labelled passages and write the calibration file; return the
    tagger (default embedder, new calibration) and the items."""
    rows = training_rows() + read_rows(LABELS_FILE)
    print(f"标注片段 {len(rows)} 个")
    classifiers: dict[str, dict[str, Any]] = {}
    default_tagger: Any = None
    default_items: list[Evidence] = []
    for name in embedders:
        try:
            tagger, embedder = _tagger(name)
        except Exception as exc:  # an optional embedder that this machine cannot run
            print(f"跳过嵌入模型 {name}：{exc}")
            continue
        items = evidence(tagger, embedder, rows)
        labels = [lb.name for lb in tagger.taxonomy.all_labels]
        classifiers[tagger.embedder_id] = fit_classifiers(items, labels)
        print(f"{name}（{tagger.embedder_id}）：{len(labels)} 个分类器")
        if default_tagger is None:
            default_tagger, default_items = tagger, items
    if default_tagger is None:
        raise SystemExit("没有可用的嵌入模型")
    fallback = fit(default_tagger, default_items)  # description similarity, without classifiers
    from dataclasses import replace

    calibration = replace(fallback, classifiers=classifiers)
    out.write_text(calibration.to_json(), "utf-8")
    print(f"wrote {out}")
    return replace_calibration(default_tagger, calibration), default_items


def held_out(
    tagger: Any, test: Sequence[Evidence], train: Sequence[Evidence], folds: int = FOLDS
) -> list[LabelScore]:
    """Scores on ``test`` of classifiers that never saw the passage scored: for each of k
    folds, fitted on ``train`` and the other folds. The figure to expect on new passages."""
    import random

    order = list(range(len(test)))
    random.Random(13).shuffle(order)
    labels = [lb.name for lb in tagger.taxonomy.all_labels]
    predicted: dict[int, set[str]] = {}
    for k in range(folds):
        held = [i for n, i in enumerate(order) if n % folds == k]
        others = [test[i] for n, i in enumerate(order) if n % folds != k]
        probe = tagger.with_classifiers(fit_classifiers([*train, *others], labels))
        chosen = predict(probe, [test[i] for i in held])
        predicted.update(zip(held, chosen, strict=True))
    gold = [item.gold for item in test]
    preds = [predicted[i] for i in range(len(test))]
    return [prf(gold, preds, name) for name in labels]


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
    parser.add_argument("--labels", type=Path, default=LABELS_FILE, help="the test set")
    parser.add_argument(
        "--calibrate",
        type=Path,
        nargs="?",
        const=DEFAULT_OUT,
        help=f"fit on the training set and write the calibration (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--embedders",
        default=",".join(DEFAULT_EMBEDDERS),
        help="embedders to train classifiers for (comma-separated)",
    )
    args = parser.parse_args(argv)
    if args.calibrate:
        embedders = [e.strip() for e in args.embedders.split(",") if e.strip()]
        calibrate(embedders, args.calibrate)
    result = summary(args.labels)
    print_table(
        [LabelScore(**row) for row in result["labels"]],
        f"test set ({result['passages']} passages), {FOLDS} folds held out, "
        f"classifiers fitted on {result['training_passages']} + the other folds:",
    )
    print(f"description-similarity fallback: macro F1 {result['fallback_macro_f1']:.3f}")
    return 0


def summary(labels_file: Path = LABELS_FILE) -> dict[str, Any]:
    """The tagger's scores for the eval report: per label on the test set held out (see
    ``held_out``), and the macro F1 of the description-similarity fallback that an index
    built with an embedder without trained classifiers gets."""
    from dataclasses import asdict

    tagger, embedder = _tagger()
    test = evidence(tagger, embedder, read_rows(labels_file))
    train = evidence(tagger, embedder, training_rows())
    names = [lb.name for lb in tagger.taxonomy.all_labels]
    scores = held_out(tagger, test, train)
    gold = [i.gold for i in test]
    fallback = [prf(gold, predict(tagger.without_classifiers(), test), n) for n in names]
    return {
        "passages": len(test),
        "training_passages": len(train),
        "labels": [asdict(s) for s in scores],
        "macro_f1": sum(s.f1 for s in scores) / len(scores),
        "fallback_macro_f1": sum(s.f1 for s in fallback) / len(fallback),
    }


if __name__ == "__main__":
    sys.exit(main())
