"""Truth sets that do not flatter (`genomix.demo.truth`), checked with bcftools and hand scans."""

import collections

import numpy as np
import pytest
from pysam import bcftools

from genomix.demo.evaluate import read_truth
from genomix.demo.truth import CLEARANCE, LOCUS, REGULATORY, fresh_truth, transplanted_loci, transplanted_truth
from genomix.demo.world import CTCF_MOTIF, ENHANCER_MOTIFS, HELD_OUT, SEED, build_world
from genomix.motifs.pwm import site_matrix
from genomix.paths import demo_dir, demo_variants


@pytest.fixture(scope="module")
def world():
    return build_world(SEED)


def best_covering(pwm: np.ndarray, seq: str, pos: int) -> float:
    """Best score over placements on either strand covering `seq[pos]`, by hand."""
    complement = dict(zip("ACGT", "TGCA"))
    best = -np.inf
    for start in range(max(0, pos - len(pwm) + 1), pos + 1):
        piece = seq[start : start + len(pwm)]
        if len(piece) == len(pwm):
            for strand in (piece, "".join(complement[b] for b in reversed(piece))):
                best = max(best, sum(pwm[j, "ACGT".index(b)] for j, b in enumerate(strand)))
    return best


def test_transplanted_loci_hold_the_planted_site_their_variant_breaks_or_makes(world, tmp_path):
    fasta, vcf = transplanted_truth(1, tmp_path, world=world)
    # every REF matches the written FASTA (bcftools norm fails on a mismatch with -c e)
    bcftools.norm("-c", "e", "-f", str(fasta), "-o", str(tmp_path / "checked.vcf"), str(vcf), catch_stdout=False)
    truth = read_truth(vcf)
    loci = transplanted_loci(world, 1)
    assert len(truth) == len(loci)
    tfs = {world.motifs[m].tf_name for m in ENHANCER_MOTIFS + [CTCF_MOTIF]}
    assert set(truth.truth_tf[truth.truth_class != "neutral"]) == tfs
    counts = collections.Counter(truth.truth_class)
    assert counts["neutral"] == 120 and counts["loss"] == (3 + 1) * len(tfs) and counts["gain"] == len(tfs) - 1
    assert 0.2 < truth.held_out.mean() < 0.6
    for locus in loci:
        assert len(locus.seq) == LOCUS and locus.seq[locus.pos : locus.pos + len(locus.ref)] == locus.ref
        if locus.truth_class == "neutral" or len(locus.ref) != len(locus.alt):
            continue
        pwm, site = site_matrix(world.motifs[locus.motif_id].ppm)
        alt_seq = locus.seq[: locus.pos] + locus.alt + locus.seq[locus.pos + 1 :]
        ref, alt = best_covering(pwm, locus.seq, locus.pos), best_covering(pwm, alt_seq, locus.pos)
        if locus.truth_class == "loss":
            assert ref > alt
        else:
            assert alt > ref


def test_site_free_neutral_loci_come_from_demo_background_away_from_regulatory_elements(world):
    loci = transplanted_loci(world, 2)
    checked = 0
    for locus in loci:
        where = world.contigs[locus.source].find(locus.seq)
        if locus.truth_class != "neutral" or where < 0:  # a locus with a site written in is not found as such
            continue
        checked += 1
        for e in world.elements:
            if e.chrom == locus.source and e.kind in REGULATORY:
                assert e.end + CLEARANCE <= where or e.start - CLEARANCE >= where + LOCUS, (locus.name, e)
    assert checked > 30


def test_fresh_in_genome_sets_keep_away_from_the_shipped_variants(world, tmp_path):
    vcf = fresh_truth(7, tmp_path, world=world)
    bcftools.norm(
        "-c", "e", "-f", str(demo_dir() / "genome.fa.gz"), "-o", str(tmp_path / "c.vcf"), str(vcf), catch_stdout=False
    )
    fresh, shipped = read_truth(vcf), read_truth(demo_variants())
    assert len(fresh) > 200 and set(fresh.truth_class) >= {"loss", "gain", "neutral"}
    for chrom, rows in fresh.groupby("chrom"):
        others = shipped.pos[shipped.chrom == chrom].to_numpy()
        assert np.abs(rows.pos.to_numpy()[:, None] - others[None, :]).min() > 50
    assert (fresh.chrom == HELD_OUT).any()
