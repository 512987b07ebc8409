"""The README's Python API block runs as printed, against the bundled corpus."""

from __future__ import annotations

import re

import pytest
from conftest import REPO_ROOT


def readme_python_block() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README's Python API section has no python block"
    return match.group(1)


@pytest.mark.slow
def test_readme_python_block_runs(share_embedder, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("CITYQA_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(REPO_ROOT)  # the block names corpus/policies relative to the checkout
    namespace: dict[str, object] = {}
    exec(compile(readme_python_block(), "README.md", "exec"), namespace)
    assistant = namespace["a"]
    answer = namespace["ans"]
    assert not answer.refused and answer.citations  # type: ignore[attr-defined]
    assert len(assistant.documents()) == 8  # type: ignore[attr-defined]
    assert "[1]" in capsys.readouterr().out  # the streamed answer was printed
