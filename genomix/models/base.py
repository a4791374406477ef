"""The protocol every model backend follows, and the token batch it takes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch


@dataclass
class TokenBatch:
    """Right-padded token ids of several sequences.

    `input_ids`, `attention_mask`: `[batch, tokens]`. `spans[b]`: `[tokens_b, 2]` half-open base
    range of each token of sequence b (-1 for special tokens); padding has no span.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    spans: list[np.ndarray]

    def __len__(self) -> int:
        return self.input_ids.shape[0]


@runtime_checkable
class GenomicModel(Protocol):
    """A DNA language model as genomix sees it.

    `kind`: "mlm" (masked) or "clm" (causal). `layers`: hook point names (`blocks.{i}`,
    the residual stream after block i). `context_bp`: longest window it takes, in bp; None when the
    model declares no limit. `dtype`: what its weights compute in; `forward` returns float32 when it is a half
    precision.
    """

    name: str
    kind: str
    context_bp: int | None
    layers: list[str]
    d_model: int
    device: torch.device
    dtype: torch.dtype

    def tokenize(self, seqs: list[str]) -> TokenBatch:
        """Tokens of upper-case DNA strings, padded to the longest."""

    def forward(
        self,
        tokens: TokenBatch,
        layers: tuple[str, ...] = (),
        edits: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
        logits: bool = True,
        grad: bool = False,
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """Logits `[batch, tokens, vocab]` and activations `{layer: [batch, tokens, d_model]}`, float32 (or wider).

        `edits[layer](activations)` replaces the output of that block before the model goes on
        (splicing an SAE reconstruction in, ablating, patching; in a half-precision model it is given float32 and
        its result is cast back); captured activations of a layer
        that is also edited are the ones before the edit. `logits=False`: the pass stops once the
        deepest of `layers` is captured and the logits are None (the blocks after it, and edits
        there, do not run); it needs at least one layer. `grad=True`: autograd records the pass (under
        `torch.enable_grad()`), so that an edit may return a tensor that requires grad."""

    def token_id(self, bases: str) -> int | None:
        """Id of the single token spelling `bases`, or None."""


_RESIDUAL_HOOK = re.compile(r"blocks\.(\d+)\.hook_resid_(pre|post)")


def residual_layer(hook_name: str) -> str:
    """The genomix layer a TransformerLens hook name means, or the name itself: `blocks.i.hook_resid_post`
    is `blocks.i` (the residual stream after block i) and so is `blocks.{i+1}.hook_resid_pre`; other hooks
    (`blocks.0.hook_resid_pre`, attention or MLP outputs) have no genomix layer and keep their name."""
    found = _RESIDUAL_HOOK.fullmatch(hook_name)
    if found is None:
        return hook_name
    block = int(found[1]) - (found[2] == "pre")
    return f"blocks.{block}" if block >= 0 else hook_name


def layer_name(layer: str | int, model: GenomicModel) -> str:
    """Canonical hook point name: `6` and `blocks.6` both mean block 6, and so do TransformerLens'
    `blocks.6.hook_resid_post` and `blocks.7.hook_resid_pre`; negatives count from the end."""
    if isinstance(layer, str):
        layer = residual_layer(layer)
    if isinstance(layer, str) and layer in model.layers:
        return layer
    text = str(layer).removeprefix("blocks.")
    try:
        index = int(text)
    except ValueError:
        index = None
    if index is not None and -len(model.layers) <= index < len(model.layers):
        return model.layers[index]
    from genomix.errors import GenomixError

    raise GenomixError(
        f"{model.name} has no layer {layer!r}; it has {model.layers[0]} .. {model.layers[-1]} "
        f"(pass an index from 0 to {len(model.layers) - 1}, or a negative one from the end)."
    )


BACKENDS: dict[str, type] = {}


def register_backend(name: str):
    """Class decorator: make a backend loadable as `load_model(..., backend=name)`.

    A backend class takes `(name_or_path, device=..., trust_remote_code=...)` and has a
    classmethod `claims(name_or_path, config) -> bool` used to pick it automatically.
    """

    def register(cls):
        cls.backend = name
        BACKENDS[name] = cls
        return cls

    return register


def move_model(model: GenomicModel, device: str) -> None:
    """Put a loaded model's weights on `device` (a Ray actor given a GPU moves the copy it received)."""
    from genomix.errors import GenomixError

    if not hasattr(model, "model"):
        raise GenomixError(f"{model.name} cannot be moved to a Ray worker's GPU; run it with --engine local")
    model.model.to(device)
    model.device = torch.device(device)


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
"""The precisions a model computes in (`--dtype`), besides `auto`."""


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """The torch dtype `dtype` names; `auto` (or None): bfloat16 on a CUDA device that supports it, float32
    elsewhere (CPUs and older GPUs, where bfloat16 is slow or emulated)."""
    from genomix.errors import GenomixError

    if isinstance(dtype, torch.dtype):
        if dtype in DTYPES.values():
            return dtype
        dtype = str(dtype).removeprefix("torch.")
    if dtype in (None, "auto"):
        cuda = device.type == "cuda" and torch.cuda.is_available()
        return torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    if dtype not in DTYPES:
        raise GenomixError(f"unknown dtype {dtype!r}; choose auto, {', '.join(DTYPES)}", option="dtype")
    return DTYPES[dtype]


def dtype_name(dtype: torch.dtype) -> str:
    """`bfloat16` for torch.bfloat16: how options, metadata and messages write a dtype."""
    return str(dtype).removeprefix("torch.")


def widened(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` in float32 when it is in a half precision (bfloat16, float16), else as it is (float32, or
    float64 for a model made double): what `forward` gives out and what edits are handed."""
    return tensor.float() if tensor.dtype in (torch.bfloat16, torch.float16) else tensor


def reduced_precision(model) -> str | None:
    """The model's dtype when it is not float32 (written into outputs and shard identities), else None, so that
    a float32 run's outputs read as before."""
    dtype = getattr(model, "dtype", torch.float32)
    return None if dtype == torch.float32 else dtype_name(dtype)


def weights_of(model):
    """What holds a GenomicModel's weights: the torch module of an hf-* backend, or the backend itself
    (SpliceAI) when it names its tensors with `named_parameters`."""
    return getattr(model, "model", model)


def model_fingerprint(model) -> str:
    """Short hash of a GenomicModel's weights: name, shape, norm and first values of every tensor, so
    a model that differs in any block prints differently. A model loaded in a lower precision keeps the
    fingerprint of its weights as stored (`weights_fingerprint`, taken before the cast), so that an SAE
    trained in float32 binds to the same model run in bfloat16."""
    kept = getattr(model, "weights_fingerprint", None)
    if kept is not None:
        return kept
    digest = hashlib.sha256()
    for name, tensor in weights_of(model).named_parameters():
        values = tensor.detach().float().flatten()
        digest.update(f"{name}{tuple(tensor.shape)}{float(values.norm()):.4g}".encode())
        digest.update(values[:64].cpu().numpy().tobytes())
    return digest.hexdigest()[:16]
