"""The starter files: a small random genome and a variant file with every awkward case.

Multi-allelic records, an MNV, an insertion, a deletion, a symbolic allele, a spanning
deletion, and SNVs at the first and last base of a contig; the tests and the scoring
notebook run on them.

    genomix demo starter [--data data] [--variants variants]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam

from genomix.sequence import ALPHABET

SEED = 7
CONTIGS = {"chr1": 20_000, "chr2": 8_000}


def build_genome(path: Path, seed: int = SEED) -> dict[str, str]:
    """Write a bgzipped FASTA (with .fai/.gzi) of uniform random contigs; returns the sequences."""
    rng = np.random.default_rng(seed)
    contigs = {name: "".join(rng.choice(list(ALPHABET), size=length)) for name, length in CONTIGS.items()}
    plain = path.with_suffix("")
    with open(plain, "w") as handle:
        for name, seq in contigs.items():
            handle.write(f">{name}\n")
            for start in range(0, len(seq), 60):
                handle.write(seq[start : start + 60] + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.faidx(str(path))
    return contigs


def build_variants(path: Path, contigs: dict[str, str], seed: int = SEED) -> None:
    """Write a bgzipped, indexed VCF covering the cases genomix must handle, REF from the genome."""
    rng = np.random.default_rng(seed + 1)
    chrom1, chrom2 = contigs["chr1"], contigs["chr2"]
    rows = []

    def other(base: str) -> str:
        return str(rng.choice([b for b in ALPHABET if b != base]))

    for pos in sorted(rng.choice(np.arange(2_000, 18_000), size=24, replace=False)):
        ref = chrom1[pos]
        rows.append(("chr1", pos, f"snv{pos + 1}", ref, other(ref), "CLASS=snv"))
    rows += [
        (
            "chr1",
            1_000,
            "multi",
            chrom1[1_000],
            ",".join(b for b in ALPHABET if b != chrom1[1_000]),
            "CLASS=multiallelic",
        ),
        ("chr1", 3_000, "mnv", chrom1[3_000:3_002], other(chrom1[3_000]) + other(chrom1[3_001]), "CLASS=mnv"),
        ("chr1", 5_000, "ins", chrom1[5_000], chrom1[5_000] + "GATTACA", "CLASS=insertion"),
        ("chr1", 7_000, "del", chrom1[7_000:7_006], chrom1[7_000], "CLASS=deletion"),
        ("chr1", 9_000, "sv", chrom1[9_000], "<DEL>", "CLASS=symbolic;SVTYPE=DEL;SVLEN=-500"),
        ("chr1", 11_000, "star", chrom1[11_000], "*," + other(chrom1[11_000]), "CLASS=spanning"),
        ("chr2", 0, "first_base", chrom2[0], other(chrom2[0]), "CLASS=contig_start"),
        ("chr2", len(chrom2) - 1, "last_base", chrom2[-1], other(chrom2[-1]), "CLASS=contig_end"),
    ]
    rows.sort(key=lambda row: (row[0], row[1]))
    plain = path.with_suffix("")
    with open(plain, "w") as handle:
        handle.write("##fileformat=VCFv4.2\n")
        for name, seq in contigs.items():
            handle.write(f"##contig=<ID={name},length={len(seq)}>\n")
        handle.write('##INFO=<ID=CLASS,Number=1,Type=String,Description="What the record exercises">\n')
        handle.write('##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Structural variant type">\n')
        handle.write('##INFO=<ID=SVLEN,Number=1,Type=Integer,Description="Structural variant length">\n')
        handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for chrom, pos, name, ref, alt, info in rows:
            handle.write(f"{chrom}\t{pos + 1}\t{name}\t{ref}\t{alt}\t.\tPASS\t{info}\n")
    pysam.tabix_index(str(plain), preset="vcf", force=True)


def build_starter(data: Path, variants: Path) -> list[Path]:
    """Write `data/starter/genome.fa.gz` and `variants/starter.vcf.gz`; returns their paths."""
    starter = data / "starter"
    starter.mkdir(parents=True, exist_ok=True)
    variants.mkdir(parents=True, exist_ok=True)
    contigs = build_genome(starter / "genome.fa.gz")
    build_variants(variants / "starter.vcf.gz", contigs)
    return [starter / "genome.fa.gz", variants / "starter.vcf.gz"]
