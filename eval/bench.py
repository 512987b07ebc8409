"""Ingest and latency benchmark: ``python -m eval.bench [QUESTIONS.jsonl] [--repeat N]``.

Builds a fresh index of the bundled corpus in a temporary home (``--with-regulations`` adds
``../shared/regulations``; ``--existing`` uses the index under CITYQA_HOME instead) and
prints the ingest time, then warms up and times every question through ``Assistant.ask``
and prints p50 / p95 / max in milliseconds. ``--startup`` also times what a newcomer waits for, each
in a new process on that index: ``cityqa stats``, a one-shot ``cityqa ask`` and ``cityqa serve``
from the command to the page and to its first answer. Performance targets are checked by
reading these numbers, not by timed unit tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from eval.dataset import SHARED_REGULATIONS
from rag import Assistant, Settings

DEFAULT_QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "calibration.jsonl"
SHARED_BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench" / "laws"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _cityqa() -> list[str]:
    found = shutil.which("cityqa")
    return [found] if found else [sys.executable, "-m", "ui.cli"]


def _timed_run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen, seconds: float = 600.0) -> None:
    """Return once ``url`` answers; raise if ``proc`` exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {seconds:.0f} s")


def serve_startup(env: dict[str, str], question: str) -> tuple[float, float]:
    """Seconds from ``cityqa serve`` to its page answering, and to the first /ask answer."""
    from gradio_client import Client

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*_cityqa(), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(url, proc)
        page = time.perf_counter() - started
        Client(url, verbose=False).predict(question, "全部", "全部", api_name="/ask")
        return page, time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cold_start(env: dict[str, str], question: str) -> tuple[float, float]:
    """Seconds to the answer of a one-shot ``cityqa ask``, and to the first answer of
    ``cityqa serve``, each a new process on the index of ``env``'s CITYQA_HOME."""
    ask = _timed_run([*_cityqa(), "ask", question, "--json"], env)
    return ask, serve_startup(env, question)[1]


def print_startup(home: str, question: str) -> None:
    env = {**os.environ, "CITYQA_HOME": home}
    stats = _timed_run([*_cityqa(), "stats", "--json"], env)
    ask = _timed_run([*_cityqa(), "ask", question, "--json"], env)
    page, answer = serve_startup(env, question)
    print(f"start-up: cityqa stats {stats:.1f} s, one-shot cityqa ask {ask:.1f} s")
    print(f"start-up: cityqa serve page {page:.1f} s, first answer {answer:.1f} s")


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
    parser.add_argument(
        "--startup",
        action="store_true",
        help="also time cityqa stats, a one-shot cityqa ask and cityqa serve, each a new process",
    )
    scale = parser.add_argument_group(
        "规模基准 / scale benchmark",
        "--sizes runs the scale benchmark (eval/scale.py) instead: every size on a fresh index, "
        "each stage in a new process, cityqa beside vanilla LlamaIndex",
    )
    scale.add_argument(
        "--sizes",
        help="片段数，逗号分隔，如 1000,10000,all（内置语料总是最小的一档）",
    )
    scale.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help=f"规模语料文件夹（默认只测内置语料；如 {SHARED_BENCH}）",
    )
    scale.add_argument("--json", type=Path, default=None, help="结果写入 bench.json")
    scale.add_argument("--plot", type=Path, default=None, help="延迟与入库时间图（PNG，双对数）")
    scale.add_argument("--no-vanilla", action="store_true", help="不测 vanilla LlamaIndex")
    scale.add_argument("--no-cold", action="store_true", help="不测冷启动（cityqa ask/serve）")
    args = parser.parse_args(argv)
    if args.sizes is not None or args.corpus is not None:
        from eval.scale import parse_sizes, run

        run(
            args.corpus,
            parse_sizes(args.sizes or ""),
            json_path=args.json,
            plot_path=args.plot,
            vanilla=not args.no_vanilla,
            cold=not args.no_cold,
        )
        return 0
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
        if args.startup:
            del assistant  # the processes timed next open the index themselves
            print_startup(str(settings.home), questions[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
