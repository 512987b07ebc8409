"""``cityqa ask``: human and JSON output, batch mode, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ui.cli import main


@pytest.fixture
def cli_home(corpus_index, monkeypatch: pytest.MonkeyPatch, share_embedder) -> Path:
    """Point the CLI (which builds Settings() from the environment) at the built index."""
    settings = corpus_index.settings
    monkeypatch.setenv("CITYQA_HOME", str(settings.home))
    monkeypatch.setenv("CITYQA_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("CITYQA_TAXONOMY_FILE", str(settings.taxonomy_path))
    return settings.home


def test_ask_json_matches_schema(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "技术维度包含哪些层级？", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {
        "question",
        "answer",
        "refused",
        "faithfulness",
        "citations",
        "timings_ms",
        "relevance",
        "low_relevance",
    }
    assert data["citations"][0]["section"]


def test_ask_human_output_lists_sources(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "城市数字化转型包括哪三个维度？", "--dimension", "技术"]) == 0
    out = capsys.readouterr().out
    assert "[1]" in out and "来源" in out and "城市数字化转型总体架构和实践路径研究" in out


def test_unknown_filter_is_a_clear_error(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "问题", "--path", "交通"]) == 2
    assert "可选值" in capsys.readouterr().err


def test_batch_keeps_order_and_reports_bad_lines(
    cli_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "q.jsonl"
    lines = [
        {"id": "a", "question": "管理维度包括哪些环节？"},
        "{not json",
        {"id": "c", "question": "   "},
        {"id": "d", "question": "数字治理有哪些做法？", "path": "交通"},
        {"id": "e", "question": "深圳市数字化转型预算是多少？", "dimension": "管理"},
    ]
    batch.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines),
        encoding="utf-8",
    )
    assert main(["ask", "--batch", str(batch), "--json"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["a", "line-2", "c", "d", "e"]
    assert "error" not in rows[0] and not rows[0]["refused"]
    assert "error" in rows[1] and "error" in rows[2] and "可选值" in rows[3]["error"]
    assert rows[4]["refused"] is True


def test_ask_without_question_is_an_error(cli_home: Path) -> None:
    assert main(["ask"]) == 2
