"""Naming features by genome annotations, the InterPLM way.

Per feature and annotation class: activations normalised by the feature's maximum and binarised
at each of THRESHOLDS; precision per position (active positions inside the class / active
positions), recall per element (elements with an active position / elements in the sample), F1.
The sample's windows alternate between two halves: the threshold is chosen on the first half and
the F1 reported on the second, so a label is not scored on the data that picked it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genomix.errors import GenomixError
from genomix.io.genome import Genome, resolve_contig
from genomix.sae.activations import Regions, window_activations
from genomix.sae.base import SAE

THRESHOLDS = (0.0, 0.15, 0.5, 0.6, 0.8)
log = logging.getLogger("genomix")


def read_annotations(path: str | Path, genome: Genome) -> pd.DataFrame:
    """Intervals of a BED (class = the name column) or GFF3 (class = the type column) file:
    chrom, start, end (0-based, half-open), cls."""
    path = Path(path)
    try:
        if path.name.endswith((".gff", ".gff3", ".gff.gz", ".gff3.gz")):
            raw = pd.read_csv(path, sep="\t", comment="#", header=None, usecols=[0, 2, 3, 4], dtype={0: str})
            table = pd.DataFrame({"chrom": raw[0], "start": raw[3] - 1, "end": raw[4], "cls": raw[2]})
        else:
            raw = pd.read_csv(path, sep="\t", comment="#", header=None, usecols=[0, 1, 2, 3], dtype={0: str, 3: str})
            table = pd.DataFrame({"chrom": raw[0], "start": raw[1], "end": raw[2], "cls": raw[3]})
    except (OSError, ValueError) as error:
        raise GenomixError(f"cannot read the annotations {path} (BED with a name column, or GFF3): {error}") from error
    table["chrom"] = [resolve_contig(c, genome.contigs) for c in table.chrom]
    dropped = int(table.chrom.isna().sum())
    if dropped == len(table):
        raise GenomixError(f"none of the contigs of {path} are in the reference ({', '.join(genome.contigs[:3])}, ...)")
    if dropped:
        log.warning("%d annotations of %s lie on contigs the reference lacks; left out", dropped, path)
    return table.dropna(subset=["chrom"]).reset_index(drop=True)


@dataclass
class _Counts:
    """Per half: active positions [T, F], active positions in class [T, C, F], elements hit [T, C, F],
    elements seen [C], positions in each class [C] and positions in all."""

    active: np.ndarray
    inside: np.ndarray
    hit: np.ndarray
    elements: np.ndarray
    in_class: np.ndarray
    positions: int = 0


@torch.no_grad()
def annotation_f1(
    sae: SAE,
    model,
    genome: Genome,
    annotations: pd.DataFrame,
    max_activation: np.ndarray,
    regions: Regions | None = None,
    windows: int = 256,
    window: int = 512,
    batch: int = 16,
    seed: int = 3,
    classes: list[str] | None = None,
) -> pd.DataFrame:
    """One row per feature and class: the threshold chosen on the first half (`f1_selection`,
    `precision_selection` and `base_rate_selection` are first-half figures), the precision, recall and
    F1 it gives on the second half, and the class's share of the second half's positions (`base_rate`).
    An element reaching several sampled windows counts once per window."""
    regions = regions or Regions.whole_genome(genome)
    classes = classes or sorted(annotations.cls.unique())
    layer = sae.metadata["hook_name"]
    n_t, n_c, n_f = len(THRESHOLDS), len(classes), sae.d_sae
    halves = [
        _Counts(
            np.zeros((n_t, n_f)), np.zeros((n_t, n_c, n_f)), np.zeros((n_t, n_c, n_f)), np.zeros(n_c), np.zeros(n_c)
        )
        for _ in range(2)
    ]
    cutoffs = torch.tensor(THRESHOLDS)[:, None] * torch.as_tensor(
        np.maximum(max_activation, 1e-12), dtype=torch.float32
    )
    by_contig = {c: t for c, t in annotations[annotations.cls.isin(classes)].groupby("chrom")}
    class_index = {c: i for i, c in enumerate(classes)}
    rng = np.random.default_rng(seed)
    number = 0
    for first in range(0, windows, batch):
        run = window_activations(model, genome, regions, layer, window, min(batch, windows - first), rng)
        starts, tokens, keep = run.starts, run.tokens, run.keep
        codes = run.codes(sae).cpu()
        for row, (contig, start) in enumerate(starts):
            counts = halves[number % 2]
            number += 1
            spans = tokens.spans[row]
            rows = torch.nonzero(keep[row]).squeeze(1)
            centre = start + spans[rows.numpy()].mean(axis=1).astype(np.int64)  # base under each token
            active = codes[row, rows][None] > cutoffs[:, None]  # [T, positions, F]
            counts.active += active.sum(1).numpy()
            counts.positions += len(rows)
            local = by_contig.get(contig)
            if local is None:
                continue
            local = local[(local.end > start) & (local.start < start + window)]
            covered = np.zeros((n_c, len(centre)), dtype=bool)  # a position counts once per class
            for element in local.itertuples(index=False):
                c = class_index[element.cls]
                inside = (centre >= element.start) & (centre < element.end)
                if not inside.any():
                    continue
                covered[c] |= inside
                counts.elements[c] += 1  # recall: elements with an active position (per window they reach)
                counts.hit[:, c] += active[:, torch.from_numpy(inside)].any(1).numpy()
            for c in np.nonzero(covered.any(1))[0]:
                counts.in_class[c] += covered[c].sum()
                counts.inside[:, c] += active[:, torch.from_numpy(covered[c])].sum(1).numpy()
    (precision_a, _, chosen), (precision, recall, f1) = _f1(halves[0]), _f1(halves[1])
    best = chosen.argmax(axis=0)  # [C, F]: threshold with the best F1 on the first half
    c_index, f_index = np.meshgrid(np.arange(n_c), np.arange(n_f), indexing="ij")
    pick = (best, c_index, f_index)
    return pd.DataFrame(
        {
            "feature": f_index.ravel(),
            "annotation": np.array(classes, dtype=object)[c_index.ravel()],
            "threshold": np.array(THRESHOLDS)[best.ravel()],
            "precision": precision[pick].ravel(),
            "recall": recall[pick].ravel(),
            "f1": f1[pick].ravel(),
            "f1_selection": chosen[pick].ravel(),
            "precision_selection": precision_a[pick].ravel(),
            "base_rate_selection": (halves[0].in_class / max(halves[0].positions, 1))[c_index.ravel()],
            "base_rate": (halves[1].in_class / max(halves[1].positions, 1))[c_index.ravel()],
        }
    )


def best_annotation(table: pd.DataFrame, min_enrichment: float = 2.0) -> pd.DataFrame:
    """Each feature's annotation class, picked on the first half like its threshold: the class with the
    best first-half F1 among those where the first-half precision is at least `min_enrichment` times
    the class's share of positions (a feature that fires everywhere has the base rate as precision and
    full recall, a high F1 on a broad class such as genes that says nothing). Its precision, recall
    and F1 are the second half's. Features with no such class get an empty row (annotation None, F1 0)."""
    enriched = table[
        (table.base_rate_selection > 0)
        & (table.f1_selection > 0)
        & (table.precision_selection >= min_enrichment * table.base_rate_selection)
    ]
    best = enriched.sort_values(["feature", "f1_selection"], ascending=[True, False]).groupby("feature").head(1)
    every = pd.DataFrame({"feature": sorted(table.feature.unique())})
    best = every.merge(best, on="feature", how="left")
    best["f1"] = best.f1.fillna(0.0)
    return best.reset_index(drop=True)


def _f1(counts: _Counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    precision = np.divide(
        counts.inside, counts.active[:, None, :], out=np.zeros_like(counts.inside), where=counts.active[:, None, :] > 0
    )
    recall = np.divide(
        counts.hit,
        counts.elements[None, :, None],
        out=np.zeros_like(counts.hit),
        where=counts.elements[None, :, None] > 0,
    )
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=(precision + recall) > 0
    )
    return precision, recall, f1
