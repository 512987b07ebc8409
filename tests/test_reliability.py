"""One index, many processes: the writer lock, committed generations, staged uploads and
self-healing, tested with real processes killed by SIGKILL at seeded random moments.

Invariants after every fault: no document lost or duplicated, no reader ever sees a chunk of
an uncommitted document, and repeating the interrupted operation completes it.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_text

from eval.bench import wait_until_up
from rag.errors import IndexBusyError
from rag.locking import writer_lock
from ui.service import UIService

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
TOPICS = [
    ("智慧交通", "建设城市交通大脑，实时调度公交线路和信号灯。"),
    ("数字乡村", "推进农村宽带全覆盖，发展农产品电商直播。"),
    ("公共数据开放", "建立公共数据开放目录，按照无条件开放、有条件开放分类管理。"),
    ("智慧医疗", "推广电子健康档案和互联网医院，实现检查结果互认。"),
    ("城市安全", "建设城市生命线安全监测系统，覆盖燃气、桥梁和供水管网。"),
    ("数字教育", "建设智慧校园，推动优质课程资源共享到偏远地区学校。"),
    ("政务服务", "推行一网通办，企业开办全程网上办理，一日办结。"),
    ("数据交易", "设立数据交易所，探索数据资产登记和收益分配机制。"),
    ("智慧养老", "为独居老人安装紧急呼叫设备，建设社区嵌入式养老服务站。"),
    ("算力设施", "统筹布局数据中心集群，提升绿色算力供给能力。"),
    ("低空经济", "开通无人机物流配送航线，完善低空飞行服务保障体系。"),
    ("文旅融合", "打造数字博物馆和沉浸式文旅体验项目，推出一码游全城。"),
]


def make_docs(folder: Path, prefix: str, count: int = len(TOPICS)) -> list[Path]:
    paths = []
    for i, (topic, text) in enumerate(TOPICS[:count]):
        body = f"# {prefix}市{topic}实施方案\n\n## 一、总体目标\n\n{prefix}市{text}\n\n"
        body += f"## 二、保障措施\n\n{prefix}市加强{topic}工作的组织领导，明确责任分工。\n"
        paths.append(write_text(folder / f"{prefix}-{i:02d}.md", body))
    return paths


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYQA_")}
    env |= {"CITYQA_HOME": str(home), "CITYQA_EMBED_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    return env


def cityqa(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ui.cli", *args]


def worker(*args: str) -> list[str]:
    return [sys.executable, str(TESTS_DIR / "fault_worker.py"), *args]


def run(home: Path, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, env=env_for(home), capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT
    )


def kill_after(home: Path, argv: list[str], delay: float) -> None:
    proc = subprocess.Popen(
        argv, env=env_for(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO_ROOT
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def check_reader(open_assistant, settings) -> set[str]:
    """What a fresh reader sees of a crashed index, before any repair: committed chunks only,
    each committed document whole, no document twice. Returns the sources it serves."""
    forget_open_store(settings)
    reader = open_assistant(settings, repair=False)
    store = reader.store
    done = store.catalog.done_chunk_ids()
    assert set(store.chunks()) == done
    for passage in reader.retrieve("实施方案的总体目标和保障措施", top_k=20):
        assert passage.id in done
    sources = [d.source for d in store.documents()]
    assert len(sources) == len(set(sources))
    return set(sources)


def check_healed(open_assistant, settings) -> set[str]:
    """After a repairing open: Chroma, catalog and BM25 agree exactly; returns the sources."""
    forget_open_store(settings)
    assistant = open_assistant(settings)
    store = assistant.store
    stored = set(store.collection.get(include=[])["ids"])
    assert stored == set(store.chunks()) == store.catalog.done_chunk_ids()
    assert set(store.bm25(assistant.tokenizer).ids) == stored
    assert set(store.sentence_owners().values()) <= stored
    assert all(d.status == "done" for d in store.catalog.docs.values())
    return {d.source for d in store.documents()}


def forget_open_store(settings) -> None:
    """Open the next store as a new process would: chromadb shares one open store per folder
    and process, which would carry this test process's view over from check to check."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(settings.index_dir / "chroma"), None)


# ----- the writer lock -----------------------------------------------------------------------
def test_second_writer_waits_then_fails_clearly(tmp_path: Path) -> None:
    index = tmp_path / "index"
    said: list[str] = []
    errors: list[Exception] = []
    with writer_lock(index, 5):

        def second() -> None:
            try:
                with writer_lock(index, 0.3, said.append):
                    pass
            except IndexBusyError as exc:
                errors.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
    assert said and "等待" in said[0] and f"pid {os.getpid()}" in said[0]
    assert len(errors) == 1 and "占用" in str(errors[0])
    # Released: the next writer goes straight in, and may re-enter from the same thread.
    with writer_lock(index, 0.3), writer_lock(index, 0.3):
        pass


def test_lock_of_a_killed_writer_is_released(tmp_path: Path) -> None:
    index = tmp_path / "index"
    code = (
        f"import sys, time; sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from pathlib import Path\nfrom rag.locking import writer_lock\n"
        f"with writer_lock(Path({str(index)!r}), 1):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    with pytest.raises(IndexBusyError), writer_lock(index, 0.2):
        pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with writer_lock(index, 5):
        pass


# ----- generations: a reader sees other processes' commits, a writer never overwrites them ---
@pytest.mark.slow
def test_server_sees_cli_ingest_and_its_upload_keeps_it(
    tmp_path: Path, settings_for, open_assistant
) -> None:
    settings = settings_for(tmp_path / "home")
    first = make_docs(tmp_path / "first", "甲", 2)
    server = open_assistant(settings)
    server.ingest([first[0].parent])
    service = UIService(server)
    assert server.ask("乙市智慧交通怎么建设？").refused or all(
        "乙市" not in c.text for c in server.ask("乙市智慧交通怎么建设？").citations
    )

    # Another process ingests a folder while the "server" keeps running.
    make_docs(tmp_path / "second", "乙", 3)
    done = run(settings.home, cityqa(settings.home, "ingest", "--json", str(tmp_path / "second")))
    assert done.returncode == 0, done.stderr
    answer = server.ask("乙市智慧交通怎么建设？")  # no restart
    assert not answer.refused and "乙市" in answer.citations[0].text
    assert len(server.documents()) == 5

    # Then a web upload in the server: the CLI's documents must survive it.
    upload = write_text(tmp_path / "up" / "丙市方案.md", "# 丙市方案\n\n丙市建设城市数据大脑。\n")
    (outcome,) = service.upload([(upload, upload.name)])
    assert outcome.ok, outcome.message
    assert {d.source for d in open_assistant(settings).documents()} >= {
        "second/乙-00.md",
        "second/乙-02.md",
        "library/丙市方案.md",
    }
    assert len(check_healed(open_assistant, settings)) == 6


@pytest.mark.slow
def test_two_concurrent_cli_writers_lose_nothing(tmp_path: Path, settings_for, open_assistant):
    settings = settings_for(tmp_path / "home")
    make_docs(tmp_path / "x", "甲", 8)
    make_docs(tmp_path / "y", "乙", 8)
    env = env_for(settings.home)
    procs = [
        subprocess.Popen(
            cityqa(settings.home, "ingest", "--json", str(tmp_path / folder)),
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in ("x", "y")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    assert len(check_healed(open_assistant, settings)) == 16


def test_questions_are_answered_while_an_upload_runs(
    tmp_path: Path, settings_for, open_assistant, monkeypatch
) -> None:
    settings = settings_for(tmp_path / "home")
    make_docs(tmp_path / "docs", "甲", 2)
    assistant = open_assistant(settings)
    assistant.ingest([tmp_path / "docs"])
    service = UIService(assistant)
    started, release = threading.Event(), threading.Event()
    indexer = assistant.indexer
    real = indexer._embed_and_tag

    def slow_embed(*args, **kwargs):
        started.set()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(indexer, "_embed_and_tag", slow_embed)
    upload = write_text(
        tmp_path / "up" / "丁市方案.md", "# 丁市方案\n\n丁市建设海绵城市监测平台。\n"
    )
    outcomes: list = []
    thread = threading.Thread(target=lambda: outcomes.extend(service.upload([(upload, None)])))
    thread.start()
    try:
        assert started.wait(30)
        t0 = time.perf_counter()
        answer = service.ask("甲市智慧交通怎么建设？")
        assert time.perf_counter() - t0 < 10 and not answer.refused
        assert all("丁市" not in c.text for c in service.ask("丁市海绵城市监测").citations)
        assert len(service.documents()) == 2  # the upload is not committed yet
        assert not (settings.library_dir / "丁市方案.md").exists()
    finally:
        release.set()
        thread.join(60)
    assert outcomes and outcomes[0].ok
    assert any("丁市" in c.text for c in service.ask("丁市海绵城市监测平台").citations)
    assert (settings.library_dir / "丁市方案.md").is_file()


def lose_vector_store(settings) -> None:
    shutil.rmtree(settings.index_dir / "chroma")
    forget_open_store(settings)


# ----- self-healing ----------------------------------------------------------------------------
def test_lost_vector_store_heals_on_open_and_on_ingest(
    tmp_path: Path, settings_for, open_assistant
) -> None:
    settings = settings_for(tmp_path / "home")
    docs = make_docs(tmp_path / "docs", "甲", 3)
    open_assistant(settings).ingest([docs[0].parent])
    lose_vector_store(settings)

    reader = open_assistant(settings, repair=False)  # never answers from the half state
    assert reader.store.documents() == () and reader.ask("甲市智慧交通").refused
    healed = open_assistant(settings)  # the repairing open re-ingests from the files
    assert len(healed.documents()) == 3 and not healed.ask("甲市智慧交通怎么建设？").refused

    lose_vector_store(settings)
    report = open_assistant(settings, repair=False).ingest([docs[0].parent])
    assert report.count("ingested") == 3 and "重新入库" in report.repaired
    assert len(check_healed(open_assistant, settings)) == 3


def test_killed_upload_can_be_repeated_and_committed_one_is_kept(
    tmp_path: Path, settings_for, open_assistant, monkeypatch
) -> None:
    settings = settings_for(tmp_path / "home")
    assistant = open_assistant(settings)
    service = UIService(assistant)
    upload = write_text(tmp_path / "up" / "戊市方案.md", "# 戊市方案\n\n戊市推进智慧停车建设。\n")

    class Killed(BaseException):  # like SIGKILL: no except clause of the product catches it
        pass

    def die(*args, **kwargs):
        raise Killed

    # Killed while embedding: nothing committed, nothing in the library.
    with monkeypatch.context() as patched:
        patched.setattr(assistant.indexer, "_embed_and_tag", die)
        with pytest.raises(Killed):
            service.upload([(upload, None)])
    restarted = UIService(open_assistant(settings))
    assert restarted.documents() == [] and not settings.library_dir.exists()
    (again,) = restarted.upload([(upload, None)])
    assert again.ok, again.message  # not refused as a duplicate

    # Killed after the commit but before the file moved into the library: rolled forward.
    second = write_text(
        tmp_path / "up" / "己市方案.md", "# 己市方案\n\n己市建设城市级物联感知平台。\n"
    )
    with monkeypatch.context() as patched:
        patched.setattr("ui.service.publish_staged", die)
        with pytest.raises(Killed):
            restarted.upload([(second, None)])
    final = UIService(open_assistant(settings))
    assert {d.source for d in final.documents()} == {"library/戊市方案.md", "library/己市方案.md"}
    assert (settings.library_dir / "己市方案.md").is_file()
    assert not any(settings.staging_dir.iterdir())
    (dup,) = final.upload([(second, "copy.md")])
    assert not dup.ok and "内容相同" in dup.message
    doc = next(d for d in final.documents() if d.source == "library/己市方案.md")
    assert "己市方案" in final.delete(doc.doc_id)
    assert not (settings.library_dir / "己市方案.md").exists()
    assert len(check_healed(open_assistant, settings)) == 1


# ----- SIGKILL at random moments -----------------------------------------------------------------
@pytest.mark.slow
def test_sigkill_fault_suite(tmp_path: Path, settings_for, open_assistant) -> None:
    """22 seeded trials: ingest, --rebuild, upload and delete killed at random moments."""
    rng = random.Random(20261202)
    settings = settings_for(tmp_path / "home")
    home = settings.home
    docs = make_docs(tmp_path / "docs", "甲")
    expected = {f"docs/{p.name}" for p in docs}
    uploads = make_docs(tmp_path / "uploads", "乙", 3)
    trials = 0

    def delay() -> float:
        return rng.uniform(0.5, 6.0)

    for _ in range(8):  # ingest from scratch or over a partial index
        kill_after(home, cityqa(home, "ingest", str(docs[0].parent)), delay())
        assert check_reader(open_assistant, settings) <= expected
        trials += 1
    assert run(home, cityqa(home, "ingest", str(docs[0].parent))).returncode == 0
    assert check_healed(open_assistant, settings) == expected

    for _ in range(4):  # --rebuild
        kill_after(home, cityqa(home, "ingest", "--rebuild", str(docs[0].parent)), delay())
        assert check_reader(open_assistant, settings) <= expected
        trials += 1
    assert run(home, cityqa(home, "ingest", str(docs[0].parent))).returncode == 0
    assert check_healed(open_assistant, settings) == expected

    names = {f"library/{p.name}" for p in uploads}
    for _ in range(6):  # web uploads
        kill_after(home, worker("upload", *map(str, uploads)), delay())
        seen = check_reader(open_assistant, settings)
        assert seen - expected <= names
        trials += 1
    done = run(home, worker("upload", *map(str, uploads)))
    assert done.returncode == 0, done.stderr
    library = check_healed(open_assistant, settings) - expected
    assert library == names  # each upload exactly once, whatever the kills did
    assert sorted(p.name for p in settings.library_dir.iterdir()) == sorted(p.name for p in uploads)

    victims = sorted(expected)[:4]
    for source in victims:  # deletes
        kill_after(home, worker("delete", source), delay())
        trials += 1
        if source in check_reader(open_assistant, settings):
            assert run(home, worker("delete", source)).returncode == 0
    assert check_healed(open_assistant, settings) == (expected - set(victims)) | names
    assert trials >= 20


# ----- bad input: each bad file is a row with its reason, the rest ingests ------------------
def _broken_docx(path: Path) -> Path:
    import zipfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document><w:body><w:p>未闭合")
    return path


def _huge_node_docx(path: Path) -> Path:
    """A valid DOCX whose one text node exceeds libxml2's 10 MB limit (47 KB zipped)."""
    import io
    import zipfile

    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)
    template = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    namespace = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{namespace}"><w:body>'
        f"<w:p><w:r><w:t>{'数' * (11 * 1024 * 1024 // 3)}</w:t></w:r></w:p></w:body></w:document>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in template.infolist():
            data = template.read(item.filename)
            archive.writestr(item, body if item.filename == "word/document.xml" else data)
    return path


def test_bad_files_are_rows_and_the_rest_ingests(
    tmp_path: Path, settings_for, open_assistant
) -> None:
    settings = settings_for(tmp_path / "home")
    folder = tmp_path / "in"
    make_docs(folder, "甲", 2)
    _broken_docx(folder / "坏文件.docx")
    _huge_node_docx(folder / "超长文本.docx")
    write_text(folder / ".隐藏.md", "# 隐藏\n\n不应入库。\n")
    (folder / "断链.md").symlink_to(folder / "不存在.md")
    loop = tmp_path / "loop.md"
    loop.symlink_to(loop)
    report = open_assistant(settings).ingest([folder, loop])
    rows = {f.source: f for f in report.files}
    for name in ("in/坏文件.docx", "in/超长文本.docx"):
        assert rows[name].status == "failed" and "DOCX 无法解析" in str(rows[name].error)
    assert rows[str(loop)].status == "failed" or rows["loop.md"].status == "failed"
    assert report.count("ingested") == 2
    assert "隐藏" in report.skip_reasons["in/.隐藏.md"]
    assert "不存在" in report.skip_reasons["in/断链.md"]
    assert len(check_healed(open_assistant, settings)) == 2


def test_unreadable_folder_is_reported(tmp_path: Path, settings_for, open_assistant, monkeypatch):
    # Permissions do not stop root (CI runs as root), so the refusal is injected where the
    # operating system would raise it.
    settings = settings_for(tmp_path / "home")
    folder = tmp_path / "in"
    make_docs(folder, "甲", 1)
    locked = folder / "机密"
    make_docs(locked, "乙", 1)
    real_scandir = os.scandir

    def scandir(path=".", *args, **kwargs):
        if isinstance(path, str | os.PathLike) and Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    report = open_assistant(settings).ingest([folder])
    assert report.count("ingested") == 1
    assert "无法读取文件夹" in report.skip_reasons["in/机密"]


def test_document_identity_is_the_path_not_the_file_name(
    tmp_path: Path, settings_for, open_assistant
) -> None:
    settings = settings_for(tmp_path / "home")
    first = write_text(tmp_path / "2023" / "docs" / "a.md", "# 2023年方案\n\n甲市建设城市大脑。\n")
    write_text(tmp_path / "2024" / "docs" / "a.md", "# 2024年方案\n\n乙市建设数字孪生平台。\n")
    assistant = open_assistant(settings)
    report = assistant.ingest([tmp_path / "2023" / "docs", tmp_path / "2024" / "docs"])
    assert report.count("ingested") == 2 and len(assistant.documents()) == 2
    assert len({f.source for f in report.files}) == 2  # never two rows of one name
    again = assistant.ingest([first])  # the same file named on its own
    assert again.count("unchanged") == 1 and len(assistant.documents()) == 2


# ----- a real Chroma server behind two cityqa serve workers ----------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_workers_share_a_chroma_server(tmp_path: Path) -> None:
    """``chroma run`` on loopback; one CLI ingest and two ``cityqa serve`` workers, each with its
    own home: an upload in one worker is answered by the other within 5 s."""
    if shutil.which("chroma") is None:
        pytest.skip("chromadb's `chroma` command is not on PATH")
    from gradio_client import Client, handle_file

    chroma_port = _free_port()
    chroma = subprocess.Popen(
        [
            "chroma",
            "run",
            "--path",
            str(tmp_path / "chroma-server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(chroma_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    servers: list[subprocess.Popen] = []
    try:
        wait_until_up(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", chroma, 60)
        shared = {
            "CITYQA_CHROMA_HOST": "127.0.0.1",
            "CITYQA_CHROMA_PORT": str(chroma_port),
            "CITYQA_LOCK_DIR": str(tmp_path / "locks"),  # the writers' common lock
        }

        def env(name: str) -> dict[str, str]:
            return env_for(tmp_path / name) | shared

        make_docs(tmp_path / "docs", "甲", 3)
        done = subprocess.run(
            cityqa(tmp_path, "ingest", "--json", str(tmp_path / "docs")),
            env=env("ingest-home"),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO_ROOT,
        )
        assert done.returncode == 0, done.stderr
        ports = [_free_port(), _free_port()]
        for i, port in enumerate(ports):
            servers.append(
                subprocess.Popen(
                    cityqa(tmp_path, "serve", "--port", str(port)),
                    env=env(f"worker-{i}"),
                    cwd=REPO_ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port, proc in zip(ports, servers, strict=True):
            wait_until_up(f"http://127.0.0.1:{port}/", proc, 180)
        first, second = (Client(f"http://127.0.0.1:{p}/", verbose=False) for p in ports)

        def ask(client: Client, question: str) -> dict:
            return client.predict(question, "全部", "全部", api_name="/ask")

        assert not ask(second, "甲市智慧交通怎么建设？")["refused"]  # the CLI's documents
        upload = write_text(
            tmp_path / "up" / "庚市方案.md", "# 庚市方案\n\n庚市建设城市级智能网联汽车测试场。\n"
        )
        report = first.predict([handle_file(str(upload))], api_name="/upload")
        assert "已入库" in report, report
        uploaded = time.perf_counter()
        while True:
            answer = ask(second, "庚市建设什么测试场？")
            if not answer["refused"] and "庚市" in answer["citations"][0]["text"]:
                break
            assert time.perf_counter() - uploaded < 5, answer
            time.sleep(0.2)
        # Nothing of the index is on the workers' disks: catalog and BM25 are in the server.
        assert not (tmp_path / "worker-1" / "index" / "catalog.json").exists()
        assert not (tmp_path / "worker-1" / "index" / "bm25").exists()
    finally:
        for proc in [*servers, chroma]:
            proc.terminate()
        for proc in [*servers, chroma]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


# ----- storage faults: a clear message, no traceback, nothing corrupted -----------------------
def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here (needs root with CAP_SYS_ADMIN): {done.stderr.strip()}")


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    mounted: list[Path] = []
    yield mounted
    for point in reversed(mounted):
        # Lazy: this process may still hold the store's files open there.
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _cli_error(home: Path, *args: str) -> str:
    done = run(home, cityqa(home, *args))
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return done.stderr


@pytest.mark.slow
def test_read_only_home_answers_and_refuses_writes_clearly(
    tmp_path: Path, settings_for, open_assistant, mounts
) -> None:
    source, view = tmp_path / "rw", tmp_path / "ro"
    docs = make_docs(source / "docs", "甲", 2)
    assert (
        run(source / "home", cityqa(source / "home", "ingest", str(docs[0].parent))).returncode == 0
    )
    view.mkdir()
    _mount("--bind", str(source), str(view))
    mounts.append(view)
    _mount("-o", "remount,ro,bind", str(view))
    home = view / "home"
    asked = run(home, cityqa(home, "ask", "--json", "甲市智慧交通怎么建设？"))
    assert asked.returncode == 0 and '"refused": false' in asked.stdout, asked.stderr[-2000:]
    assert "不可写" in _cli_error(home, "ingest", str(view / "docs"))
    assert "不可写" in _cli_error(home, "ingest", "--rebuild", str(view / "docs"))
    forget_open_store(settings_for(home))
    served = UIService(open_assistant(settings_for(home)))  # a server starts on it too
    assert not served.ask("甲市智慧交通怎么建设？").refused
    upload = write_text(tmp_path / "up" / "辛市.md", "# 辛市方案\n\n辛市建设智慧水务。\n")
    (outcome,) = served.upload([(upload, None)])
    assert not outcome.ok and "不可写" in outcome.message


@pytest.mark.slow
def test_disk_full_is_a_message_and_the_index_survives(
    tmp_path: Path, settings_for, open_assistant, mounts
) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(volume))
    mounts.append(volume)
    home = volume / "home"
    small = make_docs(tmp_path / "small", "甲", 3)
    assert run(home, cityqa(home, "ingest", str(small[0].parent))).returncode == 0
    big = tmp_path / "big"
    filler = "".join(TOPICS[i % len(TOPICS)][1] for i in range(40))
    for i in range(16):
        write_text(big / f"大文件{i:02d}.md", f"# 大文件{i}\n\n" + "\n\n".join([filler] * 12))
    assert "磁盘已满" in _cli_error(home, "ingest", str(big))
    _mount("-o", "remount,size=96m", str(volume))  # space freed
    settings = settings_for(home)
    forget_open_store(settings)
    assert not open_assistant(settings).ask("甲市智慧交通怎么建设？").refused
    for extra in sorted(big.iterdir())[2:]:
        extra.unlink()
    assert run(home, cityqa(home, "ingest", str(big))).returncode == 0
    assert len(check_healed(open_assistant, settings)) == 5


@pytest.mark.parametrize("damaged", ["catalog.json", "chroma/chroma.sqlite3"])
def test_truncated_index_files_are_reported_and_rebuild_repairs(
    tmp_path: Path, settings_for, open_assistant, damaged: str
) -> None:
    settings = settings_for(tmp_path / "home")
    docs = make_docs(tmp_path / "docs", "甲", 2)
    home = settings.home
    assert run(home, cityqa(home, "ingest", str(docs[0].parent))).returncode == 0
    target = settings.index_dir / damaged
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 3])
    assert "索引损坏" in _cli_error(home, "ask", "甲市智慧交通怎么建设？")
    rebuilt = run(home, cityqa(home, "ingest", "--rebuild", str(docs[0].parent)))
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert len(check_healed(open_assistant, settings)) == 2
