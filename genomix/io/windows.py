"""Reference and alternate windows around a variant (the Evo 2 convention).

A window is `W` bp with the variant's first REF base at offset `W // 2` in both the
ref and the alt window. Indels keep both windows exactly `W` long by taking more
or less genomic sequence after the event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genomix.errors import GenomixError
from genomix.io.genome import Genome
from genomix.io.variants import Variant
from genomix.sequence import reverse_complement


@dataclass(frozen=True)
class Window:
    """Ref and alt sequence of one variant, equal length.

    `ref_span`, `alt_span`: half-open index ranges of the REF allele in `ref` and of the
    ALT allele in `alt`, clipped to the window; on the forward strand both
    start at `W // 2`. `genome_start`: 0-based genome coordinate of the forward `ref[0]`.
    `ref_to_alt[i]`: index in `alt` of the genomic base at `ref[i]`, -1 where it was
    deleted or pushed out of the window; a substituted base maps to its own position.
    On the reverse strand, indices run along the reverse-complemented sequences.
    """

    ref: str
    alt: str
    ref_span: tuple[int, int]
    alt_span: tuple[int, int]
    genome_start: int
    ref_to_alt: np.ndarray
    strand: str = "+"

    def __len__(self) -> int:
        return len(self.ref)

    @property
    def alt_to_ref(self) -> np.ndarray:
        """`alt_to_ref[j]`: index in `ref` of the genomic base at `alt[j]`, -1 for a base the ALT inserted
        (or one pulled into the window from past its end): the inverse of `ref_to_alt`."""
        inverse = np.full(len(self.alt), -1, dtype=np.int64)
        kept = np.nonzero(self.ref_to_alt >= 0)[0]
        inverse[self.ref_to_alt[kept]] = kept
        return inverse

    @property
    def offset(self) -> int:
        """Index of the variant's first REF base in `ref` (W // 2 on the forward strand)."""
        return self.ref_span[0]

    def reverse_complement(self) -> Window:
        """The same window read on the other strand: spans and offset map mirrored."""
        if self.strand == "-":
            raise GenomixError("window is already on the reverse strand")
        length = len(self.ref)
        mirrored = np.full(length, -1, dtype=np.int64)
        kept = np.nonzero(self.ref_to_alt >= 0)[0]
        mirrored[length - 1 - kept] = length - 1 - self.ref_to_alt[kept]
        return Window(
            ref=reverse_complement(self.ref),
            alt=reverse_complement(self.alt),
            ref_span=(length - self.ref_span[1], length - self.ref_span[0]),
            alt_span=(length - self.alt_span[1], length - self.alt_span[0]),
            genome_start=self.genome_start,
            ref_to_alt=mirrored,
            strand="-",
        )


def make_window(genome: Genome, variant: Variant, width: int) -> Window:
    """Ref/alt window of `width` bp for `variant` (placed on `genome`, `variant.contig` set)."""
    if variant.contig is None:
        raise GenomixError(f"{variant} is not placed on the reference; read it with read_variants(..., genome)")
    offset = width // 2
    start = variant.pos - offset
    ref_len, alt_len = len(variant.ref), len(variant.alt)
    after = width - offset - alt_len  # genomic bases needed after the ALT allele
    ref = genome.fetch(variant.contig, start, start + width)
    tail = genome.fetch(variant.contig, variant.pos + ref_len, variant.pos + ref_len + max(after, 0))
    alt = (ref[:offset] + variant.alt + tail)[:width]

    ref_to_alt = np.arange(width, dtype=np.int64)
    shift = alt_len - ref_len
    ref_to_alt[offset + ref_len :] += shift
    # Bases inside the allele are only "the same base" where REF and ALT share a prefix
    # (the VCF anchor base of an indel); the rest of the allele has no counterpart.
    shared = 0
    while shared < min(ref_len, alt_len) and variant.ref[shared] == variant.alt[shared]:
        shared += 1
    if ref_len != alt_len:
        ref_to_alt[offset + shared : offset + ref_len] = -1
    else:
        ref_to_alt[offset : offset + ref_len] = np.arange(offset, offset + ref_len)
    ref_to_alt[ref_to_alt >= width] = -1
    return Window(
        ref=ref,
        alt=alt,
        ref_span=(offset, min(offset + ref_len, width)),
        alt_span=(offset, min(offset + alt_len, width)),
        genome_start=start,
        ref_to_alt=ref_to_alt,
    )


def check_window_fits(variant: Variant, width: int) -> str:
    """`ok`, or a skip status when the alleles do not fit in the half window after `W // 2`."""
    if max(len(variant.ref), len(variant.alt)) > width - width // 2:
        return "skipped:longer_than_window"
    return "ok"
