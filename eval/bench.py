"""Ingest and latency benchmark: ``python -m eval.bench [QUESTIONS.jsonl] [--repeat N]``.

Builds a fresh index of the bundled corpus in a temporary home (``--with-regulations`` adds
``../shared/regulations``; ``--existing`` uses the index under CITYQA_HOME instead) and
prints the ingest time, then warms up and times every question through ``Assistant.ask``
and prints p50 / p95 / max in milliseconds. Performance
targets are checked by reading these numbers, not by timed unit tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from eval.dataset import SHARED_REGULATIONS
from rag import Assistant, Settings

DEFAULT_QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "calibration.jsonl"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="cityqa 入库与问答延迟基准 / ingest and latency benchmark"
    )
    parser.add_argument(
        "questions",
        nargs="?",
        type=Path,
        default=DEFAULT_QUESTIONS,
        help="JSONL，每行含 question 字段",
    )
    parser.add_argument("--repeat", type=int, default=3, help="每个问题重复次数（默认 3）")
    parser.add_argument(
        "--with-regulations",
        action="store_true",
        help=f"also ingest {SHARED_REGULATIONS} (the library the policy eval runs on)",
    )
    parser.add_argument(
        "--existing",
        action="store_true",
        help="time questions on the index under CITYQA_HOME instead of building a fresh one",
    )
    args = parser.parse_args(argv)
    questions = [
        json.loads(line)["question"]
        for line in args.questions.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory(prefix="cityqa-bench-") as home:
        settings = Settings() if args.existing else Settings(home=Path(home))
        started = time.perf_counter()
        assistant = Assistant.open(settings, build_if_missing=args.existing)
        opened = time.perf_counter() - started
        print(f"open (load models + index): {opened:.2f} s")
        if not args.existing:
            folders = [settings.corpus_dir]
            if args.with_regulations:
                if not SHARED_REGULATIONS.is_dir():
                    print(f"{SHARED_REGULATIONS} 不存在：只测随产品提供的语料")
                else:
                    folders.append(SHARED_REGULATIONS)
            t0 = time.perf_counter()
            report = assistant.ingest(folders)
            took = time.perf_counter() - t0
            chunks = len(assistant.store.chunks())
            print(
                f"ingest {', '.join(str(f) for f in folders)}: {report.count('ingested')} "
                f"documents, {chunks} chunks in {took:.2f} s (fresh index)"
            )
        first = time.perf_counter()
        assistant.ask(questions[0])
        warmup = time.perf_counter() - first
        timings = []
        for _ in range(args.repeat):
            for question in questions:
                t0 = time.perf_counter()
                assistant.ask(question)
                timings.append((time.perf_counter() - t0) * 1000)
        print(f"first question (warm-up): {warmup:.2f} s")
        print(
            f"{len(timings)} answers after warm-up: p50 {statistics.median(timings):.1f} ms, "
            f"p95 {percentile(timings, 0.95):.1f} ms, max {max(timings):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
