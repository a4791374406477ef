"""The demo world: a synthetic genome planted with real JASPAR motifs, its annotations, and a truth variant set.

Everything follows from one seed. The background is a third-order Markov chain with
human-like composition (GC about 41 %, CpG at about a quarter of its expected rate);
on it sit enhancers (clusters of JASPAR2024 CORE vertebrate sites with a grammar of
co-occurring pairs at preferred spacings), promoters (CpG island, TATA box, Inr),
genes (coding-like exons, introns, donor GT, branch point, polypyrimidine tract, acceptor AG),
CTCF sites in tandem clusters of two to four, and simple repeats. The world is regulatory-rich on purpose: planted
motif instances cover at least 15 % of positions, so a small model can learn them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genomix.motifs.jaspar import Motif, load_jaspar
from genomix.sequence import ALPHABET, reverse_complement

SEED = 2024
CONTIGS = {"chr1": 900_000, "chr2": 700_000, "chr3": 500_000}
HELD_OUT = "chr3"

# Enhancer TFs, one per TF family, pinned to JASPAR2024 CORE vertebrate matrices.
ENHANCER_MOTIFS = [
    "MA0035.5",  # GATA1
    "MA0466.4",  # CEBPB
    "MA0047.4",  # FOXA2
    "MA0114.5",  # HNF4A
    "MA0046.3",  # HNF1A
    "MA0143.5",  # SOX2
    "MA0107.1",  # RELA
    "MA0106.3",  # TP53
    "MA0093.4",  # USF1
    "MA0018.5",  # CREB1
    "MA0079.5",  # SP1
    "MA0138.3",  # REST
    "MA0144.3",  # STAT3
    "MA0090.4",  # TEAD1
    "MA0052.5",  # MEF2A
    "MA0113.4",  # NR3C1
    "MA0523.2",  # TCF7L2
    "MA0024.3",  # E2F1
    "MA0099.4",  # FOS::JUN
    "MA0014.4",  # PAX5
    "MA0154.5",  # EBF1
    "MA0060.4",  # NFYA
    "MA0509.3",  # RFX1
    "MA0083.3",  # SRF
    "MA0003.5",  # TFAP2A
    "MA1105.3",  # GRHL2
]
CTCF_MOTIF = "MA0139.2"
TBP_MOTIF = "MA0108.3"
SHARPEN = 2.0  # sites are drawn from PPM ** SHARPEN: close to consensus, so a small model can learn them
# Exon bases by codon position (A C G T): G-rich first and GC-rich third positions, as in coding
# sequence, so exons differ from the introns and intergenic background around them (GC about 58 %).
CODON_COMPOSITION = np.array([[0.27, 0.20, 0.38, 0.15], [0.32, 0.23, 0.17, 0.28], [0.12, 0.38, 0.38, 0.12]])


@dataclass(frozen=True)
class Element:
    """One planted element, 0-based half-open on the forward strand."""

    chrom: str
    start: int
    end: int
    kind: str  # motif, near_miss, ctcf_site, tata_box, inr, cpg_island, promoter, exon, intron, ...
    strand: str = "."
    tf_name: str = "."
    motif_id: str = "."
    gene: str = "."


@dataclass
class World:
    """The genome, what was planted in it, and the motifs used."""

    contigs: dict[str, str]
    elements: list[Element]
    motifs: dict[str, Motif]
    pairs: list[tuple[str, str, int]] = field(default_factory=list)

    def motif_coverage(self) -> float:
        """Fraction of genome positions inside planted motif instances (enhancer, CTCF, promoter sites)."""
        covered = 0
        for chrom, length in ((c, len(s)) for c, s in self.contigs.items()):
            mask = np.zeros(length, dtype=bool)
            for e in self.elements:
                if e.chrom == chrom and e.kind in ("motif", "ctcf_site", "tata_box"):
                    mask[e.start : e.end] = True
            covered += int(mask.sum())
        return covered / sum(len(s) for s in self.contigs.values())


def markov_background(length: int, rng: np.random.Generator, order: int = 3) -> str:
    """Bases from a third-order Markov chain: GC about 41 %, CpG depleted to about a quarter."""
    base_freq = np.array([0.278, 0.222, 0.222, 0.278])  # A C G T
    n_contexts = 4**order
    transitions = np.empty((n_contexts, 4))
    texture = np.exp(rng.normal(0, 0.25, size=(n_contexts, 4)))  # context-specific preferences
    for context in range(n_contexts):
        p = base_freq * texture[context]
        if context % 4 == 1:  # previous base C: G after C is depleted
            p[2] *= 0.17
        transitions[context] = p / p.sum()
    cumulative = np.cumsum(transitions, axis=1)
    draws = rng.random(length)
    codes = np.empty(length, dtype=np.int64)
    context, mask = 0, n_contexts - 1
    for i in range(length):
        base = int(np.searchsorted(cumulative[context], draws[i]))
        base = min(base, 3)
        codes[i] = base
        context = ((context << 2) | base) & mask
    return "".join(np.array(list(ALPHABET))[codes])


def coding_sequence(length: int, rng: np.random.Generator) -> str:
    """Bases drawn independently from `CODON_COMPOSITION`, position by position in frame."""
    cumulative = np.cumsum(CODON_COMPOSITION, axis=1)[np.arange(length) % 3]
    codes = np.minimum((rng.random(length)[:, None] > cumulative).sum(axis=1), 3)
    return "".join(np.array(list(ALPHABET))[codes])


def sample_site(motif: Motif, rng: np.random.Generator) -> str:
    """A site drawn column by column from the sharpened PPM (forward strand of the motif)."""
    sharp = motif.ppm**SHARPEN
    sharp /= sharp.sum(axis=1, keepdims=True)
    return "".join(ALPHABET[rng.choice(4, p=column)] for column in sharp)


def near_miss(motif: Motif, rng: np.random.Generator) -> tuple[str, int, str]:
    """A consensus-like site with its most informative position broken: (site, position, consensus base)."""
    site = list(sample_site(motif, rng))
    position = int(np.argmax(motif.information))
    consensus = ALPHABET[int(motif.ppm[position].argmax())]
    site[position] = ALPHABET[int(motif.ppm[position].argmin())]
    return "".join(site), position, consensus


class _Builder:
    """Writes elements into a mutable contig sequence and records them."""

    def __init__(self, chrom: str, background: str, rng: np.random.Generator, world: World):
        self.chrom = chrom
        self.seq = list(background)
        self.rng = rng
        self.world = world

    def put(self, start: int, bases: str, kind: str | None, **labels) -> int:
        """Write `bases` at `start`; record them as an element of `kind` unless it is None."""
        self.seq[start : start + len(bases)] = list(bases)
        if kind is not None:
            self.world.elements.append(Element(self.chrom, start, start + len(bases), kind, **labels))
        return start + len(bases)

    def site(self, start: int, motif: Motif, kind: str = "motif") -> int:
        bases = sample_site(motif, self.rng)
        strand = "+" if self.rng.random() < 0.5 else "-"
        if strand == "-":
            bases = reverse_complement(bases)
        return self.put(start, bases, kind, strand=strand, tf_name=motif.tf_name, motif_id=motif.matrix_id)

    def enhancer(self, start: int, motifs: list[Motif]) -> int:
        rng, world = self.rng, self.world
        first = cursor = start
        for _ in range(int(rng.integers(8, 17))):
            cursor += int(rng.integers(2, 12))
            if world.pairs and rng.random() < 0.4:  # grammar: a co-occurring pair at its preferred spacing
                a, b, spacing = world.pairs[int(rng.integers(len(world.pairs)))]
                cursor = self.site(cursor, world.motifs[a])
                cursor = self.site(cursor + spacing + int(rng.integers(-1, 2)), world.motifs[b])
            elif rng.random() < 0.04:  # a near-miss: the raw material of gain-of-function variants
                motif = motifs[int(rng.integers(len(motifs)))]
                bases, position, _ = near_miss(motif, rng)
                strand = "+" if rng.random() < 0.5 else "-"
                if strand == "-":
                    bases = reverse_complement(bases)
                cursor = self.put(
                    cursor, bases, "near_miss", strand=strand, tf_name=motif.tf_name, motif_id=motif.matrix_id
                )
            else:
                cursor = self.site(cursor, motifs[int(rng.integers(len(motifs)))])
        self.world.elements.append(Element(self.chrom, first, cursor, "enhancer"))
        return cursor

    def gene(self, start: int, name: str) -> int:
        """Promoter (CpG island with TATA box and Inr) followed by exons and introns, forward strand."""
        rng, world = self.rng, self.world
        island_len = int(rng.integers(400, 700))
        gc_rich = "".join(rng.choice(list(ALPHABET), p=[0.17, 0.33, 0.33, 0.17], size=island_len))
        self.put(start, gc_rich, "cpg_island")
        for offset in rng.choice(np.arange(20, island_len - 120), size=3, replace=False):
            self.site(start + int(offset), world.motifs[["MA0079.5", "MA0060.4", "MA0079.5"][0 if offset % 2 else 1]])
        tss = start + island_len - 40
        self.site(tss - 31, world.motifs[TBP_MOTIF], kind="tata_box")
        self.put(tss - 2, "TCAGTT", "inr")
        world.elements.append(Element(self.chrom, start, tss, "promoter", strand="+", gene=name))
        cursor = tss + 4
        gene_start = tss
        n_exons = int(rng.integers(4, 10))
        for exon in range(n_exons):
            exon_len = int(rng.integers(80, 220))
            exon_start = cursor
            body = coding_sequence(exon_len, rng)
            if exon > 0:  # acceptor: ...AG | exon starts G
                body = "G" + body[1:]
            if exon < n_exons - 1:  # donor: exon ends ...AG | intron starts GTAAGT
                body = body[:-2] + "AG"
            cursor = self.put(exon_start, body, None)
            world.elements.append(Element(self.chrom, exon_start, cursor, "exon", strand="+", gene=name))
            if exon == n_exons - 1:
                break
            intron_start = cursor
            self.put(cursor, "GT" + ("A" if rng.random() < 0.7 else "G") + "AGT", "splice_donor", strand="+", gene=name)
            intron_len = int(rng.integers(250, 700))
            intron_end = intron_start + intron_len
            # acceptor: branch point, polypyrimidine tract, then AG (the next exon starts with G)
            tract = "".join(rng.choice(["C", "T"], size=16))
            self.put(intron_end - 28, "CTAAC", "branch_point", strand="+", gene=name)
            self.put(intron_end - 18, tract, "polypyrimidine_tract", strand="+", gene=name)
            self.put(intron_end - 2, "AG", "splice_acceptor", strand="+", gene=name)
            world.elements.append(Element(self.chrom, intron_start, intron_end, "intron", strand="+", gene=name))
            cursor = intron_end
        world.elements.append(Element(self.chrom, gene_start, cursor, "gene", strand="+", gene=name))
        return cursor

    def repeat(self, start: int) -> int:
        unit = ["CA", "A", "TTAGGG", "GGAA", "AT"][int(self.rng.integers(5))]
        copies = int(self.rng.integers(20, 40)) // len(unit) + 3
        return self.put(start, unit * copies, "simple_repeat")


def build_demo(
    data: Path,
    variants: Path,
    steps: int = 4800,
    seed: int = SEED,
    contigs: dict[str, int] | None = None,
    sae_plan=None,
) -> World:
    """Build the whole demo world into `data` (genome, annotations, model/, sae/) and `variants/demo.vcf.gz`.

    `sae_plan` replaces the demo SAE's training plan (a tiny world trains a tiny SAE, names its features on
    16 windows and leaves explain's nulls to be drawn when first needed)."""
    from genomix.demo.sae import DEMO_SAE_PLAN, build_demo_atlas, train_demo_sae
    from genomix.demo.train import train_demo_model

    world = build_world(seed, contigs)
    write_world(world, data)
    variants.mkdir(parents=True, exist_ok=True)
    write_truth_vcf(world, truth_variants(world, seed), variants / "demo.vcf.gz")
    train_demo_model(data / "genome.fa.gz", data / "model", HELD_OUT, steps=steps)
    train_demo_sae(data, HELD_OUT, sae_plan or DEMO_SAE_PLAN)
    build_demo_atlas(data, HELD_OUT, **({} if sae_plan is None else {"windows": 16, "nulls": False}))
    return world


def build_world(seed: int = SEED, contigs: dict[str, int] | None = None) -> World:
    """Build the demo genome and its annotations from `seed` (deterministic)."""
    rng = np.random.default_rng(seed)
    contigs = contigs or CONTIGS
    motifs = {m.matrix_id: m for m in load_jaspar() if m.matrix_id in set(ENHANCER_MOTIFS + [CTCF_MOTIF, TBP_MOTIF])}
    missing = set(ENHANCER_MOTIFS + [CTCF_MOTIF, TBP_MOTIF]) - set(motifs)
    if missing:
        raise RuntimeError(f"JASPAR matrices missing from pyjaspar's database: {sorted(missing)}")
    world = World({}, [], motifs)
    # Grammar: consecutive TFs of the list co-occur, each pair with a preferred spacing.
    world.pairs = [
        (ENHANCER_MOTIFS[i], ENHANCER_MOTIFS[i + 1], int(rng.integers(3, 11)))
        for i in range(0, len(ENHANCER_MOTIFS) - 1, 2)
    ]
    enhancer_motifs = [motifs[i] for i in ENHANCER_MOTIFS]
    gene_number = 0
    for chrom, length in contigs.items():
        builder = _Builder(chrom, markov_background(length, rng), rng, world)
        cursor = 300
        while True:
            cursor += int(rng.integers(40, 260))
            room = length - 300 - cursor
            choice = rng.random()
            if choice < 0.10 and room > 12_000:
                gene_number += 1
                cursor = builder.gene(cursor, f"GENE{gene_number:03d}")
            elif choice < 0.80 and room > 500:
                cursor = builder.enhancer(cursor, enhancer_motifs)
            elif choice < 0.92 and room > 300:  # CTCF sites cluster at insulators: two to four in tandem
                cursor = builder.site(cursor, motifs[CTCF_MOTIF], kind="ctcf_site")
                for _ in range(int(rng.integers(1, 4))):
                    cursor = builder.site(cursor + int(rng.integers(20, 60)), motifs[CTCF_MOTIF], kind="ctcf_site")
            elif room > 60:
                cursor = builder.repeat(cursor)
            else:
                break
        world.contigs[chrom] = "".join(builder.seq)
    world.elements.sort(key=lambda e: (list(contigs).index(e.chrom), e.start, e.end))
    return world


def write_world(world: World, folder: Path) -> None:
    """Write genome.fa.gz (+ .fai/.gzi), annotations.bed, genes.gff3 and motifs.tsv into `folder`."""
    import pysam

    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / "genome.fa"
    with open(plain, "w") as handle:
        for chrom, seq in world.contigs.items():
            handle.write(f">{chrom}\n")
            for start in range(0, len(seq), 80):
                handle.write(seq[start : start + 80] + "\n")
    pysam.tabix_compress(str(plain), str(folder / "genome.fa.gz"), force=True)
    plain.unlink()
    pysam.faidx(str(folder / "genome.fa.gz"))

    with open(folder / "annotations.bed", "w") as handle:
        handle.write("#chrom\tstart\tend\tname\tscore\tstrand\tkind\ttf_name\tmotif_id\tgene\n")
        for e in world.elements:
            name = e.tf_name if e.tf_name != "." else e.kind
            handle.write(
                f"{e.chrom}\t{e.start}\t{e.end}\t{name}\t0\t{e.strand}\t{e.kind}\t{e.tf_name}\t{e.motif_id}\t{e.gene}\n"
            )

    with open(folder / "genes.gff3", "w") as handle:
        handle.write("##gff-version 3\n")
        for chrom, seq in world.contigs.items():
            handle.write(f"##sequence-region {chrom} 1 {len(seq)}\n")
        exon_counts: dict[str, int] = {}
        for e in world.elements:
            if e.kind == "gene":
                handle.write(f"{e.chrom}\tgenomix\tgene\t{e.start + 1}\t{e.end}\t.\t+\t.\tID={e.gene};Name={e.gene}\n")
                handle.write(
                    f"{e.chrom}\tgenomix\tmRNA\t{e.start + 1}\t{e.end}\t.\t+\t.\tID={e.gene}.t1;Parent={e.gene}\n"
                )
            elif e.kind in ("exon", "intron"):
                exon_counts[e.gene + e.kind] = exon_counts.get(e.gene + e.kind, 0) + 1
                number = exon_counts[e.gene + e.kind]
                handle.write(
                    f"{e.chrom}\tgenomix\t{e.kind}\t{e.start + 1}\t{e.end}\t.\t+\t.\t"
                    f"ID={e.gene}.{e.kind}{number};Parent={e.gene}.t1\n"
                )

    counts: dict[str, int] = {}
    for e in world.elements:
        if e.motif_id != "." and e.kind != "near_miss":
            counts[e.motif_id] = counts.get(e.motif_id, 0) + 1
    with open(folder / "motifs.tsv", "w") as handle:
        handle.write("motif_id\ttf_name\tfamily\tlength\tconsensus\tinstances\trole\n")
        for motif_id, motif in world.motifs.items():
            role = "ctcf" if motif_id == CTCF_MOTIF else "tata" if motif_id == TBP_MOTIF else "enhancer"
            handle.write(
                f"{motif_id}\t{motif.tf_name}\t{motif.family}\t{motif.length}\t{motif.consensus}\t"
                f"{counts.get(motif_id, 0)}\t{role}\n"
            )


@dataclass(frozen=True)
class TruthVariant:
    chrom: str
    pos: int  # 0-based
    ref: str
    alt: str
    truth_class: str  # loss, gain, splice, neutral
    tf_name: str = "."
    motif_id: str = "."
    element: str = "."


def _motif_position(world: World, element: Element, want_consensus: bool = True) -> tuple[int, str, str]:
    """Genome position of the most informative column of a planted site whose base is the consensus,
    with the consensus base and the least likely base (both on the forward strand)."""
    motif = world.motifs[element.motif_id]
    seq = world.contigs[element.chrom]
    complement = {"A": "T", "C": "G", "G": "C", "T": "A"}
    for column in np.argsort(-motif.information):
        genome_pos = element.start + column if element.strand == "+" else element.end - 1 - column
        best, worst = ALPHABET[int(motif.ppm[column].argmax())], ALPHABET[int(motif.ppm[column].argmin())]
        if element.strand == "-":
            best, worst = complement[best], complement[worst]
        if (seq[genome_pos] == best) == want_consensus:
            return int(genome_pos), best, worst
    raise ValueError("no column with the consensus base")


def truth_variants(world: World, seed: int = SEED) -> list[TruthVariant]:
    """The truth set: loss and gain of planted sites per TF, splice-site breaks, and neutral background,
    on the training contigs and the held-out contig alike."""
    rng = np.random.default_rng(seed + 1)
    used: set[tuple[str, int]] = set()
    variants: list[TruthVariant] = []
    contigs = list(world.contigs)
    by_kind: dict[tuple[str, str, str], list[Element]] = {}
    for e in world.elements:
        by_kind.setdefault((e.kind, e.chrom, e.motif_id), []).append(e)

    def pick(kind: str, chrom: str, motif_id: str = ".") -> Element | None:
        pool = by_kind.get((kind, chrom, motif_id), [])
        for _ in range(50):
            e = pool[int(rng.integers(len(pool)))] if pool else None
            if e is not None and not any((chrom, p) in used for p in range(e.start - 3, e.end + 3)):
                return e
        return None

    def add(variant: TruthVariant, element: Element | None = None) -> None:
        variants.append(variant)
        span = range(element.start - 3, element.end + 3) if element else range(variant.pos - 3, variant.pos + 4)
        used.update((variant.chrom, p) for p in span)

    site_ids = ENHANCER_MOTIFS + [CTCF_MOTIF]
    plan = [(HELD_OUT, 2), ("training", 3)]
    for motif_id in site_ids:
        kind = "ctcf_site" if motif_id == CTCF_MOTIF else "motif"
        name = world.motifs[motif_id].tf_name
        for where, n in plan:
            chroms = [HELD_OUT] if where == HELD_OUT else [c for c in contigs if c != HELD_OUT]
            for i in range(n):  # loss: the most informative consensus base becomes the least likely one
                chrom = chroms[i % len(chroms)]
                site = pick(kind, chrom, motif_id)
                if site is None:
                    continue
                pos, best, worst = _motif_position(world, site)
                add(TruthVariant(chrom, pos, best, worst, "loss", name, motif_id, kind), site)
            chrom = chroms[int(rng.integers(len(chroms)))]
            site = pick(kind, chrom, motif_id)  # loss by deletion of two bases from the core
            if site is None:
                continue
            pos, _, _ = _motif_position(world, site)
            seq = world.contigs[chrom]
            add(TruthVariant(chrom, pos - 1, seq[pos - 1 : pos + 2], seq[pos - 1], "loss", name, motif_id, kind), site)
            if motif_id == CTCF_MOTIF:
                continue
            site = pick("near_miss", chrom, motif_id)  # gain: a near-miss becomes a site
            if site is not None:
                pos, best, _ = _motif_position(world, site, want_consensus=False)
                add(
                    TruthVariant(chrom, pos, world.contigs[chrom][pos], best, "gain", name, motif_id, "near_miss"), site
                )
    for i in range(48):  # splice: the G of a donor GT or of an acceptor AG
        chrom = HELD_OUT if i % 2 else contigs[(i // 2) % (len(contigs) - 1)]
        kind = "splice_donor" if i % 4 < 2 else "splice_acceptor"
        site = pick(kind, chrom)
        if site is None:
            continue
        pos = site.start if kind == "splice_donor" else site.end - 1
        alt = str(rng.choice([b for b in "ACT"]))
        add(TruthVariant(chrom, pos, "G", alt, "splice", element=kind), site)
    functional = {c: np.zeros(len(s) + 1, dtype=bool) for c, s in world.contigs.items()}
    for e in world.elements:
        functional[e.chrom][max(0, e.start - 100) : e.end + 100] = True
    for i in range(220):  # neutral: background at least 100 bp from any planted element
        chrom = HELD_OUT if i % 5 < 2 else contigs[i % (len(contigs) - 1)]
        seq = world.contigs[chrom]
        for _ in range(10_000):
            pos = int(rng.integers(200, len(seq) - 200))
            if not functional[chrom][pos - 3 : pos + 4].any() and (chrom, pos) not in used:
                break
        else:
            continue
        if i % 10 in (0, 9):  # a short indel now and then, on the held-out contig too
            if rng.random() < 0.5:
                add(TruthVariant(chrom, pos, seq[pos : pos + 3], seq[pos], "neutral"))
            else:
                insert = "".join(rng.choice(list(ALPHABET), size=2))
                add(TruthVariant(chrom, pos, seq[pos], seq[pos] + insert, "neutral"))
        else:
            add(TruthVariant(chrom, pos, seq[pos], str(rng.choice([b for b in ALPHABET if b != seq[pos]])), "neutral"))
    variants.sort(key=lambda v: (contigs.index(v.chrom), v.pos))
    return variants


def write_truth_vcf(world: World, variants: list[TruthVariant], path: Path) -> None:
    """Write the truth set as a bgzipped, tabix-indexed VCF with TRUTH_* INFO fields."""
    import pysam

    plain = Path(str(path).removesuffix(".gz"))
    with open(plain, "w") as handle:
        handle.write("##fileformat=VCFv4.2\n##source=genomix demo world\n")
        for chrom, seq in world.contigs.items():
            handle.write(f"##contig=<ID={chrom},length={len(seq)}>\n")
        handle.write('##INFO=<ID=TRUTH_CLASS,Number=1,Type=String,Description="loss, gain, splice or neutral">\n')
        handle.write('##INFO=<ID=TRUTH_TF,Number=1,Type=String,Description="TF whose planted site the variant hits">\n')
        handle.write('##INFO=<ID=TRUTH_ID,Number=1,Type=String,Description="JASPAR matrix id of that site">\n')
        handle.write('##INFO=<ID=TRUTH_ELEMENT,Number=1,Type=String,Description="Kind of planted element hit">\n')
        handle.write(f"##held_out_contig={HELD_OUT}\n")
        handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for number, v in enumerate(variants, start=1):
            info = f"TRUTH_CLASS={v.truth_class}"
            if v.tf_name != ".":
                info += f";TRUTH_TF={v.tf_name};TRUTH_ID={v.motif_id}"
            if v.element != ".":
                info += f";TRUTH_ELEMENT={v.element}"
            handle.write(f"{v.chrom}\t{v.pos + 1}\tgmx{number:04d}\t{v.ref}\t{v.alt}\t.\tPASS\t{info}\n")
    pysam.tabix_index(str(plain), preset="vcf", force=True)
