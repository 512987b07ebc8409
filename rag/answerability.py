"""One answerability decision from the evidence signals, calibrated, not hand-tuned.

Once the hard checks pass (a name the corpus never mentions, an answer type the sentences do
not contain…), graded signals still say how well the chosen sentences answer the question:
the question's weighted terms in the top passages (``coverage``) and in the answer's own
sentences with their headings (``answer_coverage``), the relevance of the best passage
(``top_score``) and of the best sentence (``best_sentence``), and whether the noun the
question asks for ("哪三个维度") stands in the answer (``asked_in_answer``). Each alone is a
poor judge: a related passage about the same topic scores well on most. Combined in a
logistic model and thresholded, they make one decision whose error rates can be measured and
traded. ``python -m eval.calibrate`` fits the weights and the threshold on questions of
several kinds of document (answerable, unanswerable, and asked of the library without the
document that answers them) and writes them to ``rag/calibration/answering.json``.

Measured: on this library the signals do not yet separate related-passage questions from
answerable ones (a threshold that refuses 2% of the answerable questions catches about 4% of
them), so no model is written and the gate is off until a signal that separates them exists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FEATURES = ("coverage", "answer_coverage", "top_score", "best_sentence", "asked_in_answer")


@dataclass(frozen=True)
class AnswerabilityModel:
    bias: float
    weights: Mapping[str, float]
    threshold: float  # answer when the score is at least this

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AnswerabilityModel | None:
        if not data:
            return None
        weights = {name: float(data["weights"].get(name, 0.0)) for name in FEATURES}
        return cls(float(data["bias"]), weights, float(data["threshold"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "bias": round(self.bias, 4),
            "weights": {k: round(v, 4) for k, v in self.weights.items()},
            "threshold": round(self.threshold, 4),
        }

    def score(self, signals: Mapping[str, float]) -> float:
        z = self.bias + sum(w * float(signals.get(name, 0.0)) for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-z))

    def answers(self, signals: Mapping[str, float]) -> bool:
        return self.score(signals) >= self.threshold
