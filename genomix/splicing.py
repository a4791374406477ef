"""SpliceAI's delta scores, computed as Illumina's `spliceai` CLI computes them (spliceai/utils.py,
`get_delta_scores`, version 1.3.1).

For each ALT and each annotated transcript holding the variant: the reference outside the transcript
is read as N; the ref input is the 10,000 + 2 D + 1 bp around the variant (D = `distance`, default
50), the alt input the same with REF replaced by ALT (so a deletion's input is shorter); both are
reverse-complemented for a minus-strand transcript and the model's outputs turned back. A deletion's
missing outputs are zeros after the ALT base, an insertion's outputs over the ALT are max-pooled into
one. Then, over the 2 D + 1 positions:

- DS_AG = max(alt - ref acceptor), DS_AL = max(ref - alt acceptor), DS_DG, DS_DL the same for donors;
- DP_* = where (bp from the variant, + downstream on the genome) the first maximum lies;
- with `mask`, gains at an annotated exon boundary (the one nearest to the variant) and losses
  elsewhere are set to 0.

Scores are written rounded to 2 decimals, as the CLI writes them. SNVs and indels are scored; an ALT
whose REF and ALT are both longer than 1 bp gets `.` scores (`skipped:mnv_or_complex`), and a REF
longer than 2 D is skipped, as the CLI does. Unlike the CLI, which skips a variant within 5,000 + D
bp of a contig end, genomix reads past the end as N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from genomix.io.genome import Genome
from genomix.io.splice_genes import SpliceAnnotation, SpliceTranscript
from genomix.io.variants import Variant
from genomix.models.spliceai import FLANK
from genomix.sequence import reverse_complement

KINDS = ("AG", "AL", "DG", "DL")
INFO_FORMAT = "ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL"
SPLICE_COLUMNS = [
    "chrom",
    "pos",
    "id",
    "ref",
    "alt",
    "method",
    "score",
    "symbol",
    "strand",
    *[f"ds_{k.lower()}" for k in KINDS],
    *[f"dp_{k.lower()}" for k in KINDS],
    "status",
]
MERGE_GAP = 2 * FLANK
"""Reference outputs of one transcript whose positions lie closer than this are read in one pass
(a pass costs about its length plus 10 kb)."""
LONGEST_PASS = 200_000


@dataclass(frozen=True)
class GeneScore:
    """SpliceAI's scores of one ALT in one transcript: `ds` (AG, AL, DG, DL; rounded to 2 decimals,
    NaN when not scored) and `dp` (bp from the variant; None when not scored)."""

    symbol: str
    strand: str
    ds: tuple[float, float, float, float] = (math.nan,) * 4
    dp: tuple[int, int, int, int] | None = None

    def entry(self, alt: str) -> str:
        """The ALT's entry in the `SpliceAI` INFO field (`ALLELE|SYMBOL|DS_AG|...|DP_DL`)."""
        if self.dp is None:
            return f"{alt}|{self.symbol}|.|.|.|.|.|.|.|."
        return "|".join([alt, self.symbol, *(f"{d:.2f}" for d in self.ds), *(str(p) for p in self.dp)])


@dataclass(frozen=True)
class SpliceScored:
    """One ALT with its scores in each transcript holding it; `score` is the largest DS (NaN if none)."""

    variant: Variant
    genes: tuple[GeneScore, ...] = ()
    method: str = "spliceai"

    @property
    def status(self) -> str:
        return self.variant.status

    @property
    def score(self) -> float:
        scored = [d for gene in self.genes for d in gene.ds if not math.isnan(d)]
        return max(scored) if scored else math.nan


def _masked(genome: Genome, contig: str, transcript: SpliceTranscript, start: int, end: int) -> str:
    """The reference over [start, end) with N outside the transcript (and past the contig's ends)."""
    inner_start, inner_end = max(start, transcript.start), min(end, transcript.end)
    if inner_start >= inner_end:
        return "N" * (end - start)
    return "N" * (inner_start - start) + genome.fetch(contig, inner_start, inner_end) + "N" * (end - inner_end)


def _strand_probabilities(model, seqs: list[str], strands: list[str], batch_size: int) -> list[np.ndarray]:
    """SpliceAI's outputs `[len - 10000, 3]` of forward-strand sequences, read on each one's transcript
    strand and given back in forward order."""
    inputs = [seq if strand == "+" else reverse_complement(seq) for seq, strand in zip(seqs, strands)]
    outputs = model.splice_probabilities(inputs, batch_size)
    return [out if strand == "+" else out[::-1] for out, strand in zip(outputs, strands)]


def _reference_tracks(model, genome, jobs, distance: int, batch_size: int) -> dict:
    """Ref outputs for every (transcript, position) the jobs need, read in passes over runs of nearby
    positions (SpliceAI's output at a base reads exactly the 5,000 bp either side, so a long pass gives
    what a pass per variant would)."""
    wanted: dict[tuple[str, SpliceTranscript], set[int]] = {}
    for variant, transcript in jobs:
        wanted.setdefault((variant.contig, transcript), set()).update(
            range(variant.pos - distance, variant.pos + distance + 1)
        )
    passes = []
    for (contig, transcript), positions in wanted.items():
        ordered = sorted(positions)
        run_start = previous = ordered[0]
        for pos in ordered[1:] + [None]:
            if pos is None or pos - previous > MERGE_GAP or pos - run_start >= LONGEST_PASS:
                passes.append((contig, transcript, run_start, previous + 1))
                run_start = pos
            previous = pos
    seqs = [_masked(genome, c, t, start - FLANK, end + FLANK) for c, t, start, end in passes]
    outputs = _strand_probabilities(model, seqs, [t.strand for _, t, _, _ in passes], batch_size)
    tracks: dict = {}
    for (contig, transcript, start, end), out in zip(passes, outputs):
        for pos in range(start, end):
            tracks[(contig, transcript, pos)] = out[pos - start]
    return tracks


def _alt_outputs(y_alt: np.ndarray, ref_len: int, alt_len: int, distance: int) -> np.ndarray:
    """The alt outputs put on the ref's 2 D + 1 positions, as the CLI does: zeros for deleted bases, the
    max over inserted ones."""
    if ref_len > 1 and alt_len == 1:
        return np.concatenate([y_alt[: distance + 1], np.zeros((ref_len - 1, 3), y_alt.dtype), y_alt[distance + 1 :]])
    if ref_len == 1 and alt_len > 1:
        inserted = y_alt[distance : distance + alt_len].max(axis=0, keepdims=True)
        return np.concatenate([y_alt[:distance], inserted, y_alt[distance + alt_len :]])
    return y_alt


def delta_scores(
    y_ref: np.ndarray, y_alt: np.ndarray, distance: int, boundary: int | None = None, mask: bool = False
) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """DS (AG, AL, DG, DL, rounded to 2 decimals) and DP from the ref and alt outputs `[2 D + 1, 3]`
    (neither, acceptor, donor) on the ref's positions; `boundary`: the nearest annotated exon boundary,
    in bp from the variant, read by `mask`."""
    ds, dp = [], []
    for channel in (1, 2):
        for gain in (True, False):
            change = (y_alt[:, channel] - y_ref[:, channel]) if gain else (y_ref[:, channel] - y_alt[:, channel])
            at = int(change.argmax())
            at_boundary = at - distance == boundary
            masked = mask and (at_boundary if gain else not at_boundary)
            ds.append(float(f"{float(change[at]) * (1 - masked):.2f}"))
            dp.append(at - distance)
    return tuple(ds), tuple(dp)


def splice_scores(
    model,
    genome: Genome,
    variants: list[Variant],
    genes: SpliceAnnotation,
    distance: int = 50,
    mask: bool = False,
    batch_size: int = 8,
) -> list[SpliceScored]:
    """SpliceAI's scores of placed variants (from `read_variants`) in every transcript holding them;
    skipped ones come back with their status."""
    half = FLANK + distance
    results: list[SpliceScored] = []
    jobs = []  # (row, variant, transcript) to score
    for variant in variants:
        transcripts = genes.overlapping(variant.chrom, variant.pos) if variant.ok else []
        status = variant.status
        if variant.ok and not transcripts:
            status = "skipped:outside_genes"
        elif variant.ok and len(variant.ref) > 2 * distance:
            status, transcripts = "skipped:ref_longer_than_2x_distance", []
        elif variant.ok and len(variant.ref) > 1 and len(variant.alt) > 1:
            status = "skipped:mnv_or_complex"
        variant = variant if status == variant.status else replace(variant, status=status)
        results.append(SpliceScored(variant, tuple(GeneScore(t.name, t.strand) for t in transcripts)))
        if variant.ok:
            jobs.extend((len(results) - 1, variant, t) for t in transcripts)
    if not jobs:
        return results
    tracks = _reference_tracks(model, genome, [(v, t) for _, v, t in jobs], distance, batch_size)
    alt_inputs = []
    for _, variant, transcript in jobs:
        ref_input = _masked(genome, variant.contig, transcript, variant.pos - half, variant.pos + half + 1)
        alt_inputs.append(ref_input[:half] + variant.alt + ref_input[half + len(variant.ref) :])
    alt_outputs = _strand_probabilities(model, alt_inputs, [t.strand for _, _, t in jobs], batch_size)
    scored: dict[int, list[GeneScore]] = {}
    for (row, variant, transcript), y_alt in zip(jobs, alt_outputs):
        around = range(variant.pos - distance, variant.pos + distance + 1)
        y_ref = np.stack([tracks[(variant.contig, transcript, p)] for p in around])
        y_alt = _alt_outputs(y_alt, len(variant.ref), len(variant.alt), distance)
        nearest = transcript.boundaries - variant.vcf_pos
        boundary = int(nearest[np.argmin(np.abs(nearest))])
        ds, dp = delta_scores(y_ref, y_alt, distance, boundary, mask)
        scored.setdefault(row, []).append(GeneScore(transcript.name, transcript.strand, ds, dp))
    return [replace(r, genes=tuple(scored[row])) if row in scored else r for row, r in enumerate(results)]


def splice_table(scored: list[SpliceScored]):
    """Table rows: one per ALT and transcript (one with NaN scores for an ALT in none), pos 1-based."""
    import pandas as pd

    rows = []
    for item in scored:
        v = item.variant
        for gene in item.genes or (GeneScore(".", "."),):
            dp = gene.dp if gene.dp is not None and item.status == "ok" else (None,) * 4
            ds = gene.ds if item.status == "ok" else (math.nan,) * 4
            score = max(ds) if item.status == "ok" else math.nan
            rows.append(
                (v.chrom, v.vcf_pos, v.id, v.ref, v.alt, item.method if item.status == "ok" else None, score)
                + (gene.symbol, gene.strand, *ds, *dp, item.status)
            )
    dp_columns = {f"dp_{k.lower()}": "Int64" for k in KINDS}
    types = {"pos": "int64", "score": "float64", "method": "string", **dp_columns}
    return pd.DataFrame(rows, columns=SPLICE_COLUMNS).astype(types)
