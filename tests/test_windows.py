"""Ref/alt windows: W bp, the variant's first REF base at W // 2, indels keep the length.

The alt windows are checked against bcftools consensus (the genome with the variant applied)
and against hand-written strings.
"""

from __future__ import annotations

import numpy as np
import pytest
from pysam import bcftools

from genomix.errors import GenomixError
from genomix.io import Genome, Variant, make_window, read_variants

SUBSTITUTE = {"A": "C", "C": "G", "G": "T", "T": "A"}


def padded_slice(sequence: str, start: int, width: int) -> str:
    """`sequence[start:start + width]` upper-cased, with N where the slice leaves the sequence."""
    return "".join(sequence[i].upper() if 0 <= i < len(sequence) else "N" for i in range(start, start + width))


def consensus_contigs(fasta, vcf_gz) -> dict[str, str]:
    """The contigs of `fasta` with the variants of `vcf_gz` applied, by bcftools consensus."""
    contigs, name = {}, None
    for line in bcftools.consensus("-f", str(fasta), str(vcf_gz)).splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            contigs[name] = ""
        elif line:
            contigs[name] += line.strip()
    return contigs


def only_variant(vcf, genome: Genome) -> Variant:
    (variant,) = read_variants(vcf, genome)
    assert variant.ok, variant.status
    return variant


# (name, contig, 1-based VCF POS, REF length, ALT from REF) on the random `small_fasta`.
ORACLE_CASES = [
    ("snv", "chr1", 150, 1, lambda ref: SUBSTITUTE[ref]),
    ("mnv", "chr1", 160, 3, lambda ref: "".join(SUBSTITUTE[base] for base in ref)),
    ("insertion", "chr1", 170, 1, lambda ref: ref + "ACGTA"),
    ("deletion", "chr1", 180, 6, lambda ref: ref[0]),
    ("insertion_in_lower_case", "chr1", 110, 1, lambda ref: ref + "GGA"),
    ("deletion_in_lower_case", "chr1", 115, 4, lambda ref: ref[0]),
    ("snv_first_base", "chr1", 1, 1, lambda ref: SUBSTITUTE[ref]),
    ("snv_last_base", "chr1", 300, 1, lambda ref: SUBSTITUTE[ref]),
    ("deletion_first_base", "chr2", 1, 3, lambda ref: ref[0]),
    ("deletion_to_last_base", "chr2", 46, 5, lambda ref: ref[0]),
    ("insertion_last_base", "chr2", 50, 1, lambda ref: ref + "TTG"),
    ("mnv_last_bases", "chr2", 49, 2, lambda ref: "".join(SUBSTITUTE[base] for base in ref)),
]


@pytest.mark.parametrize("width", [20, 21, 64])
@pytest.mark.parametrize(
    "contig, vcf_pos, ref_length, make_alt", [case[1:] for case in ORACLE_CASES], ids=[case[0] for case in ORACLE_CASES]
)
def test_windows_match_bcftools_consensus(
    small_fasta, small_sequences, write_vcf, contig, vcf_pos, ref_length, make_alt, width
):
    sequence = small_sequences[contig]
    ref = sequence[vcf_pos - 1 : vcf_pos - 1 + ref_length].upper()
    alt = make_alt(ref)
    vcf = write_vcf([(contig, vcf_pos, ref, alt)])
    consensus = consensus_contigs(small_fasta, vcf)[contig]
    start = vcf_pos - 1 - width // 2

    with Genome(small_fasta) as genome:
        window = make_window(genome, only_variant(vcf, genome), width)

    assert window.ref == padded_slice(sequence, start, width)
    assert window.alt == padded_slice(consensus, start, width)
    assert window.genome_start == start


@pytest.mark.parametrize("width", [20, 21, 64])
@pytest.mark.parametrize(
    "contig, vcf_pos, ref_length, make_alt", [case[1:] for case in ORACLE_CASES], ids=[case[0] for case in ORACLE_CASES]
)
def test_both_windows_are_w_long_with_the_variant_at_w_over_2(
    small_genome, small_sequences, write_vcf, contig, vcf_pos, ref_length, make_alt, width
):
    ref = small_sequences[contig][vcf_pos - 1 : vcf_pos - 1 + ref_length].upper()
    alt = make_alt(ref)
    variant = only_variant(write_vcf([(contig, vcf_pos, ref, alt)]), small_genome)

    window = make_window(small_genome, variant, width)

    middle = width // 2
    assert len(window.ref) == len(window.alt) == len(window) == width
    assert window.offset == middle
    assert window.ref_span == (middle, middle + len(ref))
    assert window.alt_span == (middle, middle + len(alt))
    assert window.ref[middle : middle + len(ref)] == ref
    assert window.alt[middle : middle + len(alt)] == alt
    assert window.strand == "+"


# A tiny genome whose windows can be written out by hand:
#   index  0123456789
#   tiny   AACCGGTTAC
TINY = "AACCGGTTAC"


@pytest.fixture
def tiny_genome(write_fasta):
    with Genome(write_fasta({"tiny": TINY}, name="tiny.fa")) as genome:
        yield genome


@pytest.fixture
def tiny_variant(tiny_genome, write_vcf):
    """`tiny_variant(vcf_pos, ref, alt)`: the Variant read from a one-record VCF on `tiny`."""

    def read(vcf_pos: int, ref: str, alt: str) -> Variant:
        vcf = write_vcf([("tiny", vcf_pos, ref, alt)], name=f"tiny_{vcf_pos}_{ref}_{alt}.vcf", contigs={"tiny": 10})
        return only_variant(vcf, tiny_genome)

    return read


# (VCF POS, REF, ALT, width, expected ref window, expected alt window)
HAND_WRITTEN = {
    "snv": (5, "G", "A", 6, "ACCGGT", "ACCAGT"),
    "snv_odd_width": (5, "G", "A", 5, "CCGGT", "CCAGT"),
    "mnv": (5, "GG", "TA", 6, "ACCGGT", "ACCTAT"),
    "insertion": (4, "C", "CT", 6, "AACCGG", "AACCTG"),
    "insertion_fills_the_right_half": (4, "C", "CTT", 6, "AACCGG", "AACCTT"),
    "insertion_longer_than_the_right_half": (4, "C", "CTTTT", 6, "AACCGG", "AACCTT"),
    "deletion": (4, "CG", "C", 6, "AACCGG", "AACCGT"),
    "deletion_of_three": (4, "CGGT", "C", 6, "AACCGG", "AACCTA"),
    "snv_first_base": (1, "A", "G", 6, "NNNAAC", "NNNGAC"),
    "snv_last_base": (10, "C", "T", 6, "TTACNN", "TTATNN"),
    "deletion_to_last_base": (8, "TAC", "T", 6, "GGTTAC", "GGTTNN"),
    "insertion_at_last_base": (10, "C", "CA", 6, "TTACNN", "TTACAN"),
}


@pytest.mark.parametrize(
    "vcf_pos, ref, alt, width, expected_ref, expected_alt", HAND_WRITTEN.values(), ids=HAND_WRITTEN.keys()
)
def test_windows_match_hand_written_sequences(
    tiny_genome, tiny_variant, vcf_pos, ref, alt, width, expected_ref, expected_alt
):
    window = make_window(tiny_genome, tiny_variant(vcf_pos, ref, alt), width)

    assert (window.ref, window.alt) == (expected_ref, expected_alt)


def test_deletion_keeps_window_length(tiny_genome, tiny_variant):
    window = make_window(tiny_genome, tiny_variant(4, "CGGT", "C"), 6)

    assert len(window.ref) == len(window.alt) == 6


def test_insertion_longer_than_the_right_half_is_clipped_in_alt_span(tiny_genome, tiny_variant):
    window = make_window(tiny_genome, tiny_variant(4, "C", "CTTTT"), 6)

    assert window.alt_span == (3, 6)
    assert window.alt[3:] == "CTT"


def test_deletion_longer_than_the_right_half_has_its_ref_span_clipped_to_the_window(tiny_genome, tiny_variant):
    # W=6: the REF CGGT starts at offset 3 and only CGG fits, as the ALT of a long insertion is clipped.
    window = make_window(tiny_genome, tiny_variant(4, "CGGT", "C"), 6)

    assert window.ref_span == (3, 6)
    reverse = window.reverse_complement()
    assert reverse.ref_span == (0, 3)
    assert reverse.ref[slice(*reverse.ref_span)] == "CCG"


# (VCF POS, REF, ALT, width, expected ref_to_alt)
OFFSET_MAPS = {
    # ref AACCGG -> alt AACCTG: the anchor C maps to itself, G (index 4) moves one right, the last G leaves.
    "insertion": (4, "C", "CT", 6, [0, 1, 2, 3, 5, -1]),
    # ref AACCGG -> alt AACCTT: everything after the anchor is pushed out of the window.
    "insertion_pushing_out": (4, "C", "CTT", 6, [0, 1, 2, 3, -1, -1]),
    # ref AACCGG -> alt AACCGT: the deleted G (index 4) has no counterpart, the next G moves left.
    "deletion": (4, "CG", "C", 6, [0, 1, 2, 3, -1, 4]),
    # ref NAACCGGTTA -> alt NAACCGACNN: the anchor G stays, GTT is deleted, the A moves three left.
    "deletion_of_three": (5, "GGTT", "G", 10, [0, 1, 2, 3, 4, 5, -1, -1, -1, 6]),
    "snv": (5, "G", "A", 6, [0, 1, 2, 3, 4, 5]),
    "mnv": (5, "GG", "TA", 6, [0, 1, 2, 3, 4, 5]),
}


@pytest.mark.parametrize("vcf_pos, ref, alt, width, expected", OFFSET_MAPS.values(), ids=OFFSET_MAPS.keys())
def test_ref_to_alt_maps_each_genomic_base_to_its_index_in_alt(
    tiny_genome, tiny_variant, vcf_pos, ref, alt, width, expected
):
    window = make_window(tiny_genome, tiny_variant(vcf_pos, ref, alt), width)

    assert window.ref_to_alt.tolist() == expected


@pytest.mark.parametrize("vcf_pos, ref, alt, width, expected", OFFSET_MAPS.values(), ids=OFFSET_MAPS.keys())
def test_ref_to_alt_points_at_the_same_genomic_base(tiny_genome, tiny_variant, vcf_pos, ref, alt, width, expected):
    window = make_window(tiny_genome, tiny_variant(vcf_pos, ref, alt), width)

    for i, j in enumerate(window.ref_to_alt):
        if j >= 0 and not window.ref_span[0] <= i < window.ref_span[1]:
            assert window.alt[j] == window.ref[i]


def test_reverse_complement_of_a_deletion_window(tiny_genome, tiny_variant):
    # Forward: ref AACCGG, alt AACCGT, REF CG at [3, 5), ALT C at [3, 4), map [0, 1, 2, 3, -1, 4].
    window = make_window(tiny_genome, tiny_variant(4, "CG", "C"), 6).reverse_complement()

    assert (window.ref, window.alt) == ("CCGGTT", "ACGGTT")
    assert window.ref_span == (1, 3)
    assert window.alt_span == (2, 3)
    assert window.ref_to_alt.tolist() == [1, -1, 2, 3, 4, 5]
    assert window.strand == "-"
    assert window.genome_start == 0


def test_reverse_complement_of_an_insertion_window(tiny_genome, tiny_variant):
    # Forward: ref AACCGG, alt AACCTG, REF C at [3, 4), ALT CT at [3, 5), map [0, 1, 2, 3, 5, -1].
    window = make_window(tiny_genome, tiny_variant(4, "C", "CT"), 6).reverse_complement()

    assert (window.ref, window.alt) == ("CCGGTT", "CAGGTT")
    assert window.ref_span == (2, 3)
    assert window.alt_span == (1, 3)
    assert window.ref_to_alt.tolist() == [-1, 0, 2, 3, 4, 5]


def test_reverse_complement_keeps_the_allele_inside_its_span(tiny_genome, tiny_variant):
    window = make_window(tiny_genome, tiny_variant(5, "GG", "TA"), 7).reverse_complement()

    # Forward (W=7, start 1): ref ACCGGTT, alt ACCTATT; the REF GG is at [3, 5).
    assert (window.ref, window.alt) == ("AACCGGT", "AATAGGT")
    assert window.ref[slice(*window.ref_span)] == "CC"
    assert window.alt[slice(*window.alt_span)] == "TA"


def test_reverse_complement_twice_is_refused(tiny_genome, tiny_variant):
    window = make_window(tiny_genome, tiny_variant(5, "G", "A"), 6).reverse_complement()

    with pytest.raises(GenomixError, match="already on the reverse strand"):
        window.reverse_complement()


def test_window_needs_a_variant_placed_on_the_genome(tiny_genome):
    unplaced = Variant(chrom="tiny", pos=4, ref="G", alt="A")

    with pytest.raises(GenomixError, match="read_variants"):
        make_window(tiny_genome, unplaced, 6)


def test_ref_to_alt_is_an_integer_array_of_window_length(tiny_genome, tiny_variant):
    window = make_window(tiny_genome, tiny_variant(4, "CG", "C"), 6)

    assert isinstance(window.ref_to_alt, np.ndarray)
    assert window.ref_to_alt.dtype.kind == "i"
    assert window.ref_to_alt.shape == (6,)
