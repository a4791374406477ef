"""Reference genome access: pysam FASTA, upper-cased, N-padded past contig ends."""

from __future__ import annotations

import os
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pysam

from genomix.errors import GenomixError

_SEQUENCE_CHARACTERS = frozenset(string.ascii_letters + "-*.")


@contextmanager
def quiet_htslib() -> Iterator[None]:
    """htslib's own messages off (`[E::idx_find_and_load] Could not retrieve index file` for every
    unindexed .gz/.bcf, `[E::fai_retrieve] ...`): genomix reports what went wrong in its own words."""
    before = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(before)


class Genome:
    """A reference FASTA (plain or bgzipped) with its `.fai`, built when missing.

    `fetch` is 0-based half-open and pads with `N` outside the contig, where pysam
    would silently truncate.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise GenomixError(
                f"FASTA not found: {self.path}. Name the reference FASTA the variants were called on.", option="fasta"
            )
        self._ensure_index()
        try:
            self._fasta = pysam.FastaFile(str(self.path))
        except (OSError, ValueError) as error:
            raise GenomixError(
                f"cannot open FASTA {self.path}: {error}. A compressed FASTA must be bgzipped "
                f"(`gunzip -c {self.path.name} | bgzip > ref.fa.gz`), not plain gzip."
            ) from error
        self.lengths = dict(zip(self._fasta.references, self._fasta.lengths))

    def _ensure_index(self) -> None:
        fai = Path(str(self.path) + ".fai")
        if fai.exists():
            return
        if not os.access(self.path.parent, os.W_OK):
            raise GenomixError(
                f"{self.path} has no index ({fai.name}) and its folder is read-only. "
                f"Index it where you can write: `samtools faidx {self.path}`, or copy it to a writable folder."
            )
        try:
            pysam.faidx(str(self.path))
        except pysam.SamtoolsError as error:
            raise GenomixError(
                f"cannot index FASTA {self.path}: {error.value.strip()}. A compressed FASTA must be "
                "bgzipped (`bgzip ref.fa`), not plain gzip."
            ) from error

    @property
    def contigs(self) -> list[str]:
        return list(self.lengths)

    def fetch(self, contig: str, start: int, end: int) -> str:
        """Upper-case sequence of `contig[start:end]` (0-based half-open), N outside the contig. The bases
        are counted: a FASTA changed after it was indexed is an error, never a shifted sequence."""
        length = self.lengths[contig]
        inner_start, inner_end = max(start, 0), min(end, length)
        inner = self._read(contig, inner_start, inner_end).upper() if inner_start < inner_end else ""
        left = max(0, min(end, 0) - start)
        right = max(0, end - max(start, length))
        return "N" * left + inner + "N" * right

    def _read(self, contig: str, start: int, end: int) -> str:
        try:
            with quiet_htslib():
                read = self._fasta.fetch(contig, start, end)
        except (ValueError, OSError):  # htslib could not read the bytes the index points to
            read = ""
        foreign = set(read) - _SEQUENCE_CHARACTERS if not read.isalpha() else set()
        if len(read) != end - start or foreign:
            got = f"{len(read)} came back" if len(read) != end - start else f"it holds {''.join(sorted(foreign))!r}"
            raise GenomixError(
                f"the FASTA {self.path} does not match its index {self.path.name}.fai: {contig}:{start + 1}-{end} "
                f"should be {end - start} bases and {got} (was the FASTA changed after it was indexed?). "
                f"Re-index it with `samtools faidx {self.path}`."
            )
        return read

    def close(self) -> None:
        self._fasta.close()

    def __getstate__(self) -> dict:
        """A genome travels to other processes (Ray's workers) by its path; each opens its own handle."""
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"])

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Genome({str(self.path)!r}, {len(self.lengths)} contigs)"


def resolve_contig(name: str, reference: list[str]) -> str | None:
    """The contig of `reference` that `name` means: itself, or `chr1`<->`1` / `chrM`<->`MT` when unambiguous."""
    if name in reference:
        return name
    bare = name[3:] if name.startswith("chr") else name
    candidates = {f"chr{bare}", bare}
    if bare in ("M", "MT"):
        candidates |= {"chrM", "chrMT", "M", "MT"}
    found = [contig for contig in reference if contig in candidates]
    return found[0] if len(found) == 1 else None
