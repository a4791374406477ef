"""Variants from VCF/BCF: streamed with pysam, multi-allelics split, every ALT kept with a status.

This is the one place where VCF's 1-based POS becomes genomix's 0-based start.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pysam

from genomix.errors import GenomixError
from genomix.io.genome import Genome, quiet_htslib, resolve_contig
from genomix.sequence import is_dna

log = logging.getLogger("genomix")

REF_CHECK_POLICIES = ("error", "warn", "skip")


@dataclass(frozen=True)
class Variant:
    """One ALT of one VCF record. `pos` is 0-based; `contig` is the FASTA's name for `chrom`."""

    chrom: str
    pos: int
    ref: str
    alt: str
    id: str = "."
    contig: str | None = None
    status: str = "ok"
    record: int = 0
    allele: int = 1

    @property
    def vcf_pos(self) -> int:
        """1-based position as written in the VCF."""
        return self.pos + 1

    @property
    def is_substitution(self) -> bool:
        """SNV or MNV: REF and ALT of equal length."""
        return len(self.ref) == len(self.alt)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def __str__(self) -> str:
        return f"{self.chrom}:{self.vcf_pos} {self.ref}>{self.alt}"


def allele_status(ref: str, alt: str | None) -> str:
    """`ok` or `skipped:<reason>` for one REF/ALT pair, before looking at the reference."""
    if alt is None or alt == ".":
        return "skipped:no_alt"
    if alt == "*":
        return "skipped:spanning_deletion"
    if alt.startswith("<") or "[" in alt or "]" in alt or (len(alt) > 1 and "." in (alt[0], alt[-1])):
        return "skipped:symbolic_allele"
    if not (is_dna(ref.upper()) and is_dna(alt.upper())):
        return "skipped:non_acgtn_allele"
    if ref.upper() == alt.upper():
        return "skipped:alt_equals_ref"
    return "ok"


def is_plain_gzip(path: str | os.PathLike) -> bool:
    """True for a gzip file that is not bgzip (BGZF: gzip blocks whose extra field is tagged `BC`)."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    return head[:2] == b"\x1f\x8b" and not (len(head) == 18 and head[3] & 4 and head[12:14] == b"BC")


def open_vcf(path: str | os.PathLike) -> pysam.VariantFile:
    """Open a VCF/BCF (plain or bgzipped) with a clear error when it cannot be read."""
    if str(path) != "-":
        if not Path(path).exists():
            raise GenomixError(f"VCF not found: {path}")
        if is_plain_gzip(path):
            plain = str(path).removesuffix(".gz")
            raise GenomixError(
                f"{path} is compressed with plain gzip, which cannot be read from the middle; bgzip it: "
                f"`gunzip {path} && bgzip {plain}` (bgzip comes with htslib/samtools)."
            )
    try:
        with quiet_htslib():
            return pysam.VariantFile(str(path))
    except (OSError, ValueError) as error:
        raise GenomixError(
            f"cannot read {path} as VCF/BCF ({error}). Check the file with `bcftools view -h {path}`; "
            "a compressed VCF must be bgzipped (`bgzip file.vcf`)."
        ) from error


def _what_is_wrong(path: str, number: int) -> str:
    """Why data line `number` (1-based) of a text VCF cannot be read, or "" when that cannot be told."""
    try:
        with (gzip.open if str(path).endswith(".gz") else open)(path, "rt", errors="replace") as handle:
            lines = (line for line in handle if not line.startswith("#"))
            line = next(itertools.islice(lines, number - 1, None), None)
    except (OSError, EOFError):
        return ""
    if line is None:
        return ""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) < 8:
        spaces = " (separated by spaces? VCF columns are separated by tabs)" if " " in line.strip() else ""
        return (
            f"it has {len(fields)} tab-separated column{'s' if len(fields) != 1 else ''}{spaces}, and a record "
            "needs 8: CHROM POS ID REF ALT QUAL FILTER INFO (. for an empty one)"
        )
    if not fields[1].isdigit():
        return f"its POS {fields[1]!r} is not a position (a whole number, 1 for the first base)"
    return ""


def _bad_record(vcf: pysam.VariantFile, number: int, last, error, region: str | None) -> GenomixError:
    """The error for the record after `last` (the `number`th read), which htslib could not parse."""
    name = vcf.filename.decode() if isinstance(vcf.filename, bytes) else str(vcf.filename)
    where = f"record {number} of {name}" if region is None else f"a record of {name} in {region}"
    where += f" (after {last.chrom}:{last.pos})" if last is not None else ""
    why = _what_is_wrong(name, number) if region is None and name != "-" and not name.endswith(".bcf") else ""
    return GenomixError(
        f"cannot read {where}: {why or f'htslib cannot parse it ({error})'}. Fix or remove that line; "
        f"`bcftools view {name}` stops at it too."
    )


def iter_records(vcf: pysam.VariantFile, region: str | None = None) -> Iterator[pysam.VariantRecord]:
    """Records of `vcf`, all of them or those in `region` (`chr1:100-200`, 1-based, needs an index).
    A record htslib cannot parse is an error that names it and what is wrong with it."""
    number, last = 0, None
    try:
        with quiet_htslib():
            for last in _records(vcf, region):
                number += 1
                yield last
    except OSError as error:  # htslib's "truncated file" or "unable to parse next record"
        raise _bad_record(vcf, number + 1, last, error, region) from error


def _records(vcf: pysam.VariantFile, region: str | None) -> Iterator[pysam.VariantRecord]:
    if region is None:
        yield from vcf
        return
    name = vcf.filename.decode() if isinstance(vcf.filename, bytes) else str(vcf.filename)
    if vcf.index is None:
        if name.endswith(".bcf"):
            how = f"`bcftools index {name}`"
        elif name.endswith(".gz"):
            how = f"`bcftools index -t {name}`"
        else:
            how = f"`bgzip {name} && bcftools index -t {name}.gz`"
        raise GenomixError(
            f"a region needs an indexed VCF/BCF and {name} has no index; make one with {how}.", option="region"
        )
    contig = region.split(":")[0]
    known = list(vcf.index)
    if contig not in known:
        alias = resolve_contig(contig, known)
        if alias is None:
            raise GenomixError(
                f"the region's contig {contig!r} is not in {name} (it has {', '.join(known[:8])}).", option="region"
            )
        region = alias + region[len(contig) :]
    try:
        yield from vcf.fetch(region=region)
    except ValueError as error:
        raise GenomixError(
            f"cannot read region {region!r} of {name}: {error}. Write it as chr1:100-200.", option="region"
        ) from error


def split_record(record: pysam.VariantRecord, index: int) -> list[Variant]:
    """One Variant per ALT of `record` (a record with ALT `.` gives one skipped Variant). A record
    at POS 0 (a telomere in VCF's terms; htslib reads no smaller POS) is on no base: every ALT of it
    is `skipped:invalid_position`."""
    ref = record.ref.upper()
    alts = record.alts or (None,)
    invalid = record.start < 0
    return [
        Variant(
            chrom=record.chrom,
            pos=record.start,
            ref=ref,
            alt=alt.upper() if alt and not alt.startswith("<") else (alt or "."),
            id=record.id or ".",
            status="skipped:invalid_position" if invalid else allele_status(record.ref, alt),
            record=index,
            allele=number,
        )
        for number, alt in enumerate(alts, start=1)
    ]


class ReferenceCheck:
    """Places variants on the FASTA and applies the REF policy `error|warn|skip`.

    `error` stops at the first mismatching REF or unknown contig; `warn` and `skip`
    mark such variants `skipped:<reason>` (`warn` also logs them).
    """

    def __init__(self, genome: Genome, policy: str = "error"):
        if policy not in REF_CHECK_POLICIES:
            raise GenomixError(
                f"the REF check policy must be one of {', '.join(REF_CHECK_POLICIES)}, not {policy!r}",
                option="ref_check",
            )
        self.genome = genome
        self.policy = policy
        self._contigs: dict[str, str | None] = {}

    def contig(self, chrom: str) -> str | None:
        if chrom not in self._contigs:
            self._contigs[chrom] = resolve_contig(chrom, self.genome.contigs)
        return self._contigs[chrom]

    def apply(self, variants: list[Variant]) -> list[Variant]:
        """The same variants with `contig` set and failing ones skipped (or an error under `error`)."""
        checked, mismatches = [], []
        for variant in variants:
            contig = self.contig(variant.chrom)
            if contig is None:
                if self.policy == "error":
                    shown = ", ".join(self.genome.contigs[:8])
                    raise GenomixError(
                        f"contig {variant.chrom!r} (at {variant}) is not in the FASTA {self.genome.path.name} "
                        f"(it has {shown}{', ...' if len(self.genome.contigs) > 8 else ''}). Use the FASTA of "
                        'the VCF\'s assembly, or pass ref_check="warn" to skip variants on unknown contigs.',
                        option="ref_check",
                    )
                if self.policy == "warn":
                    log.warning("skipping %s: contig not in the FASTA", variant)
                checked.append(variant if not variant.ok else replace(variant, status="skipped:unknown_contig"))
                continue
            variant = replace(variant, contig=contig)
            if variant.ok:
                end = variant.pos + len(variant.ref)
                if end > self.genome.lengths[contig]:
                    variant = replace(variant, status="skipped:past_contig_end")
                else:
                    genome_ref = self.genome.fetch(contig, variant.pos, end)
                    if genome_ref != variant.ref:
                        mismatches.append((variant, genome_ref))
                        variant = replace(variant, status="skipped:ref_mismatch")
            checked.append(variant)
        if mismatches:
            listed = "; ".join(f"{v} (FASTA has {g})" for v, g in mismatches[:5])
            if self.policy == "error":
                raise GenomixError(
                    f"REF does not match the FASTA at {len(mismatches)} record(s): {listed}. "
                    "Check that the VCF and FASTA are the same assembly, normalise with "
                    "`bcftools norm -f FASTA -c w in.vcf.gz -Oz -o fixed.vcf.gz`, "
                    'or pass ref_check="warn" to skip mismatching variants.',
                    option="ref_check",
                )
            if self.policy == "warn":
                log.warning("skipping %d variant(s) whose REF does not match the FASTA: %s", len(mismatches), listed)
        return checked


def iter_variant_chunks(
    vcf: str | os.PathLike,
    genome: Genome,
    region: str | None = None,
    ref_check: str = "error",
    chunk_size: int = 512,
) -> Iterator[tuple[list[tuple[int, pysam.VariantRecord]], list[Variant]]]:
    """Stream `vcf` as chunks of whole records, about `chunk_size` ALTs each (a chunk closes at the
    record that brings it to `chunk_size` ALTs; `plan_chunks` cuts at the same records).

    Yields `(records, variants)`: the records as (index in the input, pysam record) and
    every ALT they hold as a Variant placed on `genome`, with its status.
    """
    check = ReferenceCheck(genome, ref_check)
    with open_vcf(vcf) as handle:
        records, variants = [], []
        for index, record in enumerate(iter_records(handle, region)):
            records.append((index, record))
            variants.extend(split_record(record, index))
            if len(variants) >= chunk_size:
                yield records, check.apply(variants)
                records, variants = [], []
        if records:
            yield records, check.apply(variants)


@dataclass(frozen=True)
class Chunk:
    """Where chunk `number` of a VCF lies: its first record's index in the input, how many records and
    ALTs it has, and the file offset of its first record (`pysam.VariantFile.seek`)."""

    number: int
    first: int
    records: int
    alts: int
    offset: int


def plan_chunks(vcf: str | os.PathLike, region: str | None = None, chunk_size: int = 512) -> Iterator[Chunk]:
    """The chunks `iter_variant_chunks` yields, located without splitting or placing a variant: a cheap
    pass that lets other processes read one chunk each (`read_chunk`)."""
    with open_vcf(vcf) as handle:
        number, first, count, alts, offset = 0, 0, 0, 0, handle.tell()
        for index, record in enumerate(iter_records(handle, region)):
            count, alts = count + 1, alts + len(record.alts or (None,))
            if alts >= chunk_size:
                yield Chunk(number, first, count, alts, offset)
                number, first, count, alts, offset = number + 1, index + 1, 0, 0, handle.tell()
        if count:
            yield Chunk(number, first, count, alts, offset)


def read_chunk(vcf: str | os.PathLike, genome: Genome, chunk: Chunk, region: str | None = None, ref_check="error"):
    """The variants of one planned chunk, as `iter_variant_chunks` gives them. Without a region the
    file is read from the chunk's offset; within a region, the region's records are counted to it."""
    check = ReferenceCheck(genome, ref_check)
    with open_vcf(vcf) as handle:
        if region is None:
            handle.seek(chunk.offset)
            records = iter_records(handle)
        else:
            records = itertools.islice(iter_records(handle, region), chunk.first, None)
        variants = []
        for index, record in zip(range(chunk.first, chunk.first + chunk.records), records):
            variants.extend(split_record(record, index))
    return check.apply(variants)


def read_variants(
    vcf: str | os.PathLike,
    genome: Genome,
    region: str | None = None,
    ref_check: str = "error",
) -> Iterator[Variant]:
    """Stream every ALT of `vcf` as a Variant placed on `genome`, with its status."""
    for _, variants in iter_variant_chunks(vcf, genome, region, ref_check):
        yield from variants
