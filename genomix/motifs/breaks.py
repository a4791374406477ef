"""Motif breaks the way motifbreakR calls them: the PWM scan a geneticist would run instead of genomix.

For each ALT and each matrix, the best log-odds score over placements touching the variant, on
either strand, in the ref and in the alt (for an indel the scans reach one base past the allele,
the junction, as `genomix.hypotheses.evidence.pwm_scores` does). A call is made when the allele that
holds the site scores a site (p <= `p_value` under a uniform background, FIMO's threshold) and the
score moves at least `min_change` bits its way: a loss when the ref holds it, a gain when the alt
does. An ALT's calls are ranked by how far the score moves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genomix.io.windows import make_window
from genomix.motifs.pwm import SITE_P, site_matrix
from genomix.sequence import one_hot

BREAK_COLUMNS = ["index", "motif_id", "tf_name", "family", "ref_score", "alt_score", "change", "effect"]


class MotifScanner:
    """Every matrix of `motifs` (Motif objects) as a site PWM (see `site_matrix`) and its site score,
    padded to one length so that an ALT is scored against all of them at once."""

    def __init__(self, motifs: list, p_value: float = SITE_P):
        self.motifs = list(motifs)
        pwms = [site_matrix(m.ppm, p_value) for m in self.motifs]
        self.lengths = np.array([len(pwm) for pwm, _ in pwms])
        self.sites = np.array([site for _, site in pwms])
        self.longest = int(self.lengths.max())
        self.forward = np.zeros((len(pwms), self.longest, 4))
        self.reverse = np.zeros((len(pwms), self.longest, 4))
        for i, (pwm, _) in enumerate(pwms):
            self.forward[i, : len(pwm)] = pwm
            self.reverse[i, : len(pwm)] = pwm[::-1, ::-1]  # the reverse complement, padded at its end too

    def best(self, seq: str, start: int, end: int) -> np.ndarray:
        """Per matrix, the best score over placements (either strand) that overlap `seq[start:end]` and hold
        no N (a window's padding past a contig end is N); -inf where none fits."""
        x = one_hot(seq).astype(float)
        padded = np.concatenate([x, np.zeros((self.longest, 4))])  # placements past the end score -inf below
        first = max(0, start - self.longest + 1)
        last = max(end - 1, start)
        starts = np.arange(first, last + 1)
        windows = np.stack([padded[s : s + self.longest] for s in starts])  # [placements, longest, 4]
        scores = np.maximum(
            np.einsum("plb,mlb->mp", windows, self.forward), np.einsum("plb,mlb->mp", windows, self.reverse)
        )
        ends = starts[None, :] + self.lengths[:, None]
        unknown = np.concatenate([[0], np.cumsum(x.sum(axis=1) == 0)])  # N bases (and the padding past contig ends)
        fits = (ends <= len(seq)) & (ends > start)
        fits &= unknown[np.minimum(ends, len(seq))] == unknown[starts][None, :]
        return np.where(fits, scores, -np.inf).max(axis=1)

    def at_variant(self, window) -> tuple[np.ndarray, np.ndarray]:
        """Per matrix, the best score over placements touching the variant of `window` in ref and in alt
        (for an indel one base past the allele too: the junction)."""
        indel = int(window.ref_span[1] - window.ref_span[0] != window.alt_span[1] - window.alt_span[0])
        ref = self.best(window.ref, window.ref_span[0], window.ref_span[1] + indel)
        alt = self.best(window.alt, window.alt_span[0], window.alt_span[1] + indel)
        return ref, alt

    def supported(self, ref: np.ndarray, alt: np.ndarray, effect: str, min_change: float = 1.0) -> np.ndarray:
        """The matrices whose site the allele `effect` says holds it (loss: ref; gain: alt) has, with the
        score moving at least `min_change` bits its way."""
        holder, other = (ref, alt) if effect == "loss" else (alt, ref)
        return (holder >= self.sites) & (holder - other >= min_change - 1e-6)


def motif_breaks(genome, variants, motifs: list, p_value: float = SITE_P, min_change: float = 1.0) -> pd.DataFrame:
    """The motifbreakR-style calls of `variants` (placed Variants; skipped ones get none) against every
    matrix of `motifs`: one row per call (`index`: the variant's place in `variants`), best first within
    each ALT. See the module docstring."""
    scanner = MotifScanner(motifs, p_value)
    rows = []
    width = 2 * (scanner.longest + 12)
    for index, variant in enumerate(variants):
        if not variant.ok or max(len(variant.ref), len(variant.alt)) > scanner.longest:
            continue
        ref, alt = scanner.at_variant(make_window(genome, variant, width))
        loss, gain = scanner.supported(ref, alt, "loss", min_change), scanner.supported(ref, alt, "gain", min_change)
        for m in np.nonzero(loss | gain)[0]:
            motif = scanner.motifs[m]
            rows.append(
                (
                    index,
                    motif.matrix_id,
                    motif.tf_name,
                    motif.family,
                    ref[m],
                    alt[m],
                    abs(ref[m] - alt[m]),
                    "loss" if loss[m] else "gain",
                )
            )
    table = pd.DataFrame(rows, columns=BREAK_COLUMNS)
    return table.sort_values(["index", "change"], ascending=[True, False], kind="stable").reset_index(drop=True)
