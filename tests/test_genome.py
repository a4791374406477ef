"""The reference genome: upper-case, N-padded past contig ends, indexed when it can be."""

from __future__ import annotations

import gzip
import os
import shutil
import stat

import pysam
import pytest

from genomix.errors import GenomixError
from genomix.io import Genome, resolve_contig


def test_fetch_pads_with_n_past_both_contig_ends(small_genome, small_sequences):
    chr2 = small_sequences["chr2"]

    assert small_genome.fetch("chr2", -5, 55) == "N" * 5 + chr2 + "N" * 5
    assert small_genome.fetch("chr2", -3, 2) == "NNN" + chr2[:2]
    assert small_genome.fetch("chr2", 48, 53) == chr2[48:] + "NNN"


def test_fetch_entirely_outside_a_contig_is_all_n(small_genome):
    assert small_genome.fetch("chr2", 60, 64) == "NNNN"
    assert small_genome.fetch("chr2", -10, -6) == "NNNN"
    assert small_genome.fetch("chr2", 50, 50) == ""


def test_pysam_alone_truncates_where_genome_pads(small_fasta, small_genome, small_sequences):
    with pysam.FastaFile(str(small_fasta)) as fasta:
        truncated = fasta.fetch("chr2", 45, 55)

    assert truncated == small_sequences["chr2"][45:]
    assert len(truncated) == 5
    assert small_genome.fetch("chr2", 45, 55) == small_sequences["chr2"][45:] + "NNNNN"


def test_lower_case_bases_are_upper_cased(small_genome, small_sequences):
    soft_masked = small_sequences["chr1"][95:135]
    assert soft_masked != soft_masked.upper()  # the fixture has a lower-case stretch here

    assert small_genome.fetch("chr1", 95, 135) == soft_masked.upper()


def test_contig_names_and_lengths_come_from_the_fasta(small_genome):
    assert small_genome.contigs == ["chr1", "chr2"]
    assert small_genome.lengths == {"chr1": 300, "chr2": 50}


def test_bgzipped_fasta_reads_like_the_plain_one(small_fasta, small_sequences, tmp_path):
    bgzipped = tmp_path / "small.fa.gz"
    pysam.tabix_compress(str(small_fasta), str(bgzipped))

    with Genome(bgzipped) as genome:
        assert genome.lengths == {"chr1": 300, "chr2": 50}
        assert genome.fetch("chr1", 0, 300) == small_sequences["chr1"].upper()
        assert genome.fetch("chr2", 40, 55) == small_sequences["chr2"][40:] + "NNNNN"


def test_missing_fai_is_built_when_the_folder_is_writable(small_fasta):
    fai = small_fasta.with_name(small_fasta.name + ".fai")
    assert not fai.exists()

    with Genome(small_fasta):
        pass

    assert fai.exists()
    # samtools' .fai: name, length, offset, bases per line, bytes per line.
    assert [line.split("\t")[:2] for line in fai.read_text().splitlines()] == [["chr1", "300"], ["chr2", "50"]]


@pytest.fixture
def read_only_folder_fasta(tmp_path, small_sequences):
    """A FASTA without .fai in a folder this process cannot write to (skipped where that cannot be made)."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    fasta = folder / "small.fa"
    fasta.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in small_sequences.items()))
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip(
                "cannot make a folder unwritable here: root ignores mode bits (run as root without "
                "CAP_DAC_OVERRIDE with `setpriv --bounding-set=-dac_override,-dac_read_search python -m pytest`)"
            )
        yield fasta
    finally:
        folder.chmod(stat.S_IRWXU)


def test_read_only_folder_without_fai_says_how_to_index(read_only_folder_fasta):
    with pytest.raises(GenomixError, match="read-only") as error:
        Genome(read_only_folder_fasta)

    assert f"samtools faidx {read_only_folder_fasta}" in str(error.value)


def test_existing_fai_is_used_in_a_read_only_folder(read_only_folder_fasta, small_sequences):
    folder = read_only_folder_fasta.parent
    folder.chmod(stat.S_IRWXU)
    pysam.faidx(str(read_only_folder_fasta))
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)

    with Genome(read_only_folder_fasta) as genome:
        assert genome.fetch("chr2", 0, 50) == small_sequences["chr2"]


def test_missing_fasta_is_an_error_naming_the_path(tmp_path):
    missing = tmp_path / "absent.fa"

    with pytest.raises(GenomixError, match="FASTA not found") as error:
        Genome(missing)

    assert str(missing) in str(error.value)


def test_plain_gzip_fasta_is_an_error_that_asks_for_bgzip(small_fasta, tmp_path):
    gzipped = tmp_path / "small.fa.gz"
    with open(small_fasta, "rb") as plain, gzip.open(gzipped, "wb") as compressed:
        shutil.copyfileobj(plain, compressed)

    with pytest.raises(GenomixError, match="bgzip") as error:
        Genome(gzipped)

    assert "not plain gzip" in str(error.value)


@pytest.mark.parametrize(
    "name, reference, expected",
    [
        ("chr1", ["chr1", "chr2"], "chr1"),
        ("1", ["chr1", "chr2"], "chr1"),
        ("chr1", ["1", "2"], "1"),
        ("1", ["1", "chr1"], "1"),  # an exact match wins over a renaming
        ("chrX", ["1", "X", "Y"], "X"),
        ("chrM", ["1", "MT"], "MT"),
        ("MT", ["chr1", "chrM"], "chrM"),
        ("M", ["chrM"], "chrM"),
        ("chrM", ["M", "MT"], None),  # ambiguous: both could be meant
        ("MT", ["chrM", "M"], None),
        ("chr3", ["chr1", "chr2"], None),
        ("3", ["chr1", "chr2"], None),
    ],
)
def test_resolve_contig(name, reference, expected):
    assert resolve_contig(name, reference) == expected
