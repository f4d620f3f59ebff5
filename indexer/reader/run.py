"""One training run's moving parts: the epochs' batches drawn up front, the optimizer and
schedule, the step loop, and the resume point that lets a killed run continue exactly."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from indexer.reader.config import TrainConfig
from indexer.reader.examples import (
    Example,
    lengthen_some,
    passage_pool,
    sample_negatives,
    switch_some,
    topical_negatives,
)
from indexer.reader.features import batches, collate, featurize, qa_loss
from indexer.reader.model import ExtractiveReader, load_state, shipped_state

Log = Callable[[str], None]


@dataclass
class Plan:
    """Every epoch's negatives and batches, drawn up front from seeded generators, so that a
    resumed run replays exactly the batches the killed one would have seen."""

    negatives: list[int]
    windows: list[int]
    batches: list[list]
    total: int
    warmup: int

    @property
    def steps_per_epoch(self) -> list[int]:
        return [len(b) for b in self.batches]


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


def plan_epochs(tokenizer, train_set: list[Example], config: TrainConfig) -> Plan:
    negatives, windows, epoch_batches = [], [], []
    for epoch in range(config.epochs):
        rng = random.Random(config.seed * 1000 + epoch)
        drawn = sample_negatives(train_set, config.negatives_ratio, rng)
        drawn += topical_negatives(train_set, config.topical_negatives_ratio, rng)
        epoch_examples = lengthen_some(
            switch_some(train_set + drawn, config.english_ratio, rng),
            passage_pool(train_set),
            config.long_context_ratio,
            config.long_context_words,
            rng,
        )
        features = featurize(tokenizer, epoch_examples, config.max_length, config.doc_stride)
        negatives.append(len(drawn))
        windows.append(len(features))
        epoch_batches.append(batches(features, config.batch_size, rng))
    total = sum(len(b) for b in epoch_batches)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    warmup = math.ceil(config.warmup_ratio * total)
    return Plan(negatives, windows, epoch_batches, total, warmup)


class Run:
    """The model, optimizer and schedule of one run and how far it got: what ``resume.pt``
    holds, so a killed run continues exactly where it stopped."""

    def __init__(
        self,
        model: ExtractiveReader,
        config: TrainConfig,
        plan: Plan,
        resume_path: Path,
        run_key: dict,
    ) -> None:
        self.model, self.config, self.plan = model, config, plan
        self.optimizer = make_optimizer(model, config)
        self.schedule = linear_schedule(self.optimizer, plan.warmup, plan.total)
        self.resume_path = resume_path
        self.run_key = json.loads(json.dumps(run_key))
        self.step = 0
        self.train_seconds = 0.0
        self.epochs_log: list[dict] = []
        self.epoch_losses: list[float] = []
        self.resumed_at: int | None = None

    def restore(self) -> bool:
        if not (self.config.resume and self.resume_path.is_file()):
            return False
        saved = torch.load(self.resume_path, weights_only=True)
        if saved["run_key"] != self.run_key:
            raise ValueError(
                f"{self.resume_path} is from a run with other settings or data; "
                "remove it or train without --resume"
            )
        load_state(self.model, saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.schedule.load_state_dict(saved["schedule"])
        torch.set_rng_state(saved["rng"])
        self.step, self.train_seconds = saved["step"], saved["train_seconds"]
        self.epochs_log, self.epoch_losses = saved["epochs_log"], saved["epoch_losses"]
        self.resumed_at = self.step
        return True

    def save(self, losses: list[float]) -> None:
        tmp = self.resume_path.with_name(self.resume_path.name + ".tmp")
        torch.save(
            {
                "run_key": self.run_key,
                "model": shipped_state(self.model, torch.float32),
                "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(),
                "rng": torch.get_rng_state(),
                "step": self.step,
                "train_seconds": self.train_seconds,
                "epochs_log": self.epochs_log,
                "epoch_losses": losses,
            },
            tmp,
        )
        tmp.replace(self.resume_path)

    def train_step(self, batch: list, pad_id: int) -> float:
        t0 = time.perf_counter()
        loss = qa_loss(self.model, collate(batch, pad_id))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(
            [p for p in self.model.parameters() if p.requires_grad], self.config.grad_clip
        )
        self.optimizer.step()
        self.schedule.step()
        self.step += 1
        self.train_seconds += time.perf_counter() - t0
        return loss.item()

    def train_epoch(self, epoch: int, pad_id: int, log: Log) -> list[float]:
        """The epoch's batches not done before a resume; the epoch's losses so far."""
        config, total = self.config, self.plan.total
        first_step = sum(self.plan.steps_per_epoch[: epoch - 1])
        losses = list(self.epoch_losses) if self.step > first_step else []
        self.model.train()
        for index, batch in enumerate(self.plan.batches[epoch - 1]):
            if first_step + index < self.step:
                continue  # done before a resume
            if self.step >= total:
                break
            losses.append(self.train_step(batch, pad_id))
            if self.step % config.log_every == 0 or self.step == total:
                recent = losses[-config.log_every :]
                per_step = self.train_seconds / self.step
                log(
                    f"epoch {epoch} step {self.step}/{total} "
                    f"loss {sum(recent) / len(recent):.4f} "
                    f"lr {self.schedule.get_last_lr()[0]:.2e} {per_step:.2f} s/step, "
                    f"eta {per_step * (total - self.step) / 60:.1f} min"
                )
            if config.save_every and self.step % config.save_every == 0 and self.step < total:
                self.save(losses)
        return losses
