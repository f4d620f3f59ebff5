"""Windows, batches and the loss: examples as the encoder sees them in training."""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from indexer.reader.examples import Example
from indexer.reader.model import ExtractiveReader
from indexer.reader.spans import encode_pairs


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
