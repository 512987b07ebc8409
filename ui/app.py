"""The Gradio web UI (``cityqa serve``): 问答, 知识地图 and 文档库 tabs plus the ``/ask`` API.

``build_app(assistant)`` returns the ``gr.Blocks`` (tests launch it directly); ``run_cli(args)``
is what ``cityqa serve`` runs. Per-user chat state lives in ``gr.State``; every string that
comes from a document or an answer is escaped before it reaches the page (``ui.render``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr

from rag.assistant import Assistant
from rag.errors import CityQAError
from ui import render
from ui.render import ALL, esc
from ui.serve import ThrottledLogin, is_loopback, load_accounts, refusal_message
from ui.service import UIService
from ui.startup import StartupClock
from ui.uploads import KIND_BY_SUFFIX

log = logging.getLogger(__name__)

TITLE = "cityqa · 城市数字化转型文档问答"
EXAMPLES = [
    "城市数字化转型包括哪三个维度？",
    "数字底座驱动路径包括哪些内容？",
    "数据要素驱动路径的主要做法是什么？",
    "那管理维度呢？",
]
READ_LIMIT = 8  # concurrent questions; the queue holds the rest (QUEUE_SIZE at most)
QUEUE_SIZE = 256
HIDDEN = "undocumented"  # UI events: callable by the page, not listed in the API docs
NO_FILE_CHOSEN = "请先选择要上传的文件"


def new_session() -> dict[str, Any]:
    return {"history": [], "display": [], "answers": []}


def user_error(message: str) -> gr.Error:
    """A mistake of the user's (an empty question, no file chosen): a Chinese toast, and no
    traceback in the server log, since nothing went wrong on the server. (Gradio 6 shows the
    toast's type, not this title; ``render.PAGE_CSS`` puts 提示 in its place.)"""
    return gr.Error(message, title="提示", print_exception=False)


def failure_text(exc: Exception) -> str:
    """What the page says of a failure: a ``CityQAError``'s message as it is, anything else
    as a short internal error (logged with its traceback)."""
    if isinstance(exc, CityQAError):
        return str(exc)
    log.exception("UI handler failed")
    return f"内部错误（{type(exc).__name__}），请查看服务端日志。"


@contextmanager
def user_errors() -> Iterator[None]:
    """Raise any failure as a toast with ``failure_text``."""
    try:
        yield
    except gr.Error:
        raise
    except CityQAError as exc:
        raise user_error(failure_text(exc)) from exc
    except Exception as exc:
        raise gr.Error(failure_text(exc), title="错误") from exc


def _filters(
    dimension: str | None,
    path: str | None,
    doc: str | None,
    doc_type: str | None = None,
    issuer: str | None = None,
    year: str | None = None,
) -> dict[str, str | None]:
    def given(value: str | None) -> str | None:
        return value if value and value != ALL else None

    return {
        "dimension": given(dimension),
        "path": given(path),
        "doc": given(doc),
        "doc_type": given(doc_type),
        "issuer": given(issuer),
        "year": given(year),
    }


def library_facets(docs: list[Any]) -> tuple[list[str], list[str], list[str]]:
    """The values the document-property pickers offer: 文种, 发文机关 and year, from the library."""
    types = sorted({d.doc_type for d in docs if d.doc_type})
    issuers = sorted({i for d in docs for i in d.issuers})
    years = sorted({d.date[:4] for d in docs if d.date[:4].isdigit()}, reverse=True)
    return [ALL, *types], [ALL, *issuers], [ALL, *years]


def _html(value: str = "", elem_id: str | None = None) -> gr.HTML:
    return gr.HTML(value, css_template=render.CSS, js_on_load=None, elem_id=elem_id)


def build_app(assistant: Assistant) -> gr.Blocks:
    """The whole web UI over one opened ``Assistant``."""
    service = UIService(assistant)
    taxonomy = assistant.taxonomy
    dims = [ALL, *(d.name for d in taxonomy.dimensions)]
    paths = [ALL, *(p.name for p in taxonomy.paths)]

    # ----- handlers ----------------------------------------------------------------------
    def ask_api(
        question: str,
        dimension: str = ALL,
        path: str = ALL,
        doc: str = ALL,
        doc_type: str = ALL,
        issuer: str = ALL,
        year: str = ALL,
    ) -> dict[str, Any]:
        """Answer a question with verified citations (the JSON schema of `cityqa ask --json`).
        dimension / path / doc: "全部" or a name (技术, 数字治理驱动, a document title or id);
        doc_type / issuer / year: "全部" or a document property (地方性法规, 国家数据局, 2024)."""
        with user_errors():
            filters = _filters(dimension, path, doc, doc_type, issuer, year)
            return service.ask(question, **filters).to_dict()

    def doc_choices() -> list[tuple[str, str]]:
        return [(ALL, ALL), *((render.document_choice(d), d.doc_id) for d in service.documents())]

    def respond(
        message: str,
        session: dict[str, Any],
        dimension: str,
        path: str,
        doc: str,
        doc_type: str = ALL,
        issuer: str = ALL,
        year: str = ALL,
    ) -> Iterator[tuple[Any, ...]]:
        keep = gr.update()
        with user_errors():
            question = (message or "").strip()
            if not question:
                raise user_error("请输入问题")
            display = [*session["display"], {"role": "user", "content": render.chat_safe(question)}]
            partial = ""
            answer = None
            for event in service.stream(
                question,
                session["history"],
                **_filters(dimension, path, doc, doc_type, issuer, year),
            ):
                if event.kind == "delta":
                    partial += event.text
                    shown = [*display, {"role": "assistant", "content": render.chat_safe(partial)}]
                    yield shown, session, "", keep, keep, keep, keep, keep
                else:
                    answer = event.answer
            assert answer is not None
            session = {
                "history": [
                    *session["history"],
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer.text},
                ],
                "display": [
                    *display,
                    {"role": "assistant", "content": render.chat_message(answer)},
                ],
                "answers": [*session["answers"], answer],
            }
            yield (
                session["display"],
                session,
                "",
                render.badge_html(answer),
                render.sources_html(answer),
                gr.update(choices=render.source_choices(answer), value=None),
                render.passage_html(None, []),
                render.answer_markdown(answer),
            )

    def open_source(choice: str | None, session: dict[str, Any]) -> str:
        answer = session["answers"][-1] if session["answers"] else None
        citation = render.find_citation(answer, choice)
        return render.passage_html(citation, answer.sentences if answer else [])

    def clear() -> tuple[Any, ...]:
        return (
            [],
            new_session(),
            "",
            "",
            render.sources_html(None),
            gr.update(choices=[], value=None),
            render.passage_html(None, []),
            "",
        )

    def matrix_value() -> Any:
        return render.matrix_frame(service.stats())

    def doc_paths_value() -> Any:
        return render.document_path_frame(service.stats())

    def doc_path_passages(doc_id: str, path: str) -> str:
        with user_errors():
            found = service.passages(**_filters(None, path, doc_id), limit=50)
        title = next((d.title for d in service.documents() if d.doc_id == doc_id), doc_id)
        heading = f"《{title}》 × 路径：{path or ALL}（前 {len(found)} 个片段）"
        return render.passages_html(found, heading)

    def pick_doc_cell(evt: gr.SelectData) -> str:
        row, col = evt.index
        rows = service.stats().get("documents_by_path", [])
        if row >= len(rows):
            return ""
        path = paths[1:][col - 1] if 1 <= col < len(paths) else ALL
        return doc_path_passages(rows[row]["doc_id"], path)

    def cell_passages(dimension: str, path: str) -> str:
        with user_errors():
            found = service.passages(**_filters(dimension, path, None), limit=50)
        heading = f"维度：{dimension or ALL} × 路径：{path or ALL}（前 {len(found)} 个片段）"
        return render.passages_html(found, heading)

    def pick_cell(evt: gr.SelectData) -> tuple[Any, Any, str]:
        row, col = evt.index
        dim = dims[1:][row] if row < len(dims) - 1 else ALL
        path = paths[1:][col - 1] if 1 <= col < len(paths) else ALL
        return dim, path, cell_passages(dim, path)

    def refresh() -> tuple[Any, ...]:
        choices = doc_choices()
        library = service.documents()
        types, issuers, years = library_facets(library)
        return (
            gr.update(value=render.document_rows(library)),
            gr.update(choices=choices),
            gr.update(choices=choices[1:], value=None),
            matrix_value(),
            None,  # clears the upload box
            gr.update(choices=types),
            gr.update(choices=issuers),
            gr.update(choices=years),
            doc_paths_value(),
        )

    def choose_files(files: list[str] | None) -> None:
        """Checked before the upload starts, in a plain event: Gradio shows an error raised
        inside a generator under the English title "Error", whatever its title."""
        if not files:
            raise user_error(NO_FILE_CHOSEN)

    def upload(files: list[str] | None) -> Iterator[str]:
        """Ingest the chosen files, streaming a Chinese progress line into the report.

        Gradio's own progress tracker prints fixed English ("processing |", "queue:"), so the
        event hides it and the work reports through this generator instead: ingest runs in a
        worker thread and each progress call becomes one update of the report. A failure is
        the report's last line (an error raised here would be titled "Error")."""
        if not files:
            yield render.upload_failure_html(NO_FILE_CHOSEN)
            return
        named = [(p, os.path.basename(p)) for p in files]
        updates: queue.SimpleQueue[tuple[float, str] | None] = queue.SimpleQueue()
        done: dict[str, Any] = {}

        def work() -> None:
            try:
                done["outcomes"] = service.upload(
                    named, lambda fraction, desc="": updates.put((fraction, desc))
                )
            except Exception as exc:
                done["error"] = failure_text(exc)
            finally:
                updates.put(None)

        yield render.upload_progress_html(0.0, f"准备入库 {len(named)} 个文件…")
        threading.Thread(target=work, name="cityqa-upload", daemon=True).start()
        while (update := updates.get()) is not None:
            yield render.upload_progress_html(*update)
        if "error" in done:
            yield render.upload_failure_html(done["error"])
        else:
            yield render.upload_report_html(done["outcomes"])

    def delete(doc_id: str | None) -> str:
        if not doc_id:
            raise user_error("请先选择要删除的文档")
        with user_errors():
            return f"<p>{esc(service.delete(doc_id))}</p>"

    def confirm_delete(doc_id: str | None) -> tuple[Any, str]:
        """Deleting is not undone by a click: name the document and ask first."""
        if not doc_id:
            raise user_error("请先选择要删除的文档")
        doc = next((d for d in service.documents() if d.doc_id == doc_id), None)
        if doc is None:
            raise user_error(f"文档 '{doc_id}' 不在资料库中")
        return gr.update(visible=True), render.delete_question(doc)

    def start_deleting() -> tuple[Any, str]:
        return gr.update(visible=False), "<p>正在删除…</p>"

    def hide_confirmation() -> Any:
        return gr.update(visible=False)

    # ----- layout --------------------------------------------------------------------------
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        session = gr.State(new_session())
        gr.Markdown(
            f"## {TITLE}\n回答只来自资料库中的文档，每句标注出处 [n] 并逐句核验；"
            "资料中没有的内容会直接说明“资料中未找到”。"
        )
        with gr.Tabs():
            with gr.Tab("问答", id="chat"), gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        label="对话",
                        height=460,
                        latex_delimiters=[],
                        feedback_options=None,
                        buttons=["copy"],
                        elem_id="cq-chat",
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            placeholder="输入问题，例如：城市数字化转型包括哪三个维度？",
                            show_label=False,
                            scale=5,
                            max_length=2000,
                            elem_id="cq-question",
                        )
                        send = gr.Button("提问", variant="primary", scale=1, elem_id="cq-send")
                    with gr.Row():
                        f_dim = gr.Dropdown(dims, value=ALL, label="维度")
                        f_path = gr.Dropdown(paths, value=ALL, label="路径", elem_id="cq-f-path")
                        f_doc = gr.Dropdown(
                            doc_choices(), value=ALL, label="文档", allow_custom_value=True
                        )
                    types, issuers, years = library_facets(service.documents())
                    with gr.Row():
                        f_type = gr.Dropdown(types, value=ALL, label="文种")
                        f_issuer = gr.Dropdown(issuers, value=ALL, label="发文机关")
                        f_year = gr.Dropdown(years, value=ALL, label="年份")
                    gr.Examples(EXAMPLES, inputs=question, label="示例问题")
                    clear_btn = gr.Button("清空对话", variant="secondary")
                    with gr.Accordion("导出本次回答（Markdown，可复制或下载）", open=False):
                        export = gr.Code(
                            language="markdown",
                            buttons=["copy", "download"],
                            wrap_lines=True,
                            show_line_numbers=False,
                            interactive=False,
                            elem_id="cq-export",
                        )
                with gr.Column(scale=2):
                    badge = _html(elem_id="cq-badge")
                    sources = _html(render.sources_html(None), "cq-sources")
                    source_pick = gr.Radio([], label="查看原文（选择来源编号）", elem_id="cq-pick")
                    passage = _html(render.passage_html(None, []), "cq-passage")
            with gr.Tab("知识地图", id="map"):
                gr.Markdown(
                    "“维度 × 路径”片段数。点击单元格（或用下拉框）查看该格的片段及其章节。\n\n"
                    "标签是多选的：一个片段可以同时属于几个维度和几条路径，也可以没有标签"
                    "（内容里没有依据时不强行归类）。所以一行的格子相加不等于该行的“合计”："
                    "行末“合计”是带该维度标签的片段数，末行“合计”是带该路径标签的片段数，"
                    "右下角是全部片段数。"
                )
                matrix = gr.Dataframe(
                    matrix_value(),
                    interactive=False,
                    label="维度 × 路径 片段数",
                    elem_id="cq-matrix",
                    buttons=[],  # Gradio labels them only in English
                )
                with gr.Row():
                    m_dim = gr.Dropdown(dims, value=ALL, label="维度")
                    m_path = gr.Dropdown(paths, value=ALL, label="路径")
                cell = _html(elem_id="cq-cell")
                gr.Markdown("“文档 × 路径”片段数：每份文档讲到哪些路径。点击单元格查看片段。")
                doc_paths = gr.Dataframe(
                    doc_paths_value(),
                    interactive=False,
                    label="文档 × 路径 片段数",
                    wrap=True,
                    elem_id="cq-doc-paths",
                    buttons=[],  # Gradio labels them only in English
                )
                doc_cell = _html(elem_id="cq-doc-cell")
            with gr.Tab("文档库", id="library"):
                docs = gr.Dataframe(
                    render.document_rows(service.documents()),
                    headers=render.DOCUMENT_HEADERS,
                    interactive=False,
                    label="资料库中的文档",
                    wrap=True,
                    elem_id="cq-docs",
                    buttons=[],  # Gradio labels them only in English
                )
                kinds = "、".join(sorted({s.lstrip(".").upper() for s in KIND_BY_SUFFIX}))
                files = gr.File(
                    file_count="multiple",
                    elem_id="cq-files",
                    # No file_types: Gradio would reject other types with an English
                    # message; ui.uploads rejects them in Chinese (and checks the content).
                    label=f"上传文档（{kinds}；单个不超过 {assistant.settings.max_upload_mb} MB）",
                )
                upload_btn = gr.Button("上传并入库", variant="primary", elem_id="cq-upload")
                upload_report = _html(elem_id="cq-upload-report")
                with gr.Row():
                    delete_pick = gr.Dropdown(
                        doc_choices()[1:],
                        value=None,
                        label="选择要删除的文档",
                        allow_custom_value=True,
                        elem_id="cq-delete-pick",
                        scale=3,
                    )
                    delete_btn = gr.Button("删除文档", variant="stop", scale=1)
                with gr.Row(visible=False, elem_id="cq-confirm") as confirm_row:
                    confirm_text = _html()
                    confirm_btn = gr.Button("确认删除", variant="stop", elem_id="cq-confirm-delete")
                    cancel_btn = gr.Button("取消")
                delete_report = _html(elem_id="cq-delete-report")

        # ----- events ----------------------------------------------------------------------
        # Gradio's own progress tracker prints fixed English ("processing |", "queue: 1/2"), so
        # every event hides it: the chat streams its answer, the upload streams its progress,
        # and the other events are quick reads.
        quiet: dict[str, Any] = {"api_visibility": HIDDEN, "show_progress": "hidden"}
        chat_outputs = [chatbot, session, question, badge, sources, source_pick, passage, export]
        chat_inputs = [question, session, f_dim, f_path, f_doc, f_type, f_issuer, f_year]
        for trigger in (question.submit, send.click):
            trigger(respond, chat_inputs, chat_outputs, **quiet)
        source_pick.change(open_source, [source_pick, session], passage, **quiet)
        clear_btn.click(clear, None, chat_outputs, **quiet)
        matrix.select(pick_cell, None, [m_dim, m_path, cell], **quiet)
        for dd in (m_dim, m_path):
            dd.input(cell_passages, [m_dim, m_path], cell, **quiet)
        doc_paths.select(pick_doc_cell, None, doc_cell, **quiet)
        refresh_outputs = [
            *(docs, f_doc, delete_pick, matrix, files),
            *(f_type, f_issuer, f_year, doc_paths),
        ]
        demo.load(refresh, None, refresh_outputs, **quiet)
        writes = {"concurrency_limit": 1, "concurrency_id": "library", "show_progress": "hidden"}
        # A new attempt clears the last report, so an old 已入库 never stands beside a new error.
        upload_btn.click(lambda: "", None, upload_report, **quiet).then(
            choose_files, files, None, **quiet
        ).success(upload, files, upload_report, api_name="upload", **writes).then(
            refresh, None, refresh_outputs, **quiet
        )
        delete_btn.click(confirm_delete, delete_pick, [confirm_row, confirm_text], **quiet)
        cancel_btn.click(hide_confirmation, None, confirm_row, **quiet)
        confirm_btn.click(start_deleting, None, [confirm_row, delete_report], **quiet).then(
            delete, delete_pick, delete_report, api_name="delete_document", **writes
        ).then(refresh, None, refresh_outputs, **quiet)
        gr.api(ask_api, api_name="ask")
    demo.queue(default_concurrency_limit=READ_LIMIT, max_size=QUEUE_SIZE)
    return demo


def launch(demo: gr.Blocks, assistant: Assistant, **kwargs: Any) -> Any:
    """``demo.launch`` with the settings every cityqa server uses."""
    kwargs.setdefault("max_file_size", f"{assistant.settings.max_upload_mb}mb")
    if isinstance(kwargs.get("auth"), list):  # accounts: checked through the throttle
        kwargs["auth"] = _login(kwargs["auth"], assistant.settings)
    return demo.launch(
        show_error=True,
        css=render.PAGE_CSS,  # page-wide rules (toasts); components carry their own
        footer_links=["api"],
        ssr_mode=False,
        mcp_server=False,
        auth_message="cityqa：请输入账号和密码",
        **kwargs,
    )


def _login(accounts: list[tuple[str, str]], settings: Any) -> ThrottledLogin:
    return ThrottledLogin(
        accounts,
        max_failures=settings.login_max_failures,
        lockout_s=settings.login_lockout_s,
        delay_s=settings.login_failure_delay_s,
    )


def run_cli(args: argparse.Namespace) -> int:
    """``cityqa serve``: refuse an open bind without auth, build the index, then serve."""
    from ui.cli import _open_assistant, err_console

    try:
        accounts = load_accounts(args.auth, args.auth_file)
    except CityQAError as exc:
        err_console.print(f"[red]错误：[/red]{exc}", highlight=False)
        return 2
    if not is_loopback(args.host) and not accounts:
        err_console.print(f"[red]{refusal_message(args.host)}[/red]", highlight=False)
        return 2
    clock = getattr(args, "clock", None) or StartupClock(lambda _: None)
    assistant = _open_assistant()
    clock.done("已打开索引与向量模型")
    home = assistant.settings.home
    os.environ.setdefault("GRADIO_TEMP_DIR", str(home / "tmp" / "gradio"))  # uploads stay in home
    with contextlib.suppress(CityQAError):  # load the embedder and caches before first use
        assistant.ask(EXAMPLES[0])
    clock.done("已预热检索与分词")
    demo = build_app(assistant)
    try:
        launch(
            demo,
            assistant,
            server_name=args.host,
            server_port=args.port,
            auth=accounts or None,
            prevent_thread_lock=True,
            quiet=True,
        )
    except OSError as exc:
        reason = "端口已被占用" if "empty port" in str(exc) else str(exc)
        err_console.print(
            f"[red]无法在 {args.host}:{args.port} 启动：{reason}。请用 --port 换一个端口。[/red]",
            highlight=False,
        )
        return 1
    host = f"[{args.host}]" if ":" in args.host else args.host
    err_console.print(
        f"已就绪（自进程启动 {clock.elapsed:.1f} 秒）：http://{host}:{args.port}"
        + ("（需登录）" if accounts else "")
        + "  按 Ctrl+C 停止。",
        highlight=False,
    )
    demo.block_thread()  # until Ctrl+C; closes the server
    return 0
