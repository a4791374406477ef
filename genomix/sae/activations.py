"""Activations of a model at one layer, sampled from a genome for SAE training and evaluation.

Batch `b` of a stream is fixed by `(seed, b)` alone: its windows are drawn at random from
the genome (or from the regions of a BED file), the model runs on them, and positions are
sampled from every window. A batch mixes many windows, and a stream interrupted at batch
`b` restarts exactly there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genomix.errors import GenomixError
from genomix.io.genome import Genome, resolve_contig


@dataclass
class Regions:
    """Where windows are drawn from: (contig, start, end) intervals, 0-based half-open."""

    contigs: list[str]
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def whole_genome(cls, genome: Genome, contigs: list[str] | None = None) -> Regions:
        """Whole contigs: all of them, or those named."""
        names = list(genome.contigs if contigs is None else contigs)
        return cls(
            names, np.zeros(len(names), dtype=np.int64), np.array([genome.lengths[c] for c in names], dtype=np.int64)
        )

    @classmethod
    def from_bed(cls, path: str | Path, genome: Genome) -> Regions:
        """The first three columns of a BED file; contig names matched to the genome (chr1 / 1)."""
        try:
            bed = pd.read_csv(path, sep="\t", header=None, comment="#", usecols=[0, 1, 2], dtype={0: str})
        except (OSError, ValueError) as error:
            raise GenomixError(f"cannot read the BED file {path}: {error}") from error
        contigs = [resolve_contig(c, genome.contigs) for c in bed[0]]
        if any(c is None for c in contigs):
            unknown = sorted({raw for raw, c in zip(bed[0], contigs) if c is None})
            raise GenomixError(f"{path}: contigs not in the reference: {', '.join(unknown[:5])}")
        regions = cls(contigs, bed[1].to_numpy(np.int64), bed[2].to_numpy(np.int64))
        if len(regions.contigs) == 0 or (regions.ends <= regions.starts).any():
            raise GenomixError(f"{path}: needs at least one region, each with end > start")
        return regions

    def draw(self, rng: np.random.Generator, n: int, length: int) -> list[tuple[str, int]]:
        """`n` window starts, regions weighted by length, each window centred on a point of its region."""
        sizes = (self.ends - self.starts).astype(float)
        picks = rng.choice(len(sizes), size=n, p=sizes / sizes.sum())
        centres = self.starts[picks] + (rng.random(n) * sizes[picks]).astype(np.int64)
        return [(self.contigs[i], int(c) - length // 2) for i, c in zip(picks, centres)]


@dataclass
class WindowActivations:
    """Random windows run through a model to one layer: each window's (contig, start), their tokens,
    which tokens spell bases (`keep`, `[batch, tokens]`) and the layer's output (`activations`,
    `[batch, tokens, d_model]`, float32 on the model's device)."""

    starts: list[tuple[str, int]]
    tokens: object
    keep: torch.Tensor
    activations: torch.Tensor

    def codes(self, sae) -> torch.Tensor:
        """The SAE's codes of every token `[batch, tokens, d_sae]` (on the SAE's device)."""
        return sae.encode(self.activations.to(sae.W_enc.device))


def window_activations(
    model, genome: Genome, regions: Regions, layer: str, length: int, n_windows: int, rng: np.random.Generator
) -> WindowActivations:
    """`n_windows` random windows of `length` bp drawn from `regions` with `rng`, run to `layer`."""
    starts = regions.draw(rng, n_windows, length)
    tokens = model.tokenize([genome.fetch(contig, start, start + length) for contig, start in starts])
    _, captured = model.forward(tokens, layers=(layer,), logits=False)
    return WindowActivations(starts, tokens, base_positions(tokens), captured[layer].float())


def base_positions(tokens) -> torch.Tensor:
    """Boolean `[batch, tokens]`: tokens that spell bases (not special tokens, not padding)."""
    keep = torch.zeros(tokens.input_ids.shape, dtype=torch.bool)
    for row, spans in enumerate(tokens.spans):
        keep[row, : len(spans)] = torch.from_numpy(spans[:, 0] >= 0)
    return keep


def activation_batch(
    model, genome: Genome, layer: str, regions: Regions, seed: int, index: int, length: int, n_windows: int, size: int
) -> torch.Tensor:
    """Batch `index` of the stream: `[size, d_model]` activations, `ceil(size / n_windows)` positions
    sampled from each of `n_windows` random windows; windows with fewer tokens (k-mer tokens, N runs)
    give all of theirs, and more windows are drawn until the batch is full."""
    rng = np.random.default_rng([seed, index])
    per_window = -(-size // n_windows)
    rows, total = [], 0
    while total < size:
        batch = window_activations(model, genome, regions, layer, length, n_windows, rng)
        acts, keep = batch.activations.cpu(), batch.keep
        for row in range(len(batch.tokens)):
            positions = torch.nonzero(keep[row]).squeeze(1).numpy()
            chosen = rng.choice(positions, size=min(per_window, len(positions)), replace=False)
            rows.append(acts[row, torch.from_numpy(np.sort(chosen))])
            total += len(chosen)
        if not total:
            raise GenomixError(f"windows of {length} bp give {model.name} no base tokens; use longer windows")
    return torch.cat(rows)[:size]


def activation_stream(
    model,
    genome: Genome,
    layer: str,
    regions: Regions,
    seed: int = 0,
    start: int = 0,
    length: int = 512,
    n_windows: int = 16,
    size: int = 4096,
) -> Iterator[torch.Tensor]:
    """Batches `start`, `start + 1`, ... of the stream (see `activation_batch`), without end."""
    index = start
    while True:
        yield activation_batch(model, genome, layer, regions, seed, index, length, n_windows, size)
        index += 1
