"""workflows/Snakefile: the demo VCF cut by contig, scored part by part, joined with bcftools concat,
gives the records one `genomix score` run gives."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "demo" / "genome.fa.gz"
VCF = ROOT / "variants" / "demo.vcf.gz"


def records_and_header(path: Path) -> tuple[list[str], list[str]]:
    """The records of a VCF, and its header lines but genomix's provenance (which names each part's region)."""
    with gzip.open(path, "rt") as handle:
        lines = handle.readlines()
    return [line for line in lines if not line.startswith("#")], [
        line for line in lines if line.startswith("#") and not line.startswith("##genomix")
    ]


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="the workflow joins its parts with bcftools (make tools)")
def test_snakemake_scores_the_demo_by_contig_and_its_joined_vcf_equals_one_genomix_run(tmp_path):
    pytest.importorskip("snakemake", reason="the workflow needs snakemake (the test extra installs it)")
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    joined = tmp_path / "workflow" / "score.vcf.gz"
    config = [f"vcf={VCF}", f"fasta={FASTA}", f"out={joined}", "args=--window 128"]
    run = subprocess.run(
        [Path(sys.executable).parent / "snakemake", "-s", ROOT / "workflows" / "Snakefile", "--cores", "2"]
        + ["--directory", tmp_path, "--config", *config],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    single = tmp_path / "single.vcf.gz"
    genomix = [Path(sys.executable).parent / "genomix", "score", VCF, "--fasta", FASTA, "--window", "128"]
    subprocess.run([*genomix, "--quiet", "-o", single], env=env, check=True)
    records, header = records_and_header(joined)
    single_records, single_header = records_and_header(single)
    contigs = {line.split("\t")[0] for line in records}
    assert len(contigs) > 1 and len(records) == len(single_records) > 400
    assert records == single_records
    assert [line for line in header if "bcftools" not in line] == single_header
    assert Path(str(joined) + ".tbi").exists()
    assert not (tmp_path / "workflow" / "score.parts").exists() or not list(
        (tmp_path / "workflow" / "score.parts").glob("*.vcf.gz")
    )
