"""Shared fixtures: a small reference FASTA and a writer for small VCFs (plain or bgzipped + tabix)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

import pysam
import pytest

from genomix.io import Genome
from tiny_models import save_char_clm, save_char_mlm, save_convnet, save_kmer_mlm

# Bases [LOWER_CASE_START, LOWER_CASE_END) of chr1 are written in lower case (soft-masked),
# as in real references; genomix must read them upper-case.
LOWER_CASE_START, LOWER_CASE_END = 100, 130


def random_dna(length: int, rng: random.Random) -> str:
    return "".join(rng.choice("ACGT") for _ in range(length))


def small_contigs() -> dict[str, str]:
    """`chr1` (300 bp, a lower-case stretch) and `chr2` (50 bp), the same on every run."""
    rng = random.Random(20240611)
    chr1 = random_dna(300, rng)
    chr1 = chr1[:LOWER_CASE_START] + chr1[LOWER_CASE_START:LOWER_CASE_END].lower() + chr1[LOWER_CASE_END:]
    return {"chr1": chr1, "chr2": random_dna(50, rng)}


def write_fasta_file(path: Path, contigs: dict[str, str], line_width: int = 60) -> Path:
    """Write `contigs` (name -> sequence) as a FASTA with lines of `line_width` bases; no index."""
    with open(path, "w") as handle:
        for name, sequence in contigs.items():
            handle.write(f">{name}\n")
            for start in range(0, len(sequence), line_width):
                handle.write(sequence[start : start + line_width] + "\n")
    return path


@pytest.fixture
def small_sequences() -> dict[str, str]:
    """The sequences of `small_fasta` as written (mixed case): contig -> sequence."""
    return small_contigs()


@pytest.fixture
def small_fasta(tmp_path, small_sequences) -> Path:
    """A FASTA (no .fai yet) with `chr1` (300 bp, lower-case at 100-130) and `chr2` (50 bp)."""
    return write_fasta_file(tmp_path / "small.fa", small_sequences)


@pytest.fixture
def small_genome(small_fasta):
    """`small_fasta` opened as a genomix Genome."""
    with Genome(small_fasta) as genome:
        yield genome


@pytest.fixture
def write_fasta(tmp_path) -> Callable[..., Path]:
    """`write_fasta(contigs, name="ref.fa")`: a FASTA of `contigs` (name -> sequence) in tmp_path."""

    def write(contigs: dict[str, str], name: str = "ref.fa") -> Path:
        return write_fasta_file(tmp_path / name, contigs)

    return write


VCF_COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"


def vcf_text(rows: Sequence[Sequence], contigs: dict[str, int]) -> str:
    """VCF 4.2 text: one `##contig` line per entry of `contigs`, then one line per row.

    A row is `(chrom, pos, ref, alt)` or `(chrom, pos, ref, alt, id)`; `pos` is the 1-based VCF POS
    and `alt` is written as given (`"A,C"`, `"<DEL>"`, `"."`).
    """
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={name},length={length}>" for name, length in contigs.items()]
    lines.append(VCF_COLUMNS)
    for row in rows:
        chrom, pos, ref, alt, *rest = row
        record_id = rest[0] if rest else "."
        lines.append(f"{chrom}\t{pos}\t{record_id}\t{ref}\t{alt}\t.\t.\t.")
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_vcf(tmp_path) -> Callable[..., Path]:
    """`write_vcf(rows, name="variants.vcf", contigs=None, compress=True)` -> path of the VCF.

    Rows as in `vcf_text` (sorted, if compressed). `contigs` (name -> length) defaults to the
    contigs of `small_fasta`. With `compress=True` the file is bgzipped and tabix-indexed and the
    `.vcf.gz` is returned (the plain `.vcf` is kept next to it); otherwise the plain `.vcf`.
    """

    def write(
        rows: Sequence[Sequence],
        name: str = "variants.vcf",
        contigs: dict[str, int] | None = None,
        compress: bool = True,
    ) -> Path:
        if contigs is None:
            contigs = {contig: len(sequence) for contig, sequence in small_contigs().items()}
        path = tmp_path / name
        path.write_text(vcf_text(rows, contigs))
        if not compress:
            return path
        # tabix_index deletes its input unless keep_original=True.
        return Path(pysam.tabix_index(str(path), preset="vcf", force=True, keep_original=True))

    return write


# Tiny random-init models, saved with save_pretrained and loaded back like a hub id.


@pytest.fixture(scope="session")
def char_mlm_dir(tmp_path_factory) -> Path:
    return save_char_mlm(tmp_path_factory.mktemp("char_mlm"))


@pytest.fixture(scope="session")
def kmer_mlm_dir(tmp_path_factory) -> Path:
    return save_kmer_mlm(tmp_path_factory.mktemp("kmer_mlm"))


@pytest.fixture(scope="session")
def char_clm_dir(tmp_path_factory) -> Path:
    return save_char_clm(tmp_path_factory.mktemp("char_clm"))


@pytest.fixture(scope="session")
def convnet_dir(tmp_path_factory) -> Path:
    return save_convnet(tmp_path_factory.mktemp("convnet"))
