"""Presenting an ``EvalRun``: progress bar, rich/Markdown tables, report.json and report.html.

The HTML report is self-contained: charts are matplotlib PNGs (Agg backend) inlined as base64,
and every piece of text from the dataset or the answers is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from eval.runner import EvalRun

LABELS = {
    "hit@1": "命中率 hit@1",
    "hit@5": "命中率 hit@5",
    "recall@5": "证据召回 recall@5",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "key_point_coverage": "要点覆盖率",
    "faithfulness": "忠实度（系统自评）",
    "faithfulness_recomputed": "忠实度（独立复算）",
    "citation_precision": "引用精确率",
    "citation_recall": "引用召回率",
    "answer_relevance": "答案相关度（系统自评）",
    "refusal_recall": "拒答召回率（不可答）",
    "false_refusal_rate": "误拒率（可答，越低越好）",
    "answer_length": "平均答案长度（字）",
    "latency_p50_ms": "延迟 p50（ms）",
    "latency_p95_ms": "延迟 p95（ms）",
    "judge_faithfulness": "LLM 评判忠实度",
}
CHART_METRICS = (
    "hit@5",
    "mrr@10",
    "ndcg@10",
    "key_point_coverage",
    "faithfulness_recomputed",
    "citation_precision",
    "citation_recall",
    "refusal_recall",
    "false_refusal_rate",
)
# Fonts with CJK glyphs, best first; DejaVu Sans stays as the per-glyph fallback for Latin.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Droid Sans Fallback",
)
CJK_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


def metric_names(run: EvalRun) -> list[str]:
    from eval.runner import SUMMARY_METRICS

    names = list(SUMMARY_METRICS)
    if run.judged:
        names.append("judge_faithfulness")
    return names


def fmt(value: Any, metric: str = "") -> str:
    if value is None:
        return "–"
    if metric.startswith("latency") or metric == "answer_length":
        return f"{value:.1f}" if metric.startswith("latency") else f"{value:.0f}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


# ----- console ------------------------------------------------------------------------------
@contextmanager
def progress_bar(
    console: Console, configs: Sequence[str], n_items: int
) -> Iterator[Callable[[str, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks = {c: progress.add_task(f"评测 {c}", total=n_items, start=False) for c in configs}

        def advance(config: str, done: int) -> None:
            if done == 0:
                progress.start_task(tasks[config])
            progress.update(tasks[config], completed=done)

        yield advance


def comparison_table(run: EvalRun) -> Table:
    configs = list(run.summaries)
    table = Table(title=f"cityqa eval — {len(run.items)} 题", show_lines=False)
    table.add_column("指标 metric")
    for config in configs:
        table.add_column(config, justify="right")
    for metric in metric_names(run):
        row = [fmt(run.summaries[c].get(metric), metric) for c in configs]
        table.add_row(LABELS.get(metric, metric), *row)
    table.add_row("失败题数 failed", *[str(run.summaries[c]["failed"]) for c in configs])
    return table


def markdown_table(run: EvalRun) -> str:
    configs = list(run.summaries)
    lines = ["| 指标 | " + " | ".join(configs) + " |", "|---|" + "---:|" * len(configs)]
    for metric in metric_names(run):
        cells = [fmt(run.summaries[c].get(metric), metric) for c in configs]
        lines.append(f"| {LABELS.get(metric, metric)} | " + " | ".join(cells) + " |")
    lines.append(
        "| 失败题数 | " + " | ".join(str(run.summaries[c]["failed"]) for c in configs) + " |"
    )
    return "\n".join(lines)


def gold_warnings(run: EvalRun) -> list[str]:
    """Gold spans that no single passage of a configuration contains (chunk boundaries)."""
    warnings = []
    for config, rows in run.records.items():
        for r in rows:
            if r["answerable"] and r.get("n_relevant") == 0:
                warnings.append(f"[{config}] {r['id']}：没有任何片段完整包含其 gold 证据")
    return warnings


# ----- files --------------------------------------------------------------------------------
def to_json(run: EvalRun) -> dict[str, Any]:
    return {
        "dataset": run.dataset,
        "items": len(run.items),
        "seconds": round(run.seconds, 2),
        "configs": run.descriptions,
        "summary": run.summaries,
        "by_type": by_type(run),
        "by_doc_kind": by_doc_kind(run),
        "skipped": run.skipped,
        "tagging": run.tagging,
        "records": run.records,
    }


def by_doc_kind(run: EvalRun) -> dict[str, dict[str, dict[str, Any]]]:
    """Every summary metric per kind of document (研究论文, 规范性文件, 法规) and config."""
    from eval.runner import summarize

    table: dict[str, dict[str, dict[str, Any]]] = {}
    for config, rows in run.records.items():
        for kind in sorted({r.get("doc_kind", "") for r in rows}):
            subset = [r for r in rows if r.get("doc_kind", "") == kind]
            table.setdefault(kind, {})[config] = summarize(subset)
    return table


def by_type(run: EvalRun) -> dict[str, dict[str, dict[str, float | None]]]:
    """Key-point coverage (answerable) or refusal (unanswerable) per question type and config."""
    from eval.metrics import mean

    table: dict[str, dict[str, dict[str, float | None]]] = {}
    for config, rows in run.records.items():
        for kind in sorted({r["type"] for r in rows}):
            subset = [r for r in rows if r["type"] == kind]
            table.setdefault(kind, {})[config] = {
                "n": len(subset),
                "key_point_coverage": mean(
                    [r["key_point_coverage"] for r in subset if r["answerable"]]
                ),
                "refused": mean([float(r["refused"]) for r in subset]),
                "failed": sum(1 for r in subset if r["failures"]),
            }
    return table


def write_report(run: EvalRun, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(to_json(run), ensure_ascii=False, indent=1), "utf-8")
    html_path.write_text(render_html(run), "utf-8")
    return json_path, html_path


# ----- charts -------------------------------------------------------------------------------
def cjk_font() -> str | None:
    """The name of an installed font with CJK glyphs, or None (charts then use English)."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for path in CJK_FONT_FILES:  # the font cache may predate a freshly installed package
        if Path(path).is_file() and not any(
            f.fname == path for f in font_manager.fontManager.ttflist
        ):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
            known = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in known), None)


def charts(run: EvalRun) -> dict[str, str]:
    """Base64 PNGs: metrics per config, latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font()
    zh = font is not None
    rc = {"axes.unicode_minus": False}
    if font:
        rc |= {"font.family": "sans-serif", "font.sans-serif": [font, "DejaVu Sans"]}
    configs = list(run.summaries)
    out = {}
    with matplotlib.rc_context(rc):
        fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
        width = 0.8 / max(1, len(configs))
        for i, config in enumerate(configs):
            values = [run.summaries[config].get(k) or 0.0 for k in CHART_METRICS]
            xs = [x + i * width for x in range(len(CHART_METRICS))]
            ax.bar(xs, values, width=width, label=config)
        ax.set_xticks([x + width * (len(configs) - 1) / 2 for x in range(len(CHART_METRICS))])
        ax.set_xticklabels(CHART_METRICS, rotation=25, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(
            "各配置指标对比（误拒率越低越好）"
            if zh
            else "Metrics per config (false_refusal_rate: lower is better)"
        )
        ax.legend(ncol=len(configs), fontsize=9)
        out["metrics"] = _png(fig, plt)
        fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
        data = [[r["latency_ms"] for r in run.records[c]] for c in configs]
        ax.boxplot(data, showfliers=True)
        ax.set_xticks(range(1, len(configs) + 1), configs)
        ax.set_yscale("log")
        ax.set_ylabel("毫秒 / 题（对数轴）" if zh else "ms per question (log scale)")
        ax.set_title("每题延迟分布" if zh else "Latency per question")
        out["latency"] = _png(fig, plt)
    return out


def _png(fig: Any, plt: Any) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# ----- HTML ---------------------------------------------------------------------------------
_CSS = """body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;
margin:2em auto;max-width:1200px;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}.small{font-size:90%;color:#555}
details{margin:.2em 0}.fail{color:#b00}blockquote{margin:.3em 0;padding-left:.6em;
border-left:3px solid #ddd;white-space:pre-wrap}img{max-width:100%}
table.wide{width:100%;table-layout:fixed}table.wide td{word-break:break-all}"""
_NOTES = """<h2>指标说明</h2><ul class='small'>
<li>检索指标（可答题）：片段包含任一 gold 证据（忽略空白）即为相关；
hit@k、recall@k（gold 证据被前 k 个片段覆盖的比例）、MRR@10、
nDCG@10（二元增益，理想排序按语料中相关片段数计）。追问题用改写后的问题检索。</li>
<li>要点覆盖率：回答中出现的 key_points 比例（“a|b”任一写法即可）；拒答记 0。</li>
<li>忠实度（系统自评）即 Answer.faithfulness；忠实度（独立复算）：
每句去掉 [n] 后须是所引片段的子串，或字符二元组召回率 ≥ 0.7；两者只统计未拒答的回答。
引用精确率：（句子, 所引片段）对中该片段单独支持该句的比例；
引用召回率：gold 证据出现在所引片段中的比例。</li>
<li>拒答召回率：不可答题被拒答的比例；误拒率：可答题被拒答的比例（越低越好）。
延迟为每题 ask 的耗时（每个配置先预热一次）。</li>
<li>vanilla 不看追问历史与维度/路径过滤，从不拒答；
它的片段约 1000 字（本系统约 150–500 字），命中率因此偏易。</li>
</ul>"""


def render_html(run: EvalRun) -> str:
    e = html.escape
    configs = list(run.summaries)
    images = charts(run)
    parts = [
        "<!DOCTYPE html><html lang='zh'><head><meta charset='utf-8'>",
        f"<title>cityqa 评测报告</title><style>{_CSS}</style></head><body>",
        "<h1>cityqa 评测报告 / evaluation report</h1>",
        f"<p class='small'>评测集 {e(run.dataset)}，{len(run.items)} 题；"
        f"用时 {run.seconds:.1f} 秒。</p><h2>配置</h2><ul>",
        *[f"<li><b>{e(c)}</b>：{e(run.descriptions.get(c, ''))}</li>" for c in configs],
        "</ul><h2>指标对比</h2><table><tr><th>指标</th>",
        *[f"<th>{e(c)}</th>" for c in configs],
        "</tr>",
    ]
    for metric in metric_names(run):
        cells = "".join(
            f"<td class='num'>{e(fmt(run.summaries[c].get(metric), metric))}</td>" for c in configs
        )
        parts.append(f"<tr><td>{e(LABELS.get(metric, metric))}</td>{cells}</tr>")
    failed = "".join(f"<td class='num'>{run.summaries[c]['failed']}</td>" for c in configs)
    parts.append(f"<tr><td>失败题数</td>{failed}</tr></table>")
    parts.append(f"<img alt='metrics' src='data:image/png;base64,{images['metrics']}'>")
    parts.append(f"<img alt='latency' src='data:image/png;base64,{images['latency']}'>")
    parts.append(_type_table(run) + _kind_table(run) + _tagging_table(run))
    parts.append(_NOTES)
    for i, config in enumerate(configs):
        parts.append(_failures(config, run.records[config], open_=i == 0))
    parts.append("</body></html>")
    return "\n".join(parts)


def _tagging_table(run: EvalRun) -> str:
    """Precision / recall / F1 of the taxonomy tagger per label, against blind labels."""
    if not run.tagging:
        return ""
    t = run.tagging
    rows = "".join(
        f"<tr><td>{html.escape(s['label'])}</td><td class='num'>{s['precision']:.3f}</td>"
        f"<td class='num'>{s['recall']:.3f}</td><td class='num'>{s['f1']:.3f}</td>"
        f"<td class='num'>{s['support']}</td></tr>"
        for s in t["labels"]
    )
    return (
        f"<h2>维度/路径标签（{t['passages']} 个人工标注的测试片段）</h2>"
        "<table><tr><th>标签</th><th>精确率</th><th>召回率</th><th>F1</th><th>正例数</th></tr>"
        f"{rows}</table><p class='small'>宏平均 F1 {t['macro_f1']:.3f}（5 折留出：每折的片段由"
        f"未见过它们的分类器打标签，训练用 {t.get('training_passages', 0)} 个训练片段和其余各折）；"
        f"无分类器时的描述相似度回退 {t['fallback_macro_f1']:.3f}。</p>"
    )


def _type_table(run: EvalRun) -> str:
    e = html.escape
    configs = list(run.summaries)
    rows = [
        "<h2>按题型</h2><p class='small'>单元格：要点覆盖率（可答题）/ 拒答比例 / 失败题数</p>",
        "<table><tr><th>题型</th><th>题数</th>",
        *[f"<th>{e(c)}</th>" for c in configs],
        "</tr>",
    ]
    for kind, per_config in by_type(run).items():
        n = next(iter(per_config.values()))["n"]
        cells = "".join(
            f"<td class='num'>{fmt(per_config[c]['key_point_coverage'])} / "
            f"{fmt(per_config[c]['refused'])} / {per_config[c]['failed']}</td>"
            for c in configs
        )
        rows.append(f"<tr><td>{e(kind)}</td><td class='num'>{n}</td>{cells}</tr>")
    rows.append("</table>")
    return "".join(rows)


KIND_METRICS = (
    ("hit@5", "hit@5"),
    ("key_point_coverage", "要点覆盖率"),
    ("faithfulness", "忠实度"),
    ("refusal_recall", "拒答召回率"),
    ("false_refusal_rate", "误拒率"),
)


def _kind_table(run: EvalRun) -> str:
    e = html.escape
    configs = list(run.summaries)
    head = "".join(f"<th>{e(c)}</th>" for c in configs)
    rows = [
        "<h2>按文档类型</h2><p class='small'>题目所依据的文档类型；"
        + (
            f"跳过 {len(run.skipped)} 题：{e(next(iter(run.skipped.values())))}"
            if run.skipped
            else ""
        )
        + "</p><table><tr><th>文档类型</th><th>指标</th>"
        + head
        + "</tr>",
    ]
    for kind, per_config in by_doc_kind(run).items():
        n = next(iter(per_config.values()))["items"]
        for key, label in KIND_METRICS:
            cells = "".join(f"<td class='num'>{fmt(per_config[c].get(key))}</td>" for c in configs)
            rows.append(f"<tr><td>{e(kind)}（{n} 题）</td><td>{e(label)}</td>{cells}</tr>")
    rows.append("</table>")
    return "".join(rows)


def _failures(config: str, records: list[dict[str, Any]], open_: bool) -> str:
    e = html.escape
    failed = [r for r in records if r["failures"]]
    head = f"<details{' open' if open_ else ''}><summary><b>{e(config)}</b>：失败 {len(failed)} 题"
    rows = [
        f"<h2>失败题目 — {e(config)}</h2>{head}</summary>",
        "<table class='wide'><col style='width:24%'><col style='width:12%'>"
        "<col style='width:38%'><col style='width:26%'>"
        "<tr><th>题目</th><th>期望要点</th><th>回答</th><th>引用片段</th></tr>",
    ]
    for r in failed:
        question = (
            f"<b>{e(r['id'])}</b> <span class='small'>[{e(r['type'])}]</span> {e(r['question'])}"
        )
        for turn in r.get("history", []):
            question += f"<div class='small'>前一问：{e(turn)}</div>"
        if r.get("filters"):
            shown = "，".join(f"{k}={v}" for k, v in r["filters"].items())
            question += f"<div class='small'>过滤：{e(shown)}</div>"
        if r.get("rewritten_question"):
            question += f"<div class='small'>改写：{e(r['rewritten_question'])}</div>"
        reasons = "".join(f"<div class='fail'>{e(x)}</div>" for x in r["failures"])
        keys = e(" ; ".join(r["key_points"])) if r["answerable"] else "（应拒答）"
        cited = "".join(
            f"<details><summary>[{c['n']}] {e(c['section'] or '')}</summary>"
            f"<blockquote>{e(c['text'])}</blockquote></details>"
            for c in r["citations"]
        )
        rows.append(
            f"<tr><td>{question}{reasons}</td><td>{keys}</td>"
            f"<td><blockquote>{e(r['answer'])}</blockquote></td><td>{cited or '–'}</td></tr>"
        )
    rows.append("</table></details>")
    return "".join(rows)
