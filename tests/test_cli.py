"""The genomix command as a pipeline sees it: outputs by extension, bcftools reading them back, clear errors."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pysam
import pytest
from pysam import bcftools

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "starter" / "genome.fa.gz"
VCF = ROOT / "variants" / "starter.vcf.gz"


def genomix(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "genomix", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def score(out, *extra):
    done = genomix("score", VCF, "--fasta", FASTA, "--model", "demo", "--window", 64, "-o", out, "--quiet", *extra)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "scores.tsv"
    score(out)
    return pd.read_csv(out, sep="\t")


def test_table_has_the_documented_columns_and_every_alt(table):
    assert list(table.columns) == ["chrom", "pos", "id", "ref", "alt", "method", "score", "status"]
    with pysam.VariantFile(str(VCF)) as vcf:
        expected = [(r.chrom, r.pos, r.id, alt) for r in vcf for alt in r.alts]
    assert list(zip(table.chrom, table.pos, table.id, table.alt)) == expected


def test_parquet_output_holds_the_same_table(tmp_path, table):
    score(tmp_path / "scores.parquet")
    parquet = pd.read_parquet(tmp_path / "scores.parquet")
    pd.testing.assert_frame_equal(parquet, table, check_dtype=False)


@pytest.mark.parametrize("name", ["scored.vcf", "scored.vcf.gz", "scored.bcf"])
def test_vcf_output_keeps_records_and_adds_gmx_score_that_bcftools_reads(tmp_path, table, name):
    out = tmp_path / name
    score(out)
    header = bcftools.view("-h", str(out))
    assert "##INFO=<ID=GMX_SCORE,Number=A,Type=Float" in header
    assert "##genomix_version=" in header and "##genomix_method=auto" in header and "##genomix_window=64" in header
    # bcftools: one value per ALT, '.' where the ALT was skipped
    queried = bcftools.query("-f", "%ID\t%GMX_SCORE\n", str(out)).splitlines()
    expected = table.groupby("id", sort=False)["score"].apply(
        lambda s: ",".join("." if pd.isna(v) else f"{v:.6g}" for v in s)
    )
    for line in queried:
        record_id, values = line.split("\t")
        got = [v if v == "." else f"{float(v):.6g}" for v in values.split(",")]
        want = expected[record_id].split(",")
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g == w or (g != "." and w != "." and float(g) == pytest.approx(float(w), rel=1e-5))
    # everything else is untouched (pysam's BCF writer adds INFO/END to symbolic alleles)
    added = "INFO/GMX_SCORE,INFO/GMX_METHOD" + (",INFO/END" if name.endswith(".bcf") else "")
    stripped = bcftools.annotate("-x", added, str(out)).split("\n")
    original = bcftools.view(str(VCF)).split("\n")
    body = [line for line in stripped if not line.startswith("#")]
    assert body == [line for line in original if not line.startswith("#")]


def test_dash_streams_vcf_to_stdout(table):
    done = genomix("score", VCF, "--fasta", FASTA, "-o", "-", "--window", 64, "--quiet")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert len(lines) == table.id.nunique()
    assert "GMX_SCORE=" in lines[0]


def test_region_scores_only_the_records_inside_it(tmp_path):
    out = tmp_path / "region.tsv"
    score(out, "--region", "chr1:2000-6000")
    region = pd.read_csv(out, sep="\t")
    expected = bcftools.view("-H", "-r", "chr1:2000-6000", str(VCF)).splitlines()
    assert sorted(set(region.id)) == sorted(line.split("\t")[2] for line in expected)


def test_models_info_prints_kind_context_layers_and_width():
    done = genomix("models", "info", "demo")
    assert done.returncode == 0, done.stderr
    assert "kind     mlm" in done.stdout and "tokens   characters" in done.stdout
    assert "d_model  96" in done.stdout and "blocks.0 .. blocks.5" in done.stdout


def _one_clear_line(done, *words):
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("genomix: error:")]
    assert len(errors) == 1, done.stderr
    for word in words:
        assert word in errors[0]


def test_unknown_model_is_one_clear_line(tmp_path):
    _one_clear_line(
        genomix("score", VCF, "--fasta", FASTA, "--model", tmp_path / "nope", "-o", tmp_path / "x.tsv"),
        "model folder not found",
    )


def test_missing_fasta_is_one_clear_line(tmp_path):
    _one_clear_line(genomix("score", VCF, "--fasta", tmp_path / "no.fa", "-o", tmp_path / "x.tsv"), "FASTA not found")


def test_unreadable_vcf_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.vcf"
    bad.write_text("this is not a VCF\n")
    _one_clear_line(genomix("score", bad, "--fasta", FASTA, "-o", tmp_path / "x.tsv"), "cannot read", "VCF")


def test_contigs_missing_from_the_fasta_are_one_clear_line(tmp_path):
    other = tmp_path / "other.fa"
    other.write_text(">chrX\n" + "ACGT" * 100 + "\n")
    done = genomix("score", VCF, "--fasta", other, "-o", tmp_path / "x.tsv", "--window", 64)
    _one_clear_line(done, "'chr1'", "not in the FASTA", "--ref-check warn")
    assert not (tmp_path / "x.tsv").exists()


def test_window_larger_than_the_context_is_one_clear_line(tmp_path, char_mlm_dir):
    done = genomix("score", VCF, "--fasta", FASTA, "--model", char_mlm_dir, "--window", 5000, "-o", tmp_path / "x.tsv")
    _one_clear_line(done, "context (256 bp)", "--window 256")


def test_debug_shows_the_traceback(tmp_path):
    done = genomix("--debug", "score", VCF, "--fasta", tmp_path / "no.fa", "-o", tmp_path / "x.tsv")
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_demo_scores_every_truth_variant_and_reports_the_auroc_of_its_scores(tmp_path):
    from scipy.stats import mannwhitneyu

    done = genomix("demo", "--out", tmp_path / "out", "--quiet")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "out" / "demo.scores.tsv", sep="\t")
    with pysam.VariantFile(str(ROOT / "variants" / "demo.vcf.gz")) as vcf:
        truth = {(r.chrom, r.pos): r.info["TRUTH_CLASS"] for r in vcf}
    assert len(table) == len(truth) and (table.status == "ok").all()
    functional = [truth[k] != "neutral" for k in zip(table.chrom, table.pos)]
    magnitude = table.score.abs().to_numpy()
    positives = magnitude[functional]
    negatives = magnitude[[not f for f in functional]]
    expected = mannwhitneyu(positives, negatives).statistic / (len(positives) * len(negatives))
    all_line = next(line for line in done.stdout.splitlines() if line.strip().startswith("all "))
    assert float(all_line.split()[1]) == pytest.approx(expected, abs=1e-3)
    scored = bcftools.query("-f", "%GMX_SCORE\n", str(tmp_path / "out" / "demo.scored.vcf.gz")).split()
    assert [float(s) for s in scored] == pytest.approx(table.score.tolist(), abs=1e-3)
    # explain's figures on the shipped set, as a user reads them: the JASPAR family of the top row's
    # tf_name matrix against the planted matrix's, recomputed from the table
    from genomix.motifs.jaspar import load_jaspar

    families = {m.matrix_id: m.family for m in load_jaspar()}
    hypotheses = pd.read_csv(tmp_path / "out" / "demo.hypotheses.tsv", sep="\t")
    with pysam.VariantFile(str(ROOT / "variants" / "demo.vcf.gz")) as vcf:
        planted = {(r.chrom, r.pos): r.info["TRUTH_ID"] for r in vcf if r.info["TRUTH_CLASS"] in ("loss", "gain")}
    top = hypotheses[hypotheses["rank"] <= 1]
    right = [
        families.get(m) is not None and families.get(m) == families[planted[(c, p)]] and kind == "motif"
        for c, p, m, kind in zip(top.chrom, top.pos, top.motif_id, top.label_kind)
        if (c, p) in planted
    ]
    lines = done.stdout.splitlines()
    shipped = lines[next(i for i, line in enumerate(lines) if "the set explain's rules were developed on" in line) + 1]
    assert float(shipped.split("family-level top-1 (the JASPAR family of tf_name) ")[1].split(",")[0]) == (
        pytest.approx(sum(right) / len(right), abs=5e-4)
    )
    final = ROOT / "data" / "demo" / "explain_accuracy.json"
    if final.exists():  # the final sets' figures, as the benchmark recorded them
        import json

        pooled = [row for row in json.loads(final.read_text()) if "pooled" in row["set"]]
        for row in pooled:
            at = next(i for i, line in enumerate(lines) if f"on the {row['kind']} final sets" in line)
            figure = float(lines[at + 1].split("family-level top-1 (the JASPAR family of tf_name) ")[1].split(",")[0])
            assert figure == pytest.approx(row["genomix"]["all"]["family_top1"], abs=5e-4)
