"""The extractive reader: the bundled e5 encoder plus a start/end span head.

The encoder is the bundled multilingual-e5-small folder (an XLM-R model: its HF ``config.json``
and ``model.safetensors``), loaded with ``transformers.AutoModel``; on top of it one linear layer
gives every token a start logit and an end logit.

No answer is the span of the first token (``<s>``, the CLS position), SQuAD 2.0 style: its score
``start[0] + end[0]`` competes with the best real span. The one head does both jobs, so the
span scores and the no-answer score live on the same scale and one threshold on their
difference decides; a separate no-answer head would add parameters and a second loss to weigh,
and its score would not be comparable to span scores without calibration.

What ships is one safetensors file with every parameter except the word-embedding matrix
(``embeddings.word_embeddings.weight``, 96M of the encoder's 118M parameters), stored in bf16:
the word embeddings are frozen during training, so the bundled model's own copy is the trained
one and is taken from it at load time. Inference runs in fp32.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from indexer.embedder import quiet_transformers

WORD_EMBEDDINGS = "encoder.embeddings.word_embeddings.weight"
"""The reader's state-dict key of the (frozen, not shipped) word-embedding matrix."""
FORMAT = "newsqa-extractive-reader"


class ExtractiveReader(nn.Module):
    """Encoder + ``qa_head`` (hidden -> 2): start and end logits for every token."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = int(encoder.config.hidden_size)
        self.qa_head = nn.Linear(hidden, 2)
        nn.init.normal_(self.qa_head.weight, std=float(encoder.config.initializer_range))
        nn.init.zeros_(self.qa_head.bias)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        logits = self.qa_head(hidden)
        return logits[..., 0], logits[..., 1]

    def freeze_word_embeddings(self) -> None:
        self.word_embeddings().requires_grad_(False)

    def word_embeddings(self) -> nn.Parameter:
        return self.encoder.get_input_embeddings().weight

    def shipped_keys(self) -> list[str]:
        """The state-dict keys the weights file holds: all but the word embeddings."""
        return [k for k in self.state_dict() if k != WORD_EMBEDDINGS]


def build_reader(encoder_dir: str | Path) -> ExtractiveReader:
    """A reader over the encoder folder's pretrained weights, with a fresh span head (fp32)."""
    from transformers import AutoModel

    with quiet_transformers():
        # The folder also holds the sentence-embedding pooler, which the reader does not use.
        encoder = AutoModel.from_pretrained(
            str(encoder_dir), add_pooling_layer=False, dtype=torch.float32
        )
    reader = ExtractiveReader(encoder)
    return reader.float()


def shipped_state(model: ExtractiveReader, dtype: torch.dtype = torch.bfloat16) -> dict:
    state = model.state_dict()
    return {
        k: state[k].detach().to(dtype=dtype, device="cpu").contiguous()
        for k in model.shipped_keys()
    }


def save_reader(
    model: ExtractiveReader, path: str | Path, dtype: torch.dtype = torch.bfloat16
) -> Path:
    """Write every parameter but the word embeddings (bf16 by default) to one safetensors file.

    Written to a temporary sibling and renamed into place. The file's metadata is the one key
    ``format``: safetensors writes several keys in a random order, and the same training run
    should give the same bytes. (Its details go to the manifest beside it.)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(shipped_state(model, dtype), str(tmp), metadata={"format": FORMAT})
    os.chmod(tmp, 0o644)
    tmp.replace(path)
    return path


def weights_metadata(path: str | Path) -> dict[str, str]:
    with safe_open(str(path), "pt") as f:
        return dict(f.metadata() or {})


def load_state(model: ExtractiveReader, state: Mapping[str, torch.Tensor]) -> None:
    """Load ``state`` (the shipped keys, exactly) over ``model``, cast to the model's fp32."""
    expected = set(model.shipped_keys())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(
            "reader weights do not match the model: "
            f"missing {missing[:5]}{'...' if len(missing) > 5 else ''} ({len(missing)}), "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''} "
            f"({len(unexpected)})"
        )
    own = model.state_dict()
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise ValueError(
                f"reader weight {key} has shape {tuple(tensor.shape)}, "
                f"the model expects {tuple(own[key].shape)}"
            )
    full = {k: v.to(torch.float32) for k, v in state.items()}
    full[WORD_EMBEDDINGS] = own[WORD_EMBEDDINGS]
    model.load_state_dict(full, strict=True)


def load_reader(encoder_dir: str | Path, weights_path: str | Path) -> ExtractiveReader:
    """The trained reader: the encoder folder's word embeddings + the shipped weights, fp32,
    in eval mode. Raises ``ValueError`` when the file's keys or shapes are not exactly the
    model's (all parameters but the word embeddings), ``FileNotFoundError`` when it is absent.
    """
    weights_path = Path(weights_path)
    if not weights_path.is_file():
        raise FileNotFoundError(f"no reader weights at {weights_path}")
    meta = weights_metadata(weights_path)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{weights_path} is not a {FORMAT} weights file (format {meta!r})")
    model = build_reader(encoder_dir)
    load_state(model, load_file(str(weights_path)))
    model.eval()
    return model
