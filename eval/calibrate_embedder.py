"""Put an optional embedder's cosines on the bundled embedder's scale.

Every similarity threshold of the answerer (a sentence restating another, a term close to a
question term, a claim paraphrasing a passage, the refusal's minimum similarity) was calibrated
with ``use-m3``, whose unrelated sentence pairs score around 0.2. multilingual-e5 vectors share
a large common direction (anisotropy): there, two unrelated Chinese sentences score about 0.9,
so the same thresholds would call everything similar. Rather than refit every threshold per
embedder, the embedder's vectors are mapped once:

    v' = [sqrt(w) * (v - mean) / |v - mean|, sqrt(1 - w)]

Centring removes the common direction ("all-but-the-top", Mu & Viswanath 2018); the constant
extra component makes every cosine ``w * c + (1 - w)``, an affine map chosen so that the
quantiles of unrelated-pair cosines match ``use-m3``'s. Vectors stay unit length, so Chroma's
cosine distance and every dot product downstream see the calibrated scale.

``python -m eval.calibrate_embedder`` embeds sentences of the bundled corpus (the paper and the
national policies) and, when present, of ``../shared/regulations`` with both embedders, fits
``mean`` and ``w`` on one half of the sentence pairs, prints the quantiles of the other half
before and after, and with ``--write`` stores them in ``rag/calibration/<embedder>.json``.
Changing the file changes the embedder's id, so an index built before must be rebuilt.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.embeddings import E5_SMALL, USE_M3
from rag.settings import CALIBRATION_DIR, Settings

QUANTILES = (5, 10, 25, 50, 75, 90, 95, 99)
SENTENCES = 600
SHARED_REGULATIONS = Path(__file__).resolve().parents[2] / "shared" / "regulations"


def reference_sentences(folders: Sequence[Path], n: int = SENTENCES, seed: int = 0) -> list[str]:
    """A seeded sample of body sentences (15–120 characters) from the folders' documents."""
    from eval.dataset import corpus_files
    from ingest.loaders import LoadError, load_file

    found: list[str] = []
    for folder in folders:
        for path in corpus_files(folder):
            try:
                text = load_file(path).text
            except LoadError:
                continue
            found += [s.strip() for s in re.split(r"[。！？；\n]", text) if 15 <= len(s) <= 120]
    found = sorted(set(found))
    return random.Random(seed).sample(found, min(n, len(found)))


def pair_cosines(vectors: np.ndarray) -> np.ndarray:
    sims = vectors @ vectors.T
    return sims[np.triu_indices(len(vectors), 1)]


def centred(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    shifted = vectors - mean
    return shifted / np.linalg.norm(shifted, axis=1, keepdims=True)


def fit_weight(raw: np.ndarray, target: np.ndarray) -> float:
    """``w`` in (0, 1] with ``w * q(raw) + 1 - w`` closest to ``q(target)`` over QUANTILES."""
    x = np.percentile(raw, QUANTILES) - 1.0
    y = np.percentile(target, QUANTILES) - 1.0
    w = float(x @ y / (x @ x))
    return min(max(w, 0.05), 1.0)


def calibrate(raw_vectors: np.ndarray, reference_vectors: np.ndarray) -> dict[str, object]:
    """Fit on the first half of the sentences, report on the second half."""
    half = len(raw_vectors) // 2
    mean = raw_vectors[:half].mean(axis=0)
    weight = fit_weight(
        pair_cosines(centred(raw_vectors[:half], mean)), pair_cosines(reference_vectors[:half])
    )
    held_raw = pair_cosines(raw_vectors[half:])
    held_mapped = weight * pair_cosines(centred(raw_vectors[half:], mean)) + 1 - weight
    held_reference = pair_cosines(reference_vectors[half:])

    def q(values: np.ndarray) -> list[float]:
        return [round(float(v), 3) for v in np.percentile(values, QUANTILES)]

    return {
        "mean": [round(float(v), 6) for v in mean],
        "offset_weight": round(weight, 4),
        "quantiles": list(QUANTILES),
        "held_out": {"raw": q(held_raw), "mapped": q(held_mapped), "reference": q(held_reference)},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.calibrate_embedder", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--embedder", default=E5_SMALL, choices=[E5_SMALL])
    parser.add_argument("--sentences", type=int, default=SENTENCES)
    parser.add_argument("--write", action="store_true", help="写入 rag/calibration/<embedder>.json")
    args = parser.parse_args(argv)

    from rag.embeddings import build_embedder

    settings = Settings()
    folders = [settings.corpus_dir]
    if SHARED_REGULATIONS.is_dir():
        folders.append(SHARED_REGULATIONS)
    sentences = reference_sentences(folders, args.sentences)
    print(f"{len(sentences)} 个句子，来自 {', '.join(str(f) for f in folders)}", file=sys.stderr)
    reference = build_embedder(settings.model_copy(update={"embedder": USE_M3}))
    candidate = build_embedder(settings.model_copy(update={"embedder": args.embedder}))
    raw = np.asarray(candidate.raw_embeddings(sentences), dtype=np.float64)
    ref = np.asarray(reference.get_text_embedding_batch(sentences), dtype=np.float64)
    fitted = calibrate(raw, ref)
    fitted["embedder"] = args.embedder
    fitted["reference_embedder"] = USE_M3
    fitted["sentences"] = len(sentences)
    held = fitted["held_out"]
    print("分位数  " + " ".join(f"{q:>6}" for q in QUANTILES))
    for name in ("raw", "mapped", "reference"):
        print(f"{name:<8}" + " ".join(f"{v:>6.3f}" for v in held[name]))  # type: ignore[index]
    print(f"offset_weight = {fitted['offset_weight']}")
    if args.write:
        path = CALIBRATION_DIR / f"{args.embedder}.json"
        path.write_text(json.dumps(fitted, ensure_ascii=False) + "\n", "utf-8")
        print(f"已写入 {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
