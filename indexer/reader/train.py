"""Training and evaluating the extractive reader on FacQA-style questions.

Questions (JSON Lines: ``id, question, relevant, answers``) point at their passage (the first
``relevant`` id in a passages file of ``id, text`` lines); the answer is the first
case-insensitive occurrence of the first answer string found in the passage (questions with
no answer in their passage are skipped and counted). Negatives pair a question with another
question's passage that holds none of its answers; their target is the CLS position.

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
import hashlib
import json
import math
import os
import random
import re
import string
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from indexer.language import question_language
from indexer.openmp import on_openmp_thread
from indexer.reader.model import (
    ExtractiveReader,
    build_reader,
    load_state,
    save_reader,
    shipped_state,
)
from indexer.reader.spans import Reader, encode_pairs

WEIGHTS_NAME = "reader.safetensors"
RESUME_NAME = "resume.pt"
# Settings that do not change what is trained (a resumed run may differ in them).
_NOT_IN_RUN_KEY = {
    "resume",
    "save_every",
    "log_every",
    "threads",
    "limit_valid",
    "long_eval_questions",
    "retune_bf16",
    "eval_batch_pairs",
}
MANIFEST_NAME = "manifest.json"
Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class TrainConfig:
    seed: int = 13
    epochs: int = 2
    max_steps: int | None = None
    """Stop after this many optimizer steps (the schedule is sized to it)."""
    batch_size: int = 16
    lr: float = 8e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    grad_clip: float = 1.0
    max_length: int = 384
    doc_stride: int = 128
    max_answer_tokens: int = 30
    negatives_ratio: float = 0.5
    """Negatives (question + another question's passage) per positive, resampled each epoch."""
    long_context_ratio: float = 0.25
    """Share of examples (positives and negatives) whose passage is lengthened with other
    passages (no answer in them) to ``long_context_words``: retrieved chunks are ~200-250
    words, far longer than FacQA passages, and long ones are read in several windows."""
    long_context_words: tuple[int, int] = (120, 260)
    holdout_fraction: float = 0.1
    """Share of training questions held out (by passage) to pick the epoch and threshold."""
    limit_questions: int | None = None
    """Use only the first N training questions (quick runs and tests)."""
    limit_valid: int | None = None
    eval_batch_pairs: int = 32
    long_eval_questions: int = 150
    """Validation questions (and as many negatives) read again inside long contexts."""
    retune_bf16: bool = False
    """Tune the no-answer threshold again with the bf16 weights (one more held-out pass);
    otherwise the threshold tuned with the chosen epoch's fp32 weights ships."""
    log_every: int = 10
    save_every: int = 25
    """Steps between resume points (``resume.pt`` in the checkpoint folder); 0: none."""
    resume: bool = False
    """Continue a killed run of the same settings and data from its last resume point."""
    threads: int = field(default_factory=torch.get_num_threads)


@dataclass
class Example:
    qid: str
    question: str
    passage_id: str
    passage: str
    answers: list[str]
    answer_start: int | None = None
    """Character offsets of the answer in the passage; None for a negative."""
    answer_end: int | None = None


# --- data ----------------------------------------------------------------------------------


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_passages(path: str | Path) -> dict[str, str]:
    return {row["id"]: row["text"] for row in read_jsonl(path)}


def find_answer(passage: str, answers: Sequence[str]) -> tuple[int, int] | None:
    """The first case-insensitive occurrence of the first answer found in the passage."""
    folded = passage.lower()
    for answer in answers:
        answer = answer.strip()
        if not answer:
            continue
        at = folded.find(answer.lower())
        if at >= 0 and len(answer.lower()) == len(answer):
            return at, at + len(answer)
        if at >= 0:  # lower() changed the length: search the original text instead
            match = re.search(re.escape(answer), passage, flags=re.IGNORECASE)
            if match:
                return match.start(), match.end()
    return None


def prepare_examples(
    questions: Sequence[dict], passages: dict[str, str]
) -> tuple[list[Example], dict[str, int]]:
    """Positive examples; counts of questions used and skipped (and why)."""
    examples: list[Example] = []
    skipped: Counter[str] = Counter()
    for q in questions:
        if q.get("answerable", True) is False or not q.get("answers"):
            skipped["no_answer_given"] += 1
            continue
        pid = next((r for r in q.get("relevant", []) if r in passages), None)
        if pid is None:
            skipped["passage_missing"] += 1
            continue
        found = find_answer(passages[pid], q["answers"])
        if found is None:
            skipped["answer_not_in_passage"] += 1
            continue
        examples.append(
            Example(q["id"], q["question"], pid, passages[pid], list(q["answers"]), *found)
        )
    return examples, {"questions": len(questions), "used": len(examples), **skipped}


def split_holdout(
    examples: Sequence[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """(train, held out): whole passages go to one side, chosen by a seeded shuffle."""
    if fraction <= 0:
        return list(examples), []
    passage_ids = sorted({e.passage_id for e in examples})
    random.Random(seed).shuffle(passage_ids)
    held = set(passage_ids[: max(1, round(fraction * len(passage_ids)))])
    return (
        [e for e in examples if e.passage_id not in held],
        [e for e in examples if e.passage_id in held],
    )


def sample_negatives(
    examples: Sequence[Example], ratio: float, rng: random.Random
) -> list[Example]:
    """``round(ratio * len(examples))`` questions, each paired with another example's passage
    that holds none of its answers."""
    pool = passage_pool(examples)
    count = min(len(examples), round(ratio * len(examples)))
    if count == 0 or len(pool) < 2:
        return []
    negatives = []
    for e in rng.sample(list(examples), count):
        folded = [a.lower() for a in e.answers]
        for _ in range(20):
            pid, text = pool[rng.randrange(len(pool))]
            if pid != e.passage_id and not any(a in text.lower() for a in folded):
                negatives.append(Example(e.qid, e.question, pid, text, e.answers))
                break
    return negatives


def lengthen(
    example: Example,
    pool: Sequence[tuple[str, str]],
    rng: random.Random,
    words: int,
) -> Example:
    """The example with other pool passages (none holding one of its answers) around its own,
    in random order, until the context has about ``words`` words; offsets shifted."""
    folded = [a.lower() for a in example.answers]
    others: list[str] = []
    total = len(example.passage.split())
    for _ in range(200):
        if total >= words:
            break
        pid, text = pool[rng.randrange(len(pool))]
        if pid == example.passage_id or any(a in text.lower() for a in folded):
            continue
        others.append(text)
        total += len(text.split())
    at = rng.randint(0, len(others))
    parts = others[:at] + [example.passage] + others[at:]
    context = " ".join(parts)
    shift = len(" ".join(parts[:at])) + (1 if at else 0)
    start = None if example.answer_start is None else example.answer_start + shift
    end = None if example.answer_end is None else example.answer_end + shift
    return Example(
        example.qid, example.question, example.passage_id, context, example.answers, start, end
    )


def lengthen_some(
    examples: Sequence[Example],
    pool: Sequence[tuple[str, str]],
    ratio: float,
    word_range: tuple[int, int],
    rng: random.Random,
) -> list[Example]:
    """``examples`` with a ``ratio`` share of them (seeded choice) lengthened."""
    if ratio <= 0 or len(pool) < 2 or not examples:
        return list(examples)
    chosen = set(rng.sample(range(len(examples)), round(ratio * len(examples))))
    return [
        lengthen(e, pool, rng, rng.randint(*word_range)) if i in chosen else e
        for i, e in enumerate(examples)
    ]


def passage_pool(examples: Sequence[Example]) -> list[tuple[str, str]]:
    return sorted({(e.passage_id, e.passage) for e in examples})


# --- features ------------------------------------------------------------------------------


def featurize(
    tokenizer, examples: Sequence[Example], max_length: int, stride: int
) -> list[tuple[list[int], int, int]]:
    """(input ids, start token, end token) per window; 0, 0 (CLS) where the window does not
    hold the whole answer or the example is a negative."""
    if not examples:
        return []
    enc = encode_pairs(
        tokenizer,
        [e.question for e in examples],
        [e.passage for e in examples],
        max_length,
        stride,
        padding=False,
    )
    features = []
    for w, ids in enumerate(enc["input_ids"]):
        e = examples[enc["overflow_to_sample_mapping"][w]]
        start_tok = end_tok = 0
        if e.answer_start is not None:
            seq = enc.sequence_ids(w)
            offsets = enc["offset_mapping"][w]
            ctx = [i for i, s in enumerate(seq) if s == 1]
            if (
                ctx
                and offsets[ctx[0]][0] <= e.answer_start
                and offsets[ctx[-1]][1] >= (e.answer_end)
            ):
                # first token ending after the answer's start, last starting before its end
                start_tok = next(i for i in ctx if offsets[i][1] > e.answer_start)
                end_tok = next(i for i in reversed(ctx) if offsets[i][0] < e.answer_end)
        features.append((list(ids), start_tok, end_tok))
    return features


def batches(
    features: Sequence[tuple[list[int], int, int]], batch_size: int, rng: random.Random
) -> list[list[tuple[list[int], int, int]]]:
    """Seeded shuffle; windows of similar length batched together (less padding), batches in
    random order."""
    order = list(features)
    rng.shuffle(order)
    bucket = batch_size * 50
    out = []
    for i in range(0, len(order), bucket):
        chunk = sorted(order[i : i + bucket], key=lambda f: len(f[0]))
        out.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(out)
    return out


def collate(batch, pad_id: int) -> dict[str, torch.Tensor]:
    length = max(len(f[0]) for f in batch)
    ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), length), dtype=torch.long)
    for i, (row, _, _) in enumerate(batch):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "start": torch.tensor([f[1] for f in batch]),
        "end": torch.tensor([f[2] for f in batch]),
    }


def qa_loss(model: ExtractiveReader, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    start, end = model(batch["input_ids"], batch["attention_mask"])
    pad = batch["attention_mask"] == 0
    start = start.masked_fill(pad, -1e4)
    end = end.masked_fill(pad, -1e4)
    loss = torch.nn.functional.cross_entropy
    return (loss(start, batch["start"]) + loss(end, batch["end"])) / 2


# --- metrics -------------------------------------------------------------------------------

_PUNCT = set(string.punctuation) | set("“”‘’«»…–—")


def normalize_answer(text: str) -> str:
    """SQuAD-style: lower case, punctuation removed, whitespace collapsed."""
    text = "".join(" " if ch in _PUNCT else ch for ch in text.lower())
    return " ".join(text.split())


def token_f1(prediction: str, truth: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not pred or not gold:
        return float(pred == gold)
    common = Counter(pred) & Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def best_threshold(positive: Sequence[float], negative: Sequence[float]) -> tuple[float, float]:
    """The margin threshold with the best balanced accuracy (answer positives, decline
    negatives), and that accuracy."""
    if not positive or not negative:
        return 0.0, float("nan")
    values = sorted(set(positive) | set(negative))
    cuts = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values, values[1:])]
    best = (0.0, -1.0)
    for cut in cuts:
        acc = (
            sum(m > cut for m in positive) / len(positive)
            + sum(m <= cut for m in negative) / len(negative)
        ) / 2
        if acc > best[1] + 1e-12:
            best = (cut, acc)
    return best


def evaluate_reader(
    reader: Reader,
    positives: Sequence[Example],
    negatives: Sequence[Example] = (),
    threshold: float | None = None,
    max_answer_tokens: int = 30,
    batch_pairs: int = 32,
    tune: bool = False,
) -> dict:
    """Gold-passage token F1 / EM of the best span (always answering), per question language;
    with negatives, the no-answer accuracy at ``threshold`` (or at the threshold tuned here)."""
    pairs = list(positives) + list(negatives)
    spans: list = [None] * len(pairs)
    started = time.perf_counter()
    # batches of similar lengths: less padding
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].question + pairs[i].passage))
    for i in range(0, len(order), batch_pairs):
        chunk = order[i : i + batch_pairs]
        found = reader.read_pairs(
            [pairs[j].question for j in chunk],
            [pairs[j].passage for j in chunk],
            max_answer_tokens=max_answer_tokens,
            top_k=1,
        )
        for j, spans_of_pair in zip(chunk, found):
            spans[j] = spans_of_pair
    seconds = time.perf_counter() - started
    pos_spans, neg_spans = spans[: len(positives)], spans[len(positives) :]
    by_lang: dict[str, list[tuple[float, float]]] = {}
    pos_margins = []
    pos_f1 = []
    samples = []
    for e, found in zip(positives, pos_spans):
        text = found[0].text if found else ""
        f1 = max(token_f1(text, a) for a in e.answers)
        em = max(exact_match(text, a) for a in e.answers)
        by_lang.setdefault(question_language(e.question), []).append((f1, em))
        pos_f1.append(f1)
        pos_margins.append(found[0].margin if found else float("-inf"))
        if len(samples) < 5:
            samples.append({"question": e.question, "predicted": text, "answers": e.answers})
    scores = [s for group in by_lang.values() for s in group]
    report: dict = {
        "questions": len(positives),
        "f1": _mean(s[0] for s in scores),
        "em": _mean(s[1] for s in scores),
        "by_language": {
            lang: {"questions": len(g), "f1": _mean(s[0] for s in g), "em": _mean(s[1] for s in g)}
            for lang, g in sorted(by_lang.items())
        },
        "seconds": round(seconds, 2),
        "ms_per_pair": round(1000 * seconds / max(1, len(pairs)), 1),
        "samples": samples,
    }
    if negatives:
        neg_margins = [found[0].margin if found else float("-inf") for found in neg_spans]
        if tune or threshold is None:
            threshold, _ = best_threshold(pos_margins, neg_margins)
        answered = [m > threshold for m in pos_margins]
        f1_answered = [f1 if a else 0.0 for f1, a in zip(pos_f1, answered)]
        report.update(
            {
                "negatives": len(negatives),
                "no_answer_threshold": threshold,
                "no_answer_accuracy": _mean(m <= threshold for m in neg_margins),
                "answered_rate": _mean(answered),
                "f1_with_abstention": _mean(f1_answered),
            }
        )
    return report


def _mean(values) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else float("nan")


# --- training ------------------------------------------------------------------------------


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(directory: Path) -> dict:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=directory, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def linear_schedule(optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def make_optimizer(model: ExtractiveReader, config: TrainConfig) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
    )


def train(
    encoder_dir: str | Path,
    passages_path: str | Path,
    questions_path: str | Path,
    valid_path: str | Path | None,
    out_dir: str | Path,
    checkpoint_dir: str | Path,
    config: TrainConfig | None = None,
    log: Log = _stderr,
) -> dict:
    """Train, pick the epoch on the held-out slice, write ``reader.safetensors`` (bf16) and
    ``manifest.json`` to ``out_dir``; returns the manifest. Runs on the OpenMP thread."""
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
    )


def _train(
    encoder_dir: Path,
    passages_path: Path,
    questions_path: Path,
    valid_path: Path | None,
    out_dir: Path,
    checkpoint_dir: Path,
    config: TrainConfig,
    log: Log,
) -> dict:
    from transformers import AutoTokenizer

    began = time.time()
    torch.set_num_threads(config.threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    passages = load_passages(passages_path)
    questions = read_jsonl(questions_path)
    if config.limit_questions:
        questions = questions[: config.limit_questions]
    examples, data_stats = prepare_examples(questions, passages)
    if not examples:
        raise ValueError(f"no usable questions in {questions_path}")
    train_set, held_out = split_holdout(examples, config.holdout_fraction, config.seed)
    held_negatives = sample_negatives(held_out, 1.0, random.Random(config.seed + 1))
    log(
        f"questions {data_stats}; train {len(train_set)}, held out {len(held_out)} "
        f"(+{len(held_negatives)} negatives)"
    )

    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    model = build_reader(encoder_dir)
    model.freeze_word_embeddings()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    log(f"parameters: {trainable:,} trained, {frozen:,} frozen (word embeddings)")

    # Every epoch's negatives and batches, drawn up front from seeded generators.
    plan = []
    for epoch in range(config.epochs):
        rng = random.Random(config.seed * 1000 + epoch)
        negatives = sample_negatives(train_set, config.negatives_ratio, rng)
        epoch_examples = lengthen_some(
            train_set + negatives,
            passage_pool(train_set),
            config.long_context_ratio,
            config.long_context_words,
            rng,
        )
        features = featurize(tokenizer, epoch_examples, config.max_length, config.doc_stride)
        plan.append((len(negatives), len(features), batches(features, config.batch_size, rng)))
    steps_per_epoch = [len(p[2]) for p in plan]
    total = sum(steps_per_epoch)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    warmup = math.ceil(config.warmup_ratio * total)
    log(
        f"steps per epoch {steps_per_epoch} (windows {[p[1] for p in plan]}, negatives "
        f"{[p[0] for p in plan]}); training {total} steps, warmup {warmup}"
    )
    optimizer = make_optimizer(model, config)
    schedule = linear_schedule(optimizer, warmup, total)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    pad_id = tokenizer.pad_token_id

    def reader_over(m: ExtractiveReader) -> Reader:
        return Reader(m, tokenizer, config.max_length, config.doc_stride)

    resume_path = checkpoint_dir / RESUME_NAME
    run_key = {
        "settings": {k: v for k, v in asdict(config).items() if k not in _NOT_IN_RUN_KEY},
        "data": [sha256_file(passages_path), sha256_file(questions_path)],
        "encoder": encoder_dir.name,
    }
    step = 0
    train_seconds = 0.0
    epochs_log: list[dict] = []
    epoch_losses: list[float] = []
    resumed_at = None
    if config.resume and resume_path.is_file():
        saved = torch.load(resume_path, weights_only=True)
        if saved["run_key"] != json.loads(json.dumps(run_key)):
            raise ValueError(
                f"{resume_path} is from a run with other settings or data; "
                "remove it or train without --resume"
            )
        load_state(model, saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        torch.set_rng_state(saved["rng"])
        step, train_seconds = saved["step"], saved["train_seconds"]
        epochs_log, epoch_losses = saved["epochs_log"], saved["epoch_losses"]
        resumed_at = step
        log(f"resumed from {resume_path} at step {step}")

    def save_resume(losses: list[float]) -> None:
        """Everything a killed run needs to continue exactly where it stopped."""
        tmp = resume_path.with_name(resume_path.name + ".tmp")
        torch.save(
            {
                "run_key": json.loads(json.dumps(run_key)),
                "model": shipped_state(model, torch.float32),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "rng": torch.get_rng_state(),
                "step": step,
                "train_seconds": train_seconds,
                "epochs_log": epochs_log,
                "epoch_losses": losses,
            },
            tmp,
        )
        tmp.replace(resume_path)

    done_epochs = {e["epoch"] for e in epochs_log}
    for epoch, (_, _, epoch_batches) in enumerate(plan, start=1):
        if epoch in done_epochs:
            continue
        if step >= total:
            break
        model.train()
        first_step = sum(steps_per_epoch[: epoch - 1])
        losses = list(epoch_losses) if step > first_step else []
        tick = time.perf_counter()
        for index, batch in enumerate(epoch_batches):
            if first_step + index < step:
                continue  # done before a resume
            if step >= total:
                break
            t0 = time.perf_counter()
            loss = qa_loss(model, collate(batch, pad_id))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(
                [p for p in model.parameters() if p.requires_grad], config.grad_clip
            )
            optimizer.step()
            schedule.step()
            step += 1
            losses.append(loss.item())
            train_seconds += time.perf_counter() - t0
            if step % config.log_every == 0 or step == total:
                recent = losses[-config.log_every :]
                per_step = train_seconds / step
                log(
                    f"epoch {epoch} step {step}/{total} loss {sum(recent) / len(recent):.4f} "
                    f"lr {schedule.get_last_lr()[0]:.2e} {per_step:.2f} s/step, "
                    f"eta {per_step * (total - step) / 60:.1f} min"
                )
            if config.save_every and step % config.save_every == 0 and step < total:
                save_resume(losses)
        epoch_seconds = time.perf_counter() - tick
        checkpoint = checkpoint_dir / f"epoch-{epoch}.safetensors"
        save_reader(model, checkpoint, torch.float32)
        entry = {
            "epoch": epoch,
            "steps_done": step,
            "batches": len(losses),
            "complete": len(losses) == len(epoch_batches),
            "mean_loss": round(sum(losses) / max(1, len(losses)), 4),
            "seconds": round(epoch_seconds, 1),
            "checkpoint": str(checkpoint),
        }
        if held_out:
            entry["held_out"] = _without_samples(
                evaluate_reader(
                    reader_over(model),
                    held_out,
                    held_negatives,
                    max_answer_tokens=config.max_answer_tokens,
                    batch_pairs=config.eval_batch_pairs,
                    tune=True,
                )
            )
            log(f"epoch {epoch} held out: {json.dumps(entry['held_out'])}")
        epochs_log.append(entry)
        if config.save_every:
            save_resume([])

    # The epoch with the best held-out F1 (the last one without a held-out slice).
    chosen = max(
        epochs_log,
        key=lambda e: (e.get("held_out", {}).get("f1", 0.0), e["epoch"]),
    )
    from safetensors.torch import load_file

    fp32_state = load_file(chosen["checkpoint"])
    load_state(model, fp32_state)
    model.eval()
    fp32_threshold = chosen.get("held_out", {}).get("no_answer_threshold", 0.0)

    # What ships is bf16: its threshold is tuned again on the held-out slice.
    bf16_model = copy.deepcopy(model)
    load_state(bf16_model, shipped_state(model, torch.bfloat16))
    bf16_model.eval()
    held_bf16 = None
    threshold = fp32_threshold
    if held_out and config.retune_bf16:
        held_bf16 = _without_samples(
            evaluate_reader(
                reader_over(bf16_model),
                held_out,
                held_negatives,
                max_answer_tokens=config.max_answer_tokens,
                batch_pairs=config.eval_batch_pairs,
                tune=True,
            )
        )
        threshold = held_bf16["no_answer_threshold"]
        log(f"held out, bf16 weights: {json.dumps(held_bf16)}")

    validation = None
    valid_stats = None
    if valid_path is not None:
        valid_questions = read_jsonl(valid_path)
        if config.limit_valid:
            valid_questions = valid_questions[: config.limit_valid]
        valid_examples, valid_stats = prepare_examples(valid_questions, passages)
        valid_negatives = sample_negatives(valid_examples, 1.0, random.Random(config.seed + 2))
        validation = {}
        for name, m, thr in (("fp32", model, fp32_threshold), ("bf16", bf16_model, threshold)):
            validation[name] = evaluate_reader(
                reader_over(m),
                valid_examples,
                valid_negatives,
                threshold=thr,
                max_answer_tokens=config.max_answer_tokens,
                batch_pairs=config.eval_batch_pairs,
            )
            log(f"valid ({name}): {json.dumps(_without_samples(validation[name]))}")
        validation["bf16_minus_fp32_f1"] = round(
            validation["bf16"]["f1"] - validation["fp32"]["f1"], 4
        )
        # The same questions with their passage among others (~200-250 words, the size of
        # retrieved chunks), negatives lengthened alike: windows and long contexts.
        long_rng = random.Random(config.seed + 3)
        pool = passage_pool(valid_examples)
        n_long = config.long_eval_questions
        validation["bf16_long_context"] = evaluate_reader(
            reader_over(bf16_model),
            [lengthen(e, pool, long_rng, long_rng.randint(200, 250)) for e in valid_examples][
                :n_long
            ],
            [lengthen(e, pool, long_rng, long_rng.randint(200, 250)) for e in valid_negatives][
                :n_long
            ],
            threshold=threshold,
            max_answer_tokens=config.max_answer_tokens,
            batch_pairs=config.eval_batch_pairs,
        )
        long_report = _without_samples(validation["bf16_long_context"])
        log(f"valid, long contexts (bf16): {json.dumps(long_report)}")

    out_dir.mkdir(parents=True, exist_ok=True)
    weights = save_reader(model, out_dir / WEIGHTS_NAME, torch.bfloat16)
    data = {
        "passages": {"path": str(passages_path), "sha256": sha256_file(passages_path)},
        "questions": {"path": str(questions_path), "sha256": sha256_file(questions_path)},
    }
    if valid_path is not None:
        data["valid"] = {"path": str(valid_path), "sha256": sha256_file(valid_path)}
    manifest = {
        "format": "newsqa-extractive-reader",
        "weights": {
            "file": weights.name,
            "sha256": sha256_file(weights),
            "bytes": weights.stat().st_size,
            "dtype": "bfloat16",
            "tensors": len(model.shipped_keys()),
            "parameters": sum(t.numel() for t in shipped_state(model).values()),
            "not_shipped": "encoder.embeddings.word_embeddings.weight (frozen; taken from "
            "the encoder folder at load time)",
        },
        "encoder": {"folder": encoder_dir.name, "config": _encoder_config(encoder_dir)},
        "no_answer": "CLS position (SQuAD 2.0 style): score start[0] + end[0]; answer when "
        "span score - no-answer score > tuned.no_answer_threshold",
        "data": data,
        "data_stats": {
            "train": data_stats,
            "train_examples": len(train_set),
            "held_out_examples": len(held_out),
            "held_out_negatives": len(held_negatives),
            "negatives_per_epoch": [p[0] for p in plan],
            "windows_per_epoch": [p[1] for p in plan],
            "valid": valid_stats,
        },
        "settings": {
            **asdict(config),
            "optimizer": "AdamW",
            "schedule": "linear warmup then linear decay to 0",
            "warmup_steps": warmup,
            "total_steps": total,
            "precision": "fp32 training; bf16 weights shipped; fp32 inference",
            "frozen": ["encoder.embeddings.word_embeddings.weight"],
            "torch": torch.__version__,
        },
        "git": git_state(Path(__file__).resolve().parent),
        "training": {
            "steps": step,
            "resumed_at_step": resumed_at,
            "seconds_in_steps": round(train_seconds, 1),
            "seconds_per_step": round(train_seconds / max(1, step), 3),
            "wall_seconds": round(time.time() - began, 1),
            "host_cpus": os.cpu_count(),
            "epochs": epochs_log,
            "chosen_epoch": chosen["epoch"],
            "chosen_by": "best held-out F1" if held_out else "last epoch (no held-out slice)",
        },
        "tuned": {
            "no_answer_threshold": threshold,
            "no_answer_threshold_fp32": fp32_threshold,
            "held_out_bf16": held_bf16,
        },
        "validation": validation,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    resume_path.unlink(missing_ok=True)
    log(f"wrote {weights} ({weights.stat().st_size / 2**20:.1f} MiB) and {MANIFEST_NAME}")
    return manifest


def _without_samples(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "samples"}


def _encoder_config(encoder_dir: Path) -> dict:
    try:
        config = json.loads((encoder_dir / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    keys = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")
    return {k: config.get(k) for k in keys}


def evaluate_files(
    reader: Reader,
    passages_path: str | Path,
    questions_path: str | Path,
    seed: int = 13,
    limit: int | None = None,
    negatives: bool = True,
    max_answer_tokens: int = 30,
) -> dict:
    """Gold-passage F1 / EM on a question file, and no-answer accuracy on negatives (each
    question with another question's passage) at the reader's threshold."""
    passages = load_passages(passages_path)
    questions = read_jsonl(questions_path)[:limit] if limit else read_jsonl(questions_path)
    examples, stats = prepare_examples(questions, passages)
    negs = sample_negatives(examples, 1.0, random.Random(seed + 2)) if negatives else []
    report = on_openmp_thread(
        evaluate_reader,
        reader,
        examples,
        negs,
        threshold=reader.no_answer_threshold,
        max_answer_tokens=max_answer_tokens,
    )
    report["data_stats"] = stats
    return report


__all__ = [
    "TrainConfig",
    "train",
    "evaluate_reader",
    "evaluate_files",
    "token_f1",
    "exact_match",
]
