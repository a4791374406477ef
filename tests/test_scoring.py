"""Scores recomputed with plain transformers calls, batch-size invariance, shared passes."""

from pathlib import Path

import numpy as np
import pysam
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

import genomix as gx
from genomix.errors import GenomixError
from genomix.scoring import score_variants

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "starter" / "genome.fa.gz"
VCF = ROOT / "variants" / "starter.vcf.gz"
W = 60


def _complement(seq):
    return seq[::-1].translate(str.maketrans("ACGT", "TGCA"))


def _windows_by_hand(chrom, pos1, ref, alt):
    """Ref and alt window of an SNV far from contig ends, straight from pysam."""
    start = pos1 - 1 - W // 2
    ref_window = pysam.FastaFile(str(FASTA)).fetch(chrom, start, start + W).upper()
    assert ref_window[W // 2] == ref
    return ref_window, ref_window[: W // 2] + alt + ref_window[W // 2 + 1 :]


def _starter_snvs(n=4):
    with pysam.VariantFile(str(VCF)) as vcf:
        return [(r.chrom, r.pos, r.ref, r.alts[0]) for r in vcf if r.id.startswith("snv")][:n]


def _placed(chrom, pos1, ref, alt):
    return gx.Variant(chrom=chrom, pos=pos1 - 1, ref=ref, alt=alt, contig=chrom)


def _direct_llr(hf_model, tokenizer, ref_window, alt_window, position):
    """Mask the token at base `position` (character tokens) and compare log p(alt) with log p(ref)."""
    ids = tokenizer(ref_window, return_tensors="pt")["input_ids"]
    token = position + 1  # after <cls>
    ids[0, token] = tokenizer.mask_token_id
    with torch.no_grad():
        logp = torch.log_softmax(hf_model(input_ids=ids).logits[0, token], -1)
    vocab = tokenizer.get_vocab()
    return float(logp[vocab[alt_window[position]]] - logp[vocab[ref_window[position]]])


def test_llr_equals_a_direct_masked_lm_call_on_both_strands(char_mlm_dir):
    model = gx.load_model(str(char_mlm_dir))
    hf_model = AutoModelForMaskedLM.from_pretrained(char_mlm_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(char_mlm_dir)
    genome = gx.Genome(FASTA)
    for chrom, pos1, ref, alt in _starter_snvs():
        ref_w, alt_w = _windows_by_hand(chrom, pos1, ref, alt)
        forward = _direct_llr(hf_model, tokenizer, ref_w, alt_w, W // 2)
        reverse = _direct_llr(hf_model, tokenizer, _complement(ref_w), _complement(alt_w), W - 1 - W // 2)
        (scored,) = score_variants(model, genome, [_placed(chrom, pos1, ref, alt)], method="llr", window=W)
        (forward_only,) = score_variants(
            model, genome, [_placed(chrom, pos1, ref, alt)], method="llr", window=W, rc=False
        )
        assert scored.method == "llr" and scored.variant.status == "ok"
        assert scored.score == pytest.approx((forward + reverse) / 2, abs=1e-5)
        assert forward_only.score == pytest.approx(forward, abs=1e-5)


def test_llr_with_6mer_tokens_compares_the_ref_and_alt_6mers(kmer_mlm_dir):
    model = gx.load_model(str(kmer_mlm_dir))
    hf_model = AutoModelForMaskedLM.from_pretrained(kmer_mlm_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(kmer_mlm_dir)
    vocab = tokenizer.get_vocab()
    genome = gx.Genome(FASTA)
    chrom, pos1, ref, alt = _starter_snvs(1)[0]
    ref_w, alt_w = _windows_by_hand(chrom, pos1, ref, alt)
    # W // 2 = 30 sits at the start of the sixth 6-mer (bases 30..35), token 6 after <cls>
    ids = torch.tensor([[vocab["<cls>"]] + [vocab[ref_w[i : i + 6]] for i in range(0, W, 6)] + [vocab["<eos>"]]])
    ids[0, 6] = tokenizer.mask_token_id
    with torch.no_grad():
        logp = torch.log_softmax(hf_model(input_ids=ids).logits[0, 6], -1)
    expected = float(logp[vocab[alt_w[30:36]]] - logp[vocab[ref_w[30:36]]])
    (scored,) = score_variants(model, genome, [_placed(chrom, pos1, ref, alt)], method="llr", window=W, rc=False)
    assert scored.score == pytest.approx(expected, abs=1e-5)


def _direct_loglik(hf_model, tokenizer, seq):
    ids = tokenizer(seq, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(hf_model(input_ids=ids).logits[0, :-1], -1)
    return float(logp.gather(-1, ids[0, 1:, None]).sum())


def test_delta_ll_equals_direct_causal_lm_log_likelihoods(char_clm_dir):
    model = gx.load_model(str(char_clm_dir))
    hf_model = AutoModelForCausalLM.from_pretrained(char_clm_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(char_clm_dir)
    genome = gx.Genome(FASTA)
    for chrom, pos1, ref, alt in _starter_snvs(3):
        ref_w, alt_w = _windows_by_hand(chrom, pos1, ref, alt)
        forward = _direct_loglik(hf_model, tokenizer, alt_w) - _direct_loglik(hf_model, tokenizer, ref_w)
        reverse = _direct_loglik(hf_model, tokenizer, _complement(alt_w)) - _direct_loglik(
            hf_model, tokenizer, _complement(ref_w)
        )
        (scored,) = score_variants(model, genome, [_placed(chrom, pos1, ref, alt)], window=W)
        assert scored.method == "delta_ll"
        assert scored.score == pytest.approx((forward + reverse) / 2, abs=1e-4)


def test_embedding_distance_equals_direct_hidden_state_means(char_mlm_dir):
    model = gx.load_model(str(char_mlm_dir))
    hf_model = AutoModelForMaskedLM.from_pretrained(char_mlm_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(char_mlm_dir)
    genome = gx.Genome(FASTA)
    chrom, pos1, ref, alt = _starter_snvs(1)[0]
    ref_w, alt_w = _windows_by_hand(chrom, pos1, ref, alt)

    def mean_state(seq):
        ids = tokenizer(seq, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            states = hf_model(input_ids=ids, output_hidden_states=True).hidden_states[2]  # after block 1
        return states[0, 1:-1].double().mean(0).numpy()  # DNA tokens only, not <cls>/<eos>

    expected = np.linalg.norm(mean_state(alt_w) - mean_state(ref_w))
    (scored,) = score_variants(
        model, genome, [_placed(chrom, pos1, ref, alt)], method="embedding", window=W, rc=False, layer=1
    )
    assert scored.score == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("fixture", ["char_mlm_dir", "kmer_mlm_dir", "char_clm_dir", "convnet_dir"])
def test_scores_do_not_depend_on_batch_size(request, fixture):
    model = gx.load_model(str(request.getfixturevalue(fixture)))
    one = gx.score(VCF, FASTA, model, window=96, batch_size=1)
    many = gx.score(VCF, FASTA, model, window=96, batch_size=64)
    assert (one["status"] == many["status"]).all()
    assert np.allclose(one["score"], many["score"], atol=1e-5, equal_nan=True)
    assert one["status"].eq("ok").sum() >= 30


def test_alts_sharing_a_position_share_one_masked_pass_per_strand(char_mlm_dir):
    model = gx.load_model(str(char_mlm_dir))
    genome = gx.Genome(FASTA)
    sequences = []
    original = model.forward

    def counting_forward(tokens, layers=()):
        sequences.extend(tokens.input_ids.tolist())
        return original(tokens, layers)

    model.forward = counting_forward
    chrom, pos1, ref, _ = _starter_snvs(1)[0]
    variants = [_placed(chrom, pos1, ref, alt) for alt in "ACGT" if alt != ref]
    scored = score_variants(model, genome, variants, method="llr", window=W)
    assert [s.variant.status for s in scored] == ["ok"] * 3
    assert len(sequences) == 2  # one masked ref window per strand, for all three ALTs


def test_auto_uses_embedding_for_masked_lm_indels_and_llr_refuses_them(char_mlm_dir):
    model = gx.load_model(str(char_mlm_dir))
    genome = gx.Genome(FASTA)
    insertion = _placed("chr1", 5001, "G", "GGATTACA")
    (auto,) = score_variants(model, genome, [insertion], window=W)
    (forced,) = score_variants(model, genome, [insertion], method="llr", window=W)
    assert auto.method == "embedding" and auto.score > 0
    assert forced.variant.status == "skipped:llr_needs_substitution" and np.isnan(forced.score)


def test_method_that_the_model_cannot_compute_is_refused(char_mlm_dir, char_clm_dir):
    genome = gx.Genome(FASTA)
    snv = _placed(*_starter_snvs(1)[0])
    with pytest.raises(GenomixError, match="delta_ll needs a causal LM"):
        score_variants(gx.load_model(str(char_mlm_dir)), genome, [snv], method="delta_ll", window=W)
    with pytest.raises(GenomixError, match="llr needs a masked LM"):
        score_variants(gx.load_model(str(char_clm_dir)), genome, [snv], method="llr", window=W)


def test_window_longer_than_the_context_is_refused(char_mlm_dir):
    with pytest.raises(GenomixError, match=r"longer than .* context \(256 bp\)"):
        gx.score(VCF, FASTA, gx.load_model(str(char_mlm_dir)), window=400)


def test_every_input_alt_is_in_the_table_with_a_status(char_mlm_dir):
    table = gx.score(VCF, FASTA, gx.load_model(str(char_mlm_dir)), window=W)
    by_id = table.groupby("id")["status"].apply(list).to_dict()
    assert by_id["multi"] == ["ok", "ok", "ok"]
    assert by_id["sv"] == ["skipped:symbolic_allele"]
    assert by_id["star"] == ["skipped:spanning_deletion", "ok"]
    assert by_id["first_base"] == ["ok"] and by_id["last_base"] == ["ok"]
    with pysam.VariantFile(str(VCF)) as vcf:
        assert len(table) == sum(len(r.alts) for r in vcf)
    assert table.loc[table.status != "ok", "score"].isna().all()
    assert table.loc[table.status == "ok", "score"].notna().all()
