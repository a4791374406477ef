"""Gene models for SpliceAI's scores: transcripts with their exons, from SpliceAI's annotation table or
a GFF3/GTF (read by `genomix.io.genes`; one transcript per mRNA/transcript, named by its gene).

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
GFF_SUFFIXES = (".gff", ".gff3", ".gff.gz", ".gff3.gz", ".gtf", ".gtf.gz")


@dataclass(frozen=True)
class SpliceTranscript:
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


class SpliceAnnotation:
    """Transcripts by chromosome, in file order; `overlapping` finds those holding a position."""

    def __init__(self, transcripts: list[SpliceTranscript], source: str = ""):
        if not transcripts:
            raise GenomixError(f"no transcripts in the gene annotation {source}")
        self.transcripts = transcripts
        self.source = source
        self._by_chrom: dict[str, list[SpliceTranscript]] = defaultdict(list)
        for transcript in transcripts:
            self._by_chrom[transcript.chrom].append(transcript)
        self._resolved: dict[str, str | None] = {}

    def overlapping(self, chrom: str, pos: int) -> list[SpliceTranscript]:
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


def _read_table(path: Path) -> list[SpliceTranscript]:
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
                SpliceTranscript(
                    fields[column["#NAME"]],
                    fields[column["CHROM"]],
                    fields[column["STRAND"]],
                    int(fields[column["TX_START"]]),
                    int(fields[column["TX_END"]]),
                    tuple(zip(starts, ends)),
                )
            )
    return transcripts


def _read_gff(path: Path) -> list[SpliceTranscript]:
    """The transcripts of a GFF3 or GTF as `genomix.io.genes` reads them, each named by its gene and
    spanning its own mRNA/transcript line where it has one (SpliceAI pads with N beyond a transcript's
    ends, so its span is read as written, not as its exons')."""
    from genomix.io.genes import read_transcripts

    return [
        SpliceTranscript(t.gene, t.chrom, t.strand, *(t.span or (t.start, t.end)), tuple(t.exons))
        for t in read_transcripts(path)
    ]


def read_splice_genes(path: str | os.PathLike) -> SpliceAnnotation:
    """Transcripts of a GFF3 (by extension) or of SpliceAI's annotation table (any other name)."""
    path = Path(path)
    if not path.exists():
        raise GenomixError(f"gene annotation not found: {path}")
    try:
        read = _read_gff(path) if path.name.lower().endswith(GFF_SUFFIXES) else _read_table(path)
    except (ValueError, KeyError, IndexError) as error:
        raise GenomixError(f"cannot read the gene annotation {path}: {error}") from error
    return SpliceAnnotation(read, str(path))
