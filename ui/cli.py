"""The ``cityqa`` command line. Every subcommand goes through ``rag.Assistant``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

DESCRIPTION = """cityqa — 城市数字化转型文档问答助手（离线、可溯源）
Document-grounded Q&A for urban digital transformation: every answer cites its passages."""

EPILOG = """示例 Examples:
  cityqa ingest                 # 将 corpus/ 入库（未变化的文件自动跳过）
  cityqa stats                  # 文档数、片段数与“维度 × 路径”分布
  cityqa ingest 政策.pdf --json  # 入库单个文件，输出 JSON 摘要

配置 Settings: 环境变量 CITYQA_*（如 CITYQA_HOME、CITYQA_EMBEDDER）或 TOML 文件，见 README。"""

err_console = Console(stderr=True)
out_console = Console()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    from rag.errors import CityQAError

    try:
        return int(args.handler(args) or 0)
    except CityQAError as exc:
        err_console.print(f"[red]错误：[/red]{exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("已中断。下次运行 cityqa ingest 会自动清理并补全。")
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cityqa",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(title="子命令 commands", metavar="COMMAND")
    _add_ingest(sub)
    _add_stats(sub)
    return parser


def _command(
    sub: Any, name: str, help_text: str, handler: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    cmd = sub.add_parser(name, help=help_text, description=help_text)
    cmd.set_defaults(handler=handler)
    return cmd


def _add_ingest(sub: Any) -> None:
    cmd = _command(
        sub, "ingest", "将文档入库（切分、打标签、向量化）/ ingest documents", run_ingest
    )
    cmd.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="文件或目录（默认 corpus/）/ files or folders (default: the corpus)",
    )
    cmd.add_argument(
        "--prune",
        action="store_true",
        help="移除已删除文件的片段 / drop chunks of files that are gone",
    )
    cmd.add_argument(
        "--rebuild",
        action="store_true",
        help="清空索引后重建（更换 embedder 时使用）/ rebuild from scratch",
    )
    cmd.add_argument("--json", action="store_true", help="以 JSON 输出摘要 / print JSON summary")


def _add_stats(sub: Any) -> None:
    cmd = _command(
        sub, "stats", "索引统计：文档、片段、维度×路径分布 / index statistics", run_stats
    )
    cmd.add_argument("--json", action="store_true", help="以 JSON 输出 / print JSON")


def run_ingest(args: argparse.Namespace) -> int:
    from rag import Assistant, Settings
    from rag.store import reset_index
    from ui.console import RichIngestProgress, ingest_footer, ingest_table

    settings = Settings()
    if args.rebuild:
        reset_index(settings)
    assistant = Assistant.open(settings, build_if_missing=False)
    with RichIngestProgress(err_console) as progress:
        report = assistant.ingest(args.paths or None, prune=args.prune, progress=progress)
    summary = report.to_dict()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        out_console.print(ingest_table(summary))
        out_console.print(ingest_footer(summary), highlight=False)
    return 1 if summary["failed"] else 0


def run_stats(args: argparse.Namespace) -> int:
    from rag import Assistant
    from ui.console import stats_tables

    assistant = Assistant.open(build_if_missing=False)
    stats = assistant.stats()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
    else:
        for table in stats_tables(stats):
            out_console.print(table)
        if not stats["chunks"]:
            out_console.print("索引为空：先运行 cityqa ingest。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
