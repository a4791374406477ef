"""Gene models for SpliceAI's scores: transcripts with their exons, from SpliceAI's annotation table or
a GFF3 (one transcript per mRNA/transcript feature, named by its gene's Name).

SpliceAI's table is tab-separated with the columns `#NAME CHROM STRAND TX_START TX_END EXON_START
EXON_END`: 0-based transcript start, end, and exon starts and ends as comma-terminated lists.
"""

from __future__ import annotations

import gzip
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genomix.errors import GenomixError
from genomix.io.genome import resolve_contig

TABLE_COLUMNS = ("#NAME", "CHROM", "STRAND", "TX_START", "TX_END", "EXON_START", "EXON_END")
GFF_SUFFIXES = (".gff", ".gff3", ".gff.gz", ".gff3.gz")


@dataclass(frozen=True)
class Transcript:
    """A transcript: `start`, `end` 0-based half-open; `exons` `[n, 2]` 0-based half-open, in order."""

    name: str
    chrom: str
    strand: str
    start: int
    end: int
    exons: tuple[tuple[int, int], ...]

    @property
    def boundaries(self) -> np.ndarray:
        """Exon starts and ends as SpliceAI's masking reads them: 1-based first and last exon bases, sorted."""
        return np.union1d([s + 1 for s, _ in self.exons], [e for _, e in self.exons])

    def holds(self, pos: int) -> bool:
        """Whether the 0-based position lies in the transcript."""
        return self.start <= pos < self.end


class GeneAnnotation:
    """Transcripts by chromosome, in file order; `overlapping` finds those holding a position."""

    def __init__(self, transcripts: list[Transcript], source: str = ""):
        if not transcripts:
            raise GenomixError(f"no transcripts in the gene annotation {source}")
        self.transcripts = transcripts
        self.source = source
        self._by_chrom: dict[str, list[Transcript]] = defaultdict(list)
        for transcript in transcripts:
            self._by_chrom[transcript.chrom].append(transcript)
        self._resolved: dict[str, str | None] = {}

    def overlapping(self, chrom: str, pos: int) -> list[Transcript]:
        """Transcripts holding the 0-based `pos` of `chrom` (`chr1` and `1` match when unambiguous)."""
        if chrom not in self._resolved:
            self._resolved[chrom] = resolve_contig(chrom, list(self._by_chrom))
        found = self._resolved[chrom]
        return [] if found is None else [t for t in self._by_chrom[found] if t.holds(pos)]

    def to_table(self, path: str | os.PathLike) -> None:
        """Write SpliceAI's annotation table (the official CLI's `-A` file)."""
        with open(path, "w") as handle:
            handle.write("\t".join(TABLE_COLUMNS) + "\n")
            for t in self.transcripts:
                starts = "".join(f"{s}," for s, _ in t.exons)
                ends = "".join(f"{e}," for _, e in t.exons)
                handle.write(f"{t.name}\t{t.chrom}\t{t.strand}\t{t.start}\t{t.end}\t{starts}\t{ends}\n")


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.name.endswith(".gz") else open(path)


def _attributes(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.strip().split(";") if "=" in part)


def _read_gff3(path: Path) -> list[Transcript]:
    genes: dict[str, str] = {}
    transcripts: dict[str, list] = {}
    exons: dict[str, list[tuple[int, int]]] = defaultdict(list)
    with _open_text(path) as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 9:
                raise GenomixError(f"{path} is not a GFF3: a line has {len(fields)} tab-separated fields, not 9")
            chrom, kind, start, end, strand = fields[0], fields[2], fields[3], fields[4], fields[6]
            attributes = _attributes(fields[8])
            if kind == "gene":
                genes[attributes.get("ID", "")] = attributes.get("Name", attributes.get("ID", "."))
            elif kind in ("mRNA", "transcript"):
                transcripts[attributes["ID"]] = [attributes.get("Parent"), chrom, strand, int(start) - 1, int(end)]
            elif kind == "exon":
                for parent in attributes.get("Parent", "").split(","):
                    exons[parent].append((int(start) - 1, int(end)))
    return [
        Transcript(genes.get(parent, parent or tid), chrom, strand, start, end, tuple(sorted(exons[tid])))
        for tid, (parent, chrom, strand, start, end) in transcripts.items()
        if exons[tid]
    ]


def _read_table(path: Path) -> list[Transcript]:
    with _open_text(path) as handle:
        header = handle.readline().rstrip("\n").split("\t")
        if not set(TABLE_COLUMNS) <= set(header):
            raise GenomixError(
                f"{path} is neither a GFF3 (name it .gff3) nor SpliceAI's annotation table (a header with "
                f"{' '.join(TABLE_COLUMNS)})"
            )
        column = {name: header.index(name) for name in TABLE_COLUMNS}
        transcripts = []
        for line in handle:
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            starts = [int(x) for x in fields[column["EXON_START"]].split(",") if x]
            ends = [int(x) for x in fields[column["EXON_END"]].split(",") if x]
            transcripts.append(
                Transcript(
                    fields[column["#NAME"]],
                    fields[column["CHROM"]],
                    fields[column["STRAND"]],
                    int(fields[column["TX_START"]]),
                    int(fields[column["TX_END"]]),
                    tuple(zip(starts, ends)),
                )
            )
    return transcripts


def read_genes(path: str | os.PathLike) -> GeneAnnotation:
    """Transcripts of a GFF3 (by extension) or of SpliceAI's annotation table (any other name)."""
    path = Path(path)
    if not path.exists():
        raise GenomixError(f"gene annotation not found: {path}")
    try:
        read = _read_gff3(path) if path.name.lower().endswith(GFF_SUFFIXES) else _read_table(path)
    except (ValueError, KeyError, IndexError) as error:
        raise GenomixError(f"cannot read the gene annotation {path}: {error}") from error
    return GeneAnnotation(read, str(path))
