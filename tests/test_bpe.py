"""Subword (BPE) vocabularies, as DNABERT-2, GROVER and GENA-LM use: variants placed through the
tokenizer's offsets, the embedding distance by default, llr only where ref and alt share token boundaries.
A BPE tokenizer trained with `tokenizers` on the demo genome and a tiny BERT stand in for them."""

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

import genomix as gx
from tiny_models import save_bpe_mlm

WINDOW = 64
POSITIONS = range(40, 270, 20)  # 1-based, on chr1 of `small_fasta`: every window inside the contig
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory) -> Path:
    return save_bpe_mlm(tmp_path_factory.mktemp("bpe"))


@pytest.fixture
def snvs(write_vcf, small_sequences) -> Path:
    chr1 = small_sequences["chr1"].upper()
    rows = [("chr1", pos, chr1[pos - 1], ",".join(b for b in "ACGT" if b != chr1[pos - 1])) for pos in POSITIONS]
    return write_vcf(rows)


@functools.cache
def direct(folder: Path):
    return AutoTokenizer.from_pretrained(folder), AutoModelForMaskedLM.from_pretrained(folder).eval()


def windows(chrom: str, pos: int, ref: str, alt: str) -> list[tuple[str, str, int]]:
    """(ref window, alt window, offset of the variant's first base) on both strands: W bp from W/2 before the
    variant, the alt window filled up to W with the bases after the event."""
    p = pos - 1
    start = p - WINDOW // 2
    ref_window = chrom[start : start + WINDOW]
    alt_window = (chrom[start:p] + alt + chrom[p + len(ref) :])[:WINDOW]
    rc = lambda s: s.translate(COMPLEMENT)[::-1]  # noqa: E731
    return [(ref_window, alt_window, WINDOW // 2), (rc(ref_window), rc(alt_window), WINDOW - WINDOW // 2 - len(ref))]


def mean_state(folder: Path, seq: str) -> np.ndarray:
    tokenizer, model = direct(folder)
    with torch.no_grad():
        states = model(**tokenizer(seq, return_tensors="pt"), output_hidden_states=True).hidden_states[-1][0]
    return states[1:-1].double().mean(0).numpy()  # the bases' tokens, without [CLS] and [SEP]


def expected_embedding(folder: Path, chrom: str, pos: int, ref: str, alt: str) -> float:
    strands = windows(chrom, pos, ref, alt)
    return float(np.mean([np.linalg.norm(mean_state(folder, a) - mean_state(folder, r)) for r, a, _ in strands]))


def expected_llr(folder: Path, chrom: str, pos: int, ref: str, alt: str) -> float | None:
    """Masked llr of the one token holding the SNV, or None when the alt window splits into other tokens."""
    tokenizer, model = direct(folder)
    llrs = []
    for ref_window, alt_window, at in windows(chrom, pos, ref, alt):
        ref_tokens = tokenizer(ref_window, return_offsets_mapping=True)
        alt_tokens = tokenizer(alt_window, return_offsets_mapping=True)
        if ref_tokens["offset_mapping"] != alt_tokens["offset_mapping"]:
            return None
        token = ref_tokens.char_to_token(at)
        masked = torch.tensor([ref_tokens["input_ids"]])
        masked[0, token] = tokenizer.mask_token_id
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=masked).logits[0, token], dim=-1)
        llrs.append(float(logp[alt_tokens["input_ids"][token]] - logp[ref_tokens["input_ids"][token]]))
    return float(np.mean(llrs))


def test_bpe_tokens_and_base_spans_are_the_tokenizers_own(bpe_dir, small_sequences):
    model = gx.load_model(str(bpe_dir), device="cpu")
    tokenizer, _ = direct(bpe_dir)
    seq = small_sequences["chr1"][:120].upper() + "NNACGT"
    expected = tokenizer(seq, return_offsets_mapping=True)
    batch = model.tokenize([seq, "ACGT"])
    assert batch.input_ids[0].tolist() == expected["input_ids"]
    spans = [list(span) for span in expected["offset_mapping"]]
    spans[0] = spans[-1] = [-1, -1]  # [CLS], [SEP]
    assert batch.spans[0].tolist() == spans
    assert max(e - s for s, e in spans) > 1  # merged tokens: no fixed k would place these bases
    assert model.tokenizer.subword and model.backend == "hf-mlm"
    assert model.context_bp == 256 - 2  # positions less [CLS] and [SEP], at one base per token at least


def test_bpe_auto_score_is_the_embedding_distance(bpe_dir, small_fasta, small_sequences, write_vcf):
    chr1 = small_sequences["chr1"].upper()
    rows = [("chr1", 61, chr1[60], "G" if chr1[60] != "G" else "A"), ("chr1", 150, chr1[149], chr1[149] + "TTA")]
    rows.append(("chr1", 200, chr1[199:203], chr1[199]))  # a deletion
    model = gx.load_model(str(bpe_dir), device="cpu")
    with gx.Genome(small_fasta) as genome:
        scored = gx.score_variants(model, genome, gx.read_variants(write_vcf(rows), genome), window=WINDOW)
    assert [s.method for s in scored] == ["embedding"] * 3 and [s.status for s in scored] == ["ok"] * 3
    expected = [expected_embedding(bpe_dir, chr1, pos, ref, alt) for _, pos, ref, alt in rows]
    assert min(expected) > 0.01
    np.testing.assert_allclose([s.score for s in scored], expected, rtol=1e-5)


def test_bpe_llr_only_where_ref_and_alt_share_token_boundaries(bpe_dir, small_fasta, small_sequences, snvs):
    model = gx.load_model(str(bpe_dir), device="cpu")
    with gx.Genome(small_fasta) as genome:
        scored = gx.score_variants(model, genome, gx.read_variants(snvs, genome), method="llr", window=WINDOW)
    chr1 = small_sequences["chr1"].upper()
    expected = [expected_llr(bpe_dir, chr1, s.variant.vcf_pos, s.variant.ref, s.variant.alt) for s in scored]
    shared = [e is not None for e in expected]
    assert 0 < sum(shared) < len(scored)  # the set has both kinds
    assert [s.status for s in scored] == ["ok" if ok else "skipped:llr_token_boundaries_differ" for ok in shared]
    got = [s.score for s, ok in zip(scored, shared) if ok]
    np.testing.assert_allclose(got, [e for e in expected if e is not None], atol=1e-5, rtol=1e-5)
    assert all(np.isnan(s.score) for s, ok in zip(scored, shared) if not ok)


def genomix(*args):
    return subprocess.run([sys.executable, "-m", "genomix", *map(str, args)], capture_output=True, text=True)


def test_cli_scores_and_trains_an_sae_on_a_bpe_model(bpe_dir, small_fasta, small_sequences, snvs, tmp_path):
    table = tmp_path / "scores.tsv"
    done = genomix("score", snvs, "--fasta", small_fasta, "--model", bpe_dir, "--window", WINDOW, "-o", table, "-q")
    assert done.returncode == 0, done.stderr
    scores = pd.read_csv(table, sep="\t")
    assert (scores.method == "embedding").all() and (scores.status == "ok").all() and len(scores) == 36
    chr1 = small_sequences["chr1"].upper()
    some = scores.iloc[::7]
    expected = [expected_embedding(bpe_dir, chr1, p, r, a) for p, r, a in zip(some.pos, some.ref, some.alt)]
    np.testing.assert_allclose(some.score, expected, rtol=1e-5)

    sae = tmp_path / "sae"
    trained = genomix(
        "sae", "train", "--fasta", small_fasta, "--model", bpe_dir, "--layer", -1, "--d-sae", 64, "--k", 4,
        "--tokens", 1024, "--batch-size", 128, "--window", WINDOW, "-o", sae, "-q",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    loaded = gx.load_sae(sae)
    assert loaded.metadata["hook_name"] == "blocks.1" and loaded.d_in == 32
