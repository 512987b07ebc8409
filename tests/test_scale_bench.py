"""The scale benchmark's plumbing: size plans, the fixed question set, the outputs.

The measurements themselves are numbers a maintainer reads (``python -m eval.bench --sizes``),
never timed assertions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import scale


def _law(folder: Path, name: str, articles: int) -> Path:
    body = "\n\n".join(
        f"第{n}条 为了规范{name}的管理工作，保障各方合法权益，根据有关法律，制定本办法。" * 3
        for n in range(1, articles + 1)
    )
    path = folder / f"{name}.md"
    path.write_text(f"# {name}\n\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture()
def laws(tmp_path: Path) -> Path:
    folder = tmp_path / "laws"
    (folder / "sub").mkdir(parents=True)
    for i in range(6):
        _law(folder if i % 2 else folder / "sub", f"临江市第{i}号管理办法", 3 + i)
    (folder / "README.md").write_text("# 说明\n", encoding="utf-8")  # never a document
    return folder


def test_sizes_take_a_seeded_prefix_of_the_corpus(laws: Path) -> None:
    order = scale.corpus_order(laws)
    assert order == scale.corpus_order(laws)  # fixed across runs
    assert all(p.name != "README.md" for p in order)
    plans = scale.plan_sizes(laws, ["5", "all"])
    assert [p.label for p in plans] == ["bundled", "5", "all"]
    assert plans[0].files == []  # the bundled corpus alone is the smallest size
    assert plans[1].files == order[: len(plans[1].files)] and plans[1].chunks >= 5
    assert plans[2].files == order
    assert plans[2].chunks == sum(scale.count_chunks(order))
    assert scale.plan_sizes(None, ["all"])[0].label == "bundled"


@pytest.mark.parametrize("bad", ["0", "-3", "1k", "10,abc"])
def test_bad_sizes_are_refused(bad: str) -> None:
    with pytest.raises(SystemExit, match="--sizes"):
        scale.parse_sizes(bad)


def test_one_hundred_fixed_questions_about_the_size(laws: Path) -> None:
    plan = scale.plan_sizes(laws, ["all"])[1]
    questions = scale.questions_for(plan)
    assert len(questions) == scale.QUESTIONS
    assert questions == scale.questions_for(plan)
    about = [q for q in questions if q.startswith("《临江市")]
    assert len(about) == scale.DOCUMENT_QUESTIONS
    bundled = scale.questions_for(scale.SizePlan("bundled", [], 0))
    assert len(bundled) == scale.QUESTIONS and any(q.startswith("《") for q in bundled)


def test_outputs_have_the_documented_fields(tmp_path: Path) -> None:
    results = [
        scale.SizeResult(
            "bundled",
            chunks=233,
            documents=8,
            ingest_s=6.0,
            embed_only_s=1.5,
            ask_p50_ms=30,
            ask_p95_ms=66,
            retrieve_p50_ms=18,
            serve_rss_mb=480,
            vanilla={"ingest_s": 4.7, "retrieve_p50_ms": 4.3},
        ),
        scale.SizeResult("1000", chunks=1253, documents=24, ingest_s=18.0, ask_p50_ms=37),
    ]
    out = tmp_path / "bench.json"
    scale.write_json(results, out, None)
    sizes = json.loads(out.read_text("utf-8"))["sizes"]
    for key in (
        "chunks",
        "documents",
        "ingest_s",
        "embed_only_s",
        "ask_p50_ms",
        "ask_p95_ms",
        "retrieve_p50_ms",
        "serve_rss_mb",
        "vanilla",
    ):
        assert key in sizes[0]
    assert set(sizes[0]["vanilla"]) >= {"ingest_s", "retrieve_p50_ms"}
    from rich.console import Console

    console = Console(width=80, record=True)
    console.print(scale.table(results))
    text = console.export_text()
    assert "7.0×" in text and "1,253" in text and "—" in text  # a missing vanilla run is a dash
    assert max(len(line) for line in text.splitlines()) <= 80
    plot = tmp_path / "bench.png"
    scale.write_plot(results, plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
