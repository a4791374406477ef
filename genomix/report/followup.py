"""Designs for the lab: what to synthesise to test a hypothesis.

Per top hypothesis of a variant:
- MPRA oligos of `mpra_length` bp centred on the variant: the ref, the alt, and a control with the
  site scrambled in the allele that carries it (the ref for a loss, the alt for a gain). The site is
  the best placement of the hypothesis' JASPAR matrix over the variant; without a matrix, the
  `flank` bases either side of where the lead feature changed most. The scramble is the shuffle of
  the site's bases (out of `tries`, seeded) that scores lowest under the matrix (or, without one,
  the first that differs from the site).
- EMSA probes (ref and alt): the site with 15 bp either side, each in its own allele (the site is
  carried to the other allele through the window's offset map).
Each design says what it tests; `site_start`, `site_end` are the reference bases the site covers
(1-based, inclusive; for a site in inserted bases, those around the insertion).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from genomix.hypotheses.records import Hypothesis
from genomix.motifs.pwm import best_site, site_scores

FOLLOWUP_COLUMNS = [
    "chrom",
    "pos",
    "id",
    "ref",
    "alt",
    "rank",
    "label",
    "effect",
    "design",
    "sequence",
    "length",
    "site_start",
    "site_end",
    "tests",
]
EMSA_FLANK = 15


def followup_designs(
    explained, motifs: dict, mpra_length: int = 150, flank: int = 5, tries: int = 50, seed: int = 0
) -> pd.DataFrame:
    """Designs for the rank-1 hypothesis of each explained ALT that has one (`explained`: a list of
    `Explained`; `motifs`: log-odds matrices by JASPAR id)."""
    rows = []
    for item in explained:
        top = item.top
        if top is None or item.window is None:
            continue
        rows += _designs(
            item.window,
            top,
            motifs.get(top.motif_id),
            mpra_length,
            flank,
            tries,
            np.random.default_rng([seed, item.scored.variant.pos]),
        )
    return pd.DataFrame(rows, columns=FOLLOWUP_COLUMNS)


def _designs(window, row: Hypothesis, pwm, mpra_length: int, flank: int, tries: int, rng) -> list[dict]:
    loss = row.effect == "loss"
    carrier, span = (window.ref, window.ref_span) if loss else (window.alt, window.alt_span)
    if pwm is not None:
        indel = int(window.ref_span[1] - window.ref_span[0] != window.alt_span[1] - window.alt_span[0])
        _, start, _ = best_site(carrier, pwm, span[0], max(span[1], span[0] + 1) + indel)
        end = start + len(pwm)
    else:  # where the lead feature changed most, in the carrier's own frame
        ref_index, alt_index = row.ref_index, row.alt_index
        if loss:
            centre = ref_index if ref_index >= 0 else span[0]
        else:
            centre = alt_index if alt_index >= 0 else (window.ref_to_alt[ref_index] if ref_index >= 0 else -1)
            centre = centre if centre >= 0 else span[0]
        start, end = max(0, centre - flank), min(len(carrier), centre + flank + 1)
    site = carrier[start:end]
    control = carrier[:start] + _scramble(site, pwm, tries, rng) + carrier[end:]
    # the site in the other allele's frame, through the offset map (the bases it shares with it)
    to_other = window.ref_to_alt if loss else window.alt_to_ref
    mapped = to_other[start:end][to_other[start:end] >= 0]
    other_start, other_end = (int(mapped.min()), int(mapped.max()) + 1) if len(mapped) else (span[0], span[0] + 1)
    (ref_start, ref_end), (alt_start, alt_end) = (
        ((start, end), (other_start, other_end)) if loss else ((other_start, other_end), (start, end))
    )
    half = mpra_length // 2
    piece = slice(max(0, window.ref_span[0] - half), max(0, window.ref_span[0] - half) + mpra_length)
    where = f"{row.label} site"
    factor = row.tf_name if row.tf_name != "." else "the factor"
    designs = [
        ("mpra_ref", window.ref[piece], f"baseline activity of the reference {mpra_length} bp around the variant"),
        (
            "mpra_alt",
            window.alt[piece],
            f"whether the ALT changes activity ({'loss' if loss else 'gain'} of the {where} predicted)",
        ),
        (
            "mpra_scrambled",
            control[piece],
            f"whether the {where} is what matters: its bases shuffled in the {'reference' if loss else 'ALT'} oligo",
        ),
        (
            "emsa_ref",
            window.ref[max(0, ref_start - EMSA_FLANK) : ref_end + EMSA_FLANK],
            f"binding of {factor} to the reference site",
        ),
        (
            "emsa_alt",
            window.alt[max(0, alt_start - EMSA_FLANK) : alt_end + EMSA_FLANK],
            f"whether the ALT {'abolishes' if loss else 'creates'} that binding (compare with emsa_ref)",
        ),
    ]
    base = {k: getattr(row, k) for k in ("chrom", "pos", "id", "ref", "alt", "rank", "label", "effect")}
    # genome coordinates (1-based, inclusive) of the reference bases the site covers
    coordinates = {"site_start": window.genome_start + ref_start + 1, "site_end": window.genome_start + ref_end}
    return [
        base | {"design": name, "sequence": seq, "length": len(seq), **coordinates, "tests": tests}
        for name, seq, tests in designs
    ]


def _scramble(site: str, pwm, tries: int, rng) -> str:
    best, best_score = site, math.inf
    for _ in range(tries):
        candidate = "".join(rng.permutation(list(site)))
        if candidate == site:  # a homopolymer has no other order
            continue
        if pwm is None:
            return candidate
        forward, reverse = site_scores(candidate, pwm)
        score = max(forward.max(initial=-math.inf), reverse.max(initial=-math.inf))
        if score < best_score:
            best, best_score = candidate, score
    return best
