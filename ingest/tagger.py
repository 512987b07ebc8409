"""Multi-label tagging of chunks with the taxonomy's dimensions and paths.

Evidence, strongest first:
1. structure: the chunk's section heading names the label ("3.4 数字治理驱动路径",
   "4.2 管理维度:…") — score 1.0;
2. lexicon: the label's own keywords from the paper occur in the chunk;
3. embedding similarity of the chunk to the label's description, relative to the other
   labels of the same kind (so it ranks, but never decides alone).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import TextNode

from rag.taxonomy import Kind, Label, Taxonomy

LEX_WEIGHT = 0.65
EMB_WEIGHT = 0.35
ASSIGN_AT = 0.5
# A label of the same kind next to a structural one needs stronger evidence.
ASSIGN_BESIDE_STRUCTURE_AT = 0.75


@dataclass(frozen=True)
class LabelScore:
    label: Label
    score: float


def structural_match(label: Label, section: str) -> bool:
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
    def __init__(self, taxonomy: Taxonomy, embed_model: BaseEmbedding) -> None:
        self.taxonomy = taxonomy
        texts = [_label_text(lb) for lb in taxonomy.all_labels]
        vectors = np.asarray(embed_model.get_text_embedding_batch(texts), dtype=np.float32)
        self._label_vectors = _normalise(vectors)
        # Some label texts are "hubs" that sit close to almost any passage; subtracting each
        # label's mean similarity to the other labels removes that bias before ranking.
        cross = self._label_vectors @ self._label_vectors.T
        np.fill_diagonal(cross, np.nan)
        self._label_bias = np.nanmean(cross, axis=1)

    def score(self, text: str, section: str, embedding: Sequence[float]) -> list[LabelScore]:
        vector = _normalise(np.asarray([embedding], dtype=np.float32))[0]
        sims = self._label_vectors @ vector - self._label_bias
        labels = self.taxonomy.all_labels
        scores: list[LabelScore] = []
        for kind in ("dimension", "path"):
            idx = [i for i, lb in enumerate(labels) if lb.kind == kind]
            kind_sims = sims[idx]
            spread = float(kind_sims.max() - kind_sims.min()) or 1.0
            for i, sim in zip(idx, kind_sims, strict=True):
                label = labels[i]
                if structural_match(label, section):
                    value = 1.0
                else:
                    emb_rel = float(sim - kind_sims.min()) / spread
                    value = LEX_WEIGHT * lexicon_score(label, text) + EMB_WEIGHT * emb_rel
                scores.append(LabelScore(label, round(value, 3)))
        return scores

    def assign(self, scores: list[LabelScore], kind: Kind) -> list[LabelScore]:
        """Labels a chunk carries; every chunk gets at least its best dimension."""
        own = [s for s in scores if s.label.kind == kind]
        structural = any(s.score >= 1.0 for s in own)
        bar = ASSIGN_BESIDE_STRUCTURE_AT if structural else ASSIGN_AT
        chosen = [s for s in own if s.score >= 1.0 or s.score >= bar]
        if not chosen and kind == "dimension" and own:
            chosen = [max(own, key=lambda s: s.score)]
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
