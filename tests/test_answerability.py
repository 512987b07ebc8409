"""The answerability model and its calibration (plumbing; the fit on real answers is
``python -m eval.calibrate``)."""

from __future__ import annotations

from eval.calibrate import Example, calibrate, counts, leave_one_kind_out
from rag.answerability import FEATURES, AnswerabilityModel


def _example(kind: str, level: float, answer: bool) -> Example:
    return Example(kind, "dev", {f: level for f in FEATURES}, answer)


def _separable() -> list[Example]:
    out = []
    for kind in ("研究论文", "规范性文件", "法规"):
        out += [_example(kind, 0.8 + 0.01 * i, True) for i in range(10)]
        out += [_example(kind, 0.2 + 0.01 * i, False) for i in range(10)]
    return out


def test_model_round_trips_and_scores_monotonically() -> None:
    model = AnswerabilityModel(-2.0, {f: 1.0 for f in FEATURES}, 0.5)
    again = AnswerabilityModel.from_dict(model.to_dict())
    assert again == model
    assert AnswerabilityModel.from_dict(None) is None
    low, high = ({f: v for f in FEATURES} for v in (0.1, 0.9))
    assert model.score(low) < model.score(high)
    assert not model.answers(low) and model.answers(high)


def test_calibration_separates_what_can_be_separated_on_every_kind() -> None:
    examples = _separable()
    model = calibrate(examples, answerable_total=30, budget=0.0)
    refused, answerable, answered, unanswerable = counts(model, examples, model.threshold)
    assert (refused, answerable) == (0, 30)
    assert answered < unanswerable  # most unanswerable answers are caught
    for kind, _, row in leave_one_kind_out(
        examples, {"研究论文": 10, "规范性文件": 10, "法规": 10}, 0.0
    ):
        assert row[0] == 0, kind  # tested on a kind it never saw
