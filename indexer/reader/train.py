"""Training the extractive reader on FacQA-style questions (``newsqa reader train``).

A slice of the training questions (grouped by passage, seeded) is held out: it picks the
epoch and the no-answer threshold. Validation questions are only reported on, with the gold
passage given (token F1 / EM) and paired with another validation question's passage (the
share of those the reader declines).

Full fine-tuning in fp32 with the word embeddings frozen; AdamW with linear warmup and decay;
seeded shuffling, negative sampling and initialisation. Each epoch writes a checkpoint (fp32,
the trained parameters) and is scored on the held-out slice. The result is one bf16
safetensors file (see ``model.save_reader``) and ``manifest.json`` beside it.
"""

from __future__ import annotations

import copy
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from indexer.openmp import on_openmp_thread
from indexer.reader.config import NOT_IN_RUN_KEY, TrainConfig
from indexer.reader.examples import (
    Example,
    in_english,
    lengthen,
    load_passages,
    passage_pool,
    prepare_examples,
    read_jsonl,
    sample_negatives,
    split_holdout,
    topical_negatives,
)
from indexer.reader.model import (
    ExtractiveReader,
    build_reader,
    load_reader,
    load_state,
    save_reader,
    shipped_state,
)
from indexer.reader.news_examples import news_examples
from indexer.reader.provenance import MANIFEST_NAME, sha256_file, write_manifest
from indexer.reader.run import Log, Run, plan_epochs
from indexer.reader.scoring import evaluate_reader, without_samples
from indexer.reader.spans import Reader

WEIGHTS_NAME = "reader.safetensors"
RESUME_NAME = "resume.pt"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class NewsData:
    """News questions (``news_examples``) and the corpus they were written over."""

    questions: Path
    corpus: Path


@dataclass
class _Data:
    """The training questions as examples, split into what is trained on and what is held out."""

    passages: dict[str, str]
    stats: dict[str, int]
    train_set: list[Example]
    held_out: list[Example]
    held_negatives: list[Example]


def _load_data(
    passages_path: Path, questions_path: Path, news: NewsData | None, config: TrainConfig
) -> _Data:
    passages = load_passages(passages_path)
    questions = read_jsonl(questions_path)
    if config.limit_questions:
        questions = questions[: config.limit_questions]
    examples, stats = prepare_examples(questions, passages)
    if not examples:
        raise ValueError(f"no usable questions in {questions_path}")
    if news is not None:
        extra, news_stats = news_examples(news.questions, news.corpus, config.news_window_words)
        if not extra:
            raise ValueError(f"no usable questions in {news.questions} ({news_stats})")
        examples += extra
        passages.update({e.passage_id: e.passage for e in extra})
        stats = {**stats, "news": news_stats}
    train_set, held_out = split_holdout(examples, config.holdout_fraction, config.seed)
    held_negatives = sample_negatives(held_out, 1.0, random.Random(config.seed + 1))
    if config.topical_negatives_ratio > 0:  # both kinds of negatives tune the threshold
        held_negatives += topical_negatives(held_out, 1.0, random.Random(config.seed + 1))
    return _Data(passages, stats, train_set, held_out, held_negatives)


def train(
    encoder_dir: str | Path,
    passages_path: str | Path,
    questions_path: str | Path,
    valid_path: str | Path | None,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    config: TrainConfig | None = None,
    log: Log = _stderr,
    news: NewsData | None = None,
    init_weights: str | Path | None = None,
) -> dict:
    """Train, pick the epoch on the held-out slice, write ``reader.safetensors`` (bf16) and
    ``manifest.json`` to ``out_dir``; returns the manifest. Runs on the OpenMP thread.
    ``news`` adds news questions to the training data; ``init_weights`` starts from trained
    reader weights instead of the bare encoder (a second, shorter stage)."""
    return on_openmp_thread(
        _train,
        Path(encoder_dir),
        Path(passages_path),
        Path(questions_path),
        Path(valid_path) if valid_path else None,
        Path(out_dir),
        Path(checkpoint_dir),
        config or TrainConfig(),
        log,
        news,
        Path(init_weights) if init_weights else None,
    )


# Over 50 lines on purpose: the run's stages in order, each one call; its length is the manifest's
# sections.
def _train(
    encoder_dir: Path,
    passages_path: Path,
    questions_path: Path,
    valid_path: Path | None,
    out_dir: Path,
    checkpoint_dir: Path,
    config: TrainConfig,
    log: Log,
    news: NewsData | None,
    init_weights: Path | None,
) -> dict:
    from transformers import AutoTokenizer

    began = time.time()
    torch.set_num_threads(config.threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    data = _load_data(passages_path, questions_path, news, config)
    log(
        f"questions {data.stats}; train {len(data.train_set)}, held out {len(data.held_out)} "
        f"(+{len(data.held_negatives)} negatives)"
    )
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    started_from = None
    if init_weights is not None:  # read (and hashed) before out_dir's file may be replaced
        started_from = {"path": str(init_weights), "sha256": sha256_file(init_weights)}
        model = load_reader(encoder_dir, init_weights)
        model.train()
        log(f"starting from {init_weights}")
    else:
        model = build_reader(encoder_dir)
    model.freeze_word_embeddings()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    log(f"parameters: {trainable:,} trained, {frozen:,} frozen (word embeddings)")

    plan = plan_epochs(tokenizer, data.train_set, config)
    log(
        f"steps per epoch {plan.steps_per_epoch} (windows {plan.windows}, negatives "
        f"{plan.negatives}); training {plan.total} steps, warmup {plan.warmup}"
    )
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    run_key = {
        "settings": {k: v for k, v in asdict(config).items() if k not in NOT_IN_RUN_KEY},
        "data": [sha256_file(passages_path), sha256_file(questions_path)]
        + ([sha256_file(news.questions), sha256_file(news.corpus)] if news else [])
        + ([started_from["sha256"]] if started_from else []),
        "encoder": encoder_dir.name,
    }
    run = Run(model, config, plan, checkpoint_dir / RESUME_NAME, run_key)
    if run.restore():
        log(f"resumed from {run.resume_path} at step {run.step}")
    elif config.resume:  # said, not refused: a restart loop passes --resume from its first run
        log(
            f"nothing to resume: no {RESUME_NAME} in {checkpoint_dir} (a mistyped "
            "--checkpoint-dir, another NEWSQA_CACHE_DIR, or a run that finished); a new run "
            "from step 0"
        )

    def reader_over(m: ExtractiveReader) -> Reader:
        return Reader(m, tokenizer, config.max_length, config.doc_stride)

    _run_epochs(run, data, checkpoint_dir, tokenizer.pad_token_id, reader_over, log)
    chosen, bf16_model, threshold, held_bf16 = _choose(run, data, reader_over, log)
    fp32_threshold = chosen.get("held_out", {}).get("no_answer_threshold", 0.0)
    validation, valid_stats = (None, None)
    if valid_path is not None:
        validation, valid_stats = _validate(
            valid_path, data.passages, model, bf16_model, fp32_threshold, threshold,
            reader_over, config, log,
        )  # fmt: skip

    out_dir.mkdir(parents=True, exist_ok=True)
    weights = save_reader(model, out_dir / WEIGHTS_NAME, torch.bfloat16)
    data_paths = {"passages": passages_path, "questions": questions_path}
    if news is not None:
        data_paths |= {"news_questions": news.questions, "news_corpus": news.corpus}
    if valid_path is not None:
        data_paths["valid"] = valid_path
    sections = {
        "data_stats": {
            "train": data.stats,
            "train_examples": len(data.train_set),
            "held_out_examples": len(data.held_out),
            "held_out_negatives": len(data.held_negatives),
            "negatives_per_epoch": plan.negatives,
            "windows_per_epoch": plan.windows,
            "valid": valid_stats,
        },
        "settings": {"warmup_steps": plan.warmup, "total_steps": plan.total},
        "training": {
            "started_from": started_from or "the bare encoder",
            "steps": run.step,
            "resumed_at_step": run.resumed_at,
            "seconds_in_steps": round(run.train_seconds, 1),
            "seconds_per_step": round(run.train_seconds / max(1, run.step), 3),
            "wall_seconds": round(time.time() - began, 1),
            "epochs": run.epochs_log,
            "chosen_epoch": chosen["epoch"],
            "chosen_by": "best held-out F1" if data.held_out else "last epoch (no held-out slice)",
        },
        "tuned": {
            "no_answer_threshold": threshold,
            "no_answer_threshold_fp32": fp32_threshold,
            "held_out_bf16": held_bf16,
        },
        "validation": validation,
    }
    manifest = write_manifest(out_dir, weights, model, encoder_dir, data_paths, config, sections)
    run.resume_path.unlink(missing_ok=True)
    log(f"wrote {weights} ({weights.stat().st_size / 2**20:.1f} MiB) and {MANIFEST_NAME}")
    return manifest


def _run_epochs(
    run: Run,
    data: _Data,
    checkpoint_dir: Path,
    pad_id: int,
    reader_over: Callable[[ExtractiveReader], Reader],
    log: Log,
) -> None:
    """Train each epoch not done yet; checkpoint it and score it on the held-out slice."""
    done_epochs = {e["epoch"] for e in run.epochs_log}
    for epoch in range(1, len(run.plan.batches) + 1):
        if epoch in done_epochs:
            continue
        if run.step >= run.plan.total:
            break
        tick = time.perf_counter()
        losses = run.train_epoch(epoch, pad_id, log)
        checkpoint = checkpoint_dir / f"epoch-{epoch}.safetensors"
        save_reader(run.model, checkpoint, torch.float32)
        entry = {
            "epoch": epoch,
            "steps_done": run.step,
            "batches": len(losses),
            "complete": len(losses) == len(run.plan.batches[epoch - 1]),
            "mean_loss": round(sum(losses) / max(1, len(losses)), 4),
            "seconds": round(time.perf_counter() - tick, 1),
            "checkpoint": str(checkpoint),
        }
        if data.held_out:
            entry["held_out"] = _held_out_report(run.model, data, reader_over, run.config)
            log(f"epoch {epoch} held out: {json.dumps(entry['held_out'])}")
        run.epochs_log.append(entry)
        if run.config.save_every:
            run.save([])


def _held_out_report(
    model: ExtractiveReader,
    data: _Data,
    reader_over: Callable[[ExtractiveReader], Reader],
    config: TrainConfig,
) -> dict:
    return without_samples(
        evaluate_reader(
            reader_over(model),
            data.held_out,
            data.held_negatives,
            max_answer_tokens=config.max_answer_tokens,
            batch_pairs=config.eval_batch_pairs,
            tune=True,
        )
    )


def _choose(
    run: Run,
    data: _Data,
    reader_over: Callable[[ExtractiveReader], Reader],
    log: Log,
) -> tuple[dict, ExtractiveReader, float, dict | None]:
    """Load the epoch with the best held-out F1 (the last one without a held-out slice) into
    the model; the bf16 copy that ships, its threshold, and its held-out report if retuned."""
    from safetensors.torch import load_file

    chosen = max(
        run.epochs_log,
        key=lambda e: (e.get("held_out", {}).get("f1", 0.0), e["epoch"]),
    )
    model = run.model
    load_state(model, load_file(chosen["checkpoint"]))
    model.eval()
    threshold = chosen.get("held_out", {}).get("no_answer_threshold", 0.0)
    bf16_model = copy.deepcopy(model)
    load_state(bf16_model, shipped_state(model, torch.bfloat16))
    bf16_model.eval()
    held_bf16 = None
    if data.held_out and run.config.retune_bf16:
        held_bf16 = _held_out_report(bf16_model, data, reader_over, run.config)
        threshold = held_bf16["no_answer_threshold"]
        log(f"held out, bf16 weights: {json.dumps(held_bf16)}")
    return chosen, bf16_model, threshold, held_bf16


def _validate(
    valid_path: Path,
    passages: dict[str, str],
    model: ExtractiveReader,
    bf16_model: ExtractiveReader,
    fp32_threshold: float,
    threshold: float,
    reader_over: Callable[[ExtractiveReader], Reader],
    config: TrainConfig,
    log: Log,
) -> tuple[dict, dict]:
    """Report only: gold-passage figures of the fp32 and bf16 weights on the validation
    questions, then the same questions inside long contexts."""
    valid_questions = read_jsonl(valid_path)
    if config.limit_valid:
        valid_questions = valid_questions[: config.limit_valid]
    examples, stats = prepare_examples(valid_questions, passages)
    negatives = sample_negatives(examples, 1.0, random.Random(config.seed + 2))
    validation: dict = {}
    for name, m, thr in (("fp32", model, fp32_threshold), ("bf16", bf16_model, threshold)):
        validation[name] = evaluate_reader(
            reader_over(m),
            examples,
            negatives,
            threshold=thr,
            max_answer_tokens=config.max_answer_tokens,
            batch_pairs=config.eval_batch_pairs,
        )
        log(f"valid ({name}): {json.dumps(without_samples(validation[name]))}")
    # The same questions rewritten in pseudo-English: the cross-lingual figure FacQA lacks.
    validation["bf16_english"] = evaluate_reader(
        reader_over(bf16_model),
        in_english(examples),
        in_english(negatives),
        threshold=threshold,
        max_answer_tokens=config.max_answer_tokens,
        batch_pairs=config.eval_batch_pairs,
    )
    english_report = without_samples(validation["bf16_english"])
    log(f"valid, pseudo-English questions (bf16): {json.dumps(english_report)}")
    validation["bf16_minus_fp32_f1"] = round(validation["bf16"]["f1"] - validation["fp32"]["f1"], 4)
    validation["bf16_long_context"] = _long_context_report(
        reader_over(bf16_model), examples, negatives, threshold, config
    )
    long_report = without_samples(validation["bf16_long_context"])
    log(f"valid, long contexts (bf16): {json.dumps(long_report)}")
    return validation, stats


def _long_context_report(
    reader: Reader,
    examples: Sequence[Example],
    negatives: Sequence[Example],
    threshold: float,
    config: TrainConfig,
) -> dict:
    """The questions with their passage among others (~200-250 words, the size of retrieved
    chunks), negatives lengthened alike: windows and long contexts."""
    rng = random.Random(config.seed + 3)
    pool = passage_pool(examples)
    n = config.long_eval_questions
    return evaluate_reader(
        reader,
        [lengthen(e, pool, rng, rng.randint(200, 250)) for e in examples][:n],
        [lengthen(e, pool, rng, rng.randint(200, 250)) for e in negatives][:n],
        threshold=threshold,
        max_answer_tokens=config.max_answer_tokens,
        batch_pairs=config.eval_batch_pairs,
    )


__all__ = ["TrainConfig", "train", "WEIGHTS_NAME", "MANIFEST_NAME"]
