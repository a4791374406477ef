"""GPN models (songlab-cal/gpn) built with gpn's own classes and tokenizer, loaded by folder with no flag,
scored as gpn's `run_vep` scores them."""

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import torch

import genomix as gx
from genomix.errors import GenomixError
from tiny_models import GPN_KINDS, save_gpn

gpn = pytest.importorskip("gpn", reason="gpn is a test extra: pip install gpn")

WINDOW = 64
# (1-based POS, ALTs) on chr1 of `small_fasta`; every window lies inside the contig.
SITES = [(41, "ACGT"), (97, "ACGT"), (150, "ACGT"), (222, "ACGT"), (259, "ACGT")]
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


@pytest.fixture(scope="module", params=GPN_KINDS)
def gpn_dir(request, tmp_path_factory) -> tuple[str, Path]:
    return request.param, save_gpn(tmp_path_factory.mktemp(request.param), request.param)


@pytest.fixture(scope="module")
def gpn_convnet_dir(tmp_path_factory) -> Path:
    return save_gpn(tmp_path_factory.mktemp("gpn-convnet"), "convnet")


@functools.cache
def gpn_direct(folder: Path):
    """GPN's tokenizer and model as run_vep loads them: gpn's Auto classes, then from_pretrained."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    gpn.register_auto_classes("gpn")
    return AutoTokenizer.from_pretrained(folder), AutoModelForMaskedLM.from_pretrained(folder).eval()


def run_vep_llr(folder: Path, chrom_seq: str, pos: int, ref: str, alt: str, window: int) -> float:
    """GPN's `run_vep` (gpn/ss/run_vep.py) for one SNV: the window [p - W/2, p + W/2) around the 0-based
    position p, the base masked at W/2 on the forward strand and W/2 - 1 on the reverse complement, the
    model called on input_ids alone, logit(alt) - logit(ref) averaged over the two strands."""
    tokenizer, model = gpn_direct(folder)
    p = pos - 1
    seq_fwd = list(chrom_seq[p - window // 2 : p + window // 2].upper())
    seq_rev = list("".join(seq_fwd).translate(COMPLEMENT)[::-1])
    llrs = []
    for seq, at, r, a in (
        (seq_fwd, window // 2, ref, alt),
        (seq_rev, window // 2 - 1, ref.translate(COMPLEMENT), alt.translate(COMPLEMENT)),
    ):
        assert seq[at] == r
        seq[at] = tokenizer.mask_token
        input_ids = torch.tensor([tokenizer("".join(seq))["input_ids"]])
        with torch.no_grad():
            logits = model(input_ids=input_ids).logits[0, at]
        llrs.append(float(logits[tokenizer(a)["input_ids"][0]] - logits[tokenizer(r)["input_ids"][0]]))
    return (llrs[0] + llrs[1]) / 2


def sites_vcf(write_vcf, sequences: dict[str, str]) -> Path:
    rows = []
    for pos, bases in SITES:
        ref = sequences["chr1"][pos - 1].upper()
        rows.append(("chr1", pos, ref, ",".join(b for b in bases if b != ref)))
    return write_vcf(rows)


def test_gpn_folder_loads_without_a_flag_and_finds_its_blocks(gpn_dir):
    kind, folder = gpn_dir
    model = gx.load_model(str(folder), device="cpu")
    layers = 2 if kind.endswith("roformer") else 3
    assert model.backend == "gpn" and model.kind == "mlm" and model.layers == [f"blocks.{i}" for i in range(layers)]
    assert model.tokenizer.k == 1 and model.d_model == 16
    # conv encoders take any window; the RoFormer ones keep their sinusoidal position table's 1,536
    assert model.context_bp == (1536 if kind.endswith("roformer") else None)


def test_gpn_llr_equals_gpn_run_vep(gpn_dir, small_fasta, small_sequences, write_vcf):
    _, folder = gpn_dir
    model = gx.load_model(str(folder), device="cpu")
    with gx.Genome(small_fasta) as genome:
        scored = gx.score_variants(
            model, genome, gx.read_variants(sites_vcf(write_vcf, small_sequences), genome), window=WINDOW
        )
    chr1 = small_sequences["chr1"]
    expected = [run_vep_llr(folder, chr1, s.variant.vcf_pos, s.variant.ref, s.variant.alt, WINDOW) for s in scored]
    got = [s.score for s in scored]
    assert [s.method for s in scored] == ["llr"] * 15 and [s.status for s in scored] == ["ok"] * 15
    assert np.abs(np.array(expected)).max() > 0.05  # wide weights: the comparison is not one of zeros
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-5)


def test_gpn_activations_are_the_outputs_of_its_encoder_layers(gpn_convnet_dir):
    model = gx.load_model(str(gpn_convnet_dir), device="cpu")
    tokens = model.tokenize(["ACGTTGCANNACGGT"])
    _, captured = model.forward(tokens, layers=("blocks.1",), logits=False)
    _, direct = gpn_direct(gpn_convnet_dir)
    with torch.no_grad():
        hidden = direct.model.embeddings(input_ids=tokens.input_ids)
        for layer in direct.model.encoder.layer[:2]:
            hidden = layer(hidden)
    torch.testing.assert_close(captured["blocks.1"], hidden)


def test_padded_rows_score_as_if_alone(gpn_convnet_dir):
    model = gx.load_model(str(gpn_convnet_dir), device="cpu")
    seqs = ["ACGTTGCAACGGTA", "GATTACA"]
    together, _ = model.forward(model.tokenize(seqs))
    for row, seq in enumerate(seqs):
        alone, _ = model.forward(model.tokenize([seq]))
        torch.testing.assert_close(together[row, : len(seq)], alone[0])


def test_convolutional_gpn_takes_a_window_longer_than_its_config_positions(gpn_convnet_dir, small_fasta, write_vcf):
    model = gx.load_model(str(gpn_convnet_dir), device="cpu")
    with gx.Genome(small_fasta) as genome:
        variants = gx.read_variants(write_vcf([("chr1", 150, genome.fetch("chr1", 149, 150), "TGA")]), genome)
        [scored] = gx.score_variants(model, genome, variants, window=2048, method="embedding")
    assert scored.status == "ok" and scored.score > 0


def test_missing_gpn_package_is_one_line_saying_how_to_install_it(gpn_convnet_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "gpn", None)  # `import gpn` fails as it does where it is not installed
    with pytest.raises(GenomixError, match="pip install gpn"):
        gx.load_model(str(gpn_convnet_dir))


def genomix(*args):
    return subprocess.run([sys.executable, "-m", "genomix", *map(str, args)], capture_output=True, text=True)


def test_cli_scores_trains_an_sae_and_explains_on_a_gpn_convnet(
    gpn_convnet_dir, small_fasta, small_sequences, write_vcf, tmp_path
):
    vcf = sites_vcf(write_vcf, small_sequences)
    table = tmp_path / "scores.tsv"
    # gpn prints while it builds a model; a VCF on stdout must stay a VCF
    piped = genomix(
        "score", vcf, "--fasta", small_fasta, "--model", gpn_convnet_dir, "--window", WINDOW,
        "-o", "-", "-o", table, "-q",
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("##fileformat=VCF") and "dilation_schedule" in piped.stderr
    (tmp_path / "piped.vcf").write_text(piped.stdout)
    with pysam.VariantFile(str(tmp_path / "piped.vcf")) as annotated:
        assert sum(len(record.info["GMX_SCORE"]) for record in annotated) == 15
    scores = pd.read_csv(table, sep="\t")
    chr1 = small_sequences["chr1"]
    expected = [
        run_vep_llr(gpn_convnet_dir, chr1, p, r, a, WINDOW) for p, r, a in zip(scores.pos, scores.ref, scores.alt)
    ]
    np.testing.assert_allclose(scores.score, expected, atol=2e-5, rtol=1e-5)

    sae = tmp_path / "sae"
    trained = genomix(
        "sae", "train", "--fasta", small_fasta, "--model", gpn_convnet_dir, "--layer", 1, "--d-sae", 32, "--k", 4,
        "--tokens", 2048, "--batch-size", 256, "--window", WINDOW, "-o", sae, "-q",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert gx.load_sae(sae).metadata["hook_name"] == "blocks.1"
    motifs = tmp_path / "motifs.meme"  # two motifs keep the atlas quick (JASPAR's 879 take most of a minute)
    motifs.write_text(
        "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
        "MOTIF M1 GATA\nletter-probability matrix: alength= 4 w= 4 nsites= 10 E= 0\n"
        "0.05 0.05 0.85 0.05\n0.85 0.05 0.05 0.05\n0.05 0.05 0.05 0.85\n0.85 0.05 0.05 0.05\n\n"
        "MOTIF M2 CCAAT\nletter-probability matrix: alength= 4 w= 5 nsites= 10 E= 0\n"
        "0.05 0.85 0.05 0.05\n0.05 0.85 0.05 0.05\n0.85 0.05 0.05 0.05\n0.85 0.05 0.05 0.05\n0.05 0.05 0.05 0.85\n"
    )
    atlas = genomix(
        "features", "annotate", "--sae", sae, "--fasta", small_fasta, "--windows", 8, "--motifs", motifs, "--no-nulls"
    )
    assert atlas.returncode == 0, atlas.stderr
    hypotheses = tmp_path / "hypotheses.tsv"
    explained = genomix(
        "explain", vcf, "--fasta", small_fasta, "--sae", sae, "--unlabelled", "--null-size", 20, "--window", WINDOW,
        "-o", hypotheses, "-q",
    )  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    rows = pd.read_csv(hypotheses, sep="\t")
    assert set(zip(rows.pos, rows.alt)) == set(zip(scores.pos, scores.alt)) and (rows.method == "llr").all()
    first = rows.drop_duplicates(["pos", "alt"]).set_index(["pos", "alt"]).score
    np.testing.assert_allclose(first.loc[list(zip(scores.pos, scores.alt))], scores.score, atol=1e-6)
