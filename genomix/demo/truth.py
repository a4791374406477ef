"""Truth sets that do not flatter: fresh in-genome sets and transplanted loci, with their seeds.

- In-genome (`fresh_truth`): `truth_variants(world, seed)` of the demo world drawn with another seed,
  leaving out variants within `margin` bp of a shipped one: the same kinds of sites and variants as
  the shipped set (which the ranking rules were developed on), at other places.
- Transplanted (`transplanted_truth`): one locus per variant, a window of demo background at least
  `CLEARANCE` bp from any planted regulatory element (TF sites, near-misses, enhancers, promoters,
  CpG islands, repeats; gene bodies are everywhere in the demo genome and may be crossed, but no
  element at all lies within `CENTRE_CLEARANCE` bp of the centre), with one site of a planted TF
  (drawn from its matrix as the world draws them) written at its centre; loss SNVs (the most informative consensus base
  becomes the least likely one), loss deletions (1-2 bp from the core), gain SNVs (a near-miss
  made whole), and neutral SNVs and 1-2 bp indels (in loci with a site 60-150 bp away, or none).
  Each locus is its own contig of a FASTA written beside the VCF; `TRUTH_HELD_OUT` marks loci whose
  background comes from the held-out contig.

Seeds: the rules were chosen while looking at the shipped set and the development seeds; the final
seeds are measured once, with the rules frozen (a rule changed after looking at a final set makes
it a development set).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genomix.demo.world import (
    CTCF_MOTIF,
    ENHANCER_MOTIFS,
    HELD_OUT,
    SEED,
    World,
    build_world,
    near_miss,
    sample_site,
    truth_variants,
    write_truth_vcf,
)
from genomix.sequence import ALPHABET, reverse_complement

DEVELOPMENT_SEEDS = {"in_genome": (7, 11, 13), "transplanted": (1, 2, 3)}
FINAL_SEEDS = {"in_genome": (101, 102, 103), "transplanted": (201, 202, 203)}
LOCUS = 1000  # bp of each transplanted locus; its site (or variant) sits at the centre
CLEARANCE = 200  # bp between a transplanted locus and any planted regulatory element of the demo world
CENTRE_CLEARANCE = 50  # bp between a locus' centre and any element (splice signals, exons) of the demo world
REGULATORY = (
    "motif",
    "near_miss",
    "ctcf_site",
    "tata_box",
    "inr",
    "cpg_island",
    "promoter",
    "enhancer",
    "simple_repeat",
)


def fresh_truth(seed: int, folder: Path, margin: int = 50, world: World | None = None) -> Path:
    """A truth VCF drawn with `seed` from the demo world, without variants within `margin` bp of the
    shipped ones; written as `folder/truth.vcf.gz`."""
    from genomix.demo.evaluate import read_truth
    from genomix.paths import demo_variants

    shipped = read_truth(demo_variants())
    world = world or build_world(SEED)
    near = {c: g.pos.to_numpy() - 1 for c, g in shipped.groupby("chrom")}
    kept = [
        v for v in truth_variants(world, seed) if np.abs(near.get(v.chrom, np.array([10**12])) - v.pos).min() > margin
    ]
    folder.mkdir(parents=True, exist_ok=True)
    write_truth_vcf(world, kept, folder / "truth.vcf.gz")
    return folder / "truth.vcf.gz"


@dataclass(frozen=True)
class Locus:
    """One transplanted locus: its sequence, where its background came from, and its variant
    (0-based `pos` in the locus; ref/alt as in a VCF, indels with their anchor base)."""

    name: str
    seq: str
    source: str
    pos: int
    ref: str
    alt: str
    truth_class: str
    tf_name: str = "."
    motif_id: str = "."


def _backgrounds(world: World, rng: np.random.Generator, n: int, held_out_share: float) -> list[tuple[str, str]]:
    """`n` background windows of LOCUS bp at least CLEARANCE bp from any regulatory element and with no
    element within CENTRE_CLEARANCE bp of their centre: (contig, sequence)."""
    busy = {c: np.zeros(len(s) + 1, dtype=bool) for c, s in world.contigs.items()}
    near = {c: np.zeros(len(s) + 1, dtype=bool) for c, s in world.contigs.items()}
    for e in world.elements:
        if e.kind in REGULATORY:
            busy[e.chrom][max(0, e.start - CLEARANCE) : e.end + CLEARANCE] = True
        if e.kind not in ("gene", "intron", "exon"):
            near[e.chrom][e.start : e.end] = True
    taken = {c: np.concatenate([[0], np.cumsum(b)]) for c, b in busy.items()}  # prefix sums of busy bases
    training = [c for c in world.contigs if c != HELD_OUT]
    found = []
    for _ in range(10_000 * n):
        if len(found) == n:
            return found
        contig = HELD_OUT if rng.random() < held_out_share else training[int(rng.integers(len(training)))]
        start = int(rng.integers(0, len(world.contigs[contig]) - LOCUS))
        centre = start + LOCUS // 2
        if (
            taken[contig][start + LOCUS] == taken[contig][start]
            and not near[contig][centre - CENTRE_CLEARANCE : centre + CENTRE_CLEARANCE].any()
        ):
            found.append((contig, world.contigs[contig][start : start + LOCUS]))
    raise ValueError(f"found only {len(found)} of {n} background windows away from the demo's elements")


def _informative(motif, site: str, strand: str, want_consensus: bool = True) -> tuple[int, str, str]:
    """Offset in the written site (forward strand of the locus) of the most informative column whose
    base is (or, with `want_consensus=False`, is not) the consensus, with the consensus and the least
    likely base there."""
    length = len(site)
    for column in np.argsort(-motif.information):
        offset = int(column) if strand == "+" else length - 1 - int(column)
        best, worst = ALPHABET[int(motif.ppm[column].argmax())], ALPHABET[int(motif.ppm[column].argmin())]
        if strand == "-":
            best, worst = reverse_complement(best), reverse_complement(worst)
        if (site[offset] == best) == want_consensus:
            return offset, best, worst
    raise ValueError("no such column")


def transplanted_loci(
    world: World,
    seed: int,
    per_tf: tuple[int, int, int] = (3, 1, 1),
    neutral_snvs: int = 100,
    neutral_indels: int = 20,
    held_out_share: float = 0.4,
) -> list[Locus]:
    """Loci for every planted TF (`per_tf`: loss SNVs, loss deletions, gain SNVs; CTCF gets no gain)
    and neutral ones (see the module docstring), drawn with `seed`."""
    rng = np.random.default_rng([seed, 17])
    motif_ids = ENHANCER_MOTIFS + [CTCF_MOTIF]
    plan = [
        (m, kind)
        for m in motif_ids
        for kind, n in zip(("loss", "deletion", "gain"), per_tf)
        for _ in range(n)
        if not (kind == "gain" and m == CTCF_MOTIF)
    ]
    plan += [(None, "neutral_snv")] * neutral_snvs + [(None, "neutral_indel")] * neutral_indels
    backgrounds = _backgrounds(world, rng, len(plan), held_out_share)
    loci = []
    for number, ((motif_id, kind), (source, background)) in enumerate(zip(plan, backgrounds), start=1):
        name = f"tp{number:04d}"
        seq, centre = list(background), LOCUS // 2
        if motif_id is not None:
            motif = world.motifs[motif_id]
            strand = "+" if rng.random() < 0.5 else "-"
            if kind == "gain":
                site, _, _ = near_miss(motif, rng)
            else:
                site = sample_site(motif, rng)
            site = site if strand == "+" else reverse_complement(site)
            start = centre - len(site) // 2
            seq[start : start + len(site)] = list(site)
            offset, best, worst = _informative(motif, site, strand, want_consensus=kind != "gain")
            pos = start + offset
            text = "".join(seq)
            if kind == "loss":
                ref, alt, truth = best, worst, "loss"
            elif kind == "gain":
                ref, alt, truth = text[pos], best, "gain"
            else:  # a deletion of 1-2 core bases, anchored on the base before them
                size = int(rng.integers(1, 3))
                pos -= 1
                ref, alt, truth = text[pos : pos + size + 1], text[pos], "loss"
            loci.append(Locus(name, text, source, pos, ref, alt, truth, motif.tf_name, motif_id))
            continue
        if rng.random() < 0.5:  # a site of some TF 60-150 bp from the neutral variant
            motif = world.motifs[motif_ids[int(rng.integers(len(motif_ids)))]]
            site = sample_site(motif, rng)
            start = centre + int(rng.choice([-1, 1])) * int(rng.integers(60, 151)) - len(site) // 2
            seq[start : start + len(site)] = list(site)
        text, pos = "".join(seq), centre
        if kind == "neutral_snv":
            ref = text[pos]
            alt = str(rng.choice([b for b in ALPHABET if b != ref]))
        elif rng.random() < 0.5:
            size = int(rng.integers(1, 3))
            ref, alt = text[pos : pos + size + 1], text[pos]
        else:
            ref = text[pos]
            alt = ref + "".join(rng.choice(list(ALPHABET), size=int(rng.integers(1, 3))))
        loci.append(Locus(name, text, source, pos, ref, alt, "neutral"))
    return loci


def transplanted_truth(seed: int, folder: Path, world: World | None = None, **options) -> tuple[Path, Path]:
    """Write the transplanted loci of `seed` (`transplanted_loci`) as `folder/loci.fa` (one contig per
    locus) and `folder/truth.vcf.gz` (TRUTH_* INFO fields as in the demo truth set, and
    TRUTH_HELD_OUT); returns (FASTA, VCF)."""
    import pysam

    world = world or build_world(SEED)
    loci = transplanted_loci(world, seed, **options)
    folder.mkdir(parents=True, exist_ok=True)
    fasta, plain = folder / "loci.fa", folder / "truth.vcf"
    with open(fasta, "w") as out:
        for locus in loci:
            out.write(f">{locus.name}\n" + "\n".join(locus.seq[i : i + 60] for i in range(0, LOCUS, 60)) + "\n")
    with open(plain, "w") as out:
        out.write("##fileformat=VCFv4.2\n##source=genomix transplanted truth loci\n")
        out.writelines(f"##contig=<ID={locus.name},length={LOCUS}>\n" for locus in loci)
        out.write('##INFO=<ID=TRUTH_CLASS,Number=1,Type=String,Description="loss, gain or neutral">\n')
        out.write(
            '##INFO=<ID=TRUTH_TF,Number=1,Type=String,Description="TF whose transplanted site the variant hits">\n'
        )
        out.write('##INFO=<ID=TRUTH_ID,Number=1,Type=String,Description="JASPAR matrix id of that site">\n')
        out.write('##INFO=<ID=TRUTH_ELEMENT,Number=1,Type=String,Description="Kind of planted element hit">\n')
        out.write('##INFO=<ID=TRUTH_HELD_OUT,Number=0,Type=Flag,Description="Background from the held-out contig">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for number, locus in enumerate(loci, start=1):
            info = f"TRUTH_CLASS={locus.truth_class}"
            if locus.tf_name != ".":
                info += f";TRUTH_TF={locus.tf_name};TRUTH_ID={locus.motif_id};TRUTH_ELEMENT=transplant"
            info += ";TRUTH_HELD_OUT" if locus.source == HELD_OUT else ""
            out.write(f"{locus.name}\t{locus.pos + 1}\ttp{number:04d}\t{locus.ref}\t{locus.alt}\t.\tPASS\t{info}\n")
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return fasta, folder / "truth.vcf.gz"
