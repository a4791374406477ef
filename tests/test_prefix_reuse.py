"""delta_ll with the ref pass's cache reused for the bases left of the variant: the same scores as whole-window
log-likelihoods computed with plain transformers calls, on a saturation set (every SNV over a stretch) and indels,
with the alt passes reading only the tokens from the variant on."""

from pathlib import Path

import numpy as np
import pysam
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import genomix as gx
from genomix.scoring import score_variants

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "starter" / "genome.fa.gz"
W = 120
STRETCH = ("chr1", 2000, 2006)  # 0-based half-open: 6 positions x 3 ALTs


def _complement(seq):
    return seq[::-1].translate(str.maketrans("ACGT", "TGCA"))


def _saturation(genome):
    chrom, start, end = STRETCH
    return [
        gx.Variant(chrom=chrom, pos=pos, ref=base, alt=alt, contig=chrom)
        for pos in range(start, end)
        for base in [genome.fetch(chrom, pos, pos + 1)]
        for alt in "ACGT"
        if alt != base
    ]


def _indels():
    """A 1 bp insertion and a 2 bp deletion, their windows built by hand (W bp, the event at W // 2, more
    sequence taken after it to keep the length)."""
    fasta = pysam.FastaFile(str(FASTA))
    chrom, pos = "chr1", 3000
    start = pos - W // 2
    ref = fasta.fetch(chrom, start, start + W).upper()
    anchor = ref[W // 2]
    inserted = ref[: W // 2 + 1] + "G" + fasta.fetch(chrom, pos + 1, start + W - 1).upper()
    deleted = ref[: W // 2 + 1] + fasta.fetch(chrom, pos + 3, start + W + 2).upper()
    return [
        (gx.Variant(chrom=chrom, pos=pos, ref=anchor, alt=anchor + "G", contig=chrom), ref, inserted),
        (gx.Variant(chrom=chrom, pos=pos, ref=ref[W // 2 : W // 2 + 3], alt=anchor, contig=chrom), ref, deleted),
    ]


class Direct:
    """Whole-window log-likelihoods with plain transformers calls, one sequence at a time."""

    def __init__(self, folder):
        self.model = AutoModelForCausalLM.from_pretrained(folder).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)

    def loglik(self, seq):
        ids = self.tokenizer(seq, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(self.model(input_ids=ids).logits[0, :-1], -1)
        return float(logp.gather(-1, ids[0, 1:, None]).double().sum())

    def delta(self, ref, alt):
        forward = self.loglik(alt) - self.loglik(ref)
        reverse = self.loglik(_complement(alt)) - self.loglik(_complement(ref))
        return (forward + reverse) / 2


def test_saturation_scores_with_a_reused_prefix_equal_whole_window_log_likelihoods(char_clm_dir):
    genome = gx.Genome(FASTA)
    variants = _saturation(genome)
    direct = Direct(char_clm_dir)
    expected = []
    for v in variants:
        ref = genome.fetch(v.chrom, v.pos - W // 2, v.pos - W // 2 + W)
        expected.append(direct.delta(ref, ref[: W // 2] + v.alt + ref[W // 2 + 1 :]))
    model = gx.load_model(str(char_clm_dir))
    for batch_size in (1, 7, 32):
        scored = score_variants(model, genome, variants, window=W, batch_size=batch_size)
        assert all(s.method == "delta_ll" for s in scored)
        np.testing.assert_allclose([s.score for s in scored], expected, atol=1e-5, rtol=0)
    whole = score_variants(model, genome, variants, window=W, reuse_prefix=False)
    np.testing.assert_allclose([s.score for s in whole], expected, atol=1e-5, rtol=0)


def test_indel_scores_with_a_reused_prefix_equal_whole_window_log_likelihoods(char_clm_dir):
    genome = gx.Genome(FASTA)
    direct = Direct(char_clm_dir)
    model = gx.load_model(str(char_clm_dir))
    for variant, ref, alt in _indels():
        assert len(alt) == W
        (scored,) = score_variants(model, genome, [variant], window=W)
        assert scored.score == pytest.approx(direct.delta(ref, alt), abs=1e-5)


def test_alt_passes_read_only_the_tokens_from_the_variant_on(char_clm_dir):
    """Tokens entering the model: each ref window whole (W bases + <bos>), each alt window from the token
    before the variant's (W // 2 + 1 after <bos>: the variant is token W // 2 + 1) to its end."""
    genome = gx.Genome(FASTA)
    variants = _saturation(genome)
    model = gx.load_model(str(char_clm_dir))
    seen = []
    handle = model.model.get_input_embeddings().register_forward_hook(lambda m, i, o: seen.append(i[0].numel()))
    try:
        score_variants(model, genome, variants, window=W, batch_size=64)
    finally:
        handle.remove()
    positions = len(variants) // 3
    # Forward strand: the variant is token W // 2 + 1, the alt pass starts at W // 2. Reverse strand: the
    # variant sits at base W - 1 - W // 2, token W - W // 2, the alt pass starts one before it.
    forward_alt = W + 1 - W // 2
    reverse_alt = W + 1 - (W - W // 2 - 1)
    assert sum(seen) == positions * 2 * (W + 1) + positions * 3 * (forward_alt + reverse_alt)


def test_a_model_whose_cache_cannot_be_cut_scores_whole_windows(tmp_path, char_clm_dir):
    """A sliding-window attention model (Mistral) keeps a cache that is not every token's keys and values:
    its alt windows run whole, and the scores are still the direct whole-window ones."""
    from transformers import MistralConfig, MistralForCausalLM

    folder = tmp_path / "mistral"
    torch.manual_seed(0)
    config = MistralConfig(
        vocab_size=9,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=300,
        sliding_window=16,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    MistralForCausalLM(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(char_clm_dir).save_pretrained(folder)
    genome = gx.Genome(FASTA)
    variants = _saturation(genome)[:6]
    model = gx.load_model(str(folder))
    tokens = model.tokenize(["ACGT" * 10])
    assert model.forward_cached(tokens)[1] is None
    direct = Direct(folder)
    expected = []
    for v in variants:
        ref = genome.fetch(v.chrom, v.pos - W // 2, v.pos - W // 2 + W)
        expected.append(direct.delta(ref, ref[: W // 2] + v.alt + ref[W // 2 + 1 :]))
    scored = score_variants(model, genome, variants, window=W)
    np.testing.assert_allclose([s.score for s in scored], expected, atol=1e-5, rtol=0)
