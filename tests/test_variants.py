"""Reading variants: every ALT kept with a status, 0-based positions, REF checked, contigs harmonised."""

from __future__ import annotations

import logging

import pytest
from pysam import bcftools

from genomix.errors import GenomixError
from genomix.io import Genome, ReferenceCheck, read_variants
from genomix.io.variants import iter_variant_chunks, plan_chunks, read_chunk

SUBSTITUTE = {"A": "C", "C": "G", "G": "T", "T": "A"}


def base_at(sequences: dict[str, str], contig: str, vcf_pos: int, length: int = 1) -> str:
    """Upper-case reference bases at 1-based `vcf_pos`, read straight from the fixture's sequences."""
    return sequences[contig][vcf_pos - 1 : vcf_pos - 1 + length].upper()


def other_base(base: str) -> str:
    return SUBSTITUTE[base]


def summary(variants) -> list[tuple]:
    return [(v.chrom, v.vcf_pos, v.ref, v.alt, v.status) for v in variants]


def test_multi_allelic_record_gives_one_variant_per_alt_in_order(small_genome, small_sequences, write_vcf):
    ref = base_at(small_sequences, "chr1", 70)
    alts = [base for base in "TGCA" if base != ref]
    rows = [("chr1", 60, base_at(small_sequences, "chr1", 60), "N"), ("chr1", 70, ref, ",".join(alts), "rs70")]
    vcf = write_vcf(rows)

    variants = list(read_variants(vcf, small_genome))

    assert [(v.record, v.allele, v.alt, v.id, v.status) for v in variants[1:]] == [
        (1, 1, alts[0], "rs70", "ok"),
        (1, 2, alts[1], "rs70", "ok"),
        (1, 3, alts[2], "rs70", "ok"),
    ]
    assert {(v.pos, v.ref) for v in variants[1:]} == {(69, ref)}


@pytest.mark.parametrize("vcf_pos", [1, 2, 150, 300])
def test_vcf_pos_becomes_a_0_based_pos_and_back(small_genome, small_sequences, write_vcf, vcf_pos):
    ref = base_at(small_sequences, "chr1", vcf_pos)
    vcf = write_vcf([("chr1", vcf_pos, ref, other_base(ref))])

    (variant,) = read_variants(vcf, small_genome)

    assert variant.pos == vcf_pos - 1
    assert variant.vcf_pos == vcf_pos
    assert small_genome.fetch("chr1", variant.pos, variant.pos + 1) == ref
    assert str(variant) == f"chr1:{vcf_pos} {ref}>{other_base(ref)}"


def test_unscorable_alleles_are_skipped_with_a_reason(small_genome, small_sequences, write_vcf):
    ref = {pos: base_at(small_sequences, "chr1", pos) for pos in (10, 20, 30, 40, 50, 60)}
    rows = [
        ("chr1", 10, ref[10], "<DEL>"),
        ("chr1", 20, ref[20], f"{other_base(ref[20])},<NON_REF>"),
        ("chr1", 30, ref[30], f"{other_base(ref[30])},*"),
        ("chr1", 40, ref[40], "."),
        ("chr1", 50, ref[50], "R"),
        ("chr1", 60, ref[60], ref[60]),
    ]

    variants = list(read_variants(write_vcf(rows), small_genome))

    assert [(v.record, v.allele, v.alt, v.status) for v in variants] == [
        (0, 1, "<DEL>", "skipped:symbolic_allele"),
        (1, 1, other_base(ref[20]), "ok"),
        (1, 2, "<NON_REF>", "skipped:symbolic_allele"),
        (2, 1, other_base(ref[30]), "ok"),
        (2, 2, "*", "skipped:spanning_deletion"),
        (3, 1, ".", "skipped:no_alt"),
        (4, 1, "R", "skipped:non_acgtn_allele"),
        (5, 1, ref[60], "skipped:alt_equals_ref"),
    ]


def test_every_input_alt_appears_exactly_once(small_genome, small_sequences, write_vcf):
    ref = {pos: base_at(small_sequences, "chr1", pos) for pos in (5, 15, 25, 35)}
    rows = [
        ("chr1", 5, ref[5], "<DEL>,A,C,G,T"),
        ("chr1", 15, ref[15], "."),
        ("chr1", 25, ref[25], "*,<NON_REF>,Y"),
        ("chr1", 35, ref[35] + "GG", "N,<INS>"),
        ("chr9", 1, "A", "C"),
    ]
    expected = [(record, alt) for record, row in enumerate(rows) for alt in row[3].split(",")]

    variants = list(read_variants(write_vcf(rows, contigs={"chr1": 300, "chr9": 10}), small_genome, ref_check="skip"))

    assert [(v.record, v.alt) for v in variants] == expected
    assert all(v.status == "ok" or v.status.startswith("skipped:") for v in variants)


def test_lower_case_alleles_are_upper_cased(small_genome, small_sequences, write_vcf):
    ref = base_at(small_sequences, "chr1", 200)
    vcf = write_vcf([("chr1", 200, ref.lower(), other_base(ref).lower() + "ac")])

    (variant,) = read_variants(vcf, small_genome)

    assert (variant.ref, variant.alt, variant.status) == (ref, other_base(ref) + "AC", "ok")


@pytest.fixture
def three_format_vcfs(tmp_path, small_sequences, write_vcf):
    """The same records as plain VCF, bgzipped + tabix VCF, and indexed BCF."""
    rows = [
        ("chr1", 3, base_at(small_sequences, "chr1", 3), "A,C"),
        ("chr1", 120, base_at(small_sequences, "chr1", 120, 3), base_at(small_sequences, "chr1", 120), "del"),
        ("chr1", 250, base_at(small_sequences, "chr1", 250), "<DEL>"),
        ("chr2", 50, base_at(small_sequences, "chr2", 50), base_at(small_sequences, "chr2", 50) + "TT"),
    ]
    plain = write_vcf(rows, compress=False)
    bgzipped = write_vcf(rows, name="variants_gz.vcf")
    bcf = tmp_path / "variants.bcf"
    bcftools.view("-Ob", "-o", str(bcf), str(bgzipped), catch_stdout=False)
    bcftools.index(str(bcf), catch_stdout=False)
    return {"vcf": plain, "vcf.gz": bgzipped, "bcf": bcf}


@pytest.mark.parametrize("form", ["vcf", "vcf.gz", "bcf"])
def test_plain_bgzipped_and_bcf_read_the_same(small_genome, small_sequences, three_format_vcfs, form):
    ref_at_3 = base_at(small_sequences, "chr1", 3)
    status_at_3 = {alt: "skipped:alt_equals_ref" if alt == ref_at_3 else "ok" for alt in "AC"}

    variants = list(read_variants(three_format_vcfs[form], small_genome))

    assert summary(variants) == [
        ("chr1", 3, ref_at_3, "A", status_at_3["A"]),
        ("chr1", 3, ref_at_3, "C", status_at_3["C"]),
        ("chr1", 120, base_at(small_sequences, "chr1", 120, 3), base_at(small_sequences, "chr1", 120), "ok"),
        ("chr1", 250, base_at(small_sequences, "chr1", 250), "<DEL>", "skipped:symbolic_allele"),
        ("chr2", 50, base_at(small_sequences, "chr2", 50), base_at(small_sequences, "chr2", 50) + "TT", "ok"),
    ]
    assert variants[1].id == "."
    assert variants[2].id == "del"


@pytest.fixture
def region_vcf(small_sequences, write_vcf):
    """Records around chr1:100-200, including a deletion that starts before 100 and overlaps it."""
    positions = [(50, 1), (95, 6), (99, 1), (100, 1), (150, 1), (200, 1), (201, 1), (250, 1)]
    rows = [
        ("chr1", pos, base_at(small_sequences, "chr1", pos, length), other_base(base_at(small_sequences, "chr1", pos)))
        for pos, length in positions
    ]
    rows.append(("chr2", 10, base_at(small_sequences, "chr2", 10), other_base(base_at(small_sequences, "chr2", 10))))
    return write_vcf(rows)


@pytest.mark.parametrize("region", ["chr1:100-200", "chr1:1-60", "chr2", "chr1:201-201"])
def test_region_reads_the_records_that_bcftools_view_reads(small_genome, region_vcf, region):
    oracle = [line.split("\t") for line in bcftools.view("-H", "-r", region, str(region_vcf)).splitlines()]
    expected = [(chrom, int(pos), ref, alt) for chrom, pos, _id, ref, alt, *_ in oracle]

    variants = list(read_variants(region_vcf, small_genome, region=region))

    assert [(v.chrom, v.vcf_pos, v.ref, v.alt) for v in variants] == expected


def test_region_chr1_100_200_holds_the_records_overlapping_it(small_genome, region_vcf):
    variants = list(read_variants(region_vcf, small_genome, region="chr1:100-200"))

    assert [v.vcf_pos for v in variants] == [95, 100, 150, 200]


def test_region_on_an_unindexed_plain_vcf_says_how_to_index(small_genome, small_sequences, write_vcf):
    vcf = write_vcf([("chr1", 150, base_at(small_sequences, "chr1", 150), "N")], compress=False)

    with pytest.raises(GenomixError, match="indexed") as error:
        list(read_variants(vcf, small_genome, region="chr1:100-200"))

    assert "bgzip" in str(error.value)
    assert "bcftools index" in str(error.value)


def test_region_on_a_bgzipped_vcf_without_index_says_how_to_index(small_genome, small_sequences, write_vcf):
    vcf = write_vcf([("chr1", 150, base_at(small_sequences, "chr1", 150), "N")])
    vcf.with_name(vcf.name + ".tbi").unlink()

    with pytest.raises(GenomixError, match="bcftools index") as error:
        list(read_variants(vcf, small_genome, region="chr1:100-200"))

    # The file is already bgzipped: the fix is to index it, not to bgzip it again.
    assert f"bcftools index -t {vcf}" in str(error.value)
    assert ".gz.gz" not in str(error.value)


def test_region_on_a_contig_the_vcf_lacks_names_the_contig_not_a_missing_index(small_genome, region_vcf):
    with pytest.raises(GenomixError) as error:
        list(read_variants(region_vcf, small_genome, region="chr3:1-10"))

    assert "chr3" in str(error.value)
    assert "needs an indexed VCF" not in str(error.value)


@pytest.fixture
def mismatch_vcf(small_sequences, write_vcf):
    """chr1:10 and chr1:30 have a REF that is not the FASTA's base; chr1:20 matches."""
    rows = []
    for pos in (10, 20, 30):
        fasta_base = base_at(small_sequences, "chr1", pos)
        ref = fasta_base if pos == 20 else other_base(fasta_base)
        rows.append(("chr1", pos, ref, other_base(ref)))
    return write_vcf(rows)


def test_ref_mismatch_is_an_error_by_default(small_genome, small_sequences, mismatch_vcf):
    wrong_ref = other_base(base_at(small_sequences, "chr1", 10))

    with pytest.raises(GenomixError, match="REF does not match the FASTA") as error:
        list(read_variants(mismatch_vcf, small_genome))

    message = str(error.value)
    assert f"chr1:10 {wrong_ref}>{other_base(wrong_ref)}" in message
    assert f"FASTA has {base_at(small_sequences, 'chr1', 10)}" in message
    assert "bcftools norm" in message
    assert 'ref_check="warn"' in message  # library terms; the CLI writes it as --ref-check warn


def test_ref_check_warn_skips_and_logs_mismatches(small_genome, small_sequences, mismatch_vcf, caplog):
    with caplog.at_level(logging.WARNING, logger="genomix"):
        variants = list(read_variants(mismatch_vcf, small_genome, ref_check="warn"))

    assert [(v.vcf_pos, v.status) for v in variants] == [
        (10, "skipped:ref_mismatch"),
        (20, "ok"),
        (30, "skipped:ref_mismatch"),
    ]
    warnings = [r.getMessage() for r in caplog.records if r.name == "genomix" and r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one warning per chunk of records, naming each mismatch
    assert "chr1:10 C>G (FASTA has A)" in warnings[0]
    assert "chr1:30 A>C (FASTA has T)" in warnings[0]


def test_ref_check_skip_skips_mismatches_quietly(small_genome, mismatch_vcf, caplog):
    with caplog.at_level(logging.WARNING, logger="genomix"):
        variants = list(read_variants(mismatch_vcf, small_genome, ref_check="skip"))

    assert [(v.vcf_pos, v.status) for v in variants] == [
        (10, "skipped:ref_mismatch"),
        (20, "ok"),
        (30, "skipped:ref_mismatch"),
    ]
    assert [r for r in caplog.records if r.name == "genomix"] == []


def test_ref_check_ignores_soft_masking_in_the_fasta(small_genome, small_sequences, write_vcf):
    assert small_sequences["chr1"][109].islower()
    ref = base_at(small_sequences, "chr1", 110, 4)
    vcf = write_vcf([("chr1", 110, ref, ref[0])])

    (variant,) = read_variants(vcf, small_genome)

    assert variant.status == "ok"


def test_ref_running_past_the_contig_end_is_skipped(small_genome, small_sequences, write_vcf):
    ref = base_at(small_sequences, "chr2", 49, 2) + "A"
    vcf = write_vcf([("chr2", 49, ref, ref[0])])

    (variant,) = read_variants(vcf, small_genome)

    assert variant.status == "skipped:past_contig_end"


def test_unknown_contig_is_an_error_by_default(small_genome, write_vcf):
    vcf = write_vcf([("chrUn_1", 5, "A", "C")], contigs={"chrUn_1": 100})

    with pytest.raises(GenomixError, match="chrUn_1") as error:
        list(read_variants(vcf, small_genome))

    assert "chr1, chr2" in str(error.value)


@pytest.mark.parametrize("policy", ["warn", "skip"])
def test_unknown_contig_is_skipped_under_warn_and_skip(small_genome, small_sequences, write_vcf, policy, caplog):
    rows = [("chr1", 5, base_at(small_sequences, "chr1", 5), "N"), ("chrUn_1", 5, "A", "C,G")]
    vcf = write_vcf(rows, contigs={"chr1": 300, "chrUn_1": 100})

    with caplog.at_level(logging.WARNING, logger="genomix"):
        variants = list(read_variants(vcf, small_genome, ref_check=policy))

    assert [(v.chrom, v.alt, v.contig, v.status) for v in variants] == [
        ("chr1", "N", "chr1", "ok"),
        ("chrUn_1", "C", None, "skipped:unknown_contig"),
        ("chrUn_1", "G", None, "skipped:unknown_contig"),
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "genomix"]
    assert len(logged) == (2 if policy == "warn" else 0)


def test_vcf_contig_1_is_placed_on_fasta_chr1(small_genome, small_sequences, write_vcf):
    ref = base_at(small_sequences, "chr1", 42)
    vcf = write_vcf([("1", 42, ref, other_base(ref))], contigs={"1": 300})

    (variant,) = read_variants(vcf, small_genome)

    assert (variant.chrom, variant.contig, variant.pos, variant.status) == ("1", "chr1", 41, "ok")


def test_vcf_contig_chr1_is_placed_on_fasta_1(write_fasta, write_vcf):
    fasta = write_fasta({"1": "ACGTACGTAC", "MT": "GGGCCC"})
    vcf = write_vcf([("chr1", 3, "G", "T"), ("chrM", 2, "G", "A")], contigs={"chr1": 10, "chrM": 6})

    with Genome(fasta) as genome:
        variants = list(read_variants(vcf, genome))

    assert [(v.chrom, v.contig, v.status) for v in variants] == [("chr1", "1", "ok"), ("chrM", "MT", "ok")]


def test_unknown_ref_check_policy_is_an_error(small_genome):
    with pytest.raises(GenomixError, match="error, warn, skip"):
        ReferenceCheck(small_genome, "ignore")


def test_missing_vcf_is_an_error_naming_the_path(small_genome, tmp_path):
    missing = tmp_path / "absent.vcf.gz"

    with pytest.raises(GenomixError, match="VCF not found") as error:
        list(read_variants(missing, small_genome))

    assert str(missing) in str(error.value)


@pytest.mark.parametrize("compress, region", [(True, None), (False, None), (True, "chr1:40-250")])
def test_planned_chunks_read_on_their_own_give_the_streamed_chunks(
    small_genome, small_sequences, write_vcf, compress, region
):
    rows = []
    for pos in range(20, 290, 9):
        ref = small_sequences["chr1"][pos - 1]
        others = [b for b in "ACGT" if b != ref]
        rows.append(("chr1", pos, ref, ",".join(others[: 1 + pos % 3])))  # 1 to 3 ALTs per record
    rows.append(("chr2", 10, small_sequences["chr2"][9], "<DEL>"))
    vcf = write_vcf(rows, compress=compress)
    streamed = list(iter_variant_chunks(vcf, small_genome, region, "error", 5))
    planned = list(plan_chunks(vcf, region, 5))
    assert len(planned) == len(streamed) > 3
    expected_first = 0
    for chunk, (records, variants) in zip(planned, streamed):
        assert (chunk.first, chunk.records, chunk.alts) == (expected_first, len(records), len(variants))
        assert read_chunk(vcf, small_genome, chunk, region) == variants
        expected_first += len(records)
