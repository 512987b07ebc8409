"""Turn a blind writer's verbatim quotations into references into the third-party texts.

Evaluation items about the regulations and laws may not quote them in the repository (the
texts come from a third-party collection). A writer quotes evidence and key points verbatim;
``python -m eval.references RAW OUT --folder ../shared/bench/laws --requires laws`` replaces
each quotation with ``{"file", "at", "len", "sha1"}`` (its first occurrence in the item's
document), which ``eval.dataset`` resolves and checks against the folder at load time. Each
item's ``doc`` is the document's path (absolute, or relative to ``--folder``); it is stored
relative to the folder. A quotation not found verbatim is an error naming the item.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SHA1_CHARS = 12
# Fields a writer may add for bookkeeping that the dataset schema does not have.
DROPPED = ("colloquial",)


def reference(text: str, body: str, name: str, where: str) -> dict[str, Any]:
    at = body.find(text)
    if at < 0:
        raise ValueError(f"{where}：{text!r} 不在 {name} 中")
    sha1 = hashlib.sha1(text.encode()).hexdigest()[:SHA1_CHARS]
    return {"file": name, "at": at, "len": len(text), "sha1": sha1}


def convert(item: dict[str, Any], folder: Path, requires: str) -> dict[str, Any]:
    where = f"id={item.get('id')}"
    doc = Path(str(item["doc"]))
    name = (doc.relative_to(folder) if doc.is_absolute() else doc).as_posix()
    body = (folder / name).read_text(encoding="utf-8")
    out = {k: v for k, v in item.items() if k not in DROPPED}
    note = " ".join(
        part
        for part in (str(item.get("note", "")), "口语化" if item.get("colloquial") else "")
        if part
    )
    if note:
        out["note"] = note
    out["doc"] = name
    out["requires"] = requires
    out["gold_evidence"] = [reference(g, body, name, where) for g in item["gold_evidence"]]
    out["key_points"] = [
        [reference(a, body, name, where) for a in alternatives.split("|")]
        for alternatives in item["key_points"]
    ]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.references", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("raw", type=Path, help="写题人给出的 JSONL（逐字引用原文）")
    parser.add_argument("out", type=Path, help="输出的 JSONL（引用改为位置）")
    parser.add_argument("--folder", type=Path, required=True, help="原文所在目录")
    parser.add_argument("--requires", default="laws", choices=["regulations", "laws"])
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    lines = []
    for line in args.raw.read_text(encoding="utf-8").splitlines():
        if line.strip():
            converted = convert(json.loads(line), folder, args.requires)
            lines.append(json.dumps(converted, ensure_ascii=False))
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} 题写入 {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
