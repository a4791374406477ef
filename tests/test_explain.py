"""genomix explain: feature changes through the offset map, the null, PWM corroboration, follow-up
designs, and the outputs (table, VCF read by bcftools +split-vep, escaped HTML report)."""

from __future__ import annotations

import collections
import itertools
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import false_discovery_control

import genomix as gx
from genomix.errors import GenomixError
from genomix.hypotheses.decompose import base_tracks, feature_change, measure, mediated_fractions, run_passes
from genomix.hypotheses.null import dinucleotide_shuffle, null_backgrounds, null_windows
from genomix.io.genome import Genome
from genomix.io.variants import Variant, read_variants
from genomix.io.windows import make_window
from genomix.motifs.pwm import best_site, log_odds, site_scores
from genomix.paths import demo_dir, demo_variants
from genomix.pipelines import load_explainer

ROOT = Path(__file__).resolve().parents[1]
STARTER_FASTA = ROOT / "data" / "starter" / "genome.fa.gz"
STARTER_VCF = ROOT / "variants" / "starter.vcf.gz"


@pytest.fixture(scope="module")
def explainer():
    return load_explainer(demo_dir() / "genome.fa.gz", "demo")  # the demo's shipped nulls: none drawn


@pytest.fixture(scope="module")
def demo_genome():
    return Genome(demo_dir() / "genome.fa.gz")


def test_dinucleotide_shuffle_keeps_every_dinucleotide_count_and_both_ends():
    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGT"), 300)) + "CGCGCGCG" + "AAAAAAAAAA"
    shuffled = dinucleotide_shuffle(seq, np.random.default_rng(2))
    pairs = lambda s: collections.Counter(s[i : i + 2] for i in range(len(s) - 1))  # noqa: E731
    assert pairs(shuffled) == pairs(seq)
    assert shuffled[0] == seq[0] and shuffled[-1] == seq[-1]
    assert shuffled != seq


def test_null_windows_are_shuffled_backgrounds_with_a_centred_variant_of_the_kind(demo_genome):
    backgrounds = null_backgrounds(demo_genome, 5, 128, seed=3)
    assert all(len(b) == 148 and "N" not in b for b in backgrounds)
    drawn = null_windows(backgrounds, [("del", 2), ("snv", 1), ("ins", 3)], 128, seed=3)
    assert {kind: len(windows) for kind, windows in drawn.items()} == {("del", 2): 5, ("snv", 1): 5, ("ins", 3): 5}
    for window in drawn[("del", 2)]:
        assert len(window.ref) == len(window.alt) == 128
        assert window.ref_span == (64, 67)  # anchor base + two deleted bases
        assert window.alt[64] == window.ref[64] and window.alt[65:] == window.ref[67:] + window.alt[-2:]
    for deletion, snv, insertion in zip(*drawn.values()):  # one background per index, whatever the kind
        assert deletion.ref == snv.ref == insertion.ref
        assert sum(a != b for a, b in zip(snv.ref, snv.alt)) == 1 and snv.ref[64] != snv.alt[64]
        assert insertion.alt[:65] == insertion.ref[:65] and insertion.alt[68:] == insertion.ref[65:125]
    alone = null_windows(backgrounds, [("ins", 3)], 128, seed=3)[("ins", 3)]  # not changed by the other kinds
    assert [w.alt for w in alone] == [w.alt for w in drawn[("ins", 3)]]
    with pytest.raises(GenomixError, match="pairs"):
        null_windows(backgrounds, ("del", 2), 128)  # one kind, not a list of them


def test_pwm_best_site_equals_a_hand_loop_on_both_strands():
    rng = np.random.default_rng(0)
    ppm = rng.dirichlet(np.ones(4), size=6)
    pwm = log_odds(ppm)
    seq = "".join(rng.choice(list("ACGT"), 40))
    index = {b: i for i, b in enumerate("ACGT")}
    complement = {"A": "T", "C": "G", "G": "C", "T": "A"}
    expected = []
    for start in range(40 - 6 + 1):  # placements overlapping bases [15, 21)
        if start + 6 <= 15 or start >= 21:
            continue
        site = seq[start : start + 6]
        forward = sum(math.log2(max(ppm[i, index[b]], 1e-3) / 0.25) for i, b in enumerate(site))
        reverse_site = "".join(complement[b] for b in reversed(site))
        reverse = sum(math.log2(max(ppm[i, index[b]], 1e-3) / 0.25) for i, b in enumerate(reverse_site))
        expected += [(forward, start, "+"), (reverse, start, "-")]
    score, start, strand = best_site(seq, pwm, 15, 21)
    best = max(expected, key=lambda e: e[0])
    assert score == pytest.approx(best[0]) and start == best[1] and strand == best[2]


def _codes(model, sae, seq):
    tokens = model.tokenize([seq])
    _, captured = model.forward(tokens, layers=(sae.metadata["hook_name"],))
    codes = sae.encode(captured[sae.metadata["hook_name"]].float())[0]
    spans = tokens.spans[0]
    return codes[torch.from_numpy(spans[:, 0] >= 0)].detach().numpy()  # one row per base (1-base tokens)


def test_feature_changes_compare_each_ref_base_with_the_base_it_became(explainer, demo_genome):
    model, sae = explainer.model, explainer.sae
    # a two-base deletion: ref bases after the deleted ones move two places left in the alt window
    variant = Variant(
        "chr1",
        50_000,
        demo_genome.fetch("chr1", 50_000, 50_003),
        demo_genome.fetch("chr1", 50_000, 50_001),
        contig="chr1",
    )
    window = make_window(demo_genome, variant, 256)
    ref, alt = _codes(model, sae, window.ref), _codes(model, sae, window.alt)
    offset = 128
    expected = {}
    for i in range(offset - 20, offset + 3 + 20):
        if offset + 1 <= i < offset + 3:
            alt_value = np.zeros(sae.d_sae)  # deleted base
        else:
            alt_value = alt[i - 2] if i >= offset + 3 else alt[i]
        expected[i - offset] = alt_value - ref[i]
    deltas = np.stack(list(expected.values()))
    best = np.abs(deltas).argmax(axis=0)
    change = feature_change(run_passes(model, sae, [window])[0], radius=20)
    columns = np.arange(sae.d_sae)
    np.testing.assert_allclose(change.delta, deltas[best, columns], atol=1e-5)
    np.testing.assert_array_equal(change.offset, np.array(list(expected))[best])


def test_passes_made_for_the_null_give_the_same_changes_near_the_variant(explainer, demo_genome):
    model, sae = explainer.model, explainer.sae
    at = 70_000
    base = demo_genome.fetch("chr1", at, at + 1)
    variants = [
        Variant("chr1", at, base, "A" if base != "A" else "C", contig="chr1"),  # SNV
        Variant("chr1", at, demo_genome.fetch("chr1", at, at + 4), base, contig="chr1"),  # 3 bp deletion
        Variant("chr1", at, base, base + "GATTACA", contig="chr1"),
    ]  # 7 bp insertion
    windows = [make_window(demo_genome, v, 256) for v in variants]
    full = run_passes(model, sae, windows, reach=256)  # every token encoded
    null = run_passes(model, sae, windows, reach=20, logits=False)
    assert all(len(p.ref_near) == len(p.ref_token) for p in full)
    assert all(p.ref_logp is None and p.ref_hidden is None for p in null)
    for a, b in zip(full, null):
        expected, got = feature_change(a, radius=20), feature_change(b, radius=20)
        np.testing.assert_allclose(got.delta, expected.delta, atol=1e-5)
        np.testing.assert_array_equal(got.offset[got.delta != 0], expected.offset[got.delta != 0])
        assert len(b.ref_near) < len(b.ref_token) / 4  # far from the variant nothing is encoded
        with pytest.raises(GenomixError, match="reach"):
            feature_change(b, radius=40)


def test_windows_sharing_a_sequence_give_the_passes_they_give_alone(explainer, demo_genome):
    model, sae = explainer.model, explainer.sae
    at = 90_000
    base = demo_genome.fetch("chr1", at, at + 1)
    others = [b for b in "ACGT" if b != base]
    variants = [
        Variant("chr1", at, base, others[0], contig="chr1"),
        Variant("chr1", at, base, others[1], contig="chr1"),
        Variant("chr1", at, demo_genome.fetch("chr1", at, at + 3), base, contig="chr1"),
    ]
    windows = [make_window(demo_genome, v, 256) for v in variants]
    windows.append(windows[0])  # the same window twice
    together = run_passes(model, sae, windows)
    for window, shared in zip(windows, together):
        (alone,) = run_passes(model, sae, [window])
        for name in ("ref_row", "alt_row", "aligned", "alt_to_ref_token"):
            np.testing.assert_array_equal(getattr(shared, name), getattr(alone, name))
        np.testing.assert_allclose(feature_change(shared).delta, feature_change(alone).delta, atol=1e-5)
        np.testing.assert_allclose(shared.alt_logp.numpy(), alone.alt_logp.numpy(), atol=1e-4)
        np.testing.assert_allclose(base_tracks(sae, shared, [3, 40])[1], base_tracks(sae, alone, [3, 40])[1], atol=1e-5)


def test_a_later_chunk_draws_only_the_nulls_of_new_kinds(demo_genome):
    small = load_explainer(demo_genome, "demo", null_size=12)
    small.nulls.folders = []  # nothing read from disk
    at = 100_000
    base = demo_genome.fetch("chr1", at, at + 1)
    small.explain([Variant("chr1", at, base, "A" if base != "A" else "C", contig="chr1")])
    first = small.null(("snv", 1))
    assert set(small.nulls.drawn) == {("snv", 1)}
    rows = small.explain([Variant("chr1", at, base, base + "TTT", contig="chr1")])[0].hypotheses
    assert set(small.nulls.drawn) == {("snv", 1), ("ins", 3)} and small.null(("snv", 1)) is first
    assert all(0 < row.p_value <= 1 for row in rows if row.rank > 0)
    together = load_explainer(demo_genome, "demo", null_size=12)
    together.nulls.folders = []
    together.draw_nulls([("snv", 1), ("ins", 3)])
    for kind in (("snv", 1), ("ins", 3)):  # drawn with other kinds or alone: the same null
        np.testing.assert_allclose(together.null(kind).tops, small.null(kind).tops, rtol=1e-4)
        np.testing.assert_allclose(together.null(kind).scale, small.null(kind).scale, rtol=1e-4)


@pytest.mark.parametrize("architecture", ["batchtopk", "topk"])
def test_features_encoded_along_the_window_are_those_of_the_whole_encoding(explainer, demo_genome, architecture):
    from genomix.sae.base import ARCHITECTURES

    model = explainer.model
    sae = explainer.sae
    if architecture == "topk":  # the same weights read by the other architecture: its encoding is not per feature
        other = ARCHITECTURES["topk"](sae.d_in, sae.d_sae, sae.k, sae.metadata)
        other.set_weights({k: v for k, v in sae.weights().items() if k != "threshold"})
        sae = other
    variant = Variant(
        "chr1",
        80_000,
        demo_genome.fetch("chr1", 80_000, 80_003),
        demo_genome.fetch("chr1", 80_000, 80_001),
        contig="chr1",
    )
    window = make_window(demo_genome, variant, 256)
    (p,) = run_passes(model, sae, [window])
    features = [5, 900, 17, 1200]
    ref, alt = p.window_codes(sae, features)
    np.testing.assert_allclose(ref[p.ref_token].numpy(), _codes(model, sae, window.ref)[:, features], atol=1e-5)
    np.testing.assert_allclose(
        alt[p.alt_token[: len(window.alt)]].numpy(), _codes(model, sae, window.alt)[:, features], atol=1e-5
    )
    ref_track, alt_track = base_tracks(sae, p, features)
    np.testing.assert_allclose(ref_track.T, _codes(model, sae, window.ref)[:, features], atol=1e-5)
    assert np.isnan(alt_track[:, 129:131]).all()  # the two deleted bases


def test_patching_nothing_or_an_unchanged_feature_mediates_nothing(explainer, demo_genome):
    model, sae = explainer.model, explainer.sae
    variant = Variant(
        "chr1",
        60_000,
        demo_genome.fetch("chr1", 60_000, 60_001),
        "A" if demo_genome.fetch("chr1", 60_000, 60_001) != "A" else "C",
        contig="chr1",
    )
    p = run_passes(model, sae, [make_window(demo_genome, variant, 256)])[0]
    ref_codes, alt_codes = p.window_codes(sae, list(range(sae.d_sae)))
    aligned_ref = ref_codes[p.alt_to_ref_token.clip(0)] * torch.from_numpy(p.alt_to_ref_token >= 0)[:, None]
    unchanged = int(np.nonzero(((aligned_ref - alt_codes).abs().max(0).values == 0).numpy())[0][0])
    changed = int((aligned_ref - alt_codes).abs().max(0).values.argmax())
    response = measure(model, p, "llr")
    ((nothing, still, moved),) = mediated_fractions(model, sae, [p], [response], [[[], [unchanged], [changed]]])
    assert nothing == pytest.approx(0.0, abs=1e-6) and still == pytest.approx(0.0, abs=1e-6)
    assert abs(moved) > 1e-4


def test_p_value_counts_null_statistics_at_least_as_large(explainer):
    from genomix.hypotheses.null import Null

    tops, scores = np.array([0.1, 0.2, 0.3, 0.4]), np.array([1.0, 2.0, 3.0])
    explainer.nulls.drawn[("test", 1)] = Null(np.ones(len(explainer.units)), tops, scores)
    assert explainer.p_value(0.35, ("test", 1)) == pytest.approx(2 / 5)
    assert explainer.p_value(-0.2, ("test", 1)) == pytest.approx(4 / 5)
    assert explainer.p_value(9.0, ("test", 1)) == pytest.approx(1 / 5)
    assert explainer.score_p(-2.5, ("test", 1)) == pytest.approx(2 / 4)  # |score| against the null's |score|
    assert explainer.score_p(0.5, ("test", 1)) == pytest.approx(4 / 4)
    assert np.isnan(explainer.score_p(float("nan"), ("test", 1)))


def test_every_alt_of_awkward_records_gets_a_row_and_a_status(tmp_path):
    table = gx.explain(STARTER_VCF, STARTER_FASTA, "demo", null_size=50, window=128)
    expected = []
    for variant in read_variants(STARTER_VCF, Genome(STARTER_FASTA)):
        expected.append((variant.chrom, variant.vcf_pos, variant.ref, variant.alt))
    top = table[table["rank"] <= 1]
    assert list(zip(top.chrom, top.pos, top.ref, top.alt)) == expected
    assert list(table.columns[:23]) == [
        "chrom",
        "pos",
        "id",
        "ref",
        "alt",
        "score",
        "method",
        "rank",
        "feature",
        "label",
        "label_kind",
        "motif_id",
        "tf_name",
        "effect",
        "ref_act",
        "alt_act",
        "delta",
        "offset",
        "motif_delta",
        "mediated_fraction",
        "p_value",
        "hypothesis",
        "status",
    ]
    assert list(table.columns[-14:]) == ["tf_family", "tf_alternatives", "q_value", "score_p"] + [
        "effect_share",
        "error_share",
        "gene",
        "transcript",
        "region",
        "consequence",
        "exon",
        "intron",
        "splice_distance",
        "splice_site",
    ]
    assert (table.region == ".").all()  # the starter genome has no genes file: no gene context
    # q-values: Benjamini-Hochberg over the top hypothesis of every tested ALT (p = 1 without a change)
    tested = top[top.status.isin(["ok", "no_feature_change"])]
    expected = pd.Series(false_discovery_control(tested.p_value.fillna(1.0).to_numpy()), index=tested.index)
    firsts = tested["rank"] == 1
    np.testing.assert_allclose(tested.q_value[firsts], expected[firsts], rtol=1e-12)
    assert tested.q_value[~firsts].isna().all() and top[top.status.str.startswith("skipped")].q_value.isna().all()
    lower = table[table["rank"] > 1].merge(
        top[["chrom", "pos", "ref", "alt", "q_value"]], on=["chrom", "pos", "ref", "alt"], suffixes=("", "_top")
    )
    assert (lower.q_value >= lower.q_value_top - 1e-12).all()
    skipped = top[top.status.str.startswith("skipped")]
    assert set(skipped.alt) >= {"<DEL>", "*"} and (skipped["rank"] == 0).all()
    ok = table[table.status == "ok"]
    assert (ok["rank"] >= 1).all() and ok.hypothesis.str.endswith(".").all()
    assert ((ok.p_value > 0) & (ok.p_value <= 1)).all()
    assert set(ok.effect) <= {"loss", "gain"} and (np.sign(ok.statistic) == np.where(ok.effect == "loss", -1, 1)).all()


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Ten loss variants of the truth set on held-out chr3, explained by the CLI with every output."""
    from genomix.demo.evaluate import read_truth

    truth = read_truth(demo_variants())
    chosen = truth[(truth.truth_class == "loss") & (truth.chrom == "chr3")].head(10)
    folder = tmp_path_factory.mktemp("explain")
    lines = [line for line in pysam_text(demo_variants()) if line.startswith("#")]
    keep = set(chosen.id)
    lines += [line for line in pysam_text(demo_variants()) if not line.startswith("#") and line.split("\t")[2] in keep]
    lines = [line.replace("gmx", "<b>gmx</b>", 1) if not line.startswith("#") else line for line in lines]
    vcf = folder / "loss.vcf"
    vcf.write_text("".join(lines))
    outputs = {
        "vcf_in": vcf,
        "out": folder / "h.tsv",
        "vcf": folder / "a.vcf.gz",
        "report": folder / "r.html",
        "followup": folder / "f.tsv",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "genomix",
            "explain",
            vcf,
            "--fasta",
            demo_dir() / "genome.fa.gz",
            "-o",
            outputs["out"],
            "--vcf-out",
            outputs["vcf"],
            "--report",
            outputs["report"],
            "--followup",
            outputs["followup"],
            "--report-mutagenesis",
            "2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return chosen, outputs


def pysam_text(path) -> list[str]:
    import gzip

    with gzip.open(path, "rt") as handle:
        return handle.readlines()


def test_cli_table_equals_the_python_api_and_losses_read_as_losses(planted):
    chosen, outputs = planted
    table = pd.read_csv(outputs["out"], sep="\t", keep_default_na=False, na_values=["NA"])
    again = gx.explain(outputs["vcf_in"], demo_dir() / "genome.fa.gz", "demo")
    # splice_distance is a nullable integer; read back from a TSV where it is all NA, a float
    again = again.astype({"splice_distance": "float64"})
    pd.testing.assert_frame_equal(table, again, check_dtype=False, atol=1e-6)
    top = table[table["rank"] == 1]
    assert len(top) == len(chosen)
    assert (top.effect == "loss").mean() > 0.5  # planted losses; accuracy itself: benchmarks/explain_accuracy.py
    assert top[top.label_kind == "motif"].motif_delta.notna().all()  # PWM corroboration of motif hypotheses


def test_explain_reads_standard_input_as_it_reads_a_file(planted, tmp_path):
    _, outputs = planted  # the VCF is read twice (q-values over the whole run): standard input is kept for that
    done = subprocess.run(
        [sys.executable, "-m", "genomix", "explain", "-", "--fasta", demo_dir() / "genome.fa.gz"]
        + ["-o", tmp_path / "h.tsv", "--vcf-out", tmp_path / "a.vcf", "--quiet"],
        input=outputs["vcf_in"].read_text(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "h.tsv").read_text() == outputs["out"].read_text()
    body = [line for line in (tmp_path / "a.vcf").read_text().splitlines() if not line.startswith("#")]
    assert body == [line.rstrip("\n") for line in pysam_text(outputs["vcf"]) if not line.startswith("#")]


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools (Debian) with +split-vep is not installed")
def test_bcftools_split_vep_reads_the_gmx_entries(planted):
    _, outputs = planted
    done = subprocess.run(
        [
            "bcftools",
            "+split-vep",
            "-a",
            "GMX",
            "-d",
            "-f",
            "%ID\t%Allele\t%Feature\t%Label\t%Effect\t%P\t%Q\t%Family\t%EffectShare\t%ErrorShare\t%Consequence\n",
            outputs["vcf"],
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    parsed = pd.read_csv(
        pd.io.common.StringIO(done.stdout),
        sep="\t",
        header=None,
        names=["id", "alt", "feature", "label", "effect", "p", "q", "family", "share", "error", "consequence"],
        keep_default_na=False,
    )
    table = pd.read_csv(outputs["out"], sep="\t", keep_default_na=False)
    assert list(parsed.feature) == list(table.feature)
    assert list(parsed.label) == [label.replace(" ", "_") for label in table.label]
    np.testing.assert_allclose(parsed.p.astype(float), table.p_value, rtol=1e-3)
    np.testing.assert_allclose(parsed.q.astype(float), table.q_value.astype(float), rtol=1e-3)
    for field, column in (("share", "effect_share"), ("error", "error_share")):
        expected = table[column].replace("", "nan").astype(float)
        np.testing.assert_allclose(parsed[field].replace(".", "nan").astype(float), expected, rtol=1e-3, atol=1e-4)
    assert list(parsed.family) == [f.replace(" ", "_") if f != "." else "." for f in table.tf_family]
    assert list(parsed.consequence) == [f"{a}_{b}" for a, b in zip(parsed.label, parsed.effect)]


def test_report_is_one_escaped_self_contained_page(planted):
    import re

    _, outputs = planted
    page = outputs["report"].read_text()
    assert page.startswith("<!doctype html>") and "<b>gmx" not in page and "&lt;b&gt;gmx" in page
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing from the network
    assert page.count("class='card'") == 10 and "data:image/png" not in page and "<svg" in page
    assert len(page.encode()) <= 2_000_000 * 10 / 100  # at most 2 MB per 100 cards
    assert page.count("view, ref (ISM)</title>") == 2  # --report-mutagenesis 2: the first two cards
    table = pd.read_csv(outputs["out"], sep="\t", keep_default_na=False)
    for q in table[table["rank"] == 1].q_value:  # every card's sentence carries its q-value
        assert f"q = {float(q):.2g}" in page
    rows = re.findall(r"<tr data-tf='([^']*)' data-effect='([^']*)'", page)  # the table: every ALT's top
    top = table[table["rank"] == 1]
    assert sorted(rows) == sorted(zip(top.tf_name, top.effect))


def test_followup_designs_test_the_site(planted, demo_genome):
    _, outputs = planted
    designs = pd.read_csv(outputs["followup"], sep="\t")
    table = pd.read_csv(outputs["out"], sep="\t")
    assert set(designs.design) == {"mpra_ref", "mpra_alt", "mpra_scrambled", "emsa_ref", "emsa_alt"}
    for (chrom, pos, ref, alt), group in designs.groupby(["chrom", "pos", "ref", "alt"]):
        by = group.set_index("design").sequence
        assert len(by.mpra_ref) == 150 and by.mpra_ref == demo_genome.fetch(chrom, pos - 1 - 75, pos - 1 + 75)
        assert by.mpra_alt != by.mpra_ref and by.mpra_scrambled != by.mpra_ref
        carrier = by.mpra_ref if group.effect.iloc[0] == "loss" else by.mpra_alt  # the allele with the site
        assert sorted(by.mpra_scrambled) == sorted(carrier)  # a shuffle inside the site keeps the bases
        site_start, site_end = int(group.site_start.iloc[0]), int(group.site_end.iloc[0])
        assert by.emsa_ref == demo_genome.fetch(chrom, site_start - 1 - 15, site_end + 15)
        hypothesis = table[(table.pos == pos) & (table["rank"] == 1)].iloc[0]
        if hypothesis.motif_id != "." and hypothesis.effect == "loss":  # site coordinates are the ref's
            from genomix.motifs.jaspar import load_jaspar

            pwm = log_odds(next(m.ppm for m in load_jaspar() if m.matrix_id == hypothesis.motif_id))
            site = slice(75 - (pos - site_start), 75 - (pos - site_start) + (site_end - site_start + 1))
            exact = lambda seq: max(score.max() for score in site_scores(seq[site], pwm))  # noqa: E731
            if exact(carrier) > 0:  # a real site: the scramble takes it apart
                assert exact(by.mpra_scrambled) < exact(carrier)


def test_an_intact_site_beside_an_indel_scores_the_same_in_ref_and_alt(write_fasta):
    from genomix.hypotheses.evidence import pwm_scores

    ppm = np.full((6, 4), 0.01)
    for column, base in enumerate("GATAAG"):
        ppm[column, "ACGT".index(base)] = 0.97
    pwm = log_odds(ppm)
    left, right = "CCCCCCCCCCCCCCCCCCCC", "CCCCCCCCCCCCCCCCCCCC"
    # the variant's allele ends right before an intact GATAAG
    genome = Genome(write_fasta({"chr1": left + "CA" + "GATAAG" + right}))
    for ref, alt in (("CA", "C"), ("C", "CT")):
        window = make_window(genome, Variant("chr1", len(left), ref, alt, contig="chr1"), 30)
        ref_score, alt_score = pwm_scores(window, pwm)
        assert alt_score == pytest.approx(ref_score), (ref, alt)
    # and a site the deletion creates does score higher in alt
    genome = Genome(write_fasta({"chr1": left + "GATTTAAG" + right}, name="gain.fa"))
    window = make_window(genome, Variant("chr1", len(left) + 2, "TTT", "T", contig="chr1"), 30)
    ref_score, alt_score = pwm_scores(window, pwm)
    assert alt_score > ref_score + 10


def test_grouping_by_feature_ranks_every_labelled_feature_on_its_own(explainer):
    single = load_explainer(demo_dir() / "genome.fa.gz", "demo", null_size=10, group="feature")
    labelled = set(single.table.index[single.table.label_kind != "unlabelled"])
    assert sorted(int(u.members[0]) for u in single.units) == sorted(labelled)
    assert all(len(u.members) == 1 and u.kind == single.table.label_kind.loc[u.members[0]] for u in single.units)


def test_gmx_entries_keep_vcf_syntax_whatever_the_label():
    from dataclasses import replace

    from genomix.hypotheses.records import Hypothesis
    from genomix.scoring import Scored

    scored = Scored(Variant("chr1", 9, "A", "G", contig="chr1"), "llr", -1.5)
    row = replace(
        Hypothesis.none(scored),
        rank=1,
        feature=7,
        label="odd, label;x=y|z w",
        effect="loss",
        delta=-2.0,
        motif_delta=float("nan"),
        mediated_fraction=0.25,
        p_value=0.01,
        q_value=0.04,
        tf_family="C2H2 zinc finger, factors",
        effect_share=0.125,
        error_share=-0.5,
    )
    entry = row.gmx_entry()
    fields = entry.split("|")
    assert len(fields) == 23 and not any(c in entry for c in ",; =")
    assert fields[:6] == ["G", "llr", "-1.5", "7", "odd__label_x_y_z_w", "loss"]
    assert fields[7] == "" and fields[8] == "0.25" and fields[14] == "odd__label_x_y_z_w_loss"
    assert fields[9:14] == ["0.01", "0.04", "C2H2_zinc_finger__factors", "0.125", "-0.5"]
    assert fields[15:] == [""] * 8  # no gene context set


def test_followup_site_of_a_gain_past_a_deletion_is_found_in_the_alt_frame(write_fasta):
    from genomix.hypotheses.records import Hypothesis
    from genomix.report.followup import _designs

    rng = np.random.default_rng(5)
    seq = "".join(rng.choice(list("ACGT"), 200))
    genome = Genome(write_fasta({"chr1": seq}))
    variant = Variant("chr1", 100, seq[100:106], seq[100], contig="chr1")  # a 5 bp deletion
    window = make_window(genome, variant, 100)
    lead = 50 + 16  # the feature changed most at ref index 66, which is alt index 61
    row = Hypothesis(
        "chr1",
        101,
        ".",
        variant.ref,
        variant.alt,
        math.nan,
        "llr",
        "ok",
        rank=1,
        label="X",
        effect="gain",
        tf_name=".",
        offset=16,
        ref_index=lead,
        alt_index=lead - 5,
    )
    designs = {d["design"]: d for d in _designs(window, row, None, 60, 2, 20, np.random.default_rng(0))}
    alt_oligo, control = designs["mpra_alt"]["sequence"], designs["mpra_scrambled"]["sequence"]
    differs = [i for i, (a, b) in enumerate(zip(alt_oligo, control)) if a != b]
    first = 50 - 30  # the oligo starts 30 bp before the variant
    assert differs and min(differs) >= lead - 5 - 2 - first and max(differs) <= lead - 5 + 2 - first
    # the site's reference coordinates are those of the same genomic bases
    assert designs["emsa_alt"]["sequence"][15:20] == seq[100 + 16 - 2 : 100 + 16 + 3]
    assert (designs["mpra_alt"]["site_start"], designs["mpra_alt"]["site_end"]) == (100 + 16 - 2 + 1, 100 + 16 + 2 + 1)


def test_a_cached_null_is_read_back_identical_and_keyed_by_what_it_depends_on(explainer, tmp_path):
    first = load_explainer(
        explainer.genome, explainer.sae, explainer.atlas, explainer.model, null_size=20, null_cache=tmp_path
    )
    first.draw_nulls([("snv", 1), ("del", 2)])
    drawn = first.null(("snv", 1))
    files = list(tmp_path.glob("null-snv1-*.npz"))
    assert len(files) == 1 and len(list(tmp_path.glob("null-del2-*.npz"))) == 1
    alone = load_explainer(explainer.genome, explainer.sae, explainer.atlas, explainer.model, null_size=20)
    np.testing.assert_allclose(alone.null(("snv", 1)).scale, drawn.scale, rtol=1e-5)  # drawn alone: the same null
    np.testing.assert_allclose(alone.null(("snv", 1)).tops, drawn.tops, rtol=1e-5)
    again = load_explainer(
        explainer.genome, explainer.sae, explainer.atlas, explainer.model, null_size=20, null_cache=tmp_path
    )
    np.testing.assert_array_equal(again.null(("snv", 1)).tops, drawn.tops)
    np.testing.assert_array_equal(again.null(("snv", 1)).scale, drawn.scale)
    other = load_explainer(
        explainer.genome, explainer.sae, explainer.atlas, explainer.model, null_size=20, null_cache=tmp_path, radius=10
    )
    assert other.nulls.name(("snv", 1)) != files[0].name
    renamed = explainer.atlas.table.copy()  # a paralog's matrix names one feature: the PWM rule may rank otherwise
    motif = renamed.index[renamed.label_kind == "motif"][0]
    renamed.loc[motif, "motif_id"] = next(m for m in first.evidence.motifs if m != renamed.motif_id[motif])
    atlas = gx.FeatureAtlas(renamed, explainer.atlas.metadata, explainer.atlas.concepts)  # the same concepts
    other = load_explainer(explainer.genome, explainer.sae, atlas, explainer.model, null_size=20, null_cache=tmp_path)
    assert other.nulls.name(("snv", 1)) != files[0].name


def test_nulls_saved_beside_an_atlas_are_read_instead_of_drawn(explainer, tmp_path):
    import shutil

    from genomix.features.atlas import concepts_path, nulls_path

    atlas = tmp_path / "atlas.parquet"
    for source, target in ((explainer.atlas.path, atlas), (concepts_path(explainer.atlas.path), concepts_path(atlas))):
        shutil.copy(source, target)
    first = load_explainer(explainer.genome, explainer.sae, gx.FeatureAtlas.load(atlas), explainer.model, null_size=20)
    saved = first.save_nulls(nulls_path(atlas))
    assert sorted(p.name.split("-")[1] for p in saved) == ["del1", "del2", "ins1", "ins2", "snv1"]
    snv = next(p for p in saved if p.name.startswith("null-snv1-"))
    with np.load(snv) as arrays:
        marked = {"scale": arrays["scale"], "tops": np.arange(20.0), "scores": arrays["scores"]}
    np.savez(snv, **marked)
    again = load_explainer(explainer.genome, explainer.sae, atlas, explainer.model, null_size=20)
    np.testing.assert_array_equal(again.null(("snv", 1)).tops, marked["tops"])  # read, not drawn again


def test_the_demo_ships_the_nulls_of_its_sae_atlas_and_ranking_rule():
    from genomix.features.atlas import nulls_path
    from genomix.hypotheses.null import STANDARD_KINDS

    explainer = load_explainer(demo_dir() / "genome.fa.gz", "demo")  # explain's defaults
    folder = nulls_path(explainer.atlas.path)
    stale = [kind for kind in STANDARD_KINDS if not (folder / explainer.nulls.name(kind)).is_file()]
    assert not stale, f"draw them again: genomix demo sae --nulls-only ({stale} missing or stale)"


def test_a_failed_run_leaves_no_output_behind(tmp_path, write_vcf):
    genome = Genome(STARTER_FASTA)
    wrong = "A" if genome.fetch("chr1", 99, 100) != "A" else "C"
    vcf = write_vcf(
        [("chr1", 100, wrong, "G")], contigs={"chr1": genome.lengths["chr1"], "chr2": genome.lengths["chr2"]}
    )
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "genomix",
            "explain",
            vcf,
            "--fasta",
            STARTER_FASTA,
            "-o",
            out / "h.tsv",
            "--vcf-out",
            out / "a.vcf.gz",
            "--report",
            out / "r.html",
            "--followup",
            out / "f.tsv",
            "--window",
            "128",
            "--null-size",
            "10",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "REF" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert list(out.iterdir()) == []


def test_a_motif_hypothesis_its_pwm_contradicts_comes_after_the_others(explainer, write_fasta):
    """Three concepts fall at an SNV that breaks a consensus site of motif concept A: motif concept B
    (the longest matrix), which has no site there, comes last though it fell most; annotation concept C, which no
    matrix can test, keeps its place by |z| before A."""
    table, units = explainer.table, explainer.units

    def named(kind):
        return [
            (i, int(f))
            for i, u in enumerate(units)
            if u.kind == kind
            for f in u.members
            if table.label_kind.loc[f] == kind and (kind != "motif" or table.motif_id.loc[f] in explainer.evidence.pwms)
        ]

    motifs = named("motif")
    length = {pair: len(explainer.evidence.pwms[table.motif_id.loc[pair[1]]]) for pair in motifs}
    (a, fa), (b, fb) = next(pair for pair in motifs if length[pair] <= 12), max(motifs, key=length.get)
    c, fc = named("annotation")[0]
    window = _broken_consensus_window(explainer, write_fasta, table.motif_id.loc[fa], np.random.default_rng(4))
    motif_b = table.motif_id.loc[fb]
    assert (
        _best_anywhere(window, explainer.evidence.pwms[motif_b]) < explainer.evidence.site_scores[motif_b]
    )  # no site of B in the window
    per_feature = np.zeros(explainer.sae.d_sae)
    per_feature[[fa, fb, fc]] = [-1.0, -100.0, -20.0]
    raw = explainer.weights @ per_feature
    assert abs(raw[b]) > abs(raw[c]) > abs(raw[a]) >= explainer.options.min_change
    order, evidence = explainer._select(window, raw, raw, per_feature, 3)
    assert order == [c, a, b]
    assert evidence[a].supported and evidence[b].contradicted and not evidence[c].contradicted


def test_pwm_support_needs_a_site_in_the_allele_that_holds_it_and_a_1_bit_move_its_way():
    from genomix.hypotheses.evidence import Evidence as _Evidence

    def evidence(ref, alt, effect):
        return _Evidence(0, "M", ref, alt, 8.0, effect)

    assert evidence(10.0, 5.0, "loss").supported and evidence(5.0, 10.0, "gain").supported
    assert evidence(7.9, 2.0, "loss").contradicted  # the ref has no site to lose
    assert evidence(10.0, 9.5, "loss").contradicted  # half a bit
    assert evidence(10.0, 5.0, "gain").contradicted and evidence(2.0, 7.0, "gain").contradicted
    assert evidence(10.0, 10.0 - (0.35 + 0.33 + 0.32), "loss").supported  # 1 bit, summed in floating point
    assert not _Evidence(0, "M").contradicted and not _Evidence(0, None).supported  # nothing tested


def test_a_motif_concept_is_supported_by_the_matrix_of_any_of_its_named_members(explainer, write_fasta):
    """An SNV breaks a consensus site of one matrix of a motif concept while the concept's member that fell
    most has another matrix, with no site in the window: the concept is supported, and its evidence (the
    row that names it, motif_id and the PWM scores) is the member whose matrix has the site."""
    table = explainer.table

    def matrices(unit):
        found = {}
        for f in unit.members:
            motif_id = table.motif_id.loc[f]
            if table.label_kind.loc[f] == "motif" and motif_id in explainer.evidence.pwms:
                found.setdefault(motif_id, int(f))
        return found

    def site_without_the_other(site_id, other_id, rng):
        """A window whose ref holds a consensus site of `site_id`, broken by an SNV, where `other_id` has no site."""
        for _ in range(10):
            window = _broken_consensus_window(explainer, write_fasta, site_id, rng)
            if _best_anywhere(window, explainer.evidence.pwms[other_id]) < explainer.evidence.site_scores[other_id]:
                return window
        return None

    rng = np.random.default_rng(5)
    u, unit, (site_id, f_site), (other_id, f_other), window = next(
        (u, unit, first, second, window)
        for u, unit in enumerate(explainer.units)
        if unit.kind == "motif"
        for first, second in itertools.permutations(matrices(unit).items(), 2)
        if (window := site_without_the_other(first[0], second[0], rng)) is not None
    )
    per_feature = np.zeros(explainer.sae.d_sae)
    per_feature[[f_site, f_other]] = [-1.0, -5.0]  # the member without a site fell most
    raw = explainer.weights @ per_feature
    found = explainer._evidence(window, unit, raw[u], per_feature)
    assert found.supported and found.feature == f_site and found.motif_id == site_id
    ref_site = best_site(window.ref, explainer.evidence.pwms[site_id], window.ref_span[0], window.ref_span[1])[0]
    assert found.ref_pwm == ref_site >= explainer.evidence.site_scores[site_id] > found.alt_pwm + 1
    _, evidence = explainer._select(window, raw, raw, per_feature, 3)
    assert evidence[u].supported
    gain = explainer._evidence(window, unit, abs(raw[u]), per_feature)  # no matrix has a site in the alt
    assert gain.contradicted and gain.feature == f_other and gain.motif_id == other_id


def _broken_consensus_window(explainer, write_fasta, motif_id, rng):
    """A 128 bp window whose ref holds the consensus of `motif_id` in random flanks, and an SNV that turns
    its most certain column to its least likely base."""
    ppm = explainer.evidence.motifs[motif_id].ppm
    consensus = "".join("ACGT"[i] for i in ppm.argmax(1))
    middle = int(np.argmax(ppm.max(1)))
    left, right = "".join(rng.choice(list("ACGT"), 100)), "".join(rng.choice(list("ACGT"), 100))
    genome = Genome(write_fasta({"chr1": left + consensus + right}, name="site.fa"))
    variant = Variant("chr1", len(left) + middle, consensus[middle], "ACGT"[int(np.argmin(ppm[middle]))], contig="chr1")
    return make_window(genome, variant, 128)


def _best_anywhere(window, pwm) -> float:
    """The best score of `pwm` anywhere in the ref or the alt window, either strand."""
    return max(best_site(seq, pwm, 0, len(seq))[0] for seq in (window.ref, window.alt))


def test_each_alt_carries_its_gene_context_in_the_table_the_vcf_and_the_sentence(planted):
    from genomix.io.genes import GENE_COLUMNS, Genes

    _, outputs = planted  # the demo genome: the demo's genes.gff3 by default
    genes = Genes.load(demo_dir() / "genes.gff3")
    table = pd.read_csv(outputs["out"], sep="\t", keep_default_na=False, na_values=["NA"])
    for row in table.itertuples():
        context = genes.context(row.chrom, row.pos - 1)
        assert (row.gene, row.region, row.consequence) == (context.gene, context.region, context.consequence)
        place = f"({'intergenic' if context.region == 'intergenic' else 'in '}"
        assert row.hypothesis == "." or place in row.hypothesis
    import pysam

    with pysam.VariantFile(str(outputs["vcf"])) as vcf:
        fields = vcf.header.info["GMX"].description.split("Format: ")[1].split("|")
        entries = [dict(zip(fields, e.split("|"))) for record in vcf for e in record.info["GMX"]]
    assert [e["Region"] for e in entries] == list(table.region)
    assert [e["Gene"] or "." for e in entries] == list(table.gene)
    assert fields[-len(GENE_COLUMNS) :] == [
        "Gene",
        "Transcript",
        "Region",
        "GeneConsequence",
        "Exon",
        "Intron",
        "SpliceDistance",
        "SpliceSite",
    ]
