"""The web UI: rendering helpers, ``cityqa serve`` options, and the live server's API.

The server tests launch ``build_app`` on a free loopback port over a real index of the
bundled corpus and talk to it with ``gradio_client`` exactly as an API user would.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS_DIR, PAPER_TITLE, make_settings, open_with_embedder

from rag.assistant import Assistant
from rag.errors import ConfigError
from rag.types import Answer, Citation, SentenceCheck
from ui import render
from ui.cli import main
from ui.serve import is_loopback, load_accounts

QUESTION = "城市数字化转型包括哪三个维度？"
ANSWER_KEYS = {"question", "answer", "refused", "faithfulness", "citations", "timings_ms"}
ANSWER_KEYS |= {"relevance", "low_relevance"}
CITATION_KEYS = {"n", "doc_title", "source", "section", "page", "text", "score"}
CITATION_KEYS |= {"dimensions", "paths"}
CITATION_KEYS |= {"doc_number", "issuers", "doc_type", "date", "article", "item", "label"}


# ----- a live server -----------------------------------------------------------------------
@dataclass
class Server:
    url: str
    assistant: Assistant
    demo: Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ui_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh $CITYQA_HOME; Gradio's upload cache lives inside it too."""
    home = tmp_path_factory.mktemp("ui-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_TEMP_DIR", str(home / "tmp" / "gradio"))
        yield home


def start_server(assistant: Assistant, **launch_kwargs: Any) -> Server:
    from ui.app import build_app, launch

    demo = build_app(assistant)
    port = free_port()
    launch(
        demo,
        assistant,
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **launch_kwargs,
    )
    return Server(f"http://127.0.0.1:{port}/", assistant, demo)


def open_corpus_assistant(embedder: Any, home: Path) -> Assistant:
    """``Assistant.open`` on a fresh home, building the bundled corpus index (~3 s)."""
    assistant = open_with_embedder(embedder, make_settings(home, CORPUS_DIR))
    assistant.ingest([CORPUS_DIR])
    return assistant


@pytest.fixture(scope="module")
def server(ui_home: Path, embedder: Any) -> Iterator[Server]:
    srv = start_server(open_corpus_assistant(embedder, ui_home))
    yield srv
    srv.demo.close()


@pytest.fixture(scope="module")
def client(server: Server) -> Any:
    from gradio_client import Client

    return Client(server.url, verbose=False)


def ask(client: Any, question: str, dimension: str = "全部", path: str = "全部") -> dict:
    result = client.predict(question, dimension, path, api_name="/ask")
    return result if isinstance(result, dict) else json.loads(result)


# ----- /ask ------------------------------------------------------------------------------
@pytest.mark.slow
def test_ask_returns_cli_schema(client: Any) -> None:
    data = ask(client, QUESTION)
    assert set(data) == ANSWER_KEYS
    assert not data["refused"] and "[1]" in data["answer"]
    assert data["citations"] and set(data["citations"][0]) == CITATION_KEYS
    assert data["citations"][0]["doc_title"] == PAPER_TITLE


@pytest.mark.slow
def test_ask_with_filters(client: Any) -> None:
    data = ask(client, "数字底座驱动路径包括哪些内容？", "技术", "数字底座驱动")
    assert data["citations"]
    for c in data["citations"]:
        assert "技术" in c["dimensions"] and "数字底座驱动" in c["paths"]
    one_doc = client.predict(QUESTION, "全部", "全部", PAPER_TITLE, api_name="/ask")
    assert {c["doc_title"] for c in one_doc["citations"]} == {PAPER_TITLE}
    # Document properties: 文种 and year pickers reach the same filters as the CLI.
    args = ("数据要素市场怎么建设？", "全部", "全部", "全部")
    policies = client.predict(*args, "部门规范性文件", "全部", "全部", api_name="/ask")
    assert policies["citations"]
    assert all(c["doc_type"] == "部门规范性文件" for c in policies["citations"])
    in_2024 = client.predict(*args, "全部", "全部", "2024", api_name="/ask")
    assert in_2024["citations"] and all(c["date"].startswith("2024") for c in in_2024["citations"])
    alias = ask(client, "数字底座驱动路径包括哪些内容？", "technology", "infrastructure")
    assert [c["section"] for c in alias["citations"]] == [c["section"] for c in data["citations"]]


@pytest.mark.slow
def test_ask_refuses_unsupported_question(client: Any) -> None:
    data = ask(client, "火星移民计划的预算是多少？")
    assert data["refused"] and data["answer"].startswith("资料中未找到")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "dimension", "message"),
    [("   ", "全部", "问题不能为空"), (QUESTION, "火星", "未知的维度")],
)
def test_ask_invalid_input_is_a_chinese_error(
    client: Any, question: str, dimension: str, message: str
) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        ask(client, question, dimension)


@pytest.mark.slow
def test_twenty_concurrent_users(server: Server) -> None:
    from gradio_client import Client

    questions = [QUESTION, "数字底座驱动路径包括哪些内容？", "管理维度包括哪些环节？"]
    results: list[Any] = [None] * 20
    clients = [Client(server.url, verbose=False) for _ in range(20)]
    barrier = threading.Barrier(20)

    def user(i: int) -> None:
        barrier.wait()
        try:
            results[i] = ask(clients[i], questions[i % 3])
        except Exception as exc:  # recorded and asserted below
            results[i] = exc

    threads = [threading.Thread(target=user, args=(i,)) for i in range(20)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    elapsed = time.perf_counter() - started
    errors = [r for r in results if not isinstance(r, dict)]
    assert not errors, errors
    assert all(not r["refused"] and "[1]" in r["answer"] for r in results)
    assert elapsed < 60


# ----- library: upload, ask, delete ----------------------------------------------------------
WATER_DOC = """# 青岚市智慧水务建设方案

## 一、建设目标

青岚市计划在三年内建成覆盖全市的智慧水务感知网络，部署一万二千个水压传感器，实现供水管网漏损率下降到百分之八以下。

## 二、数据共享

水务数据统一汇聚到城市数据资源平台，按照数据要素市场化配置的要求向社会有序开放。
"""


@pytest.mark.slow
def test_upload_then_ask_then_delete(server: Server, client: Any, tmp_path: Path) -> None:
    from gradio_client import handle_file

    settings = server.assistant.settings
    before = {d.doc_id for d in server.assistant.documents()}
    source = tmp_path / "青岚市智慧水务.md"
    source.write_text(WATER_DOC, encoding="utf-8")
    report = client.predict([handle_file(str(source))], api_name="/upload")
    assert "已入库" in report, report
    stored = settings.library_dir / "青岚市智慧水务.md"
    assert stored.read_text(encoding="utf-8") == WATER_DOC
    added = [d for d in server.assistant.documents() if d.doc_id not in before]
    assert [d.title for d in added] == ["青岚市智慧水务建设方案"]

    data = ask(client, "青岚市部署了多少个水压传感器？")
    assert not data["refused"], data
    assert data["citations"][0]["doc_title"] == "青岚市智慧水务建设方案"
    assert "一万二千个水压传感器" in data["answer"]

    again = client.predict([handle_file(str(source))], api_name="/upload")
    assert "内容相同" in again and len(server.assistant.documents()) == len(before) + 1

    assert "已删除" in client.predict(added[0].doc_id, api_name="/delete_document")
    assert {d.doc_id for d in server.assistant.documents()} == before
    assert not stored.exists()
    after = ask(client, "青岚市部署了多少个水压传感器？")
    assert all(c["doc_title"] != "青岚市智慧水务建设方案" for c in after["citations"])


@pytest.mark.slow
def test_upload_streams_chinese_progress_instead_of_gradios_tracker(
    server: Server, tmp_path: Path
) -> None:
    from gradio_client import Client, handle_file

    (upload,) = [d for d in server.demo.config["dependencies"] if d.get("api_name") == "upload"]
    assert upload["show_progress"] == "hidden"  # Gradio's tracker text is fixed English
    source = tmp_path / "青岚市智慧照明.md"
    source.write_text("# 青岚市智慧照明方案\n\n青岚市改造路灯八千盏。\n", encoding="utf-8")
    job = Client(server.url, verbose=False).submit([handle_file(str(source))], api_name="/upload")
    job.result(timeout=120)
    reports = [str(o) for o in job.outputs()]
    assert any("准备入库" in r and "<progress" in r for r in reports[:-1]), reports
    assert "青岚市智慧照明.md：已入库" in reports[-1], reports
    (doc,) = [d for d in server.assistant.documents() if d.title == "青岚市智慧照明方案"]
    server.assistant.delete_document(doc.doc_id)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("伪装.pdf", "这其实是文本".encode(), "内容与扩展名不符"),
        ("损坏.pdf", b"%PDF-1.4\nthis is not really a pdf\n", "入库失败"),
        ("程序.exe", b"MZ\x90\x00", "不支持的文件类型"),
    ],
)
def test_failed_upload_leaves_library_unchanged(
    server: Server, client: Any, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    from gradio_client import handle_file

    library = server.assistant.settings.library_dir
    files_before = sorted(library.glob("*")) if library.exists() else []
    docs_before = server.assistant.documents()
    path = tmp_path / name
    path.write_bytes(data)
    report = client.predict([handle_file(str(path))], api_name="/upload")
    assert message in report, report
    assert (sorted(library.glob("*")) if library.exists() else []) == files_before
    assert server.assistant.documents() == docs_before


@pytest.mark.slow
def test_delete_unknown_document_is_an_error(client: Any) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="不在资料库中"):
        client.predict("no-such-doc", api_name="/delete_document")


# ----- auth --------------------------------------------------------------------------------
@pytest.mark.slow
def test_auth_is_required_when_set(server: Server) -> None:
    from gradio_client import Client

    protected = start_server(server.assistant, auth=[("admin", "s3cret")])
    try:
        with pytest.raises(Exception):  # noqa: B017 - any refusal (401 / ValueError) will do
            Client(protected.url, verbose=False).predict(QUESTION, api_name="/ask")
        with pytest.raises(Exception):  # noqa: B017
            Client(protected.url, auth=("admin", "wrong"), verbose=False)
        authed = Client(protected.url, auth=("admin", "s3cret"), verbose=False)
        assert "[1]" in ask(authed, QUESTION)["answer"]
    finally:
        protected.demo.close()


# ----- cityqa serve options (no server needed) ------------------------------------------------
def test_serve_refuses_open_bind_without_auth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert "拒绝启动" in err and "--auth" in err


def test_serve_rejects_bad_auth_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--auth", "no-colon"]) == 2
    assert "USER:PASS" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_load_accounts(tmp_path: Path) -> None:
    auth_file = tmp_path / "users.txt"
    auth_file.write_text("# 账号\nalice:pa:ss\n\n bob:secret \n", encoding="utf-8")
    assert load_accounts("root:x", auth_file) == [
        ("root", "x"),
        ("alice", "pa:ss"),
        ("bob", "secret"),
    ]
    assert load_accounts(None, None) == []
    with pytest.raises(ConfigError, match="第 1 行"):
        bad = tmp_path / "bad.txt"
        bad.write_text("nocolon\n", encoding="utf-8")
        load_accounts(None, bad)
    with pytest.raises(ConfigError, match="无法读取"):
        load_accounts(None, tmp_path / "missing.txt")


# ----- rendering -------------------------------------------------------------------------------
def _citation(n: int, text: str, **extra: Any) -> Citation:
    values: dict[str, Any] = {
        "n": n,
        "doc_id": "d",
        "doc_title": "<b>标题</b>",
        "source": "x.md",
        "section": "1 背景",
        "page": 3,
        "text": text,
        "score": 0.81,
        "dimensions": ["技术"],
        "paths": ["数字底座驱动"],
    }
    values.update(extra)
    return Citation(**values)


def test_passage_html_escapes_and_marks_supporting_sentence() -> None:
    text = "第一句<script>alert(1)</script>。城市数字化转型包括三个维度。最后一句 ${x} {{y}}。"
    citation = _citation(1, text)
    sentences = [SentenceCheck("根据资料：城市数字化转型包括三个维度。[1]", [1], True, 1.0)]
    out = render.passage_html(citation, sentences)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<mark>城市数字化转型包括三个维度。</mark>" in out
    assert "${" not in out and "{{" not in out
    assert "&lt;b&gt;标题&lt;/b&gt;" in out


def test_highlight_falls_back_to_similar_sentence_for_paraphrases() -> None:
    text = "数据要素驱动路径强调数据共享与开放。其他内容与此无关，讲的是交通。"
    spans = render.highlight_spans(text, ["数据要素驱动路径重视数据的共享和开放"])
    assert [text[s:e] for s, e in spans] == ["数据要素驱动路径强调数据共享与开放。"]
    assert render.highlight_spans(text, ["完全无关的句子内容在这里"]) == []


@pytest.mark.parametrize(
    "caption", ["图3 城市数字化转型总体架构", "表 2-1 城市数字化转型总体架构", "附图1 总体架构示意"]
)
def test_highlight_never_marks_a_caption_for_a_paraphrase(caption: str) -> None:
    text = f"{caption}\n城市数字化转型总体架构包括技术、业务和管理三个维度。"
    spans = render.highlight_spans(text, ["城市数字化转型的总体架构分为技术、业务、管理三个维度"])
    assert [text[s:e] for s, e in spans] == ["城市数字化转型总体架构包括技术、业务和管理三个维度。"]
    # Quoted verbatim, a caption is what the answer says, and is marked.
    assert render.highlight_spans(text, [caption]) == [(0, len(caption))]


def test_highlight_ignores_whitespace_differences() -> None:
    text = "城市数字化\n转型包括三个维度。"
    assert render.highlight_spans(text, ["城市数字化转型包括三个维度。"]) == [(0, len(text))]


def _answer(refused: bool = False) -> Answer:
    return Answer(
        question="问题？",
        text="根据资料：<img src=x onerror=alert(1)>是[1]" if not refused else "资料中未找到。",
        citations=[_citation(1, "<img src=x onerror=alert(1)>是")],
        refused=refused,
        faithfulness=1.0,
        sentences=[] if refused else [SentenceCheck("根据资料：是[1]", [1], True, 1.0)],
    )


def test_chat_and_sources_are_escaped() -> None:
    answer = _answer()
    chat = render.chat_message(answer)
    assert "<img" not in chat and "&lt;img" in chat and "\\[1\\]" in chat
    assert "忠实度 100%（1/1 句有引文支持）" in chat
    sources = render.sources_html(answer)
    assert "<b>标题</b>" not in sources and "第 3 页" in sources and "相关度 0.81" in sources
    assert "数字底座驱动" in sources and "来源" in sources
    assert "cq-good" in render.badge_html(answer)


def test_reference_marks_render_as_superscripts_and_empty_places_are_left_out() -> None:
    citation = _citation(1, "如上海成立领导小组[^4]。", section="", page=1)
    view = render.passage_html(citation, [])
    assert '<sup class="cq-fn">4</sup>' in view and "[^4]" not in view
    answer = _answer()
    answer.citations = [citation]
    card = render.sources_html(answer)
    assert '<div class="cq-meta">第 1 页 · 相关度 0.81 · x.md</div>' in card


def test_refusal_is_plain() -> None:
    answer = _answer(refused=True)
    assert "未作答：资料中未找到" in render.chat_message(answer)
    assert "可能相关的片段" in render.sources_html(answer)
    assert "cq-none" in render.badge_html(answer)


def test_answer_markdown_export() -> None:
    md = render.answer_markdown(_answer())
    assert md.startswith("## 问：问题？")
    assert "### 来源" in md and "[1] 《<b>标题</b>》1 背景 · 第 3 页" in md
    assert "  > <img src=x onerror=alert(1)>是" in md  # plain text for copying, not rendered


def test_document_path_rows_count_each_document_and_its_untagged_chunks() -> None:
    stats = {
        "paths": {"数据要素驱动": 4, "数字生活驱动": 1},
        "documents_by_path": [
            {
                "doc_id": "a",
                "title": "甲条例",
                "paths": {"数据要素驱动": 3, "数字生活驱动": 0},
                "untagged": 2,
                "chunks": 5,
            },
            {
                "doc_id": "b",
                "title": "乙意见",
                "paths": {"数据要素驱动": 1, "数字生活驱动": 1},
                "untagged": 0,
                "chunks": 1,
            },
        ],
    }
    headers, rows = render.document_path_rows(stats)
    assert headers == ["文档 \\ 路径", "数据要素驱动", "数字生活驱动", "未标注", "合计"]
    assert rows == [["甲条例", 3, 0, 2, 5], ["乙意见", 1, 1, 0, 1]]
    assert render.document_path_frame({"paths": {}, "documents_by_path": []}).empty


def test_library_facets_offer_the_libraries_own_values() -> None:
    from types import SimpleNamespace

    from ui.app import library_facets

    docs = [
        SimpleNamespace(doc_type="地方性法规", issuers=("上海市人大常委会",), date="2021-11-25"),
        SimpleNamespace(doc_type="规范性文件", issuers=("国家数据局", "财政部"), date="2024-05-01"),
        SimpleNamespace(doc_type="", issuers=(), date=""),
    ]
    types, issuers, years = library_facets(docs)
    assert types == ["全部", "地方性法规", "规范性文件"]
    assert issuers == ["全部", "上海市人大常委会", "国家数据局", "财政部"]
    assert years == ["全部", "2024", "2021"]


def test_matrix_rows_with_totals() -> None:
    stats = {
        "chunks": 5,
        "dimensions": {"技术": 3, "管理": 2},
        "paths": {"数据要素驱动": 4},
        "matrix": {"技术": {"数据要素驱动": 3}, "管理": {"数据要素驱动": 1}},
    }
    headers, rows = render.matrix_rows(stats)
    assert headers == ["维度 \\ 路径", "数据要素驱动", "合计"]
    assert rows == [["技术", 3, 3], ["管理", 1, 2], ["合计", 4, 5]]


def test_login_is_throttled_and_locked_after_repeated_failures() -> None:
    from ui.serve import ThrottledLogin

    now = [1000.0]
    slept: list[float] = []
    login = ThrottledLogin(
        [("admin", "s3cret")],
        max_failures=5,
        lockout_s=60,
        delay_s=1.0,
        clock=lambda: now[0],
        sleep=slept.append,
    )
    assert login("admin", "s3cret")
    results = [login("admin", f"guess{i}") for i in range(100)]
    assert not any(results)
    assert len(slept) == 5  # a delay per checked guess; locked attempts are not even checked
    assert not login("admin", "s3cret")  # locked: the right password waits too
    now[0] += 61
    for i in range(5):  # the guessing goes on: the second lockout lasts twice as long
        login("admin", f"again{i}")
    now[0] += 61
    assert not login("admin", "s3cret")
    now[0] += 60
    assert login("admin", "s3cret")
    assert not login("nobody", "s3cret") and not login("", "")


def test_server_login_uses_the_throttle(server: Server) -> None:
    from gradio_client import Client

    settings = server.assistant.settings
    server.assistant.settings = settings.model_copy(
        update={"login_max_failures": 2, "login_failure_delay_s": 0.0, "login_lockout_s": 600}
    )
    protected = start_server(server.assistant, auth=[("admin", "s3cret")])
    try:
        for _ in range(3):
            with pytest.raises(Exception):  # noqa: B017
                Client(protected.url, auth=("admin", "wrong"), verbose=False)
        with pytest.raises(Exception):  # noqa: B017 - locked now, even with the password
            Client(protected.url, auth=("admin", "s3cret"), verbose=False)
    finally:
        protected.demo.close()
        server.assistant.settings = settings


def test_serve_reports_a_busy_port_before_loading_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_model(*_: object, **__: object) -> None:
        raise AssertionError("a busy port must be reported before models load")

    monkeypatch.setattr("rag.assistant.build_embedder", no_model)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    assert "端口已被占用" in capsys.readouterr().err


def test_startup_clock_counts_from_process_start() -> None:
    from ui.startup import StartupClock, seconds_since_process_start

    lines: list[str] = []
    clock = StartupClock(lines.append)
    assert seconds_since_process_start() > 0.5  # this test process imported pytest and more
    clock.done("阶段")
    assert lines and lines[0].startswith("启动：阶段（") and clock.elapsed > 0.5
