"""Latency benchmark: ``python -m eval.bench [QUESTIONS.jsonl] [--repeat N]``.

Opens the index once (building it from the corpus if needed), warms up, then times every
question through ``Assistant.ask`` and prints p50 / p95 / max in milliseconds. Performance
targets are checked by reading these numbers, not by timed unit tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rag import Assistant, Settings

DEFAULT_QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "calibration.jsonl"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cityqa 问答延迟基准 / answer latency benchmark")
    parser.add_argument(
        "questions",
        nargs="?",
        type=Path,
        default=DEFAULT_QUESTIONS,
        help="JSONL，每行含 question 字段",
    )
    parser.add_argument("--repeat", type=int, default=3, help="每个问题重复次数（默认 3）")
    args = parser.parse_args(argv)
    questions = [
        json.loads(line)["question"]
        for line in args.questions.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    started = time.perf_counter()
    assistant = Assistant.open(Settings())
    opened = time.perf_counter() - started
    first = time.perf_counter()
    assistant.ask(questions[0])
    warmup = time.perf_counter() - first
    timings = []
    for _ in range(args.repeat):
        for question in questions:
            t0 = time.perf_counter()
            assistant.ask(question)
            timings.append((time.perf_counter() - t0) * 1000)
    print(f"open (load models + index): {opened:.2f} s; first question (warm-up): {warmup:.2f} s")
    print(
        f"{len(timings)} answers after warm-up: p50 {statistics.median(timings):.1f} ms, "
        f"p95 {percentile(timings, 0.95):.1f} ms, max {max(timings):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
