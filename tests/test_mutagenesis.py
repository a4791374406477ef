"""In-silico saturation mutagenesis: equal to a hand loop of single forward passes on tiny models,
with the passes the ref and the alt window have in common run once."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import genomix as gx
from genomix.io.genome import Genome
from genomix.io.variants import read_variants
from genomix.io.windows import make_window
from genomix.mutagenesis import saturation_mutagenesis

FLANK = 4


@pytest.fixture
def windows(write_fasta, write_vcf):
    rng = random.Random(7)
    sequence = "".join(rng.choice("ACGT") for _ in range(200))
    fasta = write_fasta({"chr1": sequence})
    snv = ("chr1", 100, sequence[99], "A" if sequence[99] != "A" else "C")
    rows = [snv, ("chr1", 150, sequence[149:152], sequence[149])]  # an SNV and a 2 bp deletion
    vcf = write_vcf(rows, contigs={"chr1": 200})
    with Genome(fasta) as genome:
        return [make_window(genome, v, 48) for v in read_variants(vcf, genome)]


def hand_readout(model, sequence: str, start: int, end: int) -> float:
    """One forward pass of one sequence: log P of its own allele tokens, masked (MLM) or from the bases
    before them (CLM)."""
    tokens = model.tokenize([sequence])
    spans = tokens.spans[0]
    read = [t for t, (s, e) in enumerate(spans) if s >= 0 and s < end and e > start]
    ids = tokens.input_ids[0, read].clone()
    if model.kind == "mlm":
        tokens.input_ids[0, read] = model.mask_token_id
    with torch.no_grad():
        logits, _ = model.forward(tokens)
    log_probs = torch.log_softmax(logits[0].float(), dim=-1)
    rows = read if model.kind == "mlm" else [t - 1 for t in read]
    return float(sum(log_probs[r, i] for r, i in zip(rows, ids)))


def hand_ism(model, sequence: str, span: tuple[int, int]) -> np.ndarray:
    start, end = span
    base = hand_readout(model, sequence, start, end)
    out = []
    for i in range(start - FLANK, end + FLANK):
        row = []
        for b in "ACGT":
            if start <= i < end:
                row.append(np.nan)
            elif sequence[i] == b:
                row.append(0.0)
            else:
                row.append(hand_readout(model, sequence[:i] + b + sequence[i + 1 :], start, end) - base)
        out.append(row)
    return np.array(out)


@pytest.mark.parametrize("kind", ["convnet", "char_clm"])
def test_ism_equals_a_hand_loop_of_single_forward_passes(kind, windows, convnet_dir, char_clm_dir):
    model = gx.load_model(str(convnet_dir if kind == "convnet" else char_clm_dir), device="cpu")
    found = saturation_mutagenesis(model, windows, flank=FLANK, batch_size=7)
    for window, ism in zip(windows, found):
        for allele, sequence, span in (("ref", window.ref, window.ref_span), ("alt", window.alt, window.alt_span)):
            expected = hand_ism(model, sequence, span)
            np.testing.assert_allclose(getattr(ism, allele), expected, atol=1e-4)
            assert list(getattr(ism, f"{allele}_positions")) == list(range(span[0] - FLANK, span[1] + FLANK))
            importance = ism.importance(allele)
            own = [row[0] for row in np.argwhere(expected == 0.0)]
            np.testing.assert_allclose(importance[own], -np.nansum(expected[own], axis=1) / 3, atol=1e-4)
        assert ism.ref_readout == pytest.approx(hand_readout(model, window.ref, *window.ref_span), abs=1e-4)


def test_a_substitution_under_a_masked_lm_shares_its_mutants_between_ref_and_alt(windows, convnet_dir):
    model = gx.load_model(str(convnet_dir), device="cpu")
    seen = []
    forward = model.forward

    def counting(tokens, *args, **kwargs):
        seen.append(len(tokens))
        return forward(tokens, *args, **kwargs)

    model.forward = counting
    saturation_mutagenesis(model, windows[:1], flank=FLANK, batch_size=64)
    assert sum(seen) == 1 + 3 * 2 * FLANK  # the unmutated window and 3 mutants per base, for both alleles
