"""The bundled encoder exported to ONNX and run by ONNX Runtime or OpenVINO.

At batch 1 a question's ~0.7 GFLOP take a few milliseconds of arithmetic, but torch spends
most of its 20-30 ms on per-call framework overhead (module dispatch, autocast). ONNX Runtime
runs the same graph (the transformer, mean pooling, L2 normalization) with far less of it:
measured here 1.6 to 3x faster per question, vectors within cosine 0.99999 of torch fp32. Its
dynamic int8 quantization was tried and refused: cosine 0.98 to fp32 on real questions.

The graph is exported from the model folder itself (``export``), into ``onnx/encoder.onnx``
beside the weights: never downloaded. ``indexer.embedder`` uses it for questions when
``NEWSQA_EMBED_BACKEND`` is ``auto`` (the default, when the export exists or can be made) or
``onnx``; passages stay with torch there (bf16 autocast is faster in batches), unless ``onnx``.
On a CPU with bf16 instructions, ``auto`` (and ``openvino`` anywhere) runs the same graph for
questions and passages with OpenVINO in bf16 (``OpenVinoEncoder``): ONNX Runtime has no bf16
kernels here, and OpenVINO's take 0.7x the time of torch's autocast on passages.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

log = logging.getLogger(__name__)

EXPORT = Path("onnx") / "encoder.onnx"
INFO = Path("onnx") / "encoder.json"
_EXPORT_STAGING = ".export."  # tempfile adds a random suffix (before, none: "tmp")


def exported_path(model_dir: Path) -> Path:
    return model_dir / EXPORT


@dataclass(frozen=True)
class GraphInfo:
    """What embedding through the graph needs of the sentence-transformers model besides the
    graph and the tokenizer. Kept beside the export (``write_info``) so that a process whose
    graph embeds questions and passages never loads the torch model: sentence-transformers'
    imports and the weights cost about 4 s and 0.5 GB per server."""

    dimension: int
    max_tokens: int
    prompts: dict[str, str]

    @classmethod
    def of(cls, model: Any) -> GraphInfo:
        """The info of a loaded ``SentenceTransformer``."""
        return cls(
            int(model.get_embedding_dimension()), int(model.max_seq_length), dict(model.prompts)
        )


def read_info(model_dir: Path) -> GraphInfo | None:
    try:
        data = json.loads((Path(model_dir) / INFO).read_text())
        return GraphInfo(int(data["dimension"]), int(data["max_tokens"]), dict(data["prompts"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_info(model_dir: Path, info: GraphInfo) -> None:
    """Written to a temporary file and renamed (readers see all of it or nothing); skipped
    where the folder is not writable: the torch model is then loaded, as before."""
    target = Path(model_dir) / INFO
    try:
        with tempfile.TemporaryDirectory(prefix=".info.", dir=target.parent) as tmp:
            staged = Path(tmp) / target.name
            staged.write_text(json.dumps(asdict(info)))
            os.replace(staged, target)
    except OSError as exc:
        log.debug("could not write %s: %s", target, exc)


def export(model_dir: Path) -> Path:
    """Export the sentence-transformers model in ``model_dir`` (a transformer with mean
    pooling and normalization, as the bundled e5 is) to ONNX, once; written to a temporary
    file and renamed, so a killed export never leaves a file that loads."""
    target = exported_path(model_dir)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # One export at a time per folder (a server's first use beside `newsqa model build`).
    with _export_lock(target):
        if not target.is_file():  # else exported by the process this one waited for
            _export_locked(model_dir, target)
    return target


def _export_lock(target: Path) -> FileLock:
    """The lock under which ``onnx/`` changes: an export, and ``export_checked``'s removal
    of a broken one."""
    return FileLock(target.parent / ".export.lock")


def _export_locked(model_dir: Path, target: Path) -> None:
    """``export`` under its lock: what killed exports left behind (up to 470 MB each) is
    removed, then the graph is exported."""
    from sentence_transformers import SentenceTransformer

    for stale in target.parent.iterdir():
        if stale.is_dir() and stale.name.startswith((_EXPORT_STAGING, "tmp")):
            shutil.rmtree(stale, ignore_errors=True)
    model = SentenceTransformer(str(model_dir), device="cpu")
    sample = model.tokenizer(["query: contoh"], return_tensors="pt")
    _export_graph(model, sample, target)
    write_info(model_dir, GraphInfo.of(model))
    log.info("exported the encoder to %s", target)


def _export_graph(model: Any, sample: Any, target: Path) -> None:
    import torch

    transformer = model[0].auto_model.eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    with tempfile.TemporaryDirectory(prefix=_EXPORT_STAGING, dir=target.parent) as tmp:
        staged = Path(tmp) / target.name
        with torch.inference_mode():
            torch.onnx.export(
                Encoder().eval(),
                (sample["input_ids"], sample["attention_mask"]),
                str(staged),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        os.replace(staged, target)


def export_checked(model_dir: Path, openvino: bool) -> Path:
    """``export``, and for OpenVINO its IR (``openvino_ir``), for `newsqa model build`: an
    existing export that does not parse (cut short by a disk error or a partial copy; a
    killed export leaves none) is exported again, where it failed every load for good: the
    build crashed in OpenVINO's "Model can't be parsed" traceback, or said "model ready"
    while every start warned and embedded with torch. Parsing costs about 0.6 s."""
    onnx_path = export(model_dir)
    try:
        return _checked(onnx_path, openvino)
    except Exception as exc:  # protobuf's DecodeError, OpenVINO's RuntimeError
        log.warning("%s does not parse, exporting it again: %s", onnx_path, exc)
    # Removed and exported again under the export lock, and checked again first: another
    # process may be exporting it right now (outside the lock, this removed the graph it had
    # just written) or may have exported it again since.
    with _export_lock(onnx_path):
        try:
            return _checked(onnx_path, openvino)
        except Exception:  # still broken: this process exports it again
            pass
        for stale in (onnx_path, onnx_path.with_suffix(".xml"), onnx_path.with_suffix(".bin")):
            stale.unlink(missing_ok=True)
        _export_locked(model_dir, onnx_path)
        return _checked(onnx_path, openvino)


def _checked(onnx_path: Path, openvino: bool) -> Path:
    if openvino:
        return openvino_ir(onnx_path)  # reads the ONNX where it converts
    import onnx

    onnx.load(str(onnx_path), load_external_data=False)
    return onnx_path


def openvino_ir(onnx_path: Path) -> Path:
    """The OpenVINO IR (``.xml`` beside a ``.bin`` of raw weights) of the graph at
    ``onnx_path``, converted once beside it; the ONNX file itself where that folder is not
    writable. Why: OpenVINO parses a 470 MB ONNX protobuf in 3-5 s at every start (twice per
    server: encoder and reader), but maps an IR's weights in 0.04 s. The weights stay f32 (no
    fp16 compression): the same graph, bit-identical outputs.
    Staged in a temporary folder and renamed, ``.bin`` first: a killed conversion leaves no
    ``.xml`` that loads, and an IR older than its ONNX (re-exported) is converted again."""
    xml = onnx_path.with_suffix(".xml")
    import openvino as ov

    if (
        xml.is_file()
        and xml.with_suffix(".bin").is_file()
        and xml.stat().st_mtime >= onnx_path.stat().st_mtime
        and _loads(ov.Core(), xml)
    ):
        return xml
    model = ov.Core().read_model(str(onnx_path))  # an ONNX that does not parse: raised
    try:
        with tempfile.TemporaryDirectory(prefix=".ir.", dir=onnx_path.parent) as tmp:
            staged = Path(tmp) / xml.name
            ov.save_model(model, str(staged), compress_to_fp16=False)
            os.replace(staged.with_suffix(".bin"), xml.with_suffix(".bin"))
            os.replace(staged, xml)
    except (OSError, RuntimeError) as exc:  # OpenVINO writes a full disk's error as a
        # RuntimeError ("basic_ios::clear: iostream error"), in a traceback from model build
        reason = " ".join(str(exc).split()[-6:])
        log.warning(
            "could not write OpenVINO IR beside %s (%s): reading the ONNX", onnx_path, reason
        )
        return onnx_path
    log.info("converted %s to OpenVINO IR", onnx_path)
    return xml


def _loads(core: Any, xml: Path) -> bool:
    """Whether OpenVINO reads the IR at ``xml`` (it checks the ``.bin``'s size against the
    graph, mapping rather than reading the weights: milliseconds). An IR cut short after its
    conversion failed every load, so every start fell back to torch (``auto``) or refused to
    start (``openvino``) and `newsqa model build` left it so; now it is converted again."""
    try:
        core.read_model(str(xml))
    except RuntimeError as exc:
        reason = [line for line in str(exc).splitlines() if line.strip()][-1:]
        log.warning("%s does not load, converting it again: %s", xml, " ".join(reason))
        return False
    return True


def can_export(model_dir: Path) -> bool:
    """A writable local model folder of the shape ``export`` knows: mean pooling, then
    normalization (as the bundled e5)."""
    try:
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        modules = json.loads((model_dir / "modules.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [m.get("type", "") for m in modules]
    mean = pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens") is True
    return (
        os.access(model_dir, os.W_OK)
        and mean
        and pooling.get("include_prompt", True) is not False  # the prompt's tokens are pooled
        and len(kinds) == 3
        and kinds[2].endswith("Normalize")
    )


class GraphEncoder:
    """Texts to L2-normalized vectors through the exported graph (``export``), with the
    model's tokenizer; a subclass runs the graph."""

    def __init__(self, tokenizer: Any, max_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Vectors in the order of ``texts``; batched longest first, as sentence-transformers
        does, so that each batch pads to texts of about its own length."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        parts = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(
                [texts[i] for i in order[start : start + batch_size]],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="np",
            )
            feed = {
                "input_ids": batch["input_ids"].astype(np.int64),
                "attention_mask": batch["attention_mask"].astype(np.int64),
            }
            parts.append(self._run(feed))
        vectors = np.concatenate(parts).astype(np.float32, copy=False)
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


class OnnxEncoder(GraphEncoder):
    """The graph in ONNX Runtime."""

    def __init__(self, model_dir: Path, tokenizer: Any, max_tokens: int, threads: int) -> None:
        import onnxruntime as ort

        super().__init__(tokenizer, max_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No busy-waiting between calls: a server shares its cores with writes and other
        # processes, and spinning threads are what collapses under oversubscription.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(exported_path(model_dir)), options, providers=["CPUExecutionProvider"]
        )

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, feed)[0]


def compile_on_cpu(core: Any, model: Any, precision: str, threads: int) -> Any:
    """``model`` (an ``ov.Model`` or a file) compiled by OpenVINO for this CPU, in ``precision``
    (``f32`` or ``bf16``) and tuned for latency: one request at a time, on ``threads`` threads.
    The encoder's questions and passages and the reader's windows all run so."""
    return core.compile_model(
        model,
        "CPU",
        {
            "INFERENCE_PRECISION_HINT": precision,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads,
        },
    )


class OpenVinoEncoder(GraphEncoder):
    """The same exported graph run by OpenVINO, in bf16 where the CPU has bf16 instructions
    (OpenVINO keeps the precision-sensitive parts, such as softmax and normalization, in f32):
    vectors within cosine 0.99998 of torch fp32, like torch's own bf16 autocast, in 0.7x its
    time on passages at batch 16. In f32 it is as fast as ONNX Runtime.

    A question (one text of at most ``STATIC_TOKENS`` tokens) runs through a copy of the graph
    compiled for a fixed length, the next multiple of ``BUCKET`` tokens, padding masked out:
    the same vector in 0.62x the time of the graph compiled for any shape (measured
    interleaved on 100 detik-summary-dev questions: 6.3-6.7 vs 10.3 ms), which spends the
    difference on shape inference and buffer allocation per call. Each length is compiled on
    first use (about 0.4 s) and holds about 100 MB."""

    STATIC_TOKENS = 64
    BUCKET = 16

    def __init__(
        self, model_dir: Path, tokenizer: Any, max_tokens: int, threads: int, bf16: bool
    ) -> None:
        import openvino as ov

        super().__init__(tokenizer, max_tokens)
        self.core = ov.Core()
        self.precision = "bf16" if bf16 else "f32"
        self.threads = threads
        self.model = self.core.read_model(str(openvino_ir(exported_path(model_dir))))
        self.compiled = compile_on_cpu(self.core, self.model, self.precision, threads)
        self._fixed: dict[int, Any] = {}
        self._pad_id = int(tokenizer.pad_token_id or 0)
        # Calling a compiled model reuses one infer request, which is not thread-safe (ONNX
        # Runtime's session.run is); the service embeds questions from several threads.
        self._lock = threading.Lock()

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        with self._lock:
            compiled, feed = self._compiled_for(feed)
            return np.array(compiled(feed)[0])  # a copy: the request's buffer is reused

    def _compiled_for(self, feed: dict[str, np.ndarray]) -> tuple[Any, dict[str, np.ndarray]]:
        rows, tokens = feed["input_ids"].shape
        if rows != 1 or tokens > self.STATIC_TOKENS:
            return self.compiled, feed
        length = -(-tokens // self.BUCKET) * self.BUCKET
        if length not in self._fixed:
            model = self.model.clone()
            model.reshape({name: [1, length] for name in feed})
            self._fixed[length] = compile_on_cpu(self.core, model, self.precision, self.threads)
        extra = ((0, 0), (0, length - tokens))
        padded = {
            "input_ids": np.pad(feed["input_ids"], extra, constant_values=self._pad_id),
            "attention_mask": np.pad(feed["attention_mask"], extra),
        }
        return self._fixed[length], padded
