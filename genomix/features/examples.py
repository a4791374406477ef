"""What each SAE feature fires on: its strongest positions over a sample of the genome.

One pass over random windows (seeded) keeps, per feature, how often it fires, its largest
activation and its `n_top` strongest positions with the sequence around them (seqlets,
`flank` bases each side, on the forward strand).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genomix.io.genome import Genome
from genomix.sae.activations import Regions, window_activations
from genomix.sae.base import SAE


@dataclass
class FeatureExamples:
    """Per feature: `frequency` (fraction of positions where it fires), `max_activation`, and its top
    examples as arrays `[d_sae, n_top]` (activation, contig index, 0-based position; activation 0 where a
    feature has fewer examples), `seqlets[f]` the sequences around them, and the `contigs` list."""

    frequency: np.ndarray
    max_activation: np.ndarray
    activation: np.ndarray
    contig: np.ndarray
    position: np.ndarray
    seqlets: list[list[str]]
    contigs: list[str]
    positions_seen: int


@torch.no_grad()
def top_examples(
    sae: SAE,
    model,
    genome: Genome | str | Path,
    regions: Regions | None = None,
    windows: int = 512,
    window: int = 512,
    n_top: int = 100,
    flank: int = 10,
    batch: int = 16,
    seed: int = 2,
) -> FeatureExamples:
    """Scan `windows` random windows of `regions` and keep each feature's `n_top` strongest positions
    (one per window and feature, and one per position when windows overlap)."""
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    regions = regions or Regions.whole_genome(genome)
    layer = sae.metadata["hook_name"]
    contigs = list(genome.contigs)
    rng = np.random.default_rng(seed)
    best = np.zeros((sae.d_sae, 0))
    where = np.zeros((sae.d_sae, 0, 2), dtype=np.int64)
    fired = np.zeros(sae.d_sae)
    peak = np.zeros(sae.d_sae)
    seen = 0
    for first in range(0, windows, batch):
        run = window_activations(model, genome, regions, layer, window, min(batch, windows - first), rng)
        starts, tokens, keep = run.starts, run.tokens, run.keep
        codes = run.codes(sae).cpu()  # [n, tokens, d_sae]
        codes[~keep] = 0
        seen += int(keep.sum())
        fired += (codes > 0).sum((0, 1)).numpy()
        values, token = codes.max(dim=1)  # strongest position of each window, per feature: [n, d_sae]
        peak = np.maximum(peak, values.max(0).values.numpy())
        for row, (contig, start) in enumerate(starts):
            centre = tokens.spans[row][token[row].numpy()].mean(axis=1).astype(np.int64)  # base under the token
            found = np.stack([np.full(sae.d_sae, contigs.index(contig)), start + centre], axis=1)
            best = np.concatenate([best, values[row].numpy()[:, None]], axis=1)
            where = np.concatenate([where, found[:, None]], axis=1)
        if best.shape[1] > n_top:
            best, where = _keep_top(best, where, n_top)
    best, where = _keep_top(best, where, n_top)
    seqlets = [
        [genome.fetch(contigs[c], p - flank, p + flank + 1) for (c, p), a in zip(where[f], best[f]) if a > 0]
        for f in range(sae.d_sae)
    ]
    return FeatureExamples(fired / max(seen, 1), peak, best, where[..., 0], where[..., 1], seqlets, contigs, seen)


def example_position(example: str) -> tuple[str, int]:
    """Contig and 0-based position of a top example as the atlas writes it (`chr3:1234`, 1-based)."""
    contig, position = example.rsplit(":", 1)
    return contig, int(position) - 1


def _keep_top(best: np.ndarray, where: np.ndarray, n_top: int) -> tuple[np.ndarray, np.ndarray]:
    """Per feature, the `n_top` largest activations at distinct positions, largest first (zero-padded)."""
    kept_best = np.zeros((len(best), n_top))
    kept_where = np.zeros((len(best), n_top, 2), dtype=np.int64)
    for feature in range(len(best)):
        order = np.argsort(-best[feature], kind="stable")
        _, first = np.unique(where[feature, order], axis=0, return_index=True)
        chosen = order[np.sort(first)][:n_top]
        kept_best[feature, : len(chosen)] = best[feature, chosen]
        kept_where[feature, : len(chosen)] = where[feature, chosen]
    return kept_best, kept_where
