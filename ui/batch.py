"""``cityqa ask --batch FILE``: one JSON answer per input line, models loaded once.

A bad line (malformed JSON, empty question, unknown filter...) yields an error object for its
id and the run continues, so one typo never costs the rest of the batch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rag.errors import CityQAError


def run_batch(path: Path, assistant: Any) -> int:
    """Always JSON Lines: one object per input line, in order."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CityQAError(f"无法读取批量文件 {path}：{exc}") from exc
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result = answer_line(assistant, line, number)
        failures += "error" in result
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if failures:
        print(f"{failures} 行出错（见 error 字段）", file=sys.stderr)
    return 1 if failures else 0


def answer_line(assistant: Any, line: str, number: int) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"id": f"line-{number}", "error": f"第 {number} 行不是合法的 JSON：{exc.msg}"}
    if not isinstance(item, dict):
        return {"id": f"line-{number}", "error": f"第 {number} 行应为 JSON 对象"}
    item_id = item.get("id", f"line-{number}")
    try:
        answer = assistant.ask(
            item.get("question"),
            dimension=item.get("dimension"),
            path=item.get("path"),
            doc=item.get("doc"),
            doc_type=item.get("doc_type"),
            issuer=item.get("issuer"),
            year=item.get("year"),
            top_k=item.get("top_k"),
            history=item.get("history"),
            id=str(item_id),
        )
    except CityQAError as exc:
        return {"id": item_id, "question": item.get("question"), "error": str(exc)}
    return answer.to_dict()
