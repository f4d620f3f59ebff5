"""What a reader training run is told: the settings ``newsqa reader train`` exposes."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

# Settings that do not change what is trained (a resumed run may differ in them).
NOT_IN_RUN_KEY = {
    "resume",
    "save_every",
    "log_every",
    "threads",
    "limit_valid",
    "long_eval_questions",
    "retune_bf16",
    "eval_batch_pairs",
}


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
    topical_negatives_ratio: float = 0.0
    """Negatives (question + its own passage without the sentences holding the answer) per
    positive, drawn each epoch; only passages of two or more sentences give one. Off in the
    shipped weights: 0.3 separated such negatives better but lost the project's own list and
    English answers (README, "Answers: the reader")."""
    english_ratio: float = 0.0
    """Share of examples (positives and negatives) whose question is rewritten in pseudo-English
    (``code_switch``): FacQA is Indonesian only, users also ask in English."""
    long_context_ratio: float = 0.25
    """Share of examples (positives and negatives) whose passage is lengthened with other
    passages (no answer in them) to ``long_context_words``: retrieved chunks are ~200-250
    words, far longer than FacQA passages, and long ones are read in several windows."""
    long_context_words: tuple[int, int] = (120, 260)
    news_window_words: int = 108
    """Largest sentence window a news question's passage is cut to: the service's
    ``NEWSQA_READER_WINDOW_WORDS`` default, so training shows what the service reads."""
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
