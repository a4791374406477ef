"""Bad input as a new user gives it: usage errors as Typer reports them, every input error as one line
that says what is wrong and how to fix it, invalid positions and windows refused, never scored."""

import gzip
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pysam
import pytest

import genomix as gx
from genomix.errors import GenomixError
from genomix.io import Genome
from genomix.scoring import ScoreOptions

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "starter" / "genome.fa.gz"
VCF = ROOT / "variants" / "starter.vcf.gz"


def genomix(*args, stdout=subprocess.PIPE):
    return subprocess.run(
        [sys.executable, "-m", "genomix", *map(str, args)], stdout=stdout, stderr=subprocess.PIPE, text=True
    )


def one_clear_line(done, *words) -> str:
    """The run failed as bad input (exit 2) with a single line on stderr holding `words`."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genomix: error: "), done.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["score", VCF, "-o", "x.tsv"], "Missing option '--fasta'"),
        (["score", VCF, "--fasta", FASTA, "-o", "x.tsv", "--window", "abc"], "Invalid value for '--window'"),
        (["score", VCF, "--fasta", FASTA, "-o", "x.tsv", "--debug"], "No such option: --debug"),
    ],
    ids=["missing-fasta", "window-abc", "option-after-subcommand"],
)
def test_usage_errors_are_typers_own_with_exit_code_2(tmp_path, args, message):
    done = genomix(*[tmp_path / a if a == "x.tsv" else a for a in args])

    assert done.returncode == 2
    assert message in done.stderr and "Usage:" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_a_record_with_too_few_columns_is_named_with_what_a_record_needs(tmp_path, write_vcf):
    vcf = write_vcf([("chr1", 10, "A", "G", "first")], compress=False)
    vcf.write_text(vcf.read_text() + "chr1\t20\tsecond\tA\tG\t.\t.\n")  # no INFO column

    line = one_clear_line(genomix("score", vcf, "--fasta", FASTA, "-o", tmp_path / "x.tsv"), "record 2")
    assert "7 tab-separated columns" in line and "needs 8" in line and "after chr1:10" in line
    assert not (tmp_path / "x.tsv").exists()


def test_a_plain_gzip_vcf_is_told_to_be_bgzipped(tmp_path):
    plain = tmp_path / "calls.vcf.gz"
    with pysam.BGZFile(str(VCF), "rb") as source, gzip.open(plain, "wb") as target:
        target.write(source.read())

    one_clear_line(genomix("score", plain, "--fasta", FASTA, "-o", tmp_path / "x.tsv"), "plain gzip", "bgzip")


@pytest.fixture
def fasta_changed_after_indexing(write_fasta, small_sequences):
    """small.fa indexed, then rewritten with chr1 cut to 200 bp: its .fai still says 300."""
    fasta = write_fasta(small_sequences)
    pysam.faidx(str(fasta))
    write_fasta({"chr1": small_sequences["chr1"][:200], "chr2": small_sequences["chr2"]})
    return fasta


def test_a_fetch_that_returns_other_than_the_index_says_is_an_error_naming_contig_and_index(
    fasta_changed_after_indexing,
):
    with Genome(fasta_changed_after_indexing) as genome:
        with pytest.raises(GenomixError) as error:
            genome.fetch("chr2", 10, 30)
    message = str(error.value)
    assert "chr2:11-30" in message and "ref.fa.fai" in message
    assert f"samtools faidx {fasta_changed_after_indexing}" in message


def test_a_fasta_that_disagrees_with_its_index_is_one_clear_line(tmp_path, fasta_changed_after_indexing, write_vcf):
    vcf = write_vcf([("chr2", 21, "A", "G")])
    done = genomix("score", vcf, "--fasta", fasta_changed_after_indexing, "-o", tmp_path / "x.tsv", "--window", 16)
    one_clear_line(done, "does not match its index", "chr2", "samtools faidx")


def test_a_full_disk_says_to_free_space(tmp_path):
    with open("/dev/full", "w") as full:  # every write to it fails with ENOSPC, as on a full disk
        done = genomix("score", VCF, "--fasta", FASTA, "-o", "-", "--window", 64, stdout=full)

    one_clear_line(done, "no space left", "free space")


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder this process cannot create files in: one with mode r-x, or, where root ignores modes,
    /sys (sysfs refuses new files to everyone)."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        try:
            (folder / "probe").touch()
        except PermissionError:
            yield folder
            return
        (folder / "probe").unlink()
        try:
            Path("/sys/genomix-probe").touch()
        except OSError:
            yield Path("/sys")
            return
        pytest.skip("no folder here refuses new files")
    finally:
        folder.chmod(0o700)


def test_a_read_only_output_folder_says_to_choose_a_writable_one(unwritable_folder):
    done = genomix("score", VCF, "--fasta", FASTA, "-o", unwritable_folder / "x.tsv", "--window", 64)
    one_clear_line(done, "cannot write", "choose a folder you can write to")


def test_records_at_pos_0_are_skipped_as_invalid_positions_with_a_row_for_every_alt(small_fasta, write_vcf):
    vcf = write_vcf([("chr1", 0, "A", "C,<DEL>,G", "at0"), ("chr1", 150, "A", "C", "inside")], compress=False)

    table = gx.score(vcf, small_fasta, "demo", window=32, ref_check="skip")

    at0 = table[table.id == "at0"]
    assert list(at0.alt) == ["C", "<DEL>", "G"]
    assert set(at0.status) == {"skipped:invalid_position"} and at0.score.isna().all()
    assert len(table) == 4


@pytest.mark.parametrize("window", [0, -5])
def test_a_window_of_zero_or_less_is_an_error(tmp_path, window):
    done = genomix("score", VCF, "--fasta", FASTA, "-o", tmp_path / "x.tsv", "--window", window)
    one_clear_line(done, f"not {window}", "--window")
    assert not (tmp_path / "x.tsv").exists()


@pytest.mark.parametrize("window", [0, -5, 100.5, "256"])
def test_score_options_refuse_a_window_that_is_not_a_positive_whole_number(window):
    with pytest.raises(GenomixError, match="window"):
        ScoreOptions(window=window)


def test_a_model_without_a_declared_context_says_so():
    done = genomix("models", "info", "demo")

    assert done.returncode == 0, done.stderr
    assert "context  not declared" in done.stdout and "1000000000" not in done.stdout
    assert gx.load_model("demo").context_bp is None


def test_an_unindexed_bgzipped_vcf_is_read_without_htslib_noise(tmp_path):
    unindexed = tmp_path / "calls.vcf.gz"
    unindexed.write_bytes(VCF.read_bytes())  # the same bgzipped file, without its .tbi

    done = genomix("score", unindexed, "--fasta", FASTA, "-o", tmp_path / "x.tsv", "--window", 64, "--quiet")

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert len(pd.read_csv(tmp_path / "x.tsv", sep="\t")) == 35
