"""A real browser (Debian's chromium driven by Playwright) against a live ``build_app`` server.

Set ``UPDATE_DOCS_SCREENSHOT=1`` to also copy the screenshots (chat, map, library) to docs/ for
the README, so the pictures there are always of the current UI.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_ui import QUESTION, Server, open_corpus_assistant, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"


def save_screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    """Screenshot the page; with UPDATE_DOCS_SCREENSHOT set, also as docs/screenshot-NAME.png."""
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        DOCS_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_DIR / f"screenshot-{name}.png")
    return shot


TIMEOUT_MS = 30_000

HOSTILE_DOC = (
    "# 安全测试 <b>粗体</b> 文档\n\n## 说明\n\n"
    "青岚市安全测试段落包含 <script>window.__xss = 1</script> 和 "
    '<img src=x onerror="window.__xss = 2"> 两段代码，用于验证界面把资料内容按纯文本显示。\n'
)
HOSTILE_QUESTION = "青岚市安全测试段落包含什么代码？"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser_server(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("ui-browser-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_TEMP_DIR", str(home / "tmp" / "gradio"))
        assistant = open_corpus_assistant(embedder, home)
        hostile = assistant.settings.library_dir / "hostile.md"
        hostile.parent.mkdir(parents=True, exist_ok=True)
        hostile.write_text(HOSTILE_DOC, encoding="utf-8")
        assistant.ingest([hostile])
        server = start_server(assistant)
        yield server
        server.demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) "
            "to run the browser test"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (the test extra)"
    )
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, browser_server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(browser_server.url)
    page.locator("#cq-question textarea").wait_for()
    yield page
    context.close()


def ask_in_page(page: Any, question: str) -> None:
    box = page.locator("#cq-question textarea")
    box.fill(question)
    page.locator("#cq-send").click()


def bot_text(page: Any, contains: str) -> str:
    bot = page.locator("#cq-chat .message.bot, #cq-chat [data-testid='bot']").last
    page.wait_for_function(
        "([sel, s]) => [...document.querySelectorAll(sel)].some(e => e.innerText.includes(s))",
        arg=["#cq-chat", contains],
    )
    return str(bot.inner_text())


def test_chat_answer_sources_and_screenshot(
    page: Any, browser: Any, browser_server: Server, tmp_path: Path
) -> None:
    ask_in_page(page, QUESTION)
    text = bot_text(page, "忠实度")
    assert "[1]" in text and "三大维度" in text, text
    assert "忠实度" in page.locator("#cq-badge").inner_text()
    sources = page.locator("#cq-sources").inner_text()
    assert "[1]" in sources and "城市数字化转型总体架构和实践路径研究" in sources

    page.locator("#cq-pick").get_by_text("[1]", exact=True).click()
    mark = page.locator("#cq-passage mark").first
    mark.wait_for()
    assert "三大维度" in page.locator("#cq-passage").inner_text()

    save_screenshot(page, tmp_path, "chat")

    page.get_by_text("导出本次回答").click()
    export = page.locator("#cq-export")
    export.get_by_text("### 来源").wait_for()
    assert "## 问：" + QUESTION in export.inner_text()

    # Another user (a new browser context) starts with an empty conversation.
    other = browser.new_context()
    try:
        other_page = other.new_page()
        other_page.goto(browser_server.url)
        other_page.locator("#cq-question textarea").wait_for()
        assert "三大维度" not in other_page.locator("#cq-chat").inner_text()
    finally:
        other.close()

    # A follow-up in the same session is rewritten with the previous question.
    ask_in_page(page, "那管理维度呢？")
    page.wait_for_function("() => document.querySelector('#cq-chat').innerText.includes('按“')")
    assert "管理" in page.locator("#cq-chat").inner_text()


def test_document_markup_is_shown_as_text(page: Any, tmp_path: Path) -> None:
    ask_in_page(page, HOSTILE_QUESTION)
    text = bot_text(page, "忠实度")
    assert "<script>window.__xss = 1</script>" in text, text
    page.locator("#cq-pick").get_by_text("[1]", exact=True).click()
    page.locator("#cq-passage mark").first.wait_for()
    passage = page.locator("#cq-passage").inner_text()
    assert '<img src=x onerror="window.__xss = 2">' in passage
    assert "<b>粗体</b>" in page.locator("#cq-sources").inner_text()

    page.get_by_role("tab", name="文档库").click()
    page.wait_for_function(
        "() => document.querySelector('#cq-docs').innerText.includes('hostile.md')"
    )
    assert re.search(r"安全测试\s*<b>粗体</b>\s*文档", page.locator("#cq-docs").inner_text())
    assert page.evaluate("() => window.__xss === undefined")
    page.screenshot(path=str(tmp_path / "library-hostile.png"), full_page=True)


def test_knowledge_map_cell_lists_passages(page: Any, tmp_path: Path) -> None:
    page.get_by_role("tab", name="知识地图").click()
    matrix = page.locator("#cq-matrix")
    matrix.get_by_text("数字底座驱动", exact=True).wait_for()
    matrix.locator("[data-testid='cell-0-2']").click()  # row 技术, column 数字底座驱动
    page.wait_for_function(
        "(s) => document.querySelector('#cq-cell').innerText.includes(s)",
        arg="维度：技术 × 路径：数字底座驱动",
    )
    cell = page.locator("#cq-cell")
    assert cell.locator("details").count() >= 1
    # each passage under its document's title (which documents come first depends on how many
    # passages of the library carry the pair: the page lists the first 50 in document order)
    assert re.search(r"《[^》]+》\s*\S", cell.inner_text())
    # documents x paths: a row per document; a cell lists that document's passages on that path
    doc_paths = page.locator("#cq-doc-paths")
    doc_paths.get_by_text("数据要素驱动", exact=True).first.wait_for()
    doc_paths.locator("[data-testid='cell-0-0']").click()  # first document's title: all paths
    page.wait_for_function(
        "(s) => document.querySelector('#cq-doc-cell').innerText.includes(s)",
        arg="× 路径：全部",
    )
    assert page.locator("#cq-doc-cell details").count() >= 1
    save_screenshot(page, tmp_path, "map")


def test_a_path_filter_restricts_the_sources(page: Any) -> None:
    path = page.locator("#cq-f-path input")
    path.click()
    page.get_by_role("option", name="数据要素驱动").click()
    ask_in_page(page, "有哪些城市的做法可以参考？")
    bot_text(page, "【")  # an answer, or a refusal's 【未作答】 badge line
    cards = page.locator("#cq-sources .cq-card")
    cards.first.wait_for()
    assert cards.count() >= 1
    for i in range(cards.count()):
        assert "数据要素驱动" in cards.nth(i).inner_text()


def test_upload_in_browser(page: Any, browser_server: Server, tmp_path: Path) -> None:
    doc = tmp_path / "青岚市交通规划.md"
    doc.write_text("# 青岚市交通规划\n\n青岚市将建设三条智慧公交走廊，覆盖中心城区。\n", "utf-8")
    page.get_by_role("tab", name="文档库").click()
    page.locator("#cq-files input[type=file]").set_input_files(str(doc))
    page.get_by_text("青岚市交通规划.md").first.wait_for()
    # Gradio's own tracker prints fixed English ("processing |", "queue: 1/1 |"); the upload
    # hides it and streams its progress in Chinese into the report instead. A toast is titled
    # 提示, never "Error" (ui.render.PAGE_CSS).
    page.evaluate(
        """() => { window.cqEnglish = false; new MutationObserver(() => {
            if (window.cqEnglish) return;
            const english = /processing \\||queue:|Error/;
            if (!english.test(document.body.textContent)) return;  // cheap: no layout
            const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let n = walk.nextNode(); n; n = walk.nextNode()) {
                const m = n.textContent.match(/processing \\||queue:|^\\s*Error\\s*$/);
                const shown = m && n.parentElement.checkVisibility(
                    {checkOpacity: true, checkVisibilityCSS: true});
                if (shown) { window.cqEnglish = m[0]; return; }
            }
        }).observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
    )
    page.locator("#cq-upload").click()
    page.wait_for_function(
        "(s) => document.querySelector('#cq-upload-report').innerText.includes(s)",
        arg="青岚市交通规划.md：已入库",
        timeout=90_000,
    )
    assert page.evaluate("() => window.cqEnglish") is False
    page.wait_for_function(
        "(s) => document.querySelector('#cq-docs').innerText.includes(s)",
        arg="library/青岚市交通规划.md",
    )
    library = browser_server.assistant.settings.library_dir
    assert (library / "青岚市交通规划.md").is_file()
    page.get_by_role("tab", name="问答").click()
    ask_in_page(page, "青岚市将建设几条智慧公交走廊？")
    assert "三条智慧公交走廊" in bot_text(page, "忠实度")

    # Deleting asks first, naming the document; 取消 keeps it, 确认删除 removes it.
    page.get_by_role("tab", name="文档库").click()
    # 上传 with no file: a Chinese message, and the last run's report does not linger beside it.
    page.locator("#cq-upload").click()
    page.get_by_text("请先选择要上传的文件").first.wait_for()
    title = page.locator(".toast-title").first
    assert title.evaluate("(e) => getComputedStyle(e, '::before').content") == '"提示"'
    assert "已入库" not in page.locator("#cq-upload-report").inner_text()
    for english in ("Copy table data", "Fullscreen", "Error"):
        assert page.get_by_label(english, exact=True).count() == 0, english
    pick = page.locator("#cq-delete-pick input")
    pick.click()
    pick.fill("青岚市交通规划")
    page.get_by_role("option", name=re.compile("青岚市交通规划")).first.click()
    page.get_by_role("button", name="删除文档").click()
    confirm = page.locator("#cq-confirm")
    confirm.get_by_text("确定删除《青岚市交通规划》").wait_for()
    save_screenshot(page, tmp_path, "library")
    confirm.get_by_role("button", name="取消").click()
    confirm.wait_for(state="hidden")
    assert (library / "青岚市交通规划.md").is_file()
    page.get_by_role("button", name="删除文档").click()
    page.locator("#cq-confirm-delete").click()
    page.wait_for_function(
        "(s) => document.querySelector('#cq-delete-report').innerText.includes(s)", arg="已删除"
    )
    assert not (library / "青岚市交通规划.md").exists()
    # Asking, uploading and deleting never showed Gradio's English tracker text.
    assert page.evaluate("() => window.cqEnglish") is False
