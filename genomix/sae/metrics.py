"""How good an SAE is, measured on windows of a genome it may not have seen.

- variance explained: 1 - sum |x - x_hat|^2 / sum |x - mean x|^2 over base positions;
- L0: mean number of active features per position;
- dead fraction: features that never fire over the evaluation positions;
- loss recovered: 1 - (CE_sae - CE_clean) / (CE_zero - CE_clean), with the reconstruction
  (or zeros) spliced into the model at the SAE's layer, at base positions only. CE is the masked-token cross-entropy
  (15 % of bases masked, the same masks in all three runs) for masked LMs, next-token
  cross-entropy for causal LMs, and for SpliceAI, which predicts splice sites rather than bases,
  the cross-entropy of its (neither, acceptor, donor) output against its own clean output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genomix.errors import GenomixError
from genomix.io.genome import Genome
from genomix.sae.activations import Regions, window_activations
from genomix.sae.base import SAE


def _cross_entropy(model, tokens, targets: torch.Tensor, where: torch.Tensor, edits=None) -> tuple[float, int]:
    """Summed cross-entropy at `where` and its count. `targets`: token ids, or for a model that predicts
    no bases (SpliceAI) the clean pass's own log-probabilities `[batch, tokens, classes]`."""
    logits, _ = model.forward(tokens, edits=edits)
    logits = logits.float().cpu()
    if model.kind == "splice":
        loss = -(targets.exp() * torch.log_softmax(logits, dim=-1)).sum(-1)[where].sum()
        return float(loss), int(where.sum())
    if model.kind == "clm":
        logits, targets, where = logits[:, :-1], targets[:, 1:], where[:, 1:]
    loss = torch.nn.functional.cross_entropy(logits[where], targets[where], reduction="sum")
    return float(loss), int(where.sum())


@torch.no_grad()
def evaluate_sae(
    sae: SAE,
    model,
    genome: Genome | str | Path,
    regions: Regions | str | Path | None = None,
    windows: int = 128,
    window: int | None = None,
    batch: int = 16,
    seed: int = 1,
) -> dict[str, float]:
    """Variance explained, L0, dead fraction and loss recovered of `sae` on `windows` random windows."""
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    if regions is None:
        regions = Regions.whole_genome(genome)
    elif not isinstance(regions, Regions):
        regions = Regions.from_bed(regions, genome)
    layer = sae.metadata.get("hook_name")
    if layer is None:
        raise GenomixError("this SAE does not record the layer it reads; set its metadata['hook_name'] (blocks.i)")
    sae.check_matches(model, layer)
    window = window or sae.metadata.get("context_size") or 512
    window = window if model.context_bp is None else min(window, model.context_bp)
    device = sae.W_enc.device
    rng = np.random.default_rng(seed)
    fired = torch.zeros(sae.d_sae, dtype=torch.bool, device=device)
    error = l0 = 0.0
    sums, squares, count = torch.zeros(sae.d_in, dtype=torch.float64, device=device), 0.0, 0
    ce = {"clean": 0.0, "sae": 0.0, "zero": 0.0}
    ce_count = 0
    for first in range(0, windows, batch):
        run = window_activations(model, genome, regions, layer, window, min(batch, windows - first), rng)
        tokens, keep = run.tokens, run.keep
        x = run.activations.to(device)[keep.to(device)]
        codes = sae.encode(x)
        error += float((x - sae.decode(codes)).pow(2).sum())
        sums += x.double().sum(0)
        squares += float(x.double().pow(2).sum())
        count += len(x)
        l0 += float((codes > 0).sum())
        fired |= (codes > 0).any(0)
        targets = tokens.input_ids.clone()
        if model.kind == "splice":  # its loss: cross-entropy against its own clean (neither, acceptor, donor) output
            targets = model.forward(tokens)[0].float().cpu()
        if model.kind == "mlm":
            where = keep & torch.from_numpy(rng.random(keep.shape) < 0.15)
            tokens.input_ids[where] = model.mask_token_id
        else:
            where = keep

        # Only base positions are replaced: special tokens and padding keep their own activations,
        # as the SAE never saw them.
        def splice(acts: torch.Tensor, keep=keep) -> torch.Tensor:
            out, at = acts.clone(), keep.to(acts.device)
            out[at] = sae(acts[at].float().to(device)).to(acts.dtype).to(acts.device)
            return out

        def ablate(acts: torch.Tensor, keep=keep) -> torch.Tensor:
            out = acts.clone()
            out[keep.to(acts.device)] = 0
            return out

        for name, edits in (("clean", None), ("sae", {layer: splice}), ("zero", {layer: ablate})):
            loss, n = _cross_entropy(model, tokens, targets, where, edits)
            ce[name] += loss
        ce_count += n
    variance = squares - float((sums.pow(2)).sum()) / count
    clean, spliced, zero = (ce[k] / ce_count for k in ("clean", "sae", "zero"))
    return {
        "variance_explained": 1 - error / variance,
        "l0": l0 / count,
        "dead_fraction": float((~fired).float().mean()),
        "loss_recovered": 1 - (spliced - clean) / (zero - clean),
        "ce_clean": clean,
        "ce_sae": spliced,
        "ce_zero": zero,
        "positions": count,
        "windows": windows,
        "window": window,
    }
