"""The `gpn` backend: models saved by the GPN package (songlab-cal/gpn), loaded by folder with no flag.

A config whose `model_type` is one of gpn's (`GPN`, the legacy `ConvNet` and `GPNRoFormer`) makes
genomix import gpn and register its Auto classes before transformers reads the folder
(`genomix.models.packages`). GPN's models take no attention mask (they score one window at a time,
as gpn's `run_vep` does), so rows of a padded batch run in groups of one length; and its
convolutional encoders read any length, whatever `max_position_embeddings` the RoFormer config they
inherit declares.
"""

from __future__ import annotations

import torch

from genomix.errors import GenomixError
from genomix.models.base import TokenBatch, register_backend
from genomix.models.huggingface import HFMaskedLM
from genomix.models.packages import GPN_MODEL_TYPES


def _convolutional(config) -> bool:
    """Whether the model reads its input through convolutions only (no position table to outgrow)."""
    return config.model_type == "ConvNet" or getattr(config, "encoder", None) in ("convnet", "bytenet")


@register_backend("gpn")
class GPNMaskedLM(HFMaskedLM):
    """A GPN masked LM (ConvNet, ByteNet or RoFormer encoder; the legacy ConvNet and GPNRoFormer)."""

    generic = False

    @classmethod
    def claims(cls, source, config) -> bool:
        return getattr(config, "model_type", None) in GPN_MODEL_TYPES

    def _context_bp(self) -> int | None:
        return None if _convolutional(self.config) else super()._context_bp()

    def _model_inputs(self, tokens: TokenBatch) -> dict[str, torch.Tensor]:
        # gpn's run_vep passes input_ids alone; the legacy GPNRoFormer would misread a 2-D mask.
        return {"input_ids": tokens.input_ids.to(self.device)}

    def _forward(self, tokens, layers, edits, logits):
        lengths = tokens.attention_mask.sum(1)
        width = tokens.input_ids.shape[1]
        if bool((lengths == width).all()):
            return super()._forward(tokens, layers, edits, logits)
        if edits:
            raise GenomixError(f"{self.name} reads no attention mask: edit passes need sequences of one length")
        # Without a mask, padding would reach the last bases through the convolutions: run each length alone.
        out_logits, out_captured = None, {}
        for length in lengths.unique().tolist():
            rows = torch.nonzero(lengths == length).squeeze(1)
            part = TokenBatch(
                tokens.input_ids[rows, :length],
                tokens.attention_mask[rows, :length],
                [tokens.spans[row] for row in rows.tolist()],
            )
            part_logits, captured = super()._forward(part, layers, None, logits)
            if part_logits is not None:
                if out_logits is None:
                    out_logits = part_logits.new_zeros((len(tokens), width, part_logits.shape[-1]))
                out_logits[rows.to(part_logits.device), :length] = part_logits
            for layer, states in captured.items():
                if layer not in out_captured:
                    out_captured[layer] = states.new_zeros((len(tokens), width, states.shape[-1]))
                out_captured[layer][rows.to(states.device), :length] = states
        return out_logits, out_captured
