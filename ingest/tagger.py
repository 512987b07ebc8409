"""Multi-label tagging of chunks with the taxonomy's dimensions and paths, from evidence.

Evidence, strongest first:
1. structure: a heading on the chunk's section path names the label ("3.4 数字治理驱动路径",
   "4.2 管理维度:…"): the label is assigned, score 1.0;
2. lexicon: the label's keywords occur in the chunk or in the headings above it (a heading
   such as "（三）加强数据基础设施建设" passes its evidence down to the passages under it);
3. a linear classifier per label on the chunk's own vector (the one ingest stores, so it
   costs a dot product), trained on passages labelled blind by ``python -m eval.tagging
   --calibrate`` for the embedder that built the index;
4. without such a classifier (another embedder): the lexicon and the embedding similarity of
   the chunk to the label's description, centred on the mean similarity to the other labels
   of the same kind (so a passage close to every label gains nothing), mixed with a weight
   per kind.

A label is assigned when its score reaches that label's threshold. Classifiers, weights and
thresholds are not hand-set: they are read from a calibration file written by
``python -m eval.tagging --calibrate`` from passages labelled blind. A chunk without enough
evidence stays untagged: a forced label would let filters show passages that are not about it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import TextNode

from rag.errors import ConfigError
from rag.taxonomy import Kind, Label, Taxonomy

DEFAULT_CALIBRATION = Path(__file__).resolve().parents[1] / "rag" / "calibration" / "tagger.json"


@dataclass(frozen=True)
class LabelClassifier:
    """P(label | chunk) = sigmoid(weights · v + bias) for the normalised chunk vector v."""

    weights: tuple[float, ...]
    bias: float
    threshold: float

    def probability(self, vector: np.ndarray) -> float:
        z = float(np.dot(np.asarray(self.weights, dtype=np.float32), vector)) + self.bias
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    @classmethod
    def from_json(cls, entry: dict) -> LabelClassifier:
        return cls(tuple(float(w) for w in entry["w"]), float(entry["b"]), float(entry["t"]))

    def to_json(self) -> dict:
        return {
            "w": [round(w, 5) for w in self.weights],
            "b": round(self.bias, 5),
            "t": round(self.threshold, 4),
        }


@dataclass(frozen=True)
class TagCalibration:
    """Mixing weight of the lexicon per kind, the similarity temperature and a threshold
    per label name (labels without one use ``default_threshold``)."""

    lexicon_weight: dict[str, float] = field(
        default_factory=lambda: {"dimension": 0.5, "path": 0.5}
    )
    temperature: float = 0.05
    thresholds: dict[str, float] = field(default_factory=dict)
    default_threshold: float = 0.5
    # Beside a label its heading names, another label of the same kind must close this share
    # of the gap between its threshold and 1: the heading already says what the passage is about.
    beside_structure: float = 0.5
    # Per embedder id (the index's ``model_name``): per label name, a logistic classifier on
    # the normalised chunk vector and the probability at which the label is assigned.
    classifiers: dict[str, dict[str, LabelClassifier]] = field(default_factory=dict)

    def threshold(self, label: Label, beside_structure: bool = False) -> float:
        bar = self.thresholds.get(label.name, self.default_threshold)
        return bar + (1.0 - bar) * self.beside_structure if beside_structure else bar

    def no_evidence(self, kind: str) -> float:
        """The score of a passage with no keyword and only average similarity: a threshold
        at or below it would tag passages that carry no evidence at all."""
        return (1.0 - self.lexicon_weight.get(kind, 0.5)) * 0.5

    @classmethod
    def load(cls, path: Path | None = None) -> TagCalibration:
        path = path or DEFAULT_CALIBRATION
        try:
            raw = json.loads(Path(path).read_text("utf-8"))
            return cls(
                lexicon_weight={k: float(v) for k, v in raw["lexicon_weight"].items()},
                temperature=float(raw["temperature"]),
                thresholds={k: float(v) for k, v in raw["thresholds"].items()},
                default_threshold=float(raw.get("default_threshold", 0.5)),
                beside_structure=float(raw.get("beside_structure", 0.5)),
                classifiers={
                    embedder: {
                        name: LabelClassifier.from_json(entry) for name, entry in labels.items()
                    }
                    for embedder, labels in raw.get("classifiers", {}).items()
                },
            )
        except FileNotFoundError as exc:
            raise ConfigError(f"找不到标签校准文件 {path}（CITYQA_TAG_CALIBRATION_FILE）") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"标签校准文件 {path} 格式不对：{exc}") from exc

    def to_json(self) -> str:
        data = {
            "lexicon_weight": self.lexicon_weight,
            "temperature": self.temperature,
            "thresholds": self.thresholds,
            "default_threshold": self.default_threshold,
            "beside_structure": self.beside_structure,
            "classifiers": {
                embedder: {name: c.to_json() for name, c in labels.items()}
                for embedder, labels in self.classifiers.items()
            },
        }
        return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


@dataclass(frozen=True)
class LabelScore:
    label: Label
    score: float


def structural_match(label: Label, section: str) -> bool:
    """A heading on the chunk's section path names the label (it inherits the heading's)."""
    if label.kind == "path":
        return label.name in section
    return f"{label.name}维度" in section


def lexicon_score(label: Label, text: str) -> float:
    """Saturating score of distinct keyword hits: 1 hit ~0.39, 2 ~0.63, 3 ~0.78."""
    terms = {*label.keywords, *label.components}
    if label.kind == "path":
        terms.add(label.name.removesuffix("驱动"))
    else:
        terms.add(f"{label.name}维度")
    hits = sum(1 for term in terms if term and term in text)
    return 1.0 - math.exp(-hits / 2.0)


class TaxonomyTagger:
    def __init__(
        self,
        taxonomy: Taxonomy,
        embed_model: BaseEmbedding,
        calibration: TagCalibration | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.calibration = calibration or TagCalibration.load()
        texts = [_label_text(lb) for lb in taxonomy.all_labels]
        vectors = np.asarray(embed_model.get_text_embedding_batch(texts), dtype=np.float32)
        self._label_vectors = _normalise(vectors)
        self.embedder_id = str(getattr(embed_model, "model_name", ""))

    @property
    def classifiers(self) -> dict[str, LabelClassifier]:
        """The trained classifiers for this embedder (none: the description similarity)."""
        found = self.calibration.classifiers.get(self.embedder_id, {})
        return found if all(lb.name in found for lb in self.taxonomy.all_labels) else {}

    def with_classifiers(self, classifiers: dict[str, LabelClassifier]) -> TaxonomyTagger:
        """This tagger with other classifiers for its embedder (none: the fallback)."""
        clone = copy.copy(self)
        clone.calibration = dataclasses.replace(
            self.calibration,
            classifiers={**self.calibration.classifiers, self.embedder_id: classifiers},
        )
        return clone

    def without_classifiers(self) -> TaxonomyTagger:
        return self.with_classifiers({})

    def evidence(
        self, text: str, section: str, embedding: Sequence[float]
    ) -> list[tuple[Label, bool, float, float]]:
        """Per label: structural match, lexicon score and centred similarity (raw signals)."""
        vector = _normalise(np.asarray([embedding], dtype=np.float32))[0]
        sims = self._label_vectors @ vector
        labels = self.taxonomy.all_labels
        out = []
        for kind in ("dimension", "path"):
            idx = [i for i, lb in enumerate(labels) if lb.kind == kind]
            centre = float(np.mean(sims[idx]))
            for i in idx:
                label = labels[i]
                lexicon = lexicon_score(label, f"{section}\n{text}")
                out.append((label, structural_match(label, section), lexicon, sims[i] - centre))
        return out

    def mix(self, label: Label, lexicon: float, centred: float) -> float:
        cal = self.calibration
        weight = cal.lexicon_weight.get(label.kind, 0.5)
        similarity = 1.0 / (1.0 + math.exp(-float(centred) / cal.temperature))
        return weight * lexicon + (1.0 - weight) * similarity

    def score(self, text: str, section: str, embedding: Sequence[float]) -> list[LabelScore]:
        classifiers = self.classifiers
        vector = _normalise(np.asarray([embedding], dtype=np.float32))[0]
        scores = []
        for label, structural, lexicon, centred in self.evidence(text, section, embedding):
            if structural:
                value = 1.0
            elif classifiers:
                # below 1.0, which only a heading naming the label gives
                value = min(classifiers[label.name].probability(vector), 0.999)
            else:
                value = self.mix(label, lexicon, centred)
            scores.append(LabelScore(label, round(value, 3)))
        return scores

    def bar(self, label: Label, beside_structure: bool = False) -> float:
        """The score at which ``label`` is assigned."""
        classifier = self.classifiers.get(label.name)
        if classifier is None:
            return self.calibration.threshold(label, beside_structure)
        bar = classifier.threshold
        return bar + (1.0 - bar) * self.calibration.beside_structure if beside_structure else bar

    def assign(self, scores: list[LabelScore], kind: Kind) -> list[LabelScore]:
        """Labels of one kind the evidence supports; none when nothing reaches its threshold."""
        own = [s for s in scores if s.label.kind == kind]
        structural = any(s.score >= 1.0 for s in own)
        chosen = [s for s in own if s.score >= 1.0 or s.score >= self.bar(s.label, structural)]
        return sorted(chosen, key=lambda s: -s.score)

    def tag(self, node: TextNode, embedding: Sequence[float]) -> None:
        """Write the tags into the node's metadata in a Chroma-filterable form."""
        scores = self.score(node.text, str(node.metadata.get("section", "")), embedding)
        dims = self.assign(scores, "dimension")
        paths = self.assign(scores, "path")
        chosen = {s.label.meta_key for s in dims + paths}
        for s in scores:
            node.metadata[s.label.meta_key] = s.label.meta_key in chosen
        node.metadata["dimensions"] = ",".join(s.label.name for s in dims)
        node.metadata["paths"] = ",".join(s.label.name for s in paths)
        node.metadata["tag_scores"] = json.dumps(
            {s.label.name: s.score for s in scores}, ensure_ascii=False
        )
        tag_keys = [s.label.meta_key for s in scores] + ["dimensions", "paths", "tag_scores"]
        node.excluded_embed_metadata_keys = [*node.excluded_embed_metadata_keys, *tag_keys]
        node.excluded_llm_metadata_keys = [*node.excluded_llm_metadata_keys, *tag_keys]


def _label_text(label: Label) -> str:
    parts = [label.name, label.description, "、".join(label.components)]
    parts.append("、".join(label.keywords[:20]))
    return "\n".join(p for p in parts if p)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
