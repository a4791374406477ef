"""The spliceai backend (SpliceAI's five Keras models read with h5py, run in torch) and SpliceAI's delta
scores. Skipped when Illumina's spliceai package is not installed (`pip install --no-deps spliceai h5py`)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pysam
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


def test_reading_reverse_runs_spliceai_on_the_reverse_complement_in_forward_positions():
    """Outputs and captured layers of a reversed read equal those of the reverse complement, flipped back,
    for a padded row too; an edit sees the layer in forward positions."""
    import torch

    from genomix.sequence import reverse_complement

    model = _one_model()
    rng = np.random.default_rng(SEED + 2)
    long, short = random_dna(rng, 10_040), random_dna(rng, 10_020)
    with model.reading_reverse():
        logp, captured = model.forward(model.tokenize([long, short]), layers=("blocks.3",))
    assert not model.reverse
    expected = model.splice_probabilities([reverse_complement(long), reverse_complement(short)])
    np.testing.assert_allclose(logp[0, 5000:-5000].exp().numpy(), expected[0][::-1], atol=1e-6)
    np.testing.assert_allclose(logp[1, 5000:5020].exp().numpy(), expected[1][::-1], atol=1e-6)
    _, plain = model.forward(model.tokenize([reverse_complement(long)]), layers=("blocks.3",))
    np.testing.assert_allclose(captured["blocks.3"][0].numpy(), plain["blocks.3"][0].flip(0).numpy(), atol=1e-5)
    assert model.reach("blocks.7") == 4 * 10 + 4 * 40 and model.reach("blocks.15") == 5000  # (k - 1) x d per unit

    def mark(hidden, at):  # +1 on every channel at one position
        bump = torch.zeros_like(hidden)
        bump[:, at] = 1.0
        return hidden + bump

    with model.reading_reverse():  # an edit at forward position 7000 of both rows, the second padded
        edited, _ = model.forward(model.tokenize([long, short]), edits={"blocks.3": lambda h: mark(h, 7000)})
    for row, seq in enumerate([long, short]):
        at = len(seq) - 1 - 7000
        plain, _ = model.forward(model.tokenize([reverse_complement(seq)]), edits={"blocks.3": lambda h: mark(h, at)})
        np.testing.assert_allclose(edited[row, : len(seq)].flip(0).numpy(), plain[0].numpy(), atol=1e-4)
    seen = []
    with model.reading_reverse():
        model.forward(
            model.tokenize([long]),
            edits={"blocks.3": lambda h: seen.append(h.clone()) or h},
            logits=False,
            layers=("blocks.3",),
        )
    torch.testing.assert_close(seen[0], captured["blocks.3"][:1], atol=1e-5, rtol=0)


def _perfect_sae(model, layer: str):
    """relu(x) and relu(-x) of every channel as features: the SAE decodes x exactly (no error term)."""
    import torch

    from genomix.sae.base import TopKSAE, model_fingerprint

    eye = torch.eye(model.d_model)
    metadata = {"hook_name": layer, "model_fingerprint": model_fingerprint(model), "context_size": 1024}
    sae = TopKSAE(model.d_model, 2 * model.d_model, model.d_model, metadata, False)
    sae.set_weights(
        {
            "W_enc": torch.cat([eye, -eye], 1),
            "W_dec": torch.cat([eye, -eye], 0),
            "b_enc": torch.zeros(2 * model.d_model),
            "b_dec": torch.zeros(model.d_model),
        }
    )
    return sae


def test_explain_reads_spliceai_own_output_and_its_score_is_the_largest_delta_score(tmp_path):
    """A donor broken at the demo's GENE001 (its exon 4's GT) and a base deep in its intron: explain's
    response is the largest change of acceptor or donor probability within 50 bp on either strand,
    computed here from `splice_probabilities` on the genome's own 10,101 bp and their reverse complements
    (its score the size of that change), and each
    gets hypotheses with p-values and effect shares, and no score_p (SpliceAI's null keeps no scores)."""
    from genomix.features.annotations import read_annotations
    from genomix.features.atlas import build_atlas
    from genomix.hypotheses import Explainer
    from genomix.io.genome import Genome
    from genomix.paths import demo_dir
    from genomix.sae.activations import Regions
    from genomix.sequence import reverse_complement

    genome = Genome(demo_dir() / "genome.fa.gz")
    model = _one_model()
    sae = _perfect_sae(model, "blocks.7")
    annotations = read_annotations(demo_dir() / "annotations.bed", genome)
    regions = Regions(["chr1"], np.array([6000]), np.array([60000]))
    atlas = build_atlas(sae, model, genome, regions, annotations, motifs=[], windows=32, window=1024)
    assert (atlas.table.label_kind == "annotation").any()
    explainer = Explainer(model, sae, atlas, genome, null_size=20, batch_size=4)
    deeper = Explainer(model, _perfect_sae(model, "blocks.11"), atlas, genome, null_size=20)
    assert explainer.window == 1024 and deeper.window == 2 * (1000 + 20 + 1)  # its null holds what blocks.11 reads
    deep = genome.fetch("chr1", 8200, 8201)
    variants = [_placed("chr1", 7753, "G", "A"), _placed("chr1", 8200, deep, "C" if deep != "C" else "A")]
    explained = explainer.explain(variants)
    for v, item in zip(variants, explained):
        ref = genome.fetch("chr1", v.pos - HALF, v.pos + HALF + 1)
        alt = ref[:HALF] + v.alt + ref[HALF + 1 :]
        y_ref, y_alt, rc_ref, rc_alt = model.splice_probabilities(
            [ref, alt, reverse_complement(ref), reverse_complement(alt)]
        )
        changes = [(y_alt - y_ref)[:, 1:], (rc_alt - rc_ref)[:, 1:]]  # each strand's: explain keeps the larger
        expected = max((change.flat[np.argmax(np.abs(change))] for change in changes), key=abs)
        assert item.scored.method == "spliceai" and item.scored.score == pytest.approx(abs(expected), abs=1e-5)
        assert item.attribution.effect == pytest.approx(expected, abs=1e-5)
        top = item.hypotheses[0]
        assert top.status == "ok" and top.rank == 1 and 0 < top.p_value <= 1 and np.isnan(top.score_p)
        assert np.isfinite(top.effect_share) and np.isfinite(top.mediated_fraction)
    assert explained[0].attribution.effect < -0.5 < explained[1].attribution.effect  # the donor is lost
    assert len(explainer.null(("snv", 1)).tops) == 2 * 20  # the null read on both strands, as the variants are
    # The same gene reverse-complemented on a contig of its own: read on both strands (rc, the default),
    # the broken donor is found on the minus strand with the same response; on the forward strand alone
    # SpliceAI sees no site there.
    length = 16_000
    (tmp_path / "mirror.fa").write_text(">mirror\n" + reverse_complement(genome.fetch("chr1", 0, length)) + "\n")
    pysam.faidx(str(tmp_path / "mirror.fa"))
    mirror = Genome(tmp_path / "mirror.fa")
    mirrored = [_placed("mirror", length - 1 - 7753, "C", "T")]
    (both,) = Explainer(model, sae, atlas, mirror, null_size=20, batch_size=4).explain(mirrored)
    assert both.attribution.effect == pytest.approx(explained[0].attribution.effect, abs=1e-5)
    assert both.hypotheses[0].label == explained[0].hypotheses[0].label
    at = mirrored[0].pos
    ref = mirror.fetch("mirror", at - HALF, at + HALF + 1)
    forward = model.splice_probabilities([ref, ref[:HALF] + "T" + ref[HALF + 1 :]])
    assert np.abs(forward[1] - forward[0])[:, 1:].max() < 0.1


def test_patching_every_feature_and_the_error_restores_what_passes_through_the_layer():
    """The demo's broken donor: at blocks.2 nothing bypasses the layer before the donor's output (the first
    layer's skip reads only the variant's own base), so patching every feature and the error term back
    restores the whole response; at blocks.15 the skip sums of units 4, 8 and 12 carry almost all of it
    around the layer."""
    from genomix.hypotheses.decompose import ERROR, measure, mediated_fractions, run_passes
    from genomix.io.genome import Genome
    from genomix.io.windows import make_window
    from genomix.paths import demo_dir

    genome, model = Genome(demo_dir() / "genome.fa.gz"), _one_model()
    window = make_window(genome, _placed("chr1", 7753, "G", "A"), 2 * HALF + 1)
    restored = {}
    for layer in ("blocks.2", "blocks.15"):
        sae = _perfect_sae(model, layer)
        (p,) = run_passes(model, sae, [window], 1)
        response = measure(model, p, "spliceai", distance=50)
        assert response.effect < -0.5
        everything = list(range(sae.d_sae)) + [ERROR]
        ((restored[layer],),) = mediated_fractions(model, sae, [p], [response], [[everything]])
    assert restored["blocks.2"] == pytest.approx(1.0, abs=1e-4) and restored["blocks.15"] < 0.1
