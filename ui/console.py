"""Terminal rendering for the CLI: progress bars and summary tables (rich)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

_STATUS_ZH = {"ingested": "已入库", "unchanged": "未变化", "failed": "失败", "pruned": "已移除"}


class RichIngestProgress:
    """Implements ``ingest.pipeline.IngestProgress`` with two bars, files and chunks, each with
    the time taken and an estimate of the time left."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("剩余"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._files = self._progress.add_task("文件", total=0)
        self._chunks = self._progress.add_task("向量化片段", total=0, visible=False)
        # Without a terminal (a log, CI) no bar is drawn: a plain line says how far it is.
        self._plain = not console.is_terminal
        self._console = console
        self._started = time.monotonic()
        self._last_line = self._started
        self._done = 0
        self._total = 0

    def __enter__(self) -> RichIngestProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, total_files: int) -> None:
        self._progress.update(self._files, total=total_files)
        self._total, self._started = total_files, time.monotonic()
        self._last_line = self._started

    def file_started(self, source: str) -> None:
        self._progress.update(self._files, description=f"文件 {source[:40]}")

    def chunks_embedded(self, done: int, total: int) -> None:
        self._progress.update(self._chunks, completed=done, total=total, visible=True)

    def file_finished(self, source: str, status: str) -> None:
        self._progress.advance(self._files)
        self._progress.update(self._chunks, visible=False)
        self._done += 1
        now = time.monotonic()
        if self._plain and now - self._last_line >= PLAIN_PROGRESS_EVERY_S:
            self._last_line = now
            self._console.print(progress_line(self._done, self._total, now - self._started))

    def message(self, text: str) -> None:
        self._progress.console.print(text, highlight=False)


PLAIN_PROGRESS_EVERY_S = 30.0


def progress_line(done: int, total: int, elapsed_s: float) -> str:
    """ "入库进度：120/3423 个文件，已用 2:01，预计还需 55:10" (the rate so far, extrapolated)."""
    left = elapsed_s / done * (total - done) if done else 0.0
    return f"入库进度：{done}/{total} 个文件，已用 {_clock(elapsed_s)}，预计还需 {_clock(left)}"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def ingest_table(report: dict[str, Any]) -> Table:
    table = Table(title="入库结果 Ingest summary", show_lines=False)
    # Narrow terminals fold long names and reasons onto more lines instead of cutting them
    # ("…"); the footer repeats failures as plain lines as well.
    table.add_column("文件 File", overflow="fold", ratio=3)
    for col in ("状态 Status", "片段 Chunks", "秒 s"):
        table.add_column(col, no_wrap=True)
    table.add_column("说明 Notes", overflow="fold", ratio=4)
    for f in report["files"]:
        if f["status"] == "unchanged" and len(report["files"]) > 20:
            continue  # long runs: list only what happened
        notes = f["error"] or "；".join(f["warnings"])
        style = "red" if f["status"] == "failed" else None
        table.add_row(
            f["source"],
            _STATUS_ZH.get(f["status"], f["status"]),
            str(f["chunks"]),
            f"{f['seconds']:.1f}",
            notes,
            style=style,
        )
    return table


def ingest_footer(report: dict[str, Any]) -> str:
    head = (
        f"已入库 {report['ingested']} · 未变化 {report['unchanged']} · 失败 {report['failed']}"
        f" · 已移除 {report['pruned']}"
        f" ｜ 共 {report['documents']} 篇文档、{report['chunks']} 个片段"
        f" ｜ {report['seconds']:.1f} 秒 ｜ embedder {report['embedder']}"
    )
    if report["recovered_orphans"]:
        head += f"\n已清理上次中断留下的 {report['recovered_orphans']} 个残留片段。"
    if not report["changed"]:
        head += "\n索引已是最新，未做任何修改。(Index already up to date; nothing changed.)"
    if report.get("repaired"):
        head += f"\n已修复索引：{report['repaired']}"
    failed = [f for f in report["files"] if f["status"] == "failed"]
    if failed:
        head += "\n失败：\n" + "\n".join(f"  {f['source']}：{f['error']}" for f in failed)
    if report["skipped"]:
        reasons = report.get("skip_reasons", {})
        shown = [
            f"{name}（{reasons[name]}）" if name in reasons else name
            for name in report["skipped"][:20]
        ]
        more = f"\n  …另有 {len(report['skipped']) - 20} 个" if len(report["skipped"]) > 20 else ""
        head += "\n跳过：\n" + "\n".join(f"  {line}" for line in shown) + more
    return head


def stats_tables(stats: dict[str, Any]) -> list[Table]:
    summary = Table(title="索引概况 Index", show_header=False)
    summary.add_column()
    summary.add_column()
    for key, label in (
        ("documents", "文档"),
        ("chunks", "片段"),
        ("embedder", "Embedder"),
        ("index_dir", "索引目录"),
    ):
        summary.add_row(label, str(stats[key]))
    matrix = Table(title="维度 × 路径 片段数 (dimension x path chunk counts)")
    matrix.add_column("维度", no_wrap=True)
    paths = list(stats["paths"])
    for p in paths:  # "数字治理驱动" -> "数字治理" keeps the table within 80 columns
        matrix.add_column(p.removesuffix("驱动"), justify="right", no_wrap=True)
    matrix.add_column("合计", justify="right", no_wrap=True)
    for dim, row in stats["matrix"].items():
        matrix.add_row(dim, *(str(row[p]) for p in paths), str(stats["dimensions"][dim]))
    matrix.add_row("合计", *(str(stats["paths"][p]) for p in paths), str(stats["chunks"]))
    return [summary, matrix]


def print_answer(console: Console, answer: Any) -> None:
    """The answer, then its numbered sources with document, section and page."""
    if answer.notice:
        console.print(f"[yellow]⚠ {answer.notice}[/yellow]", highlight=False, markup=True)
    console.print(answer.text, highlight=False)
    if not answer.refused:
        console.print(f"\n[dim]忠实度 faithfulness {answer.faithfulness:.2f}[/dim]")
        for check in answer.unsupported:
            console.print(f"[yellow]未获引文支持：{check.text}（{check.reason}）[/yellow]")
    if answer.citations:
        console.print("\n[bold]来源 Sources[/bold]")
    for c in answer.citations:
        page = f" · 第 {c.page} 页" if c.page else ""
        tags = "/".join(c.dimensions + c.paths)
        section = f" {c.section}" if c.section and c.section != c.place else ""
        console.print(
            f"[{c.n}] {c.label}{section}{page} · 相关度 {c.score:.2f}"
            + (f" · {tags}" if tags else ""),
            highlight=False,
            markup=False,
        )
