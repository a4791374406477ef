"""Gene context of a variant: gene, transcript, region, exon or intron number, distance to the nearest
splice site; from a GFF3 or GTF file, or read from the VEP `CSQ` / snpEff `ANN` field a VCF
already carries.

A transcript is where its exons are: its 5' end (the first exon's) is the transcription start, the
gaps between consecutive exons are its introns (intron features in the file are not needed), and
its coding sequence runs from its first to its last CDS base. A base is placed by its most telling
region over every transcript that holds it (REGIONS, in order); splice sites are the exon-intron
junctions, and a base's distance to one counts the bases from the junction to it, both ends
included: the first intronic base after a donor (HGVS c.N+1) is 1 bp from the donor, the last exonic
base before it too. Variants are placed by their first REF base.
"""

from __future__ import annotations

import gzip
import math
import re
from collections import defaultdict
from dataclasses import dataclass, fields
from pathlib import Path

from genomix.errors import GenomixError
from genomix.io.genome import resolve_contig

# Most telling first: a base in several transcripts (or a splice region inside a CDS) takes the first.
REGIONS = ("splice_region", "CDS", "5'UTR", "3'UTR", "exon", "intron", "promoter", "intergenic")
PROMOTER_BP = 1000  # the promoter: this many bp upstream of the transcription start
SPLICE_REGION_EXON_BP = 3  # Ensembl's splice region: 1-3 exonic bases, 3-8 intronic ones, plus the
SPLICE_REGION_INTRON_BP = 8  # donor/acceptor dinucleotide itself (intronic 1-2)
_BIN = 100_000  # transcripts are indexed by the 100 kb bins their promoter and body touch
# The SO term each region stands for, when the region is computed here.
_REGION_TERMS = {
    "CDS": "coding_sequence_variant",
    "5'UTR": "5_prime_UTR_variant",
    "3'UTR": "3_prime_UTR_variant",
    "exon": "non_coding_transcript_exon_variant",
    "intron": "intron_variant",
    "promoter": "upstream_gene_variant",
    "intergenic": "intergenic_variant",
}
# The region each SO consequence term of VEP and snpEff means (terms not listed: no region).
_TERM_REGIONS = {
    **{
        term: "splice_region"
        for term in (
            "splice_acceptor_variant",
            "splice_donor_variant",
            "splice_region_variant",
            "splice_donor_5th_base_variant",
            "splice_donor_region_variant",
            "splice_polypyrimidine_tract_variant",
        )
    },
    **{
        term: "CDS"
        for term in (
            "coding_sequence_variant",
            "missense_variant",
            "synonymous_variant",
            "stop_gained",
            "stop_lost",
            "stop_retained_variant",
            "start_lost",
            "start_retained_variant",
            "initiator_codon_variant",
            "frameshift_variant",
            "inframe_insertion",
            "inframe_deletion",
            "disruptive_inframe_insertion",
            "disruptive_inframe_deletion",
            "conservative_inframe_insertion",
            "conservative_inframe_deletion",
            "protein_altering_variant",
            "incomplete_terminal_codon_variant",
        )
    },
    "5_prime_UTR_variant": "5'UTR",
    "5_prime_UTR_premature_start_codon_gain_variant": "5'UTR",
    "3_prime_UTR_variant": "3'UTR",
    "non_coding_transcript_exon_variant": "exon",
    "exon_variant": "exon",
    "intron_variant": "intron",
    "upstream_gene_variant": "promoter",  # within PROMOTER_BP; farther upstream is intergenic
    "intergenic_variant": "intergenic",
    "intergenic_region": "intergenic",
    "downstream_gene_variant": "intergenic",
}


@dataclass(frozen=True)
class GeneContext:
    """Where a variant lies in the genes (`.` where not known): `region` one of REGIONS,
    `consequence` its SO term(s) (VEP's or snpEff's own when read from the VCF, `&`-joined),
    `exon` / `intron` as `number/total` in transcription order, `splice_distance` in bp to the
    nearest splice site (None outside exons and introns) and `splice_site` which it is (donor or
    acceptor)."""

    gene: str = "."
    transcript: str = "."
    region: str = "."
    consequence: str = "."
    exon: str = "."
    intron: str = "."
    splice_distance: int | None = None
    splice_site: str = "."


GENE_COLUMNS = [f.name for f in fields(GeneContext)]
INTERGENIC = GeneContext(region="intergenic", consequence=_REGION_TERMS["intergenic"])


@dataclass
class Transcript:
    """One transcript: `exons` as sorted 0-based half-open (start, end); `cds` the (start, end) of its
    coding sequence or None; `span` the (start, end) of its own mRNA/transcript line, None without one
    (`start` and `end` are its exons')."""

    id: str
    gene: str
    chrom: str
    strand: str
    exons: list[tuple[int, int]]
    cds: tuple[int, int] | None = None
    span: tuple[int, int] | None = None

    @property
    def start(self) -> int:
        return self.exons[0][0]

    @property
    def end(self) -> int:
        return self.exons[-1][1]

    def reach(self) -> tuple[int, int]:
        """The bases this transcript places: its body and its promoter."""
        if self.strand == "-":
            return self.start, self.end + PROMOTER_BP
        return max(0, self.start - PROMOTER_BP), self.end

    def context(self, pos: int) -> GeneContext | None:
        """The context of 0-based `pos` in this transcript, or None when it is not in its reach."""
        exons, minus = self.exons, self.strand == "-"
        n = len(exons)
        number = (lambda i, total: total - i) if minus else (lambda i, total: i + 1)
        if not self.start <= pos < self.end:
            upstream = pos >= self.end if minus else pos < self.start
            lo, hi = self.reach()
            if upstream and lo <= pos < hi:
                return GeneContext(self.gene, self.id, "promoter", _REGION_TERMS["promoter"])
            return None
        for i, (start, end) in enumerate(exons):
            if start <= pos < end:
                sites = []  # (distance, junction at the exon's left or right end)
                if i > 0:
                    sites.append((pos - start + 1, "left"))
                if i < n - 1:
                    sites.append((end - pos, "right"))
                region = self._exonic_region(pos)
                distance, site = _nearest(sites, minus, exonic=True)
                if distance is not None and distance <= SPLICE_REGION_EXON_BP:
                    region = "splice_region"
                term = "splice_region_variant" if region == "splice_region" else _REGION_TERMS[region]
                exon = f"{number(i, n)}/{n}"
                return GeneContext(self.gene, self.id, region, term, exon, ".", distance, site)
            if i + 1 < n and end <= pos < exons[i + 1][0]:
                distance, site = _nearest([(pos - end + 1, "left"), (exons[i + 1][0] - pos, "right")], minus, False)
                region = "splice_region" if distance <= SPLICE_REGION_INTRON_BP else "intron"
                term = (
                    f"splice_{site}_variant"
                    if distance <= 2
                    else ("splice_region_variant" if region == "splice_region" else "intron_variant")
                )
                intron = f"{number(i, n - 1)}/{n - 1}"
                return GeneContext(self.gene, self.id, region, term, ".", intron, distance, site)
        raise AssertionError("a base inside a transcript lies in an exon or an intron")

    def _exonic_region(self, pos: int) -> str:
        if self.cds is None:
            return "exon"
        if self.cds[0] <= pos < self.cds[1]:
            return "CDS"
        before = pos < self.cds[0]
        return "5'UTR" if before != (self.strand == "-") else "3'UTR"


def _nearest(sites: list[tuple[int, str]], minus: bool, exonic: bool) -> tuple[int | None, str]:
    """The nearest junction and which splice site it is: on the + strand an exon's right end and an
    intron's left end are the donor; the - strand mirrors it."""
    if not sites:
        return None, "."
    distance, side = min(sites)
    donor_side = "right" if exonic else "left"
    return distance, "donor" if (side == donor_side) != minus else "acceptor"


class Genes:
    """The transcripts of a GFF3 or GTF file (plain or gzipped), indexed for lookups by position."""

    def __init__(self, transcripts: list[Transcript], source: str = "."):
        self.source = source
        self.transcripts = transcripts
        self._bins: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._chroms: dict[str, str] = {}
        for index, t in enumerate(transcripts):
            lo, hi = t.reach()
            for b in range(lo // _BIN, (hi - 1) // _BIN + 1):
                self._bins[t.chrom][b].append(index)

    @classmethod
    def load(cls, path: str | Path) -> Genes:
        return cls(read_transcripts(path), str(path))

    def context(self, chrom: str, pos: int) -> GeneContext:
        """The context of 0-based `pos` on `chrom` (a `chr1`/`1` difference is harmonised)."""
        if chrom not in self._chroms:
            self._chroms[chrom] = resolve_contig(chrom, list(self._bins)) or chrom
        candidates = self._bins.get(self._chroms[chrom], {}).get(pos // _BIN, [])
        found = [c for c in (self.transcripts[i].context(pos) for i in candidates) if c is not None]
        if not found:
            return INTERGENIC
        return min(found, key=lambda c: (REGIONS.index(c.region), _or_inf(c.splice_distance)))


def _or_inf(value) -> float:
    return math.inf if value is None else value


_GTF_PAIR = re.compile(r'\s*([^\s"]+)\s+"?([^";]*)"?\s*')


def _attributes(text: str) -> dict[str, str]:
    """GFF3 `key=value;...` or GTF `key "value"; ...` attributes."""
    out = {}
    for part in text.strip().strip(";").split(";"):
        if not part.strip():
            continue
        if "=" in part:
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
        else:
            match = _GTF_PAIR.fullmatch(part)
            if match:
                out.setdefault(match.group(1), match.group(2))
    return out


def read_transcripts(path: str | Path) -> list[Transcript]:
    """Transcripts of a GFF3 (exon and CDS features under an mRNA/transcript, gene names from their
    gene's Name) or GTF (transcript_id, gene_name or gene_id) file, in file order. A transcript
    without exons is left out."""
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    names: dict[str, str] = {}  # GFF3 gene/transcript ID -> the gene's name
    parent_of: dict[str, str] = {}
    exons: dict[str, list] = defaultdict(list)
    cds: dict[str, list] = defaultdict(list)
    where: dict[str, tuple[str, str]] = {}
    spans: dict[str, tuple[int, int]] = {}  # a transcript's own line
    try:
        with opener(path, "rt") as handle:
            for number, line in enumerate(handle, start=1):
                if line.startswith("#") or not line.strip():
                    continue
                columns = line.rstrip("\n").split("\t")
                if len(columns) < 9:
                    raise GenomixError(
                        f"{path} line {number} has {len(columns)} tab-separated columns; GFF3 and GTF have 9"
                    )
                chrom, kind, start, end, strand, attributes = (
                    columns[0],
                    columns[2],
                    int(columns[3]) - 1,
                    int(columns[4]),
                    columns[6],
                    _attributes(columns[8]),
                )
                if "transcript_id" in attributes:  # GTF
                    transcript = attributes["transcript_id"]
                    names.setdefault(transcript, attributes.get("gene_name") or attributes.get("gene_id", "."))
                    parents = [transcript]
                    if kind == "transcript":
                        spans[transcript] = (start, end)
                else:
                    if "ID" in attributes:
                        names[attributes["ID"]] = attributes.get("Name") or attributes.get("gene_name") or "."
                        if "Parent" in attributes:
                            parent_of[attributes["ID"]] = attributes["Parent"].split(",")[0]
                        spans[attributes["ID"]] = (start, end)
                    parents = attributes.get("Parent", "").split(",") if kind in ("exon", "CDS") else []
                for transcript in filter(None, parents):
                    where.setdefault(transcript, (chrom, strand))
                    (exons if kind == "exon" else cds)[transcript].append((start, end))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise GenomixError(f"cannot read {path} as GFF3 or GTF: {error}") from error
    transcripts = []
    for transcript, pieces in exons.items():
        gene = parent_of.get(transcript)
        name = names.get(gene, ".") if gene is not None else names.get(transcript, ".")
        coding = cds.get(transcript)
        transcripts.append(
            Transcript(
                transcript,
                name if name != "." else (gene or transcript),
                *where[transcript],
                sorted(pieces),
                (min(s for s, _ in coding), max(e for _, e in coding)) if coding else None,
                spans.get(transcript),
            )
        )
    if not transcripts:
        raise GenomixError(f"{path} has no exon features under a transcript: is it a GFF3 or GTF gene annotation?")
    return transcripts


# What genomix reads from each tag: its own name -> the tag's field names, in order of preference.
_TAG_FIELDS = {
    "CSQ": {
        "allele": ("Allele",),
        "consequence": ("Consequence",),
        "gene": ("SYMBOL", "Gene"),
        "transcript": ("Feature",),
        "exon": ("EXON",),
        "intron": ("INTRON",),
        "hgvs": ("HGVSc",),
        "distance": ("DISTANCE",),
        "pick": ("PICK",),
        "allele_num": ("ALLELE_NUM",),
    },
    "ANN": {
        "allele": ("Allele",),
        "consequence": ("Annotation",),
        "gene": ("Gene_Name", "Gene_ID"),
        "transcript": ("Feature_ID",),
        "rank": ("Rank",),
        "hgvs": ("HGVS.c",),
        "distance": ("Distance",),
    },
}
_INTRONIC_OFFSET = re.compile(
    r"[cn]\.[-*]?\d+([+-])(\d+)"
)  # HGVS c.123+5 (after a donor), c.124-3 (before an acceptor)


def tag_fields(description: str) -> list[str]:
    """The field names a CSQ (`... Format: A|B|C`) or ANN (`... 'A | B | C' `) header description lists."""
    quoted = re.search(r"'([^']*\|[^']*)'", description)
    listed = quoted.group(1) if quoted else description.partition("Format:")[2].strip().strip('"')
    return [name.strip() for name in listed.split("|")]


def vep_allele(ref: str, alts: tuple[str, ...], alt: str) -> str:
    """VEP's allele string: the first base dropped when every allele of the record shares it (`-` when
    nothing is left)."""
    if all(a[:1] == ref[:1] for a in alts) and all(len(a) > 0 for a in alts):
        return alt[1:] or "-"
    return alt


class GeneAnnotation:
    """Gene context per ALT: read from the record's VEP `CSQ` or snpEff `ANN` when it carries one
    (the entry VEP flagged with PICK, else the one of the most telling region), else looked up in
    `genes` (None: `.` everywhere)."""

    def __init__(self, genes: Genes | None = None):
        self.genes = genes
        self._formats: dict[tuple, tuple[str, dict[str, int]] | None] = {}

    def _format(self, header) -> tuple[str, dict[str, int]] | None:
        """(tag, {genomix name: field index}) of the header's CSQ or ANN, or None."""
        key = tuple((tag, header.info[tag].description or "") for tag in _TAG_FIELDS if tag in header.info)
        if key not in self._formats:
            self._formats[key] = None
            for tag, description in key:
                names = tag_fields(description)
                index = {}
                for own, candidates in _TAG_FIELDS[tag].items():
                    found = next((names.index(c) for c in candidates if c in names), None)
                    if found is not None:
                        index[own] = found
                if {"allele", "consequence", "gene"} <= set(index):
                    self._formats[key] = (tag, index)
                    break
        return self._formats[key]

    def context(self, record, variant) -> GeneContext:
        """The context of one ALT (`variant`, a genomix Variant) of a pysam `record`."""
        read = self._format(record.header) if record is not None else None
        if read is not None:
            tag, index = read
            entries = record.info.get(tag) if tag in record.info else None
            if entries:
                found = _from_entries(tag, index, entries, record, variant)
                if found is not None:
                    return found
        if self.genes is None:
            return GeneContext()
        return self.genes.context(variant.chrom, variant.pos)


def _from_entries(tag: str, index: dict[str, int], entries, record, variant) -> GeneContext | None:
    """The context one ALT's CSQ/ANN entries give (None when none is about this ALT)."""
    alts = tuple(record.alts or ())
    names = {variant.alt, vep_allele(record.ref, alts, variant.alt)}
    rows = []
    for entry in entries if isinstance(entries, (tuple, list)) else (entries,):
        values = str(entry).split("|")
        row = {own: values[i] if i < len(values) else "" for own, i in index.items()}
        if row.get("allele_num", "").isdigit():
            if int(row["allele_num"]) != variant.allele:
                continue
        elif row["allele"].upper() not in names and len(alts) > 1:
            continue
        rows.append(row)
    if not rows:
        return None
    contexts = [_entry_context(tag, get) for get in rows]
    picked = [c for c, row in zip(contexts, rows) if row.get("pick") == "1"]
    return picked[0] if picked else min(contexts, key=lambda c: REGIONS.index(c.region) if c.region in REGIONS else 99)


def _entry_context(tag: str, row: dict[str, str]) -> GeneContext:
    get = lambda own: row.get(own, "")  # noqa: E731
    terms = [t for t in get("consequence").split("&") if t]
    regions = [_TERM_REGIONS[t] for t in terms if t in _TERM_REGIONS]
    region = min(regions, key=REGIONS.index) if regions else "."
    distance = get("distance")
    if region == "promoter" and distance.isdigit() and int(distance) > PROMOTER_BP:
        region = "intergenic"
    exon, intron = get("exon"), get("intron")
    if tag == "ANN" and get("rank"):
        intronic = {"intron_variant", "splice_donor_variant", "splice_acceptor_variant"} & set(terms)
        exon, intron = (".", get("rank")) if intronic else (get("rank"), ".")
    splice_distance, site = None, "."
    offset = _INTRONIC_OFFSET.search(get("hgvs"))
    if offset:
        splice_distance, site = int(offset.group(2)), "donor" if offset.group(1) == "+" else "acceptor"
    return GeneContext(
        get("gene") or ".",
        get("transcript") or ".",
        region,
        "&".join(terms) or ".",
        exon or ".",
        intron or ".",
        splice_distance,
        site,
    )
