"""Scale benchmark: ``python -m eval.bench --corpus DIR --sizes 1000,10000,all``.

For each size (a number of chunks, or ``all``) the documents of DIR are taken in a fixed,
seeded order until their chunks reach that number; the bundled corpus is always added, and
on its own it is the smallest size. Each size is measured on a fresh index, every stage in a
new process (so peak memory is that stage's own):

* ingest: wall time, characters per second, peak RSS, index size on disk; and the raw
  embedder's time on the same chunk texts (measured on a sample of them for large sizes), so
  ingest efficiency is a ratio;
* a serving process: warm ``ask`` and ``retrieve`` latency (p50/p95/p99) over 100 fixed
  questions (planner questions plus questions about the added documents), and its peak RSS;
* cold start to the first answer of a one-shot ``cityqa ask`` and of ``cityqa serve``;
* vanilla LlamaIndex on the same files: ``SentenceSplitter`` + ``VectorStoreIndex`` on Chroma,
  the same embedder, top-k 5: ingest time and retrieve latency.

Output: a table, ``--json PATH`` (``bench.json``) and ``--plot PATH`` (a PNG, log-log).
The benchmark corpus is read where it lies; nothing of it is copied into the repository.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PLANNER_QUESTIONS = ROOT / "tests" / "data" / "calibration.jsonl"
QUESTIONS = 100
DOCUMENT_QUESTIONS = 30  # of the 100: about the documents a size adds
SEED = 20261202
EMBED_SAMPLE = 4000  # chunk texts the raw embedder is timed on (all of them below this)
VANILLA_TOP_K = 5
# Questions a planner asks about one document of a library of laws and regulations.
_DOCUMENT_QUESTION_FORMS = (
    "《{title}》的立法目的是什么？",
    "《{title}》自什么时候起施行？",
    "《{title}》适用于哪些活动？",
)


@dataclass
class SizePlan:
    label: str  # "bundled", "1000", "all"
    files: list[Path]  # added to the bundled corpus
    chunks: int  # expected chunks of the added files (counted by the product's chunker)


@dataclass
class SizeResult:
    label: str
    chunks: int = 0
    documents: int = 0
    chars: int = 0
    ingest_s: float = 0.0
    chars_per_s: float = 0.0
    embed_only_s: float = 0.0
    embed_sampled: bool = False
    ingest_efficiency: float = 0.0  # embed_only_s / ingest_s
    seconds_per_file: float = 0.0
    ingest_rss_mb: float = 0.0
    index_mb: float = 0.0
    ask_p50_ms: float = 0.0
    ask_p95_ms: float = 0.0
    ask_p99_ms: float = 0.0
    retrieve_p50_ms: float = 0.0
    retrieve_p95_ms: float = 0.0
    serve_rss_mb: float = 0.0
    cold_ask_s: float | None = None
    cold_serve_first_answer_s: float | None = None
    vanilla: dict[str, float] = field(default_factory=dict)


# ----- planning ------------------------------------------------------------------------------
def corpus_order(corpus: Path) -> list[Path]:
    """The benchmark corpus's files in a fixed, seeded order."""
    from eval.dataset import corpus_files

    files = corpus_files(corpus)
    random.Random(SEED).shuffle(files)
    return files


def count_chunks(files: Sequence[Path]) -> list[int]:
    """Chunks of each file, as the product's chunker cuts it (no embedding)."""
    from llama_index.core.schema import Document

    from ingest.chunker import ChineseStructureSplitter
    from ingest.loaders import LoadError, load_file
    from rag.settings import Settings

    settings = Settings()
    splitter = ChineseStructureSplitter(
        min_chars=settings.chunk_min_chars,
        max_chars=settings.chunk_max_chars,
        overlap_chars=settings.chunk_overlap_chars,
    )
    counts = []
    for path in files:
        try:
            loaded = load_file(path)
        except LoadError:
            counts.append(0)  # the product reports it and goes on; so does the benchmark
            continue
        counts.append(len(splitter.get_nodes_from_documents([Document(text=loaded.text)])))
    return counts


def plan_sizes(corpus: Path | None, sizes: Sequence[str]) -> list[SizePlan]:
    plans = [SizePlan("bundled", [], 0)]
    if corpus is None:
        return plans
    files = corpus_order(corpus)
    counts = count_chunks(files)
    for size in sizes:
        if size == "all":
            plans.append(SizePlan("all", files, sum(counts)))
            continue
        wanted, total, taken = int(size), 0, 0
        while taken < len(files) and total < wanted:
            total += counts[taken]
            taken += 1
        plans.append(SizePlan(size, files[:taken], total))
    return plans


def parse_sizes(value: str) -> list[str]:
    sizes = [s.strip().lower() for s in value.split(",") if s.strip()]
    for size in sizes:
        if size != "all" and not (size.isdigit() and int(size) > 0):
            raise SystemExit(f"--sizes: {size!r} 不是正整数或 all")
    return sizes


# ----- questions -----------------------------------------------------------------------------
def questions_for(plan: SizePlan) -> list[str]:
    """100 fixed questions: planner questions, then questions about added documents (about
    the bundled policies for the bundled size)."""
    from ingest.loaders import LoadError, load_file

    planner = [
        json.loads(line)["question"]
        for line in PLANNER_QUESTIONS.read_text("utf-8").splitlines()
        if line.strip()
    ]
    if plan.files:
        sample = random.Random(SEED).sample(plan.files, min(DOCUMENT_QUESTIONS, len(plan.files)))
    else:
        sample = sorted((ROOT / "corpus" / "policies").glob("*.md"))
        sample = [p for p in sample if p.stem.lower() != "readme"]
    titles = []
    for path in sample:
        try:
            titles.append(load_file(path).title)
        except LoadError:  # a file the product cannot load asks nothing
            continue
    about = [
        _DOCUMENT_QUESTION_FORMS[i % len(_DOCUMENT_QUESTION_FORMS)].format(title=title)
        for i, title in enumerate(titles * DOCUMENT_QUESTIONS)
    ][:DOCUMENT_QUESTIONS]
    return (planner[: QUESTIONS - len(about)] + about)[:QUESTIONS]


# ----- the stages, each run in its own process -------------------------------------------------
def _stage(args: list[str], env: dict[str, str]) -> tuple[dict[str, Any], float]:
    """Run ``python -m eval.scale <stage> …``; its JSON result and its peak RSS in MB."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "eval.scale", *args],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    # Reaped here rather than by Popen: wait4 returns the child's own resource usage.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"benchmark stage {args[0]} failed with exit code {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024  # KB on Linux


def stage_ingest(home: str, files_list: str) -> dict[str, Any]:
    from rag import Assistant, Settings
    from ui.console import RichIngestProgress

    files = [Path(line) for line in Path(files_list).read_text("utf-8").splitlines() if line]
    settings = Settings(home=Path(home))
    assistant = Assistant.open(settings, build_if_missing=False)
    from rich.console import Console

    started = time.perf_counter()
    with RichIngestProgress(Console(stderr=True)) as progress:
        report = assistant.ingest([settings.corpus_dir, *files], progress=progress)
    ingest_s = time.perf_counter() - started
    chunks = assistant.store.chunks()
    texts = [c.text for c in chunks.values()]
    chars = sum(len(t) for t in texts)
    sample = random.Random(SEED).sample(texts, min(EMBED_SAMPLE, len(texts)))
    started = time.perf_counter()
    batch = settings.embed_batch_size
    for i in range(0, len(sample), batch):
        assistant.embed_model.get_text_embedding_batch(sample[i : i + batch])
    sample_s = time.perf_counter() - started
    sample_chars = sum(len(t) for t in sample) or 1
    return {
        "ingest_s": ingest_s,
        "chunks": len(chunks),
        "documents": report.documents,
        "files": report.count("ingested"),
        "chars": chars,
        "embed_only_s": sample_s * chars / sample_chars,
        "embed_sampled": len(sample) < len(texts),
    }


def stage_ask(home: str, questions_file: str) -> dict[str, Any]:
    from rag import Assistant, Settings

    questions = json.loads(Path(questions_file).read_text("utf-8"))
    assistant = Assistant.open(Settings(home=Path(home)), build_if_missing=False)
    for question in questions[:3]:  # warm-up: lazy caches are not in the latencies
        assistant.ask(question)
    ask, retrieve = [], []
    for question in questions:
        started = time.perf_counter()
        assistant.ask(question)
        ask.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        assistant.retrieve(question)
        retrieve.append((time.perf_counter() - started) * 1000)
    return {"ask_ms": ask, "retrieve_ms": retrieve}


def stage_vanilla(work: str, files_list: str, questions_file: str) -> dict[str, Any]:
    """The LlamaIndex defaults on the same files, the same embedder, Chroma underneath."""
    import chromadb
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from eval.dataset import corpus_files
    from ingest.loaders import LoadError, load_file
    from rag.embeddings import build_embedder
    from rag.settings import Settings

    settings = Settings()
    files = [Path(line) for line in Path(files_list).read_text("utf-8").splitlines() if line]
    files = corpus_files(settings.corpus_dir) + files
    embed_model = build_embedder(settings)
    started = time.perf_counter()
    documents = []
    for path in files:
        try:
            documents.append(Document(text=load_file(path).text))
        except LoadError:
            continue
    client = chromadb.PersistentClient(path=str(Path(work) / "chroma"))
    store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("vanilla"))
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    index = VectorStoreIndex(
        nodes,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed_model,  # never llama-index's global Settings (OpenAI)
    )
    ingest_s = time.perf_counter() - started
    retriever = index.as_retriever(similarity_top_k=VANILLA_TOP_K)
    questions = json.loads(Path(questions_file).read_text("utf-8"))
    for question in questions[:3]:
        retriever.retrieve(question)
    timings = []
    for question in questions:
        started = time.perf_counter()
        retriever.retrieve(question)
        timings.append((time.perf_counter() - started) * 1000)
    return {"ingest_s": ingest_s, "chunks": len(nodes), "retrieve_ms": timings}


# ----- orchestration -------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def measure(
    plan: SizePlan, *, vanilla: bool = True, cold: bool = True, keep: Path | None = None
) -> SizeResult:
    from eval.bench import cold_start

    work = Path(tempfile.mkdtemp(prefix=f"cityqa-scale-{plan.label}-", dir=keep))
    try:
        env = {**os.environ, "CITYQA_HOME": str(work / "home")}
        files_list = work / "files.txt"
        files_list.write_text("\n".join(str(p) for p in plan.files), "utf-8")
        questions_file = work / "questions.json"
        questions = questions_for(plan)
        questions_file.write_text(json.dumps(questions, ensure_ascii=False), "utf-8")
        result = SizeResult(plan.label)
        ingest, result.ingest_rss_mb = _stage(["ingest", str(work / "home"), str(files_list)], env)
        result.chunks, result.documents = ingest["chunks"], ingest["documents"]
        result.chars, result.ingest_s = ingest["chars"], ingest["ingest_s"]
        result.chars_per_s = result.chars / max(result.ingest_s, 1e-9)
        result.embed_only_s, result.embed_sampled = ingest["embed_only_s"], ingest["embed_sampled"]
        result.ingest_efficiency = result.embed_only_s / max(result.ingest_s, 1e-9)
        result.seconds_per_file = result.ingest_s / max(ingest["files"], 1)
        result.index_mb = _folder_mb(work / "home")
        asked, result.serve_rss_mb = _stage(["ask", str(work / "home"), str(questions_file)], env)
        result.ask_p50_ms = percentile(asked["ask_ms"], 0.5)
        result.ask_p95_ms = percentile(asked["ask_ms"], 0.95)
        result.ask_p99_ms = percentile(asked["ask_ms"], 0.99)
        result.retrieve_p50_ms = percentile(asked["retrieve_ms"], 0.5)
        result.retrieve_p95_ms = percentile(asked["retrieve_ms"], 0.95)
        if cold:
            result.cold_ask_s, result.cold_serve_first_answer_s = cold_start(env, questions[0])
        if vanilla:
            plain, rss = _stage(
                ["vanilla", str(work / "vanilla"), str(files_list), str(questions_file)], env
            )
            result.vanilla = {
                "ingest_s": plain["ingest_s"],
                "chunks": plain["chunks"],
                "retrieve_p50_ms": percentile(plain["retrieve_ms"], 0.5),
                "retrieve_p95_ms": percentile(plain["retrieve_ms"], 0.95),
                "rss_mb": rss,
            }
        return result
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def run(
    corpus: Path | None,
    sizes: Sequence[str],
    *,
    json_path: Path | None,
    plot_path: Path | None,
    vanilla: bool,
    cold: bool,
) -> list[SizeResult]:
    from rich.console import Console

    console = Console(stderr=True)
    if corpus is not None and not corpus.is_dir():
        raise SystemExit(f"--corpus {corpus} 不存在（基准语料在 ../shared/bench/laws/）")
    plans = plan_sizes(corpus, sizes)
    results = []
    for plan in plans:
        console.print(f"规模 {plan.label}：{len(plan.files)} 个文件 + 内置语料", highlight=False)
        results.append(measure(plan, vanilla=vanilla, cold=cold))
        console.print(table(results))
        if json_path is not None:
            write_json(results, json_path, corpus)
    if plot_path is not None:
        write_plot(results, plot_path)
    return results


def table(results: Sequence[SizeResult]) -> Any:
    """One row per measurement, one column per size: narrow enough for an 80-column log."""
    from rich.table import Table

    out = Table(title="cityqa 规模基准（本机实测）")
    out.add_column("指标")
    for r in results:
        out.add_column(r.label, justify="right")
    rows = [
        ("片段 chunks", lambda r: f"{r.chunks:,}"),
        ("文档 documents", lambda r: f"{r.documents:,}"),
        ("入库 ingest s", lambda r: f"{r.ingest_s:.1f}"),
        ("秒/文件 s per file", lambda r: f"{r.seconds_per_file:.2f}"),
        ("字/秒 chars/s", lambda r: f"{r.chars_per_s:,.0f}"),
        (
            "纯向量化 embed only s",
            lambda r: f"{r.embed_only_s:.1f}" + ("*" if r.embed_sampled else ""),
        ),
        ("入库效率 embed/ingest", lambda r: f"{r.ingest_efficiency:.0%}"),
        ("入库峰值 RSS MB", lambda r: f"{r.ingest_rss_mb:.0f}"),
        ("索引 index MB", lambda r: f"{r.index_mb:.0f}"),
        (
            "ask p50/p95/p99 ms",
            lambda r: f"{r.ask_p50_ms:.0f}/{r.ask_p95_ms:.0f}/{r.ask_p99_ms:.0f}",
        ),
        ("retrieve p50/p95 ms", lambda r: f"{r.retrieve_p50_ms:.0f}/{r.retrieve_p95_ms:.0f}"),
        ("服务 serve RSS MB", lambda r: f"{r.serve_rss_mb:.0f}"),
        ("冷启动 cityqa ask s", lambda r: _opt(r.cold_ask_s)),
        ("冷启动 serve 首答 s", lambda r: _opt(r.cold_serve_first_answer_s)),
        ("vanilla 入库 s", lambda r: _v(r, "ingest_s", "{:.1f}")),
        ("vanilla retrieve p50 ms", lambda r: _v(r, "retrieve_p50_ms", "{:.1f}")),
        ("ask p50 ÷ vanilla retrieve", _ratio),
        ("入库 ÷ vanilla 入库", _ingest_ratio),
    ]
    for name, cell in rows:
        out.add_row(name, *(cell(r) for r in results))
    return out


def _opt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _ingest_ratio(r: SizeResult) -> str:
    plain = r.vanilla.get("ingest_s")
    return f"{r.ingest_s / plain:.1f}×" if plain else "—"


def _v(r: SizeResult, key: str, fmt: str) -> str:
    return fmt.format(r.vanilla[key]) if key in r.vanilla else "—"


def _ratio(r: SizeResult) -> str:
    plain = r.vanilla.get("retrieve_p50_ms")
    return f"{r.ask_p50_ms / plain:.1f}×" if plain else "—"


def write_json(results: Sequence[SizeResult], path: Path, corpus: Path | None) -> None:
    payload = {
        "corpus": str(corpus) if corpus else None,
        "cores": os.cpu_count(),
        "seed": SEED,
        "questions": QUESTIONS,
        "sizes": [asdict(r) for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), "utf-8")


def write_plot(results: Sequence[SizeResult], path: Path) -> None:
    """Latency and ingest time against chunks, log-log, cityqa beside vanilla."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eval.report import cjk_font

    font = cjk_font()
    rc: dict[str, Any] = {"axes.unicode_minus": False}
    if font:
        rc |= {"font.family": "sans-serif", "font.sans-serif": [font, "DejaVu Sans"]}
    zh = font is not None
    chunks = [r.chunks for r in results]
    with matplotlib.rc_context(rc):
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
        left.plot(chunks, [r.ask_p50_ms for r in results], "o-", label="cityqa ask p50")
        left.plot(chunks, [r.ask_p95_ms for r in results], "o--", label="cityqa ask p95")
        left.plot(chunks, [r.retrieve_p50_ms for r in results], "s-", label="cityqa retrieve p50")
        plain = [(r.chunks, r.vanilla["retrieve_p50_ms"]) for r in results if r.vanilla]
        if plain:
            left.plot(*zip(*plain, strict=True), "^-", label="vanilla retrieve p50")
        left.set_ylabel("毫秒" if zh else "ms")
        left.set_title("每题延迟" if zh else "Latency per question")
        right.plot(chunks, [r.ingest_s for r in results], "o-", label="cityqa ingest")
        right.plot(chunks, [r.embed_only_s for r in results], "s--", label="embed only")
        plain = [(r.chunks, r.vanilla["ingest_s"]) for r in results if r.vanilla]
        if plain:
            right.plot(*zip(*plain, strict=True), "^-", label="vanilla ingest")
        right.set_ylabel("秒" if zh else "s")
        right.set_title("入库时间" if zh else "Ingest time")
        for ax in (left, right):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("片段数" if zh else "chunks")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
        plt.close(fig)


def main(argv: list[str]) -> int:
    """``python -m eval.scale <stage> …``: one stage in this process (used by ``measure``)."""
    stage, *args = argv
    stages = {"ingest": stage_ingest, "ask": stage_ask, "vanilla": stage_vanilla}
    if stage not in stages:
        raise SystemExit(f"unknown stage {stage!r}; run python -m eval.bench --sizes …")
    print(json.dumps(stages[stage](*args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
