"""Designs for the lab: what to synthesise to test a hypothesis.

Per top hypothesis of a variant:
- MPRA oligos of `mpra_length` bp centred on the variant: the ref, the alt, and a control with the
  site scrambled in the allele that carries it (the ref for a loss, the alt for a gain). The site is
  the best placement of the hypothesis' JASPAR matrix over the variant; without a matrix, the
  `flank` bases either side of where the lead feature changed most. The scramble is the shuffle of
  the site's bases (out of `tries`, seeded) that scores lowest under the matrix (or, without one,
  the first that differs from the site).
- EMSA probes (ref and alt): the site with 15 bp either side.
Each design says what it tests.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from genomix.motifs.pwm import best_site, site_scores

FOLLOWUP_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "rank", "label", "effect", "design", "sequence", "length",
                    "site_start", "site_end", "tests"]
EMSA_FLANK = 15


def followup_designs(explained, motifs: dict, mpra_length: int = 150, flank: int = 5, tries: int = 50,
                     seed: int = 0) -> pd.DataFrame:
    """Designs for the rank-1 hypothesis of each explained ALT that has one (`explained`: a list of
    `Explained`; `motifs`: log-odds matrices by JASPAR id)."""
    rows = []
    for item in explained:
        hypotheses = [row for row in item.rows if row["rank"] == 1]
        if not hypotheses or item.window is None:
            continue
        rows += _designs(item.window, hypotheses[0], motifs.get(hypotheses[0]["motif_id"]), mpra_length, flank, tries,
                         np.random.default_rng([seed, item.scored.variant.pos]))
    return pd.DataFrame(rows, columns=FOLLOWUP_COLUMNS)


def _designs(window, row: dict, pwm, mpra_length: int, flank: int, tries: int, rng) -> list[dict]:
    loss = row["effect"] == "loss"
    carrier, span = (window.ref, window.ref_span) if loss else (window.alt, window.alt_span)
    if pwm is not None:
        _, start, _ = best_site(carrier, pwm, span[0], max(span[1], span[0] + 1))
        end = start + len(pwm)
    else:
        centre = span[0] + row["offset"]
        start, end = max(0, centre - flank), min(len(carrier), centre + flank + 1)
    site = carrier[start:end]
    scrambled = _scramble(site, pwm, tries, rng)
    control = carrier[:start] + scrambled + carrier[end:]
    half = mpra_length // 2
    centre = window.ref_span[0]
    piece = slice(max(0, centre - half), max(0, centre - half) + mpra_length)
    # site coordinates, 1-based inclusive on the genome (for a gain the site is in the alt allele's
    # frame, which matches the genome up to the variant)
    genome_start = window.genome_start + start + 1
    where = f"{row['label']} site"
    designs = [
        ("mpra_ref", window.ref[piece], f"baseline activity of the reference {mpra_length} bp around the variant"),
        ("mpra_alt", window.alt[piece], f"whether the ALT changes activity ({'loss' if loss else 'gain'} of the {where} predicted)"),
        ("mpra_scrambled", control[piece], f"whether the {where} is what matters: its bases shuffled in the "
                                           f"{'reference' if loss else 'ALT'} oligo"),
        ("emsa_ref", window.ref[max(0, start - EMSA_FLANK):end + EMSA_FLANK],
         f"binding of {row['tf_name'] if row['tf_name'] != '.' else 'the factor'} to the reference site"),
        ("emsa_alt", window.alt[max(0, start - EMSA_FLANK):end + EMSA_FLANK],
         f"whether the ALT {'abolishes' if loss else 'creates'} that binding (compare with emsa_ref)"),
    ]
    base = {k: row[k] for k in ("chrom", "pos", "id", "ref", "alt", "rank", "label", "effect")}
    return [base | {"design": name, "sequence": seq, "length": len(seq), "site_start": genome_start,
                    "site_end": genome_start + len(site) - 1, "tests": tests} for name, seq, tests in designs]


def _scramble(site: str, pwm, tries: int, rng) -> str:
    best, best_score = site, math.inf
    for _ in range(tries):
        candidate = "".join(rng.permutation(list(site)))
        if candidate == site:
            continue
        if pwm is None:
            return candidate
        forward, reverse = site_scores(candidate, pwm)
        score = max(forward.max(initial=-math.inf), reverse.max(initial=-math.inf))
        if score < best_score:
            best, best_score = candidate, score
    return best
