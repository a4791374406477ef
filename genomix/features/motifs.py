"""Naming features by motifs: stack a feature's seqlets into a PPM, trim it to its informative
columns, and compare it with JASPAR by TOMTOM (memelite), with Benjamini-Hochberg q-values.

Trimming matters: a near-uniform stack of seqlets matches long zinc-finger motifs (CTCF and the
like) at small p-values by chance, so columns under `min_bits` are cut from both ends and a PPM
with fewer than `min_columns` informative columns is not compared at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genomix.motifs.jaspar import Motif
from genomix.sequence import ALPHABET

_INDEX = {base: i for i, base in enumerate(ALPHABET)}


def seqlet_ppm(seqlets: list[str], pseudocount: float = 0.5) -> np.ndarray:
    """`[length, 4]` base probabilities of equally long seqlets (N counts for nothing)."""
    length = len(seqlets[0])
    counts = np.full((length, 4), pseudocount / 4)
    for seqlet in seqlets:
        for column, base in enumerate(seqlet):
            if base in _INDEX:
                counts[column, _INDEX[base]] += 1
    return counts / counts.sum(axis=1, keepdims=True)


def information(ppm: np.ndarray) -> np.ndarray:
    """Bits per column."""
    p = np.clip(ppm, 1e-9, 1)
    return 2 + (p * np.log2(p)).sum(axis=1)


def trim(ppm: np.ndarray, min_bits: float = 0.5, min_columns: int = 4) -> tuple[np.ndarray | None, int]:
    """The PPM without its uninformative ends, and the offset of its first kept column; None when fewer
    than `min_columns` columns carry `min_bits`."""
    informative = np.nonzero(information(ppm) >= min_bits)[0]
    if len(informative) < min_columns:
        return None, 0
    return ppm[informative[0]: informative[-1] + 1], int(informative[0])


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """q-values of a flat array of p-values."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty_like(q)
    result[order] = np.minimum(q, 1.0)
    return result


def match_motifs(ppms: dict[int, np.ndarray], motifs: list[Motif], q_threshold: float = 0.05,
                 n_matches: int = 5) -> pd.DataFrame:
    """Best JASPAR match of each (trimmed) PPM by TOMTOM.

    q-values are Benjamini-Hochberg over every query x target comparison. One row per query:
    feature, motif_id, tf_name, p, q, strand ('+' when the PPM matches the motif as given),
    offset, overlap, `labelled` (q < q_threshold), and `matches`: the TF names of the best
    `n_matches` targets under q_threshold (paralogs share near-identical matrices, so the best
    match alone may name a sibling of the TF that binds).
    """
    from memelite import tomtom

    columns = ["feature", "motif_id", "tf_name", "p", "q", "strand", "offset", "overlap", "labelled", "matches"]
    if not ppms:
        return pd.DataFrame(columns=columns)
    features = list(ppms)
    queries = [ppms[f].T.astype(np.float64) for f in features]
    targets = [m.ppm.T.astype(np.float64) for m in motifs]
    p, _, offsets, overlaps, strands = tomtom(queries, targets)
    q = benjamini_hochberg(p.ravel()).reshape(p.shape)
    best = np.argmin(p, axis=1)
    rows = []
    for i, feature in enumerate(features):
        j = best[i]
        significant = [k for k in np.argsort(p[i])[:n_matches] if q[i, k] < q_threshold]
        rows.append((feature, motifs[j].matrix_id, motifs[j].tf_name, float(p[i, j]), float(q[i, j]),
                     "+" if strands[i, j] == 0 else "-", int(offsets[i, j]), int(overlaps[i, j]),
                     bool(q[i, j] < q_threshold), list(dict.fromkeys(motifs[k].tf_name for k in significant))))
    return pd.DataFrame(rows, columns=columns)
