"""Honest names and words: a motif hypothesis names its JASPAR family, the best-fitting member and the
paralogs that fit about as well; its sentence follows its q-value and the model's own score."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from genomix.hypotheses.evidence import Evidence, FamilyNames
from genomix.hypotheses.records import Explained, FalseDiscovery, Hypothesis
from genomix.io.variants import Variant
from genomix.io.windows import make_window
from genomix.motifs.jaspar import Motif
from genomix.scoring import Scored
from genomix.sequence import ALPHABET


def peaked(consensus: str, top: float = 0.97) -> np.ndarray:
    """A PPM that puts `top` on each consensus base and the rest evenly on the others."""
    ppm = np.full((len(consensus), 4), (1 - top) / 3)
    for i, base in enumerate(consensus):
        ppm[i, ALPHABET.index(base)] = top
    return ppm


class _Sequence:
    def __init__(self, seq: str):
        self.seq = seq

    def fetch(self, contig, start, end):
        return self.seq[start:end]


def test_the_best_fitting_candidate_names_the_site_and_close_paralogs_are_listed():
    motifs = [
        Motif("M1.1", "TFA", "F", peaked("ACGTTGCA")),  # the whole 8 bp site: p = 4**-8 at its consensus
        Motif("M2.1", "TFB", "F", peaked("ACGTTGC")),  # a 7 bp paralog: p = 4**-7, within 10x of the best
        Motif("M3.1", "TFC", "F", peaked("GGGGCCCCGG")),  # the family's other motif: no site here
        Motif("M4.1", "TFD", "G", peaked("ACGTTGCA")),  # the same site in another family, not a TOMTOM match
        Motif("M5.1", "TFE", "H", peaked("AACGTTGCAT")),  # a look-alike filed under another family name
    ]
    flank = "TTATTATTATTATTATTATT"
    seq = flank[:-1] + "AACGTTGCAT" + flank[1:]
    variant = Variant("chr1", len(flank) + 3, "T", "A", contig="chr1")  # breaks the site's 4th base
    window = make_window(_Sequence(seq), variant, 40)
    names = FamilyNames(motifs)
    assert names.candidates("F") == ("M1.1", "M2.1", "M3.1")
    assert names.candidates("F", {"TFE"}) == ("M1.1", "M2.1", "M3.1", "M5.1")
    named = names.name(window, names.candidates("F"), "loss")
    assert (named.motif_id, named.tf_name, named.family, named.alternatives) == ("M1.1", "TFA", "F", ["TFB"])
    assert named.site_p == pytest.approx(4.0**-8, rel=1e-6)
    assert named.ref_pwm - named.alt_pwm >= 1.0
    # a TOMTOM match of the concept's features that fits better (10 bp, p = 4**-10) names it, with its own family
    named = names.name(window, names.candidates("F", {"TFE"}), "loss")
    assert (named.motif_id, named.tf_name, named.family, named.alternatives) == ("M5.1", "TFE", "H", [])
    assert names.name(window, names.candidates("F"), "gain") is None  # the alt holds no site of the family
    assert names.name(window, names.candidates("K"), "loss") is None  # a family the collection lacks


def _hypothesis(**fields) -> Hypothesis:
    scored = Scored(Variant("chr2", 99, "C", "T", contig="chr2"), "llr", -2.0)
    base = replace(
        Hypothesis.none(scored),
        rank=1,
        feature=12,
        label="TFAP2C",
        label_kind="motif",
        motif_id="MA0524.2",
        tf_name="TFAP2C",
        effect="loss",
        ref_act=1.5,
        alt_act=0.2,
        delta=-1.3,
        offset=2,
        motif_delta=-4.0,
        p_value=0.002,
        tf_family="AP-2",
        tf_alternatives="TFAP2A,TFAP2B",
        evidence=Evidence(12, "MA0524.2", 12.0, 8.0, 10.0, "loss"),
    )
    return replace(base, **fields)


def test_a_significant_hypothesis_the_model_reads_is_worded_as_a_mechanism():
    text = _hypothesis(q_value=0.01, score_p=0.004).hypothesis
    assert text == (
        "C>T at chr2:100 weakens a site of the AP-2 family (TFAP2C; about as well: TFAP2A, TFAP2B): "
        "feature 12 falls from 1.50 to 0.20 at +2 bp; the TFAP2C PWM (JASPAR MA0524.2) scores the site "
        "12.0 in ref, 8.0 in alt; the model's own score moves too (score p = 0.004); p = 0.002, q = 0.01."
    )


def test_a_long_list_of_paralogs_is_counted_in_the_sentence_and_kept_whole_in_the_column():
    h = _hypothesis(q_value=0.01, score_p=0.004, tf_alternatives="TFAP2A,TFAP2B,TFAP2D,TFAP2E,TFAP2F,TFAP2G")
    assert "(TFAP2C; about as well: TFAP2A, TFAP2B, TFAP2D, TFAP2E, 2 more)" in h.hypothesis
    assert h.row()["tf_alternatives"] == "TFAP2A,TFAP2B,TFAP2D,TFAP2E,TFAP2F,TFAP2G"


def test_a_non_significant_hypothesis_is_worded_as_a_possibility():
    text = _hypothesis(q_value=0.3, p_value=0.04, score_p=0.004).hypothesis
    assert text.startswith("Not significant (p = 0.04, q = 0.3): C>T at chr2:100 may weaken a site of the AP-2 family")
    assert " weakens " not in text


def test_a_site_only_the_features_see_says_so():
    text = _hypothesis(q_value=0.01, score_p=0.4).hypothesis
    assert (
        "; only the SAE's features see it: the model's own score moves no more than at random variants "
        "(score p = 0.4); p = 0.002, q = 0.01." in text
    )


def test_q_values_of_lower_ranks_never_fall_below_their_alts_first():
    scored = Scored(Variant("chr1", 1, "A", "G", contig="chr1"), "llr", -1.0)
    items = [
        Explained(scored, [_hypothesis(rank=1, p_value=p), _hypothesis(rank=2, p_value=min(1.0, 3 * p))])
        for p in (0.001, 0.01, 0.02, 0.5, 0.9)
    ]
    fdr = FalseDiscovery()
    fdr.fill(fdr.add(items))
    tops = np.array([0.001, 0.01, 0.02, 0.5, 0.9])
    expected = np.minimum.accumulate((tops * 5 / np.arange(1, 6))[::-1])[::-1]  # BH by hand
    np.testing.assert_allclose([item.hypotheses[0].q_value for item in items], expected)
    for item in items:
        assert item.hypotheses[1].q_value >= item.hypotheses[0].q_value


def test_the_fitted_tail_resolves_p_values_below_one_over_the_null_size():
    from genomix.hypotheses.null import share_reaching, tail_p_value

    ratios = []
    for seed in range(50):
        null = np.sort(np.random.default_rng(seed).exponential(size=1000))  # P(X >= v) = exp(-v)
        assert tail_p_value(null, 1.0) == share_reaching(null, 1.0)  # hundreds reach it: the share itself
        ratios.append(tail_p_value(null, 7.0, {}) / np.exp(-7.0))  # about 1 draw in 1000 reaches 7
    assert 0.8 < np.median(ratios) < 1.25 and np.mean((np.array(ratios) > 0.5) & (np.array(ratios) < 2)) > 0.75
    assert tail_p_value(null[:50], 9.0) == share_reaching(null[:50], 9.0)  # too small a null to fit a tail
