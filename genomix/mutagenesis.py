"""In-silico saturation mutagenesis (ISM): what the model itself reads around a variant.

Each base within `flank` bp of the allele is changed to each other base, in the ref and in the alt
window, and the model's readout of the allele is taken again: the log-probability it gives the
window's own allele, with the allele's tokens masked for a masked LM (as the llr score reads it) and
from the bases before it for a causal LM. A mutation that lowers the readout marks a base the model
relies on. Identical passes run once: for a substitution under a masked LM the ref and the alt
window are the same sequence once the allele is masked, so one set of mutants serves both.
Forward strand only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genomix.errors import GenomixError
from genomix.io.windows import Window
from genomix.models.base import GenomicModel
from genomix.scoring import tokens_covering
from genomix.sequence import ALPHABET

ISM_FLANK = 20


@dataclass
class Mutagenesis:
    """ISM of one window. `ref_positions`, `alt_positions`: `[L]` indices of the mutated bases in the
    ref / alt sequence (the allele and `flank` bp either side, clipped to the window); `ref`, `alt`:
    `[L, 4]` readout of each single-base mutant (ALPHABET order) minus the unmutated readout, in nats
    (0 for the base already there; NaN on the allele's own bases, which are what is read);
    `ref_readout`, `alt_readout`: the unmutated readouts; `ref_seq`, `alt_seq`: the bases at the
    positions."""

    ref_positions: np.ndarray
    alt_positions: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    ref_readout: float
    alt_readout: float
    ref_seq: str
    alt_seq: str

    def importance(self, allele: str = "ref") -> np.ndarray:
        """`[L]` how much each base present supports the readout: minus the mean change its three
        mutants make (NaN on the allele)."""
        delta = self.ref if allele == "ref" else self.alt
        return -delta.sum(axis=1) / (len(ALPHABET) - 1)


@dataclass
class _Read:
    """One allele of one window: the mutated positions, the pass of each mutant (`grid` `[L, 4]`, -1
    on the allele), the unmutated pass, and the token ids its readout sums."""

    positions: np.ndarray
    grid: np.ndarray
    unmutated: int
    token_ids: list[int]


@torch.no_grad()
def saturation_mutagenesis(
    model: GenomicModel, windows: list[Window], flank: int = ISM_FLANK, batch_size: int = 32
) -> list[Mutagenesis]:
    """ISM of each window around its allele, in ref and alt (see the module docstring); passes shared
    across windows and alleles wherever they are the same, `batch_size` per forward pass."""
    masked = model.kind == "mlm"
    if masked and getattr(model, "mask_token_id", None) is None:
        raise GenomixError(f"{model.name} is a masked LM without a mask token: its readout cannot be masked")
    passes: list[tuple[str, tuple[int, ...]]] = []  # (sequence, tokens read)
    index: dict[tuple, int] = {}

    def add(sequence: str, read: tuple[int, ...], hidden: tuple[int, int]) -> int:
        lo, hi = hidden  # bases under the masked tokens: what they are does not reach the model
        key = (sequence[:lo] + "#" * (hi - lo) + sequence[hi:], read)
        if key not in index:
            index[key] = len(passes)
            passes.append((sequence, read))
        return index[key]

    reads = []
    for window in windows:
        for sequence, (start, end) in ((window.ref, window.ref_span), (window.alt, window.alt_span)):
            tokens = model.tokenize([sequence])
            spans = tokens.spans[0]
            read = tuple(t for t in tokens_covering(spans, start, end) if masked or t > 0)
            if not read:
                raise GenomixError(f"no token of {model.name} can be read for the allele at {start} of a window")
            hidden = (min(spans[t][0] for t in read), max(spans[t][1] for t in read)) if masked else (0, 0)
            unmutated = add(sequence, read, hidden)
            positions = np.arange(max(0, start - flank), min(len(sequence), end + flank))
            grid = np.full((len(positions), len(ALPHABET)), -1, dtype=np.int64)
            for row, i in enumerate(positions):
                if start <= i < end:
                    continue
                for column, base in enumerate(ALPHABET):
                    mutant = sequence if sequence[i] == base else sequence[:i] + base + sequence[i + 1 :]
                    grid[row, column] = add(mutant, read, hidden)
            ids = [int(tokens.input_ids[0, t]) for t in read]
            reads.append(_Read(positions, grid, unmutated, ids))
    log_probs = _run(model, passes, masked, batch_size)
    readout = lambda at, ids: float(sum(log_probs[at][k, i] for k, i in enumerate(ids)))  # noqa: E731
    results = []
    for number, window in enumerate(windows):
        values = []
        for r in reads[2 * number : 2 * number + 2]:
            base = readout(r.unmutated, r.token_ids)
            delta = np.full(r.grid.shape, np.nan)
            for (row, column), at in np.ndenumerate(r.grid):
                if at >= 0:
                    delta[row, column] = readout(at, r.token_ids) - base
            values.append((r.positions, delta, base))
        (ref_positions, ref, ref_readout), (alt_positions, alt, alt_readout) = values
        results.append(
            Mutagenesis(
                ref_positions,
                alt_positions,
                ref,
                alt,
                ref_readout,
                alt_readout,
                "".join(window.ref[i] for i in ref_positions),
                "".join(window.alt[i] for i in alt_positions),
            )
        )
    return results


def _run(model: GenomicModel, passes: list, masked: bool, batch_size: int) -> list[np.ndarray]:
    """Per pass, the log-probabilities `[tokens read, vocab]` of its read tokens."""
    out = []
    for first in range(0, len(passes), batch_size):
        chunk = passes[first : first + batch_size]
        tokens = model.tokenize([sequence for sequence, _ in chunk])
        if masked:
            for row, (_, read) in enumerate(chunk):
                tokens.input_ids[row, list(read)] = model.mask_token_id
        logits, _ = model.forward(tokens)
        for row, (_, read) in enumerate(chunk):
            at = list(read) if masked else [t - 1 for t in read]  # a causal LM predicts token t at t - 1
            out.append(torch.log_softmax(logits[row, at].float(), dim=-1).cpu().numpy())
    return out
