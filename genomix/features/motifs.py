"""Naming features by motifs: stack a feature's seqlets into a PPM, trim it to its informative
columns, and compare it with JASPAR by TOMTOM (memelite), with Benjamini-Hochberg q-values.

Trimming matters: a near-uniform stack of seqlets matches long zinc-finger motifs (CTCF and the
like) at small p-values by chance, so columns under `min_bits` are cut from both ends and a PPM
with fewer than `min_columns` informative columns is not compared at all.

A TOMTOM match is not enough either: a randomly initialised model's features detect arbitrary
k-mers whose stacked seqlets match part of some JASPAR matrix. So a match names a feature only when
the motif itself is found at the feature's strongest examples (`SiteSupport`): a site scoring at
p <= 1e-4 (FIMO-style, uniform background) within `flank` bases of at least a quarter of the peaks,
and more often than around random positions of the same regions (one-sided binomial test).

Among the significant matches that pass, the feature is named by the matrix that best explains the
sequence at its peaks: the highest mean, over the peaks, of the best log-odds score near the peak.
A placement's log-odds score is the log-likelihood ratio of "a site of this matrix here" against
background over the same bases, so a paralog whose matrix adds flanks the sites do not have loses
on those flanks. It is not an exact likelihood comparison: the best of some 20 placements is taken
at every peak, those without a site too, where a long matrix scores lower than a short one (some
-8 bits against -1 on random sequence); the site check has already required the sites at a
quarter of the peaks or more. Counting sites instead depends on each matrix's threshold, which is
stricter for short matrices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from genomix.motifs.jaspar import Motif
from genomix.motifs.pwm import SITE_P, best_scores, site_matrix
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
    return ppm[informative[0] : informative[-1] + 1], int(informative[0])


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """q-values of a flat array of p-values."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty_like(q)
    result[order] = np.minimum(q, 1.0)
    return result


class SiteTest(NamedTuple):
    """A motif at a feature's peaks: the share of peaks with a site, the share of random positions
    with one, whether that supports the motif, and the mean best score at the peaks (log2-odds)."""

    share: float
    background: float
    supported: bool
    mean_score: float


@dataclass
class SiteSupport:
    """Is a motif found where a feature fires? `contexts[feature]`: the sequence around each of its top
    examples and `background`: around random positions of the scanned regions, all `2 * reach + 1`
    long with the peak (or the random position) in the middle. A motif supports a feature when a site
    (score at `p_value` or better, either strand) overlaps the peak +- `flank` in at least `min_share`
    of its contexts, and that count is unlikely (binomial p < `max_binomial_p`) at the background's
    rate. `test` also gives the mean best score at the peaks (log2-odds), the likelihood that ranks
    the motifs that pass."""

    contexts: dict[int, list[str]]
    background: list[str]
    reach: int
    flank: int = 10
    p_value: float = SITE_P
    min_share: float = 0.25
    max_binomial_p: float = 1e-3
    _background_share: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    def scores(self, contexts: list[str], motif: Motif) -> tuple[np.ndarray, float]:
        """Per context, the best score of `motif` on a placement overlapping the middle +- flank, and
        the score a site needs."""
        pwm, threshold = site_matrix(motif.ppm, self.p_value)
        return best_scores(contexts, pwm, self.reach - self.flank - len(pwm) + 1, self.reach + self.flank), threshold

    def test(self, feature: int, motif: Motif) -> SiteTest:
        """How often and how well `motif` is found at the feature's peaks."""
        from scipy.stats import binom

        if motif.matrix_id not in self._background_share:
            scores, threshold = self.scores(self.background, motif)
            self._background_share[motif.matrix_id] = float(np.mean(scores >= threshold)) if len(scores) else 0.0
        background = self._background_share[motif.matrix_id]
        scores, threshold = self.scores(self.contexts.get(feature, []), motif)
        if not len(scores):
            return SiteTest(0.0, background, False, float("-inf"))
        hits = int((scores >= threshold).sum())
        share = hits / len(scores)
        rate = max(background, 0.5 / max(len(self.background), 1))
        supported = share >= self.min_share and float(binom.sf(hits - 1, len(scores), rate)) < self.max_binomial_p
        return SiteTest(share, background, supported, float(scores.mean()))


def match_motifs(
    ppms: dict[int, np.ndarray],
    motifs: list[Motif],
    q_threshold: float = 0.05,
    n_matches: int = 5,
    support: SiteSupport | None = None,
    n_candidates: int = 10,
) -> pd.DataFrame:
    """Name each (trimmed) PPM by its JASPAR matches under TOMTOM.

    q-values are Benjamini-Hochberg over every query x target comparison. The candidates of a query
    are its best `n_candidates` targets under `q_threshold`; with `support`, only those found at the
    feature's peaks (`SiteSupport`) remain, the one that best explains the peaks first (highest mean
    best score there; ties in TOMTOM order). One row per
    query: feature, motif_id, tf_name, p, q, strand ('+' when the PPM matches the motif as given),
    offset, overlap of the first remaining candidate (of the best TOMTOM match when none remains),
    `labelled` (a candidate remains), `matches`: the TF names of the first `n_matches` remaining
    candidates (paralogs share near-identical matrices, so one name may be a sibling of the TF that
    binds), and with `support`, `site_share` and `site_background` of the motif in the row.
    """
    from memelite import tomtom

    columns = [
        "feature",
        "motif_id",
        "tf_name",
        "p",
        "q",
        "strand",
        "offset",
        "overlap",
        "labelled",
        "matches",
        "site_share",
        "site_background",
    ]
    if not ppms or not motifs:  # no feature to name, or no motif to name it by
        return pd.DataFrame(columns=columns)
    features = list(ppms)
    queries = [ppms[f].T.astype(np.float64) for f in features]
    targets = [m.ppm.T.astype(np.float64) for m in motifs]
    p, _, offsets, overlaps, strands = tomtom(queries, targets)
    q = benjamini_hochberg(p.ravel()).reshape(p.shape)
    rows = []
    for i, feature in enumerate(features):
        order = np.argsort(p[i], kind="stable")
        kept = [(k, np.nan, np.nan) for k in order[:n_candidates] if q[i, k] < q_threshold]
        if support is not None:
            tested = [(k, support.test(feature, motifs[k])) for k, _, _ in kept]
            kept = [
                (k, t.share, t.background)
                for k, t in sorted((c for c in tested if c[1].supported), key=lambda c: -c[1].mean_score)
            ]
        if kept:
            j, share, background = kept[0]
        else:  # the best match stays in the row, unlabelled, with how often it is found
            j = order[0]
            share, background = support.test(feature, motifs[j])[:2] if support is not None else (np.nan, np.nan)
        rows.append(
            (
                feature,
                motifs[j].matrix_id,
                motifs[j].tf_name,
                float(p[i, j]),
                float(q[i, j]),
                "+" if strands[i, j] == 0 else "-",
                int(offsets[i, j]),
                int(overlaps[i, j]),
                bool(kept),
                list(dict.fromkeys(motifs[k].tf_name for k, _, _ in kept[:n_matches])),
                share,
                background,
            )
        )
    return pd.DataFrame(rows, columns=columns)
