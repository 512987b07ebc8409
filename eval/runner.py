"""``cityqa eval``: run pipeline variants on the evaluation set, score, report, gate.

``evaluate`` answers every item with every system and scores it with ``eval.metrics``;
``summarize`` turns per-item scores into one row per configuration; ``check_gate`` compares the
``full`` row with ``eval/baseline.json``. ``run_cli`` wires them to the command line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval import metrics as m
from eval.dataset import (
    DEFAULT_DATASET,
    EVAL_DIR,
    DatasetError,
    EvalItem,
    load_runnable,
)
from eval.systems import RANK_DEPTH, Run, System

BASELINE_PATH = EVAL_DIR / "baseline.json"
DEFAULT_REPORT_DIR = EVAL_DIR / "report"
# Gated metrics of the full pipeline and how far each may fall (about one question's worth).
DEFAULT_TOLERANCES = {
    "hit@5": 0.03,
    "mrr@10": 0.03,
    "key_point_coverage": 0.03,
    "faithfulness": 0.01,
    "faithfulness_recomputed": 0.01,
    "refusal_recall": 0.06,
    "false_refusal_rate": 0.025,
}
LOWER_IS_BETTER = frozenset({"false_refusal_rate", "latency_p50_ms", "latency_p95_ms"})
# Rows of the comparison table, in order.
SUMMARY_METRICS = (
    "hit@1",
    "hit@5",
    "recall@5",
    "mrr@10",
    "ndcg@10",
    "key_point_coverage",
    "faithfulness",
    "faithfulness_recomputed",
    "citation_precision",
    "citation_recall",
    "answer_relevance",
    "decision_accuracy",
    "refusal_recall",
    "false_refusal_rate",
    "answer_length",
    "latency_p50_ms",
    "latency_p95_ms",
)


@dataclass
class EvalRun:
    items: list[EvalItem]
    records: dict[str, list[dict[str, Any]]]  # config -> one record per item
    summaries: dict[str, dict[str, Any]]
    descriptions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    dataset: str = ""
    judged: bool = False
    skipped: dict[str, str] = field(default_factory=dict)  # item id -> why it did not run
    tagging: dict[str, Any] | None = None  # the taxonomy tagger against blind labels


# ----- scoring -------------------------------------------------------------------------------
def score_item(item: EvalItem, run: Run, n_relevant: int) -> dict[str, Any]:
    """Every per-item metric of one answer, as JSON-ready data."""
    cited = {
        c.n: (f"《{c.doc_title}》\n" if c.doc_title else "") + f"{c.section}\n{c.text}"
        for c in run.citations
    }
    record: dict[str, Any] = {
        "id": item.id,
        "type": item.type,
        "doc_kind": item.doc_kind,
        "question": item.question,
        "history": [t["content"] for t in item.history if t["role"] == "user"],
        "filters": {k: v for k, v in item.filters.items() if v},
        "answerable": item.answerable,
        "key_points": list(item.key_points),
        "refused": run.refused,
        "answer": run.answer,
        "rewritten_question": run.rewritten_question,
        "refusal_reason": run.refusal_reason,
        "citations": [{"n": c.n, "section": c.section, "text": c.text} for c in run.citations],
        "retrieved_sections": run.retrieved_sections[:5],
        "latency_ms": round(run.latency_ms, 2),
        "faithfulness": run.faithfulness if not run.refused else None,
        "answer_relevance": run.relevance if not run.refused else None,
        "low_relevance": run.low_relevance if not run.refused else None,
    }
    if not run.refused:
        checks = m.sentence_support(run.answer, cited)
        record["faithfulness_recomputed"] = m.faithfulness(checks)
        record["unsupported_sentences"] = [c.sentence for c in checks if not c.supported]
        pairs = sum(len(c.cited) for c in checks)
        record["citation_precision"] = m.citation_precision(checks) if pairs else None
        record["answer_length"] = m.answer_length(run.answer)
    if item.answerable:
        gold, passages = item.gold_evidence, run.retrieved
        answered = not run.refused
        record.update(
            {
                "hit@1": m.hit_at_k(passages, gold, 1),
                "hit@3": m.hit_at_k(passages, gold, 3),
                "hit@5": m.hit_at_k(passages, gold, 5),
                "recall@5": m.recall_at_k(passages, gold, 5),
                "recall@10": m.recall_at_k(passages, gold, RANK_DEPTH),
                "mrr@10": m.mrr_at_k(passages, gold, RANK_DEPTH),
                "ndcg@10": m.ndcg_at_k(passages, gold, RANK_DEPTH, n_relevant),
                "n_relevant": n_relevant,
                "key_point_coverage": m.key_point_coverage(run.answer, item.key_points)
                if answered
                else 0.0,
                "missing_key_points": m.missing_key_points(run.answer, item.key_points)
                if answered
                else list(item.key_points),
                "citation_recall": m.citation_recall([c.text for c in run.citations], gold)
                if answered
                else 0.0,
            }
        )
    record["failures"] = failure_reasons(record)
    return record


def failure_reasons(record: Mapping[str, Any]) -> list[str]:
    """Why an item counts as failed (empty when it passed)."""
    reasons = []
    if not record["answerable"]:
        if not record["refused"]:
            reasons.append("未拒答（资料中没有答案）")
        return reasons
    if record["refused"]:
        reasons.append(f"误拒答：{record.get('refusal_reason') or ''}".rstrip("："))
    elif record.get("key_point_coverage", 0) < 1:
        reasons.append("缺少要点：" + "、".join(record.get("missing_key_points", [])))
    if record.get("faithfulness_recomputed") is not None and record["faithfulness_recomputed"] < 1:
        reasons.append("有句子得不到所引片段支持")
    if not record.get("hit@5"):
        reasons.append("前 5 个检索片段中没有 gold 证据")
    return reasons


def _avg(records: Sequence[Mapping[str, Any]], key: str) -> float | None:
    return m.mean([r[key] for r in records if r.get(key) is not None])


def summarize(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in records if r["answerable"]]
    refused = [r["refused"] for r in records]
    flags = [r["answerable"] for r in records]
    latencies = [r["latency_ms"] for r in records]
    summary: dict[str, Any] = {
        "items": len(records),
        "answerable": len(answerable),
        "unanswerable": len(records) - len(answerable),
        "failed": sum(1 for r in records if r["failures"]),
    }
    for key in ("hit@1", "hit@3", "hit@5", "recall@5", "recall@10", "mrr@10", "ndcg@10"):
        summary[key] = _avg(answerable, key)
    summary["key_point_coverage"] = _avg(answerable, "key_point_coverage")
    summary["faithfulness"] = _avg(records, "faithfulness")
    summary["faithfulness_recomputed"] = _avg(records, "faithfulness_recomputed")
    summary["citation_precision"] = _avg(records, "citation_precision")
    summary["citation_recall"] = _avg(answerable, "citation_recall")
    summary["answer_relevance"] = _avg(records, "answer_relevance")
    summary["answer_length"] = _avg(records, "answer_length")
    # Answered when answerable, refused when not: the decision the user sees first.
    summary["decision_accuracy"] = sum(r != f for r, f in zip(refused, flags, strict=True)) / max(
        len(records), 1
    )
    summary["refusal_recall"] = m.refusal_recall(refused, flags)
    summary["false_refusal_rate"] = m.false_refusal_rate(refused, flags)
    summary["latency_p50_ms"] = m.percentile(latencies, 50)
    summary["latency_p95_ms"] = m.percentile(latencies, 95)
    if any("judge_faithfulness" in r for r in records):
        summary["judge_faithfulness"] = _avg(records, "judge_faithfulness")
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}


def evaluate(
    items: Sequence[EvalItem],
    systems: Mapping[str, System],
    *,
    judge: Any | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> EvalRun:
    """Answer and score every item with every system; ``progress(config, done)`` is called
    before a system starts (done=0) and after each item."""
    started = time.perf_counter()
    records: dict[str, list[dict[str, Any]]] = {}
    for name, system in systems.items():
        rows = []
        if progress is not None:
            progress(name, 0)
        if items:
            system.warm_up(items[0])
        for done, item in enumerate(items, start=1):
            run = system.run(item)
            n_relevant = system.n_relevant(item.gold_evidence) if item.answerable else 0
            record = score_item(item, run, n_relevant)
            if judge is not None and not run.refused and run.answer:
                verdict = judge.judge(run.answer, [c.text for c in run.citations])
                record["judge_faithfulness"] = verdict.score
                record["judge_claims"] = list(zip(verdict.claims, verdict.verdicts, strict=False))
                if verdict.error:
                    record["judge_error"] = verdict.error
            rows.append(record)
            if progress is not None:
                progress(name, done)
        records[name] = rows
    return EvalRun(
        items=list(items),
        records=records,
        summaries={name: summarize(rows) for name, rows in records.items()},
        descriptions={name: s.description for name, s in systems.items()},
        seconds=time.perf_counter() - started,
        judged=judge is not None,
    )


# ----- regression gate -----------------------------------------------------------------------
@dataclass(frozen=True)
class GateResult:
    metric: str
    baseline: float
    current: float | None
    tolerance: float
    ok: bool

    def describe(self) -> str:
        direction = "越低越好" if self.metric in LOWER_IS_BETTER else "越高越好"
        current = "无" if self.current is None else f"{self.current:.4f}"
        return (
            f"{self.metric}: 当前 {current}，基线 {self.baseline:.4f}，容差 {self.tolerance}"
            f"（{direction}）"
        )


def check_gate(summary: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[GateResult]:
    """Compare the full pipeline's summary with the baseline; one result per gated metric."""
    results = []
    tolerances = baseline.get("tolerances", {})
    for metric, accepted in baseline["metrics"].items():
        tol = float(tolerances.get(metric, DEFAULT_TOLERANCES.get(metric, 0.0)))
        current = summary.get(metric)
        if current is None:
            ok = False
        elif metric in LOWER_IS_BETTER:
            ok = current <= accepted + tol + 1e-9
        else:
            ok = current >= accepted - tol - 1e-9
        results.append(GateResult(metric, float(accepted), current, tol, ok))
    return results


def dataset_fingerprint(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def make_baseline(
    summary: Mapping[str, Any], dataset: Path, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    tolerances = dict(DEFAULT_TOLERANCES) | dict((previous or {}).get("tolerances", {}))
    return {
        "config": "full",
        "dataset": _display_path(dataset),
        "dataset_sha256": dataset_fingerprint(dataset),
        "items": summary["items"],
        "updated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lower_is_better": sorted(LOWER_IS_BETTER & set(tolerances)),
        "metrics": {k: summary[k] for k in tolerances if summary.get(k) is not None},
        "tolerances": tolerances,
        # For reading only (latency depends on the machine, so it is left out).
        "reference": {k: summary.get(k) for k in SUMMARY_METRICS if not k.startswith("latency")},
    }


def library_home(dataset_path: Path, items: Sequence[EvalItem]) -> str:
    """The folder (under the home) of the index a set with third-party texts runs on. Each
    set on laws names its own documents, so each gets its own index: one set's laws never
    sit in another's library. The regulations folder is one library for every set."""
    if any(i.requires == "laws" for i in items):
        return f"eval-laws-{dataset_path.stem}"
    return "eval-regulations"


def baseline_for(dataset: Path) -> Path:
    """The gate's baseline of a dataset: ``eval/baseline.json`` for the dev set, and
    ``<name>.baseline.json`` beside any other set (the blind generalisation set has its own)."""
    if Path(dataset).resolve() == DEFAULT_DATASET.resolve():
        return BASELINE_PATH
    return Path(dataset).with_suffix(".baseline.json")


def load_baseline(path: Path | None = None) -> dict[str, Any]:
    path = Path(path or BASELINE_PATH)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(
            f"找不到基线文件 {path}：先运行 cityqa eval --update-baseline 生成"
        ) from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"基线文件 {path} 不是合法 JSON：{exc.msg}") from exc
    if not isinstance(data.get("metrics"), dict):
        raise DatasetError(f"基线文件 {path} 缺少 metrics")
    return data


def _display_path(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(EVAL_DIR.parent).as_posix()
    except ValueError:
        return str(path)


# ----- command line --------------------------------------------------------------------------
def run_cli(args: argparse.Namespace) -> int:
    """``cityqa eval``; returns the exit code (0 ok, 1 gate failed, 2 bad input/config)."""
    from rich.console import Console

    from eval import report
    from eval.systems import open_systems, parse_configs
    from rag import Settings
    from rag.errors import CityQAError

    err = Console(stderr=True)
    out = Console(stderr=True) if args.json else Console()
    try:
        names = ["full"] if args.check else parse_configs(args.configs)
        if args.update_baseline and "full" not in names:
            names = ["full", *names]
        settings = Settings()
        judge = None
        if args.judge:
            from eval.judge import FaithfulnessJudge, build_judge_llm

            judge = FaithfulnessJudge(build_judge_llm(settings))
        dataset_path = Path(args.dataset or DEFAULT_DATASET)
        loaded = load_runnable(dataset_path, settings.corpus_dir, settings.taxonomy_path)
        items = loaded.items
        extra = loaded.library_paths()
        if extra:
            # The third-party texts are what a user adds; the eval adds them to an index of
            # its own (one per library) rather than to the user's library.
            home = library_home(dataset_path, items)
            settings = settings.model_copy(update={"home": settings.home / home})
        baseline_path = baseline_for(dataset_path)
        baseline = load_baseline(baseline_path) if args.check else None
    except CityQAError as exc:
        err.print(f"[red]错误：[/red]{exc}", highlight=False)
        return 2
    started = time.perf_counter()
    err.print(f"评测集 {dataset_path}：{len(items)} 题；配置：{', '.join(names)}", highlight=False)
    if loaded.skipped:
        reason = next(iter(loaded.skipped.values()))
        err.print(f"[yellow]跳过 {len(loaded.skipped)} 题[/yellow]：{reason}", highlight=False)
    with err.status("加载模型与索引（首次运行会从语料建立索引）…"):
        systems = open_systems(names, settings, extra=extra)
    with report.progress_bar(err, names, len(items)) as advance:
        run = evaluate(items, systems, judge=judge, progress=advance)
    run.dataset = _display_path(dataset_path)
    run.skipped = loaded.skipped
    if not args.check:
        from eval.tagging import summary as tagging_summary

        with err.status("核对维度/路径标签…"):
            run.tagging = tagging_summary()
    out.print(report.comparison_table(run))
    for warning in report.gold_warnings(run):
        err.print(f"[yellow]注意：[/yellow]{warning}", highlight=False)
    payload: dict[str, Any] = report.to_json(run)
    if not args.check or args.report:
        json_path, html_path = report.write_report(run, Path(args.report or DEFAULT_REPORT_DIR))
        err.print(f"报告：{html_path}  {json_path}", highlight=False)
    code = 0
    if baseline is not None:
        results = check_gate(run.summaries["full"], baseline)
        payload["gate"] = [r.__dict__ for r in results]
        if baseline.get("dataset_sha256") not in (None, dataset_fingerprint(dataset_path)):
            err.print("[yellow]注意：评测集与生成基线时不同，比较可能不可比[/yellow]")
        failed = [r for r in results if not r.ok]
        for r in failed:
            err.print(f"[red]退化[/red] {r.describe()}", highlight=False)
        if failed:
            code = 1
        else:
            err.print(f"[green]回归门禁通过[/green]（{len(results)} 项指标）")
    if args.update_baseline:
        previous = json.loads(baseline_path.read_text("utf-8")) if baseline_path.is_file() else {}
        data = make_baseline(run.summaries["full"], dataset_path, previous)
        baseline_path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
        err.print(f"基线已更新：{baseline_path}", highlight=False)
    total = time.perf_counter() - started
    err.print(f"用时 {total:.1f} 秒（其中作答与评分 {run.seconds:.1f} 秒）", highlight=False)
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    return code
