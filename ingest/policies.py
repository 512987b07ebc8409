"""Copy the official policy texts into the bundled corpus, verbatim, after checking them.

``python -m ingest.policies [SOURCE]`` (default ``../shared/policies``) copies every ``*.md``
except the README into ``corpus/policies/`` byte for byte. Before copying, each file must load
(a readable front-matter header whose fields parse, a non-empty body); a bad file is reported
with its field and the others are still copied. The product never needs ``../shared`` at run
time: the copies are what ships.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from ingest.loaders import LoadError, load_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "policies"
TARGET = REPO / "corpus" / "policies"


def copy_policies(source: Path, target: Path) -> tuple[list[str], list[str]]:
    """(copied file names, error lines)."""
    copied, errors = [], []
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.md")):
        if path.stem.lower() == "readme":
            continue
        try:
            loaded = load_file(path)
        except LoadError as exc:
            errors.append(f"{path.name}：{exc.reason}")
            continue
        if not loaded.metadata:
            errors.append(f"{path.name}：缺少文件头（title、issuing bodies、document number…）")
            continue
        shutil.copyfile(path, target / path.name)
        copied.append(path.name)
    return copied, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        print(f"找不到政策原文目录：{args.source}", file=sys.stderr)
        return 2
    copied, errors = copy_policies(args.source, TARGET)
    for name in copied:
        print(f"已复制 {name}")
    for line in errors:
        print(f"未复制 {line}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
