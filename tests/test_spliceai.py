"""The spliceai backend (SpliceAI's five Keras models read with h5py, run in torch) and SpliceAI's delta
scores. Skipped when Illumina's spliceai package is not installed (`pip install --no-deps spliceai h5py`)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

spec = importlib.util.find_spec("spliceai")
pytestmark = pytest.mark.skipif(
    spec is None or importlib.util.find_spec("h5py") is None,
    reason="Illumina's spliceai package (its trained weights) is not installed: pip install --no-deps spliceai h5py",
)

SEED = 21


def _h5(model: int) -> Path:
    return Path(list(spec.submodule_search_locations)[0]) / "models" / f"spliceai{model}.h5"


def numpy_spliceai(path: Path, one_hot: np.ndarray) -> np.ndarray:
    """SpliceAI-10k written out from its published architecture, in float64, with the weights read by
    Keras layer name (names are numbered in the order the training code created the layers): the
    (neither, acceptor, donor) probabilities `[len - 10000, 3]` of a one-hot `[len, 4]`."""
    import h5py

    with h5py.File(path, "r") as handle:
        weights = handle["model_weights"]
        layers = json.loads(handle.attrs["model_config"])["config"]["layers"]
        config = {layer["name"]: layer["config"] for layer in layers}

        def param(name, part):
            return np.asarray(weights[name][f"{name}/{part}:0"], dtype=np.float64)

        def conv(x, number, dilation=1):
            name = f"conv1d_{number}"
            kernel, bias = param(name, "kernel"), param(name, "bias")  # [k, in, out]
            width = kernel.shape[0]
            half = dilation * (width - 1) // 2
            padded = np.pad(x, ((half, half), (0, 0)))
            out = np.zeros((x.shape[0], kernel.shape[2])) + bias
            for tap in range(width):
                out += padded[tap * dilation : tap * dilation + x.shape[0]] @ kernel[tap]
            return out

        def norm_relu(x, number):
            name = f"batch_normalization_{number}"
            epsilon = config[name]["epsilon"]
            mean, variance = param(name, "moving_mean"), param(name, "moving_variance")
            return np.maximum((x - mean) / np.sqrt(variance + epsilon) * param(name, "gamma") + param(name, "beta"), 0)

        kernels = [11] * 8 + [21] * 4 + [41] * 4
        dilations = [1] * 4 + [4] * 4 + [10] * 4 + [25] * 4
        stream = conv(one_hot.astype(np.float64), 1)
        skip = conv(stream, 2)
        number, norm = 3, 1
        for unit in range(16):
            assert config[f"conv1d_{number}"]["kernel_size"] == [kernels[unit]]
            hidden = conv(norm_relu(stream, norm), number, dilations[unit])
            stream = stream + conv(norm_relu(hidden, norm + 1), number + 1, dilations[unit])
            number, norm = number + 2, norm + 2
            if unit % 4 == 3:
                skip = skip + conv(stream, number)
                number += 1
        logits = conv(skip[5000:-5000], number)
        assert number == 39
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def random_dna(rng, length: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=length))


def test_torch_port_of_one_model_equals_a_numpy_forward_of_its_h5_weights():
    from genomix.models.spliceai import SpliceAIModel
    from genomix.sequence import one_hot

    rng = np.random.default_rng(SEED)
    seq = random_dna(rng, 10_060)
    seq = seq[:3000] + "N" * 40 + seq[3040:]  # N is all zeros, as SpliceAI encodes it
    model = SpliceAIModel(device="cpu", models=(1,))
    (ported,) = model.splice_probabilities([seq])
    expected = numpy_spliceai(_h5(1), one_hot(seq))
    assert ported.shape == (60, 3)
    np.testing.assert_allclose(ported, expected, atol=1e-5, rtol=0)


def test_ensemble_is_the_mean_of_the_five_models_and_padding_changes_nothing():
    from genomix.models.spliceai import SpliceAIModel

    rng = np.random.default_rng(SEED + 1)
    long, short = random_dna(rng, 10_030), random_dna(rng, 10_011)
    ensemble = SpliceAIModel(device="cpu")
    together = ensemble.splice_probabilities([long, short], batch_size=2)
    singles = [
        SpliceAIModel(device="cpu", models=(m,)).splice_probabilities([long, short], batch_size=1) for m in range(1, 6)
    ]
    for row in range(2):
        np.testing.assert_allclose(together[row], np.mean([s[row] for s in singles], axis=0), atol=1e-6)
    assert together[1].shape == (11, 3)


DEMO_GENE = ("GENE001", "chr1", 6242, 10845)  # 0-based half-open, + strand, from data/demo/genes.gff3
DONOR_EXON = (7618, 7753)  # its exon 4: the intron after it starts with GT at 7753-7754
HALF = 5000 + 50  # SpliceAI's flank plus the default distance


def _one_model():
    from genomix.models.spliceai import SpliceAIModel

    return SpliceAIModel(device="cpu", models=(1,))


def _demo_transcript():
    from genomix.io.splice_genes import SpliceAnnotation, read_splice_genes
    from genomix.paths import demo_dir

    gene = next(t for t in read_splice_genes(demo_dir() / "genes.gff3").transcripts if t.name == DEMO_GENE[0])
    assert (gene.chrom, gene.start, gene.end, gene.strand) == (*DEMO_GENE[1:], "+") and DONOR_EXON in gene.exons
    return SpliceAnnotation([gene])


def _placed(chrom: str, pos0: int, ref: str, alt: str):
    from genomix.io.variants import Variant

    return Variant(chrom, pos0, ref, alt, contig=chrom)


def _by_hand(model, genome, chrom, start, end, pos0, ref, alt, minus=False):
    """DS and DP from SpliceAI's definition, written out: N outside the transcript [start, end), the
    5,050 bp either side, outputs on the transcript's strand, max of the differences over the 101 bases."""
    from genomix.sequence import reverse_complement

    window = "".join(
        genome.fetch(chrom, p, p + 1) if start <= p < end else "N" for p in range(pos0 - HALF, pos0 + HALF + 1)
    )
    alt_window = window[:HALF] + alt + window[HALF + len(ref) :]
    if minus:
        y_ref, y_alt = model.splice_probabilities([reverse_complement(window), reverse_complement(alt_window)])
        y_ref, y_alt = y_ref[::-1], y_alt[::-1]
    else:
        y_ref, y_alt = model.splice_probabilities([window, alt_window])
    if len(ref) > 1:  # a deletion: the deleted bases read 0 in the alt, right after the kept first base
        y_alt = np.concatenate([y_alt[:51], np.zeros((len(ref) - 1, 3)), y_alt[51:]])
    gains = [int(np.argmax(y_alt[:, c] - y_ref[:, c])) for c in (1, 2)]
    losses = [int(np.argmax(y_ref[:, c] - y_alt[:, c])) for c in (1, 2)]
    ds = [
        round(float(y_alt[gains[0], 1] - y_ref[gains[0], 1]), 2),
        round(float(y_ref[losses[0], 1] - y_alt[losses[0], 1]), 2),
        round(float(y_alt[gains[1], 2] - y_ref[gains[1], 2]), 2),
        round(float(y_ref[losses[1], 2] - y_alt[losses[1], 2]), 2),
    ]
    return ds, [gains[0] - 50, losses[0] - 50, gains[1] - 50, losses[1] - 50]


def test_broken_donor_gt_scores_as_spliceai_defines_it():
    from genomix.io.genome import Genome
    from genomix.paths import demo_dir
    from genomix.splicing import splice_scores

    genome = Genome(demo_dir() / "genome.fa.gz")
    genes = _demo_transcript()
    assert genome.fetch("chr1", 7753, 7755) == "GT"
    model = _one_model()
    snv = _placed("chr1", 7753, "G", "A")
    deletion = _placed("chr1", 7752, genome.fetch("chr1", 7752, 7755), genome.fetch("chr1", 7752, 7753))
    scored = splice_scores(model, genome, [snv, deletion], genes)
    for item in scored:
        (gene,) = item.genes
        v = item.variant
        ds, dp = _by_hand(model, genome, "chr1", *DEMO_GENE[2:], v.pos, v.ref, v.alt)
        assert (gene.symbol, gene.strand, item.status) == ("GENE001", "+", "ok")
        np.testing.assert_allclose(gene.ds, ds, atol=1e-9)
        assert list(gene.dp) == dp
    (snv_gene,) = scored[0].genes
    # The broken GT loses the donor at the exon's last base, one before the variant.
    assert snv_gene.dp[3] == -1 and snv_gene.ds[3] > 0.5
    assert snv_gene.entry("A") == "A|GENE001|" + "|".join([*(f"{d:.2f}" for d in snv_gene.ds), *map(str, snv_gene.dp)])


def test_minus_strand_gene_mirrors_the_plus_strand_scores(tmp_path):
    """The same gene written reverse-complemented on a contig of its own: the same DS, DP mirrored."""
    import pysam

    from genomix.io.genome import Genome
    from genomix.io.splice_genes import SpliceAnnotation, SpliceTranscript
    from genomix.paths import demo_dir
    from genomix.sequence import reverse_complement
    from genomix.splicing import splice_scores

    demo = Genome(demo_dir() / "genome.fa.gz")
    length = 16_000
    (tmp_path / "mirror.fa").write_text(">mirror\n" + reverse_complement(demo.fetch("chr1", 0, length)) + "\n")
    pysam.faidx(str(tmp_path / "mirror.fa"))
    mirror = Genome(tmp_path / "mirror.fa")
    (plus,) = _demo_transcript().transcripts
    minus = SpliceTranscript(
        "GENE001",
        "mirror",
        "-",
        length - plus.end,
        length - plus.start,
        tuple((length - e, length - s) for s, e in reversed(plus.exons)),
    )
    model = _one_model()
    (forward,) = splice_scores(model, demo, [_placed("chr1", 7753, "G", "A")], SpliceAnnotation([plus]))
    (backward,) = splice_scores(
        model, mirror, [_placed("mirror", length - 1 - 7753, "C", "T")], SpliceAnnotation([minus])
    )
    (f,), (b,) = forward.genes, backward.genes
    assert b.strand == "-"
    np.testing.assert_allclose(b.ds, f.ds, atol=0.01)  # float rounding may move a score across a 0.005 edge
    assert list(b.dp) == [-p for p in f.dp]
    ds, dp = _by_hand(model, mirror, "mirror", minus.start, minus.end, length - 1 - 7753, "C", "T", minus=True)
    np.testing.assert_allclose(b.ds, ds, atol=1e-9)
    assert list(b.dp) == dp


def test_mask_zeroes_gains_at_the_annotated_boundary_and_losses_elsewhere():
    from genomix.splicing import delta_scores

    y_ref, y_alt = np.zeros((5, 3)), np.zeros((5, 3))  # distance 2: positions -2 .. 2
    y_alt[1, 1] = 0.7  # acceptor gained at -1, the annotated boundary
    y_ref[4, 1] = 0.4  # acceptor lost at +2, not annotated
    y_alt[3, 2] = 0.3  # donor gained at +1
    y_ref[1, 2] = 0.9  # donor lost at -1, annotated
    assert delta_scores(y_ref, y_alt, 2, boundary=-1) == ((0.7, 0.4, 0.3, 0.9), (-1, 2, 1, -1))
    assert delta_scores(y_ref, y_alt, 2, boundary=-1, mask=True) == ((0.0, 0.0, 0.3, 0.9), (-1, 2, 1, -1))


def test_score_command_writes_spliceai_info_in_the_official_format(tmp_path):
    import subprocess
    import sys

    import pandas as pd
    import pysam

    from genomix.io.splice_genes import read_splice_genes
    from genomix.paths import demo_dir

    gff = demo_dir() / "genes.gff3"
    table_file = tmp_path / "genes.txt"
    read_splice_genes(gff).to_table(table_file)
    assert read_splice_genes(table_file).transcripts == read_splice_genes(gff).transcripts
    vcf = tmp_path / "in.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=900000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t2082\toutside\tG\tA\t.\t.\t.\n"
        "chr1\t7754\tdonor\tG\tA,C\t.\t.\t.\n"
        "chr1\t7800\tmnv\tTG\tCA\t.\t.\t.\n"
    )
    fasta = demo_dir() / "genome.fa.gz"
    out_table, out_vcf = tmp_path / "s.tsv", tmp_path / "s.vcf"
    command = [sys.executable, "-m", "genomix", "score", vcf, "-f", fasta, "-m", "spliceai", "-a", table_file]
    done = subprocess.run([*map(str, command), "-o", out_table, "-o", out_vcf, "-q", "--device", "cpu"], text=True)
    assert done.returncode == 0
    rows = pd.read_csv(out_table, sep="\t", keep_default_na=False)
    assert list(rows.status) == ["skipped:outside_genes", "ok", "ok", "skipped:mnv_or_complex"]
    assert list(rows.symbol) == [".", "GENE001", "GENE001", "GENE001"]
    assert list(rows.method) == ["NA", "spliceai", "spliceai", "NA"]  # a skipped ALT has no method
    with pysam.VariantFile(str(out_vcf)) as annotated:
        assert "Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL" in str(annotated.header)
        records = list(annotated)
    info = [record.info.get("SpliceAI") for record in records]
    assert [record.info.get("GMX_METHOD") for record in records] == [None, ("spliceai", "spliceai"), None]
    ok = rows[rows.status == "ok"]
    expected = tuple(
        f"{r.alt}|{r.symbol}|{float(r.ds_ag):.2f}|{float(r.ds_al):.2f}|{float(r.ds_dg):.2f}|{float(r.ds_dl):.2f}|"
        f"{r.dp_ag}|{r.dp_al}|{r.dp_dg}|{r.dp_dl}"
        for r in ok.itertuples()
    )
    assert info == [None, expected, ("CA|GENE001|.|.|.|.|.|.|.|.",)]
    assert list(ok.score) == [max(r.ds_ag, r.ds_al, r.ds_dg, r.ds_dl) for r in ok.itertuples()]


def test_an_sae_on_spliceai_recovers_all_of_its_loss_when_perfect_and_checks_its_weights():
    import torch

    from genomix.errors import GenomixError
    from genomix.paths import demo_dir
    from genomix.sae.base import TopKSAE, model_fingerprint
    from genomix.sae.metrics import evaluate_sae

    model = _one_model()
    eye = torch.eye(model.d_model)
    fingerprint = model_fingerprint(model)
    sae = TopKSAE(model.d_model, 2 * model.d_model, model.d_model, {"hook_name": "blocks.3"}, False)
    sae.set_weights(  # relu(x) and relu(-x) as features: decode gives x back exactly
        {
            "W_enc": torch.cat([eye, -eye], 1),
            "W_dec": torch.cat([eye, -eye], 0),
            "b_enc": torch.zeros(2 * model.d_model),
            "b_dec": torch.zeros(model.d_model),
        }
    )
    metrics = evaluate_sae(sae, model, demo_dir() / "genome.fa.gz", windows=2, window=300)
    assert metrics["variance_explained"] == pytest.approx(1.0, abs=1e-5)
    assert metrics["ce_sae"] == pytest.approx(metrics["ce_clean"], abs=1e-5)
    assert metrics["ce_clean"] < metrics["ce_zero"]
    assert metrics["loss_recovered"] == pytest.approx(1.0, abs=1e-3)
    sae.metadata["model_fingerprint"] = fingerprint
    sae.check_matches(model)
    sae.metadata["model_fingerprint"] = "0" * 16
    with pytest.raises(GenomixError, match="weights differ"):
        sae.check_matches(model)


def test_models_info_describes_spliceai():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "genomix", "models", "info", "spliceai"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "backend  spliceai\nkind     splice\ntokens   characters" in done.stdout
    assert "d_model  160\nlayers   16: blocks.0 .. blocks.15" in done.stdout


def test_spliceai_scores_need_a_gene_annotation_and_no_window():
    from genomix.errors import GenomixError
    from genomix.paths import demo_dir, demo_variants
    from genomix.pipelines import score

    model = _one_model()
    with pytest.raises(GenomixError, match="pass a gene annotation"):
        score(demo_variants(), demo_dir() / "genome.fa.gz", model)
    with pytest.raises(GenomixError, match="leave the window out"):
        score(demo_variants(), demo_dir() / "genome.fa.gz", model, window=1024, genes=demo_dir() / "genes.gff3")
