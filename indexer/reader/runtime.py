"""How the reader's forward pass runs: OpenVINO or torch in fp32, OpenVINO or torch in bf16,
or ONNX Runtime with int8 weights.

On these 2-core machines the forward pass is most of an /ask, and it is compute-bound: ONNX
Runtime in fp32 is no faster than torch. OpenVINO in f32 is: the same logits (to 1e-3) in
about half torch's time (3 windows of 384 tokens: 204 vs 388 ms; 30 windows of mixed shapes:
2.4 vs 4.7 s). In bf16 it takes 0.65-0.69x that again, where the CPU has bf16 instructions
(AVX512-BF16, AMX): the logits move by up to 0.25, per window within cosine 0.99998 of torch's,
and the no-answer thresholds calibrated for fp32 hold (calibrated itself, bf16 came out within
0.07 of them, answering and abstaining on the same shares within 0.013). So the default,
``auto``, is OpenVINO in bf16 where the CPU has those instructions and in f32 elsewhere.
Torch's own bf16 autocast stays opt-in: OpenVINO's bf16 takes 0.7-0.8x its time.

Int8 weights: /ask takes 0.63x the time of torch fp32 (``bench`` section 8, on a machine with
AVX512-VNNI). They come from ONNX Runtime's dynamic quantization: weights per output channel,
activations per call.
Measured on the held-out facqa-train slice (268 questions, as many negatives) against torch
fp32: gold-passage F1 0.764 vs 0.762; F1 inside 200-250-word contexts 0.664 vs 0.659;
pseudo-English F1 0.729 vs 0.722; the whole scoring pass 48 s vs 136 s. End to end on 400
facqa-train questions it costs 0.004 F1 (Indonesian) and 0.007 (English). Torch's own dynamic
int8, per channel too, lost 0.03 to 0.11 F1, so it is not offered. Int8 shifts the no-answer
margins a little: the per-pair thresholds are calibrated with the runtime that serves
(``thresholds.json`` names it).

The ONNX graphs are derived from the shipped weights, not shipped. They are exported once into
the model cache (``newsqa model build``, or the first load), under a name taken from the
weights' and encoder's hashes, so other weights get another file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal, cast, get_args

import numpy as np
import torch
from filelock import FileLock

from indexer.embedder import cpu_supports_bf16
from indexer.encoder_onnx import compile_on_cpu, openvino_ir
from indexer.reader.model import ExtractiveReader
from indexer.reader.provenance import sha256_file
from newsqa.errors import ModelBuildError

Runtime = Literal["auto", "openvino", "openvino-bf16", "onnx-int8", "torch", "torch-bf16"]
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
SAME_AS_TORCH: frozenset[Runtime] = frozenset({"torch", "openvino"})
"""Runtimes whose logits are torch fp32's."""
SAME_THRESHOLDS: frozenset[Runtime] = SAME_AS_TORCH | {"openvino-bf16"}
"""Runtimes whose no-answer margins are torch fp32's to within what calibration resolves:
thresholds calibrated with one hold for all (int8 and torch's autocast shift them more)."""
Forward = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""(input ids, attention mask) -> (start logits, end logits), each [windows, tokens]."""

log = logging.getLogger(__name__)
_INPUTS = ("input_ids", "attention_mask")
_OUTPUTS = ("start_logits", "end_logits")
_OPSET = 17
_PADDING_LOGIT = -1e4
_STAGING = ".reader-onnx."  # where an export writes before its rename
_EXPORT_LOCK = ".reader-export.lock"


def forward_by_length(
    forward: Forward, ids: torch.Tensor, mask: torch.Tensor, fill: float = 0.9
) -> tuple[torch.Tensor, torch.Tensor]:
    """``forward`` over groups of windows of about one length, each group cut to its longest
    window. A batch is padded to its longest window, and an /ask reads the best article in
    windows of whole sentences (about 200 tokens) beside passages read whole (up to 384), so a
    single pass spent much of its time on padding. A window joins the group of the longer ones
    when it has at least ``fill`` of their longest's tokens, else it starts a new group.

    Padding is masked out of attention, so a window's logits do not depend on its group. Bench
    section 11 (60 questions of each set, both ways in turn): the answer step 0.90x the time of
    one padded pass on facqa-valid and 0.82x on detik-summary-dev with OpenVINO f32 on an
    AVX2-only CPU, 0.89x and 0.88x with OpenVINO bf16 on a Zen 5, the same short answers for
    all 120 both times. Positions past a window's group keep a low logit, as padding does;
    neither is ever context (``context_mask``)."""
    lengths = mask.sum(dim=1).tolist()
    order = sorted(range(len(lengths)), key=lambda w: -lengths[w])
    groups: list[list[int]] = []
    for w in order:
        if groups and lengths[w] >= fill * lengths[groups[-1][0]]:
            groups[-1].append(w)
        else:
            groups.append([w])
    if len(groups) == 1:
        return forward(ids, mask)
    return _in_groups(forward, ids, mask, groups, lengths)


def _in_groups(
    forward: Forward,
    ids: torch.Tensor,
    mask: torch.Tensor,
    groups: list[list[int]],
    lengths: list[int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """``forward`` once per group of window rows, each cut to its group's longest window
    (``lengths``: each window's tokens); positions past it keep a low logit, as padding does
    (never context: ``context_mask``)."""
    start = torch.full(ids.shape, _PADDING_LOGIT)
    end = torch.full(ids.shape, _PADDING_LOGIT)
    for group in groups:
        rows, n = torch.tensor(group), max(lengths[w] for w in group)
        s, e = forward(ids[rows, :n], mask[rows, :n])
        start[rows, :n], end[rows, :n] = s.float(), e.float()
    return start, end


class TorchForward:
    """The fp32 model as trained."""

    def __init__(self, model: ExtractiveReader) -> None:
        self.model = model.eval()

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode():
            return self.model(ids, mask)


class Bf16Forward(TorchForward):
    """The same model with its matrix products in bf16 (autocast), logits back in fp32: 1.65x
    faster on a CPU with AVX512-BF16 (detik chunks, 2.2 windows per question: 216 -> 132 ms),
    and about 10x slower without such instructions, so it is used only where they exist
    (``load_forward``). Autocast is per thread: this runs on the OpenMP thread, as it must."""

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            start, end = self.model(ids, mask)
        return start.float(), end.float()


class OnnxForward:
    """An exported reader in ONNX Runtime, with as many intra-op threads as torch has (the
    call runs on the OpenMP thread, one forward pass at a time, like torch's).

    Each window goes through alone, without its padding: dynamic int8 scales activations over
    the whole input, so a window read beside a longer one (or its padding) would get a
    slightly different answer than read alone. Alone, a passage reads the same whatever else
    is asked with it, and no time goes into padding."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = mask.sum(dim=1).tolist()
        return _in_groups(self._run, ids, mask, [[w] for w in range(len(ids))], lengths)

    def _run(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
        s, e = self.session.run(list(_OUTPUTS), feed)
        return torch.from_numpy(s), torch.from_numpy(e)


class OpenVinoForward:
    """The exported fp32 graph compiled by OpenVINO, in f32 or (``bf16``) with its matrix
    products in bf16; OpenVINO keeps softmax and normalization in f32. The whole batch goes
    through at once: padding is masked out of attention, so a window's logits do not depend on
    what it is read beside (unlike int8's per-call activation scales)."""

    def __init__(self, path: Path, bf16: bool, threads: int | None = None) -> None:
        import openvino as ov

        self.compiled = compile_on_cpu(
            ov.Core(),
            str(openvino_ir(path)),
            "bf16" if bf16 else "f32",
            threads or torch.get_num_threads(),
        )
        self._lock = threading.Lock()  # the compiled model's one infer request is not thread-safe

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
        with self._lock:
            outputs = self.compiled(feed)
            # copies: the request's buffers are reused by the next call
            return torch.from_numpy(np.array(outputs[0])), torch.from_numpy(np.array(outputs[1]))


def export_path(cache_dir: Path, encoder_dir: Path, weights_path: Path, kind: str) -> Path:
    """Where the ``kind`` (fp32 or int8) export of these weights over this encoder lives in the
    cache."""
    key = f"{Path(encoder_dir).name}:{sha256_file(weights_path)}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(cache_dir) / "models" / f"reader-{kind}-{digest}.onnx"


def _export_fp32(model: ExtractiveReader, target: Path) -> None:
    # One padded row: the trace must keep the attention mask (an all-ones example lets
    # transformers drop it, and the exported graph would then ignore padding).
    ids = torch.full((2, 12), 5, dtype=torch.long)
    ids[:, 0] = 0
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    axes = {name: {0: "windows", 1: "tokens"} for name in _INPUTS + _OUTPUTS}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer notes on shape arithmetic in the mask code
        torch.onnx.export(
            model.eval(),
            (ids, mask),
            str(target),
            input_names=list(_INPUTS),
            output_names=list(_OUTPUTS),
            dynamic_axes=axes,
            opset_version=_OPSET,
            dynamo=False,
        )


def export(model: ExtractiveReader, target: Path, int8: bool) -> Path:
    """Export ``model`` to ONNX at ``target``, quantized to int8 if asked (about 30 s here).
    Written beside the target and renamed into place: a killed export leaves no file that
    loads."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=_STAGING, dir=target.parent) as tmp:
        fp32, int8_path = Path(tmp) / "reader.onnx", Path(tmp) / "reader-int8.onnx"
        _export_fp32(model, fp32)
        if not int8:
            os.replace(fp32, target)
            return target
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()
        root.addFilter(_no_preprocess_hint)  # the quantizer's advice to run its preprocessor
        try:
            quantize_dynamic(fp32, int8_path, per_channel=True, weight_type=QuantType.QInt8)
        finally:
            root.removeFilter(_no_preprocess_hint)
        os.replace(int8_path, target)
    return target


def _no_preprocess_hint(record: logging.LogRecord) -> bool:
    return "pre-processing before quantization" not in record.getMessage()


def resolve(runtime: Runtime) -> Runtime:
    """The runtime that runs on this CPU: ``auto`` is OpenVINO, in bf16 where the CPU has bf16
    instructions; a bf16 runtime is its fp32 one where it has none (bf16 is then about 10x
    slower than fp32)."""
    if runtime == "auto":
        runtime = "openvino-bf16"
    if runtime.endswith("-bf16") and not cpu_supports_bf16():
        return cast(Runtime, runtime.removesuffix("-bf16"))
    return runtime


def load_forward(
    runtime: Runtime,
    encoder_dir: Path,
    weights_path: Path,
    cache_dir: Path,
    load_model: Callable[[], ExtractiveReader],
) -> Forward:
    """The forward pass of ``runtime``; for the ONNX runtimes, exported first when the cache
    lacks the graph (the torch model is then loaded only for the export). The bf16 runtimes
    fall back to fp32 on a CPU without bf16 instructions, where bf16 is about 10x slower."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown reader runtime {runtime!r}; expected one of {RUNTIMES}")
    if (runs := resolve(runtime)) != runtime and runtime != "auto":
        log.warning(
            "reader runtime %s: this CPU has no bf16 instructions; %s instead", runtime, runs
        )
    bf16 = runs.endswith("-bf16")
    if runs.startswith("torch"):
        return (Bf16Forward if bf16 else TorchForward)(load_model())
    int8 = runs == "onnx-int8"
    path = export_path(cache_dir, encoder_dir, weights_path, "int8" if int8 else "fp32")
    if not path.is_file() or not int8:
        try:
            _export_once(path, int8, load_model)
        except OSError as exc:  # a read-only cache: "[Errno 30] ...", naming a temp folder
            if path.is_file():  # exported, but the lock cannot be taken: read as it is
                return OpenVinoForward(path, bf16)
            raise ModelBuildError(_unwritable(runtime, path, exc)) from exc
    return OnnxForward(path) if int8 else OpenVinoForward(path, bf16)


def _export_once(path: Path, int8: bool, load_model: Callable[[], ExtractiveReader]) -> None:
    """Export the graph at ``path`` (and convert OpenVINO's IR of it) under the cache's reader
    export lock, as ``indexer.encoder_onnx`` exports the encoder: two servers starting at once
    each spent 30 s of CPU on their own export, and the IR files of one could be renamed over
    the other's while a third read them. Under the lock, what killed exports left behind (a
    450 MB ``.reader-onnx.*`` staging folder each, never removed) goes first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.parent / _EXPORT_LOCK):
        if not path.is_file():  # else exported by the process this one waited for
            for stale in path.parent.glob(f"{_STAGING}*"):
                if stale.is_dir():
                    log.info("removing %s, left by a reader export that did not finish", stale)
                    shutil.rmtree(stale, ignore_errors=True)
            export(load_model(), path, int8=int8)
        if not int8:
            openvino_ir(path)


def check_export(runtime: Runtime, encoder_dir: Path, weights_path: Path, cache_dir: Path) -> None:
    """``ModelBuildError`` where ``runtime`` runs a graph the cache lacks and cannot hold
    (`newsqa serve` asks before it starts: a read-only cache was a traceback in the log
    and exit 3); milliseconds, the export itself is ``load_forward``'s."""
    runs = resolve(runtime)
    if runs.startswith("torch"):
        return
    kind = "int8" if runs == "onnx-int8" else "fp32"
    path = export_path(cache_dir, encoder_dir, weights_path, kind)
    if path.is_file():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path.parent).close()
    except OSError as exc:
        raise ModelBuildError(_unwritable(runtime, path, exc)) from exc


def _unwritable(runtime: Runtime, path: Path, exc: OSError) -> str:
    return (
        f"reader runtime {runtime} runs a graph exported into {path.parent}, which cannot be "
        f"written ({exc.strerror or exc}): run `newsqa model build` where it can, point "
        "NEWSQA_CACHE_DIR at a writable folder, or set NEWSQA_READER_RUNTIME=torch"
    )
