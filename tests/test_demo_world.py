"""The demo world, built small through the same builder as the shipped one: composition, planted sites
checked against JASPAR directly, a truth set that bcftools accepts, and a model folder that loads."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from pyjaspar import jaspardb
from pysam import bcftools

import genomix as gx
from genomix.demo.world import build_demo, build_world, markov_background
from genomix.sae import TrainingPlan

TINY = {"chr1": 40_000, "chr2": 25_000, "chr3": 25_000}
COMPLEMENT = str.maketrans("ACGT", "TGCA")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    sae_plan = TrainingPlan(layer="blocks.3", d_sae=64, k=4, tokens=2 * 512, batch_size=512, window=128)
    world = build_demo(root / "data", root / "variants", steps=2, contigs=TINY, sae_plan=sae_plan)
    return world, root / "data", root / "variants" / "demo.vcf.gz"


@pytest.fixture(scope="module")
def annotations(tiny):
    return pd.read_csv(tiny[1] / "annotations.bed", sep="\t")


@pytest.fixture(scope="module")
def pssms():
    db = jaspardb(release="JASPAR2024")
    cache = {}

    def get(matrix_id):
        if matrix_id not in cache:
            cache[matrix_id] = db.fetch_motif_by_id(matrix_id).counts.normalize(pseudocounts=0.8).log_odds()
        return cache[matrix_id]

    return get


def _site_score(pssm, seq, strand):
    site = seq if strand == "+" else seq.translate(COMPLEMENT)[::-1]
    return float(pssm.calculate(site))


def test_background_has_human_like_composition():
    seq = markov_background(200_000, np.random.default_rng(0))
    gc = (seq.count("G") + seq.count("C")) / len(seq)
    cpg_observed_over_expected = seq.count("CG") / len(seq) / (gc / 2) ** 2
    assert 0.39 <= gc <= 0.43
    assert 0.18 <= cpg_observed_over_expected <= 0.33


def test_exons_are_coding_like_and_ctcf_sites_come_in_tandem(tiny, annotations):
    """Third codon positions are GC-rich in exons (read from the FASTA by pysam, framed from each exon's
    first base), unlike the introns; CTCF sites sit 20 to 60 bp apart in clusters of two to four."""
    fasta = pysam.FastaFile(str(tiny[1] / "genome.fa.gz"))

    def gc(kind, third_positions=False):
        bases = ""
        rows = annotations[annotations.kind == kind]
        for contig, start, end in zip(rows["#chrom"], rows.start, rows.end):
            seq = fasta.fetch(contig, start, end)
            bases += seq[2:-2:3] if third_positions else seq[2:-2]  # splice-site bases left out
        return (bases.count("G") + bases.count("C")) / len(bases)

    assert (annotations.kind == "exon").sum() >= 4
    assert gc("exon", third_positions=True) > 0.7 and gc("exon") > gc("intron") + 0.1
    for contig, start, end in zip(*(annotations[annotations.kind == "intron"][c] for c in ("#chrom", "start", "end"))):
        assert fasta.fetch(contig, start - 2, start + 2) == "AGGT"  # exon ...AG | GT intron
        assert fasta.fetch(contig, end - 2, end + 1) == "AGG"  # intron AG | G exon
    ctcf = annotations[annotations.kind == "ctcf_site"].sort_values(["#chrom", "start"])
    gaps = ctcf.start.to_numpy()[1:] - ctcf.end.to_numpy()[:-1]
    same_chrom = ctcf["#chrom"].to_numpy()[1:] == ctcf["#chrom"].to_numpy()[:-1]
    in_cluster = np.concatenate([[False], same_chrom & (gaps >= 20) & (gaps < 60)])  # joined to the site before
    clusters = np.split(in_cluster, np.nonzero(~in_cluster)[0][1:])
    sizes = [len(c) for c in clusters]
    assert len(ctcf) >= 4 and min(sizes) >= 2 and max(sizes) <= 4


def test_the_same_seed_builds_the_same_genome():
    assert (
        build_world(contigs={"chr1": 5_000, "chr3": 3_000}).contigs
        == build_world(contigs={"chr1": 5_000, "chr3": 3_000}).contigs
    )


def test_planted_sites_score_high_under_their_jaspar_matrix(tiny, annotations, pssms):
    world, data, _ = tiny
    fasta = pysam.FastaFile(str(data / "genome.fa.gz"))
    sites = annotations[annotations.kind == "motif"]
    strong = []
    for row in sites.itertuples(index=False):
        pssm = pssms(row.motif_id)
        seq = fasta.fetch(row._0, row.start, row.end)
        strong.append(_site_score(pssm, seq, row.strand) > 0.6 * pssm.max)
    assert len({*sites.tf_name}) >= 20  # at least 20 TFs in enhancers
    assert np.mean(strong) > 0.95


def test_planted_motifs_cover_at_least_15_percent_of_positions(tiny, annotations):
    world, data, _ = tiny
    covered = 0
    for chrom, length in TINY.items():
        mask = np.zeros(length, dtype=bool)
        for row in annotations[
            (annotations["#chrom"] == chrom) & annotations.kind.isin(["motif", "ctcf_site", "tata_box"])
        ].itertuples():
            mask[row.start : row.end] = True
        covered += mask.sum()
    assert covered / sum(TINY.values()) >= 0.15


def test_truth_vcf_refs_agree_with_the_genome_per_bcftools(tiny):
    _, data, vcf = tiny
    bcftools.norm(
        "--check-ref", "e", "-f", str(data / "genome.fa.gz"), "-o", "/dev/null", str(vcf)
    )  # raises on mismatch
    with pysam.VariantFile(str(vcf)) as handle:
        classes = {record.info["TRUTH_CLASS"] for record in handle}
    assert classes == {"loss", "gain", "splice", "neutral"}


def _truth(vcf):
    with pysam.VariantFile(str(vcf)) as handle:
        return [(r.chrom, r.start, r.ref, r.alts[0], dict(r.info)) for r in handle]


def test_loss_snvs_lower_a_site_of_their_tf_and_gains_raise_a_near_miss(tiny, annotations, pssms):
    _, data, vcf = tiny
    fasta = pysam.FastaFile(str(data / "genome.fa.gz"))
    checked = {"loss": 0, "gain": 0}
    for chrom, start, ref, alt, info in _truth(vcf):
        if info["TRUTH_CLASS"] not in checked or len(ref) != 1:
            continue
        kinds = ["near_miss"] if info["TRUTH_CLASS"] == "gain" else ["motif", "ctcf_site"]
        hit = annotations[
            (annotations["#chrom"] == chrom)
            & (annotations.start <= start)
            & (annotations.end > start)
            & annotations.kind.isin(kinds)
            & (annotations.tf_name == info["TRUTH_TF"])
        ]
        assert len(hit) == 1, (chrom, start, info)
        site = hit.iloc[0]
        before = fasta.fetch(chrom, site.start, site.end)
        after = before[: start - site.start] + alt + before[start - site.start + 1 :]
        pssm = pssms(site.motif_id)
        change = _site_score(pssm, after, site.strand) - _site_score(pssm, before, site.strand)
        assert change < 0 if info["TRUTH_CLASS"] == "loss" else change > 0
        checked[info["TRUTH_CLASS"]] += 1
    assert checked["loss"] >= 20 and checked["gain"] >= 5


def test_splice_variants_break_the_g_of_a_donor_gt_or_acceptor_ag(tiny):
    _, data, vcf = tiny
    fasta = pysam.FastaFile(str(data / "genome.fa.gz"))
    splice = [(c, s, ref, info) for c, s, ref, _, info in _truth(vcf) if info["TRUTH_CLASS"] == "splice"]
    assert splice
    for chrom, start, ref, info in splice:
        assert ref == "G"
        pair = (
            fasta.fetch(chrom, start, start + 2)
            if info["TRUTH_ELEMENT"] == "splice_donor"
            else fasta.fetch(chrom, start - 1, start + 1)
        )
        assert pair == ("GT" if info["TRUTH_ELEMENT"] == "splice_donor" else "AG")


def test_neutral_variants_lie_100bp_from_any_planted_element(tiny, annotations):
    _, _, vcf = tiny
    for chrom, start, ref, _, info in _truth(vcf):
        if info["TRUTH_CLASS"] == "neutral":
            near = annotations[
                (annotations["#chrom"] == chrom)
                & (annotations.start < start + len(ref) + 100)
                & (annotations.end > start - 100)
            ]
            assert near.empty


def test_the_trained_model_folder_loads_and_scores_the_truth_set(tiny):
    _, data, vcf = tiny
    model = gx.load_model(str(data / "model"))
    table = gx.score(vcf, data / "genome.fa.gz", model, window=128)
    assert model.kind == "mlm" and (table.status == "ok").all()
    assert {"annotations.bed", "genes.gff3", "motifs.tsv", "genome.fa.gz", "genome.fa.gz.fai"} <= {
        p.name for p in data.iterdir()
    }
    sae = gx.load_sae(data / "sae", model, "blocks.3")
    metrics = json.loads((data / "sae" / "metrics.json").read_text())
    assert sae.d_sae == 64 and metrics["contig"] == "chr3" and 0 <= metrics["dead_fraction"] <= 1


def test_shipped_data_stays_under_40_mb():
    data = Path(__file__).resolve().parents[1] / "data"
    assert sum(p.stat().st_size for p in data.rglob("*") if p.is_file()) < 40 * 2**20
