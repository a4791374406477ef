"""Gene context: a GFF3/GTF lookup checked against a hand-written interval lookup over the demo's
genes.gff3, both strands and CDS/UTRs on a small hand-made annotation, and VEP CSQ / snpEff ANN read
from a VCF annotated by hand in their documented formats."""

from __future__ import annotations

import gzip

import pysam
import pytest

from genomix.io.genes import GeneAnnotation, Genes
from genomix.io.genome import Genome
from genomix.io.variants import read_variants
from genomix.paths import demo_dir, demo_variants


def hand_lookup(gff3_lines: list[str], pos1: int) -> tuple[str, str, int | None]:
    """(region, gene, splice distance) of 1-based `pos1` on the contig of the lines, read straight from the
    file's own gene, exon and intron rows (all on the + strand in the demo)."""
    rows = [line.rstrip("\n").split("\t") for line in gff3_lines if not line.startswith("#")]
    exons = [(int(r[3]), int(r[4]), r[8]) for r in rows if r[2] == "exon"]
    introns = [(int(r[3]), int(r[4]), r[8]) for r in rows if r[2] == "intron"]
    gene_of = lambda attributes: attributes.split("ID=")[1].split(".")[0]  # noqa: E731
    intron_ends = {e for _, e, _ in introns}
    intron_starts = {s for s, _, _ in introns}
    for start, end, attributes in exons:
        if start <= pos1 <= end:
            distances = []
            if start - 1 in intron_ends:
                distances.append(pos1 - start + 1)  # from the acceptor
            if end + 1 in intron_starts:
                distances.append(end - pos1 + 1)  # from the donor
            distance = min(distances) if distances else None
            return (
                ("splice_region" if distance is not None and distance <= 3 else "exon"),
                gene_of(attributes),
                distance,
            )
    for start, end, attributes in introns:
        if start <= pos1 <= end:
            distance = min(pos1 - start + 1, end - pos1 + 1)
            return ("splice_region" if distance <= 8 else "intron"), gene_of(attributes), distance
    first_exon: dict[str, int] = {}
    for start, _, attributes in exons:
        first_exon[gene_of(attributes)] = min(start, first_exon.get(gene_of(attributes), start))
    for gene, start in first_exon.items():
        if start - 1000 <= pos1 < start:
            return "promoter", gene, None
    return "intergenic", ".", None


def test_gene_context_of_50_demo_variants_matches_a_hand_interval_lookup():
    lines = (demo_dir() / "genes.gff3").read_text().splitlines()
    genes = Genes.load(demo_dir() / "genes.gff3")
    with Genome(demo_dir() / "genome.fa.gz") as genome:
        variants = list(read_variants(demo_variants(), genome))
    with pysam.VariantFile(str(demo_variants())) as vcf:
        truth = {r.id: r.info["TRUTH_CLASS"] for r in vcf}
    # the demo's variants lie at splice sites, in promoters and between genes: 25 of the first, 25 others
    splice = [v for v in variants if truth[v.id] == "splice"][:25]
    others = [v for v in variants if truth[v.id] != "splice"][::9][:25]
    chosen = splice + others
    assert len(chosen) == 50
    found = {}
    for v in chosen:
        lines_here = [line for line in lines if line.startswith(v.chrom + "\t")]
        for shift in (0, -30, -6, 6, 30):  # and bases beside each, into exons and introns
            context = genes.context(v.chrom, v.pos + shift)
            expected = hand_lookup(lines_here, v.vcf_pos + shift)
            assert (context.region, context.gene, context.splice_distance) == expected, (v, shift)
            found[context.region] = found.get(context.region, 0) + (shift == 0)
    assert set(found) == {"splice_region", "intron", "exon", "promoter", "intergenic"}
    assert found["splice_region"] == 25 and found["promoter"] + found["intergenic"] == 25


GFF3 = """##gff-version 3
chrA\tt\tgene\t101\t400\t.\t+\t.\tID=g1;Name=PLUS1
chrA\tt\tmRNA\t101\t400\t.\t+\t.\tID=t1;Parent=g1
chrA\tt\texon\t101\t150\t.\t+\t.\tParent=t1
chrA\tt\tCDS\t121\t150\t.\t+\t0\tParent=t1
chrA\tt\texon\t201\t260\t.\t+\t.\tParent=t1
chrA\tt\tCDS\t201\t230\t.\t+\t0\tParent=t1
chrA\tt\texon\t301\t400\t.\t+\t.\tParent=t1
chrA\tt\tgene\t2101\t2400\t.\t-\t.\tID=g2;Name=MINUS1
chrA\tt\tmRNA\t2101\t2400\t.\t-\t.\tID=t2;Parent=g2
chrA\tt\texon\t2101\t2200\t.\t-\t.\tParent=t2
chrA\tt\texon\t2301\t2400\t.\t-\t.\tParent=t2
chrA\tt\tCDS\t2151\t2200\t.\t-\t0\tParent=t2
chrA\tt\tCDS\t2301\t2350\t.\t-\t0\tParent=t2
"""

# 1-based position -> (region, gene, exon, intron, splice distance, splice site), written by hand.
EXPECTED = {
    50: ("promoter", "PLUS1", ".", ".", None, "."),
    101: ("5'UTR", "PLUS1", "1/3", ".", 50, "donor"),
    125: ("CDS", "PLUS1", "1/3", ".", 26, "donor"),
    148: ("splice_region", "PLUS1", "1/3", ".", 3, "donor"),
    151: ("splice_region", "PLUS1", ".", "1/2", 1, "donor"),
    160: ("intron", "PLUS1", ".", "1/2", 10, "donor"),
    196: ("splice_region", "PLUS1", ".", "1/2", 5, "acceptor"),
    240: ("3'UTR", "PLUS1", "2/3", ".", 21, "donor"),
    390: ("3'UTR", "PLUS1", "3/3", ".", 90, "acceptor"),
    1000: ("intergenic", ".", ".", ".", None, "."),
    2450: ("promoter", "MINUS1", ".", ".", None, "."),
    2380: ("5'UTR", "MINUS1", "1/2", ".", 80, "donor"),
    2302: ("splice_region", "MINUS1", "1/2", ".", 2, "donor"),
    2296: ("splice_region", "MINUS1", ".", "1/1", 5, "donor"),
    2250: ("intron", "MINUS1", ".", "1/1", 50, "acceptor"),
    2199: ("splice_region", "MINUS1", "2/2", ".", 2, "acceptor"),
    2190: ("CDS", "MINUS1", "2/2", ".", 11, "acceptor"),
    2120: ("3'UTR", "MINUS1", "2/2", ".", 81, "acceptor"),
}


def gtf_of(gff3: str) -> str:
    """The same annotation written as GTF (no gene or mRNA lines: GTF names them in every row)."""
    lines = []
    for line in gff3.splitlines():
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if cols[2] in ("exon", "CDS"):
            transcript = cols[8].removeprefix("Parent=")
            gene = {"t1": "PLUS1", "t2": "MINUS1"}[transcript]
            cols[8] = f'gene_id "{gene}.id"; transcript_id "{transcript}"; gene_name "{gene}";'
            lines.append("\t".join(cols))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", ["gff3", "gtf.gz"])
def test_regions_on_both_strands_with_cds_and_utrs_are_read_from_gff3_and_gtf(tmp_path, kind):
    path = tmp_path / f"genes.{kind}"
    if kind == "gff3":
        path.write_text(GFF3)
    else:
        with gzip.open(path, "wt") as handle:
            handle.write(gtf_of(GFF3))
    genes = Genes.load(path)
    for pos1, expected in EXPECTED.items():
        c = genes.context("chrA", pos1 - 1)
        assert (c.region, c.gene, c.exon, c.intron, c.splice_distance, c.splice_site) == expected, pos1
    assert genes.context("A", 124).region == "CDS"  # chrA and A are one contig


CSQ_HEADER = (
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: '
    'Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|HGVSc|HGVSp|DISTANCE|STRAND|PICK">'
)
ANN_HEADER = (
    "##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: 'Allele | Annotation | "
    "Annotation_Impact | Gene_Name | Gene_ID | Feature_Type | Feature_ID | Transcript_BioType | Rank | HGVS.c | "
    "HGVS.p | cDNA.pos / cDNA.length | CDS.pos / CDS.length | AA.pos / AA.length | Distance | ERRORS / WARNINGS / "
    "INFO' \">"
)


def annotated_vcf(tmp_path, header: str, rows: list[str]):
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chrA,length=5000>", header]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    path = tmp_path / "annotated.vcf"
    path.write_text("\n".join(lines + rows) + "\n")
    return path


def contexts_of(vcf, genes=None) -> dict[tuple[str, str], tuple]:
    from genomix.io.variants import split_record

    annotation = GeneAnnotation(genes)
    out = {}
    with pysam.VariantFile(str(vcf)) as handle:
        for index, record in enumerate(handle):
            for v in split_record(record, index):
                c = annotation.context(record, v)
                out[(record.id, v.alt)] = (c.gene, c.transcript, c.region, c.consequence, c.exon, c.intron)
                out[(record.id, v.alt)] += (c.splice_distance, c.splice_site)
    return out


def test_vep_csq_gives_gene_and_consequence_per_allele_and_the_picked_transcript(tmp_path):
    vcf = annotated_vcf(
        tmp_path,
        CSQ_HEADER,
        [
            # two ALTs; VEP lists each allele's transcripts; the second transcript of G is PICKed
            "chrA\t120\tv1\tA\tG,T\t.\t.\tCSQ="
            "G|intron_variant|MODIFIER|GENEX|ENSG1|Transcript|ENST1|protein_coding||4/9|ENST1.1:c.300+12A>G||||,"
            "G|splice_region_variant&intron_variant|LOW|GENEX|ENSG1|Transcript|ENST2|protein_coding||3/8|"
            "ENST2.1:c.250+5A>G|||1|1,"
            "T|missense_variant|MODERATE|GENEY|ENSG2|Transcript|ENST3|protein_coding|2/5||ENST3.1:c.100A>T|p.K34M|||",
            # a deletion: VEP drops the shared first base and writes '-'
            "chrA\t300\tv2\tCA\tC\t.\t.\tCSQ="
            "-|upstream_gene_variant|MODIFIER|GENEZ|ENSG3|Transcript|ENST4|protein_coding||||2400|1|,"
            "-|5_prime_UTR_variant|MODIFIER|GENEW|ENSG4|Transcript|ENST5|protein_coding|1/4||ENST5.1:c.-20del|||1|",
            "chrA\t400\tv3\tG\tA\t.\t.\t.",  # no CSQ: from the genes file
        ],
    )
    genes_path = tmp_path / "g.gff3"
    genes_path.write_text(GFF3)
    found = contexts_of(vcf, Genes.load(genes_path))
    assert found[("v1", "G")] == (
        "GENEX",
        "ENST2",
        "splice_region",
        "splice_region_variant&intron_variant",
        ".",
        "3/8",
        5,
        "donor",
    )
    assert found[("v1", "T")] == ("GENEY", "ENST3", "CDS", "missense_variant", "2/5", ".", None, ".")
    # no PICK: the most telling region (the UTR) wins over an upstream gene 2.4 kb away
    assert found[("v2", "C")] == ("GENEW", "ENST5", "5'UTR", "5_prime_UTR_variant", "1/4", ".", None, ".")
    assert found[("v3", "A")][:3] == ("PLUS1", "t1", "3'UTR")


def test_snpeff_ann_gives_gene_consequence_rank_and_splice_distance(tmp_path):
    vcf = annotated_vcf(
        tmp_path,
        ANN_HEADER,
        [
            "chrA\t500\tv1\tC\tT\t.\t.\tANN="
            "T|splice_acceptor_variant&intron_variant|HIGH|GENEA|GENEA|transcript|NM_1.2|protein_coding|"
            "6/11|c.812-2C>T||||||,"
            "T|upstream_gene_variant|MODIFIER|GENEB|GENEB|transcript|NM_2.1|protein_coding||c.-3000C>T|||||3000|",
            "chrA\t600\tv2\tG\tA,C\t.\t.\tANN="
            "A|synonymous_variant|LOW|GENEC|GENEC|transcript|NM_3.1|protein_coding|2/7|c.45G>A|p.Lys15Lys|||||,"
            "C|upstream_gene_variant|MODIFIER|GENED|GENED|transcript|NM_4.1|protein_coding||c.-400G>C|||||400|",
        ],
    )
    found = contexts_of(vcf)
    assert found[("v1", "T")] == (
        "GENEA",
        "NM_1.2",
        "splice_region",
        "splice_acceptor_variant&intron_variant",
        ".",
        "6/11",
        2,
        "acceptor",
    )
    assert found[("v2", "A")] == ("GENEC", "NM_3.1", "CDS", "synonymous_variant", "2/7", ".", None, ".")
    assert found[("v2", "C")][:3] == ("GENED", "NM_4.1", "promoter")  # upstream by 400 bp: within 1 kb
