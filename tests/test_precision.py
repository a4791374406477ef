"""--dtype: models run in bfloat16 / float16 score within the documented tolerance of float32, compute what a
direct transformers call in that precision computes, and keep binding to SAEs trained in float32."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pysam
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

import genomix as gx
from genomix.errors import GenomixError
from genomix.models.base import model_fingerprint
from genomix.scoring import score_variants

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "starter" / "genome.fa.gz"
VCF = ROOT / "variants" / "starter.vcf.gz"
W = 120

# The tolerance README states: |score(dtype) - score(float32)| <= ABS + REL * |score(float32)|, in nats.
TOLERANCE = {"bfloat16": (0.05, 0.02), "float16": (0.01, 0.005)}


def _variants(genome):
    return list(gx.read_variants(VCF, genome))


@pytest.mark.parametrize(
    "fixture, method", [("char_mlm_dir", "llr"), ("char_clm_dir", "delta_ll"), ("kmer_mlm_dir", "auto")]
)
def test_half_precision_scores_stay_within_the_documented_tolerance(request, fixture, method):
    folder = str(request.getfixturevalue(fixture))
    genome = gx.Genome(FASTA)
    variants = _variants(genome)
    reference = np.array([s.score for s in score_variants(gx.load_model(folder), genome, variants, method, W)])
    assert np.isfinite(reference).sum() >= 20
    for dtype, (absolute, relative) in TOLERANCE.items():
        model = gx.load_model(folder, dtype=dtype)
        assert next(model.model.parameters()).dtype == getattr(torch, dtype)
        scores = np.array([s.score for s in score_variants(model, genome, variants, method, W)])
        ok = np.isfinite(reference)
        assert np.array_equal(ok, np.isfinite(scores))
        assert np.all(np.abs(scores[ok] - reference[ok]) <= absolute + relative * np.abs(reference[ok])), dtype
        assert not np.array_equal(scores[ok], reference[ok])  # the weights really ran in lower precision


def _snvs(n):
    with pysam.VariantFile(str(VCF)) as vcf:
        return [(r.chrom, r.pos, r.ref, r.alts[0]) for r in vcf if r.id.startswith("snv")][:n]


def _window(chrom, pos1):
    start = pos1 - 1 - W // 2
    return pysam.FastaFile(str(FASTA)).fetch(chrom, start, start + W).upper()


def test_bfloat16_llr_is_a_direct_bfloat16_masked_lm_call(char_mlm_dir):
    model = gx.load_model(str(char_mlm_dir), dtype="bfloat16")
    hf_model = AutoModelForMaskedLM.from_pretrained(char_mlm_dir, dtype=torch.bfloat16).eval()
    tokenizer = AutoTokenizer.from_pretrained(char_mlm_dir)
    vocab = tokenizer.get_vocab()
    genome = gx.Genome(FASTA)
    for chrom, pos1, ref, alt in _snvs(3):
        ids = tokenizer(_window(chrom, pos1), return_tensors="pt")["input_ids"]
        ids[0, 1 + W // 2] = tokenizer.mask_token_id
        with torch.no_grad():
            logp = torch.log_softmax(hf_model(input_ids=ids).logits[0, 1 + W // 2].float(), -1)
        expected = float(logp[vocab[alt]] - logp[vocab[ref]])
        variant = gx.Variant(chrom=chrom, pos=pos1 - 1, ref=ref, alt=alt, contig=chrom)
        (scored,) = score_variants(model, genome, [variant], "llr", W, rc=False)
        assert scored.score == pytest.approx(expected, abs=1e-5)


def test_bfloat16_delta_ll_is_a_direct_bfloat16_causal_lm_call(char_clm_dir):
    model = gx.load_model(str(char_clm_dir), dtype="bfloat16")
    hf_model = AutoModelForCausalLM.from_pretrained(char_clm_dir, dtype=torch.bfloat16).eval()
    tokenizer = AutoTokenizer.from_pretrained(char_clm_dir)
    genome = gx.Genome(FASTA)

    def loglik(seq):
        ids = tokenizer(seq, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(hf_model(input_ids=ids).logits[0, :-1].float(), -1)
        return float(logp.gather(-1, ids[0, 1:, None]).double().sum())

    for chrom, pos1, ref, alt in _snvs(3):
        ref_window = _window(chrom, pos1)
        alt_window = ref_window[: W // 2] + alt + ref_window[W // 2 + 1 :]
        variant = gx.Variant(chrom=chrom, pos=pos1 - 1, ref=ref, alt=alt, contig=chrom)
        (scored,) = score_variants(model, genome, [variant], "delta_ll", W, rc=False)
        # bfloat16 keys and values of a cached prefix round like those of a full pass, so the score is the
        # direct full-window difference within bfloat16's own noise on a few dozen tokens.
        assert scored.score == pytest.approx(loglik(alt_window) - loglik(ref_window), abs=0.02)


def test_auto_is_float32_on_a_cpu(char_mlm_dir):
    model = gx.load_model(str(char_mlm_dir), device="cpu")
    assert model.dtype == torch.float32 and next(model.model.parameters()).dtype == torch.float32


def test_activations_and_logits_come_back_in_float32(char_mlm_dir):
    model = gx.load_model(str(char_mlm_dir), dtype="bfloat16")
    logits, captured = model.forward(model.tokenize(["ACGTACGTAC"]), layers=("blocks.1",))
    assert logits.dtype == torch.float32 and captured["blocks.1"].dtype == torch.float32


def test_a_half_precision_model_keeps_the_fingerprint_of_its_stored_weights(char_mlm_dir):
    full = model_fingerprint(gx.load_model(str(char_mlm_dir)))
    assert model_fingerprint(gx.load_model(str(char_mlm_dir), dtype="bfloat16")) == full


def test_unknown_dtype_is_one_clear_line(tmp_path):
    with pytest.raises(GenomixError, match="unknown dtype 'fp8'; choose auto, float32, bfloat16, float16"):
        gx.load_model("demo", dtype="fp8")
    done = subprocess.run(
        [sys.executable, "-m", "genomix", "score", VCF, "--fasta", FASTA, "-o", tmp_path / "x.tsv", "--dtype", "fp8"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("genomix: error: unknown dtype 'fp8'")


def test_score_in_bfloat16_records_its_precision_in_the_vcf(tmp_path, char_clm_dir):
    out = tmp_path / "scores.vcf"
    done = subprocess.run(
        [sys.executable, "-m", "genomix", "score", VCF, "--fasta", FASTA, "--model", char_clm_dir]
        + ["--window", "64", "--dtype", "bfloat16", "-o", out, "--quiet"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "##genomix_dtype=bfloat16" in out.read_text().splitlines()
