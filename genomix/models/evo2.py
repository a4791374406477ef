"""The `evo2` backend: Arc Institute's Evo 2 causal DNA models (StripedHyena 2) run by their own package,
`evo2`, over vortex (`vtx`).

Tokens are bytes, one per base (vortex's `CharLevelTokenizer`: the ASCII code of A, C, G, T, N), with no
BOS, as `Evo2.score_sequences` scores them; padding is vortex's pad id 1 on the right, which a causal model
never reads. Hook points `blocks.{i}` are the outputs of vortex's `model.blocks[i]`, the names Goodfire's
Evo 2 SAEs use (`blocks-26` of evo2_7b_262k is `blocks.26`).

Loaded by name (`evo2_7b`, ... : the evo2 package fetches the checkpoint from the Hugging Face hub), from a
local checkpoint `evo2_7b.pt` with `backend="evo2"` (its file name says which config it takes), or from a
StripedHyena already built (`Evo2Model.from_module`). vortex needs a CUDA GPU: vtx 1.1.0 imports
flash-attn's CUDA extension and Triton when it is imported, and builds its blocks under
`torch.cuda.device`; the import error is reported as it is.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from genomix.errors import GenomixError
from genomix.models.base import TokenBatch, dtype_name, model_fingerprint, register_backend, resolve_dtype, widened

MODEL_NAMES = (
    "evo2_40b",
    "evo2_7b",
    "evo2_20b",
    "evo2_40b_base",
    "evo2_7b_base",
    "evo2_1b_base",
    "evo2_7b_262k",
    "evo2_7b_microviridae",
)
INSTALL = "pip install evo2 (on a CUDA machine with flash-attn; see github.com/ArcInstitute/evo2)"
_BASES = "ACGTN"
PAD_ID = 1  # vortex CharLevelTokenizer.pad_id


class _Captured(BaseException):
    """Ends a pass once the deepest wanted layer is captured (see the hf backends)."""


def import_vortex():
    """vortex's StripedHyena class, or a GenomixError naming what stopped the import. Importing vortex configures
    the root logger at INFO and opens `activations_debug.log` in the working folder; genomix keeps the root
    logger as it was (no handler: a silent one) and removes the empty file vortex left."""
    import logging

    log_file = Path("activations_debug.log")
    existed = log_file.exists()
    root = logging.getLogger()
    quiet = None if root.handlers else logging.NullHandler()
    if quiet is not None:
        root.addHandler(quiet)  # makes vortex's logging.basicConfig a no-op
    try:
        from vortex.model.model import StripedHyena
    except ImportError as error:
        raise GenomixError(
            f"the evo2 backend needs vortex (the evo2 package): {INSTALL}; importing it failed: {error}"
        ) from error
    finally:
        handler = getattr(sys.modules.get("vortex.logging"), "activations_file_handler", None)
        if not existed and handler is not None:
            handler.close()
            if log_file.exists() and log_file.stat().st_size == 0:
                log_file.unlink()
    return StripedHyena


@register_backend("evo2")
class Evo2Model:
    """An Evo 2 StripedHyena as a GenomicModel (causal, byte tokens, `blocks.{i}`)."""

    kind = "clm"
    names = MODEL_NAMES
    mask_token_id = None
    pad_token_id = PAD_ID

    def __init__(
        self, name_or_path: str, device: str | None = None, trust_remote_code: bool = False, dtype: str | None = None
    ):
        """`name_or_path`: an Evo 2 model name, or a local `<name>.pt` checkpoint. `dtype`: auto (vortex's own
        mixed precision: bfloat16 with float32 filter poles and residues), bfloat16 (the same, made explicit)
        or float32 (only where attention does not run through flash-attn)."""
        source = str(name_or_path)
        path = Path(source)
        name = path.name.removesuffix(".pt") if path.suffix == ".pt" else source
        if name not in MODEL_NAMES:
            raise GenomixError(
                f"{source} is not an Evo 2 model: name one of {', '.join(MODEL_NAMES)}, or a local checkpoint "
                "file named after one (evo2_7b.pt)"
            )
        if path.suffix == ".pt" and not path.is_file():
            raise GenomixError(f"Evo 2 checkpoint not found: {source}")
        import_vortex()
        try:
            from evo2 import Evo2
        except ImportError as error:
            raise GenomixError(f"the evo2 backend needs the evo2 package: {INSTALL}; {error}") from error
        with contextlib.redirect_stdout(sys.stderr):  # evo2 and vortex print while loading
            loaded = Evo2(name, local_path=source if path.suffix == ".pt" else None)
        self._wrap(loaded.model, source, dtype)

    @classmethod
    def from_module(cls, module: torch.nn.Module, name: str = "evo2", dtype: str | None = None) -> Evo2Model:
        """Wrap a vortex StripedHyena already built (its own config, random or loaded weights)."""
        model = cls.__new__(cls)
        model._wrap(module, name, dtype)
        return model

    @classmethod
    def claims(cls, source, config) -> bool:
        return False  # loaded by name, or with backend="evo2"

    def _wrap(self, module: torch.nn.Module, name: str, dtype: str | None) -> None:
        self.name = name
        self.model = module.eval()
        self.config = module.config
        self._blocks = module.blocks
        self.layers = [f"blocks.{i}" for i in range(len(self._blocks))]
        self.d_model = int(self.config.hidden_size)
        self.context_bp = int(self.config.get("max_seqlen", 0)) or None
        self.device = next(module.parameters()).device
        stored = {p.dtype for p in module.parameters() if p.is_floating_point()}
        if dtype in (None, "auto"):
            self.dtype = torch.bfloat16 if torch.bfloat16 in stored else torch.float32
            return
        wanted = resolve_dtype(dtype, self.device)
        if wanted == torch.float16:
            raise GenomixError("Evo 2 runs in bfloat16 or float32, not float16; use dtype=bfloat16", option="dtype")
        if wanted == torch.float32 and self.config.get("use_flash_attn", False):
            raise GenomixError(
                "this Evo 2 model's attention runs through flash-attn, which takes bfloat16 only; use dtype=bfloat16",
                option="dtype",
            )
        if stored != {wanted}:
            self.weights_fingerprint = model_fingerprint(self)
            if wanted == torch.bfloat16:
                module.to_bfloat16_except_pr_lc()  # vortex keeps the filters' poles and residues in float32
            else:
                module.to(torch.float32)
        self.dtype = wanted

    def token_id(self, bases: str) -> int | None:
        return ord(bases) if len(bases) == 1 and bases in _BASES else None

    def tokenize(self, seqs: list[str]) -> TokenBatch:
        """Byte tokens, right-padded with vortex's pad id."""
        longest = max(len(seq) for seq in seqs)
        input_ids = np.full((len(seqs), longest), PAD_ID, dtype=np.int64)
        attention_mask = np.zeros((len(seqs), longest), dtype=np.int64)
        spans = []
        for row, seq in enumerate(seqs):
            input_ids[row, : len(seq)] = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
            attention_mask[row, : len(seq)] = 1
            spans.append(np.stack([np.arange(len(seq)), np.arange(1, len(seq) + 1)], axis=1))
        return TokenBatch(torch.from_numpy(input_ids), torch.from_numpy(attention_mask), spans)

    def forward(
        self,
        tokens: TokenBatch,
        layers: tuple[str, ...] = (),
        edits: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
        logits: bool = True,
        grad: bool = False,
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        # no_grad, not inference_mode: vortex caches tensors (its filters' time grid) on the first pass, and an
        # inference tensor there would refuse a later pass with grad=True (attribution patching).
        with torch.enable_grad() if grad else torch.no_grad():
            return self._forward(tokens, layers, edits, logits)

    def _forward(self, tokens, layers, edits, logits):
        unknown = [layer for layer in (*layers, *(edits or {})) if layer not in self.layers]
        if unknown:
            raise GenomixError(f"{self.name} has no layer {unknown[0]!r}; it has {self.layers[0]} .. {self.layers[-1]}")
        if not logits and not layers:
            raise GenomixError("a pass without logits needs a layer to capture")
        captured: dict[str, torch.Tensor] = {}
        last = None if logits else max(layers, key=self.layers.index)
        handles = []
        for layer in layers:

            def keep(module, inputs, output, layer=layer):
                captured[layer] = widened(output[0] if isinstance(output, tuple) else output)
                if layer == last:
                    raise _Captured

            handles.append(self._blocks[self.layers.index(layer)].register_forward_hook(keep))
        for layer, edit in (edits or {}).items():

            def replace(module, inputs, output, edit=edit):
                if isinstance(output, tuple):
                    return (edit(widened(output[0])).to(output[0].dtype), *output[1:])
                return edit(widened(output)).to(output.dtype)

            handles.append(self._blocks[self.layers.index(layer)].register_forward_hook(replace))
        try:
            output = self.model(tokens.input_ids.to(self.device))
        except _Captured:
            return None, captured
        finally:
            for handle in handles:
                handle.remove()
        return widened(output[0]), captured

    def __repr__(self) -> str:
        return f"Evo2Model({self.name!r}, layers={len(self.layers)}, d_model={self.d_model}, {dtype_name(self.dtype)})"
