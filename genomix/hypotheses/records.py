"""What explain writes: a typed `Hypothesis` per ALT and rank, which owns its table columns, its
sentence and its INFO/GMX entry, and `Explained`, one ALT with its hypotheses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genomix.hypotheses.attribution import Attribution
from genomix.hypotheses.evidence import Evidence
from genomix.io.genes import GENE_COLUMNS, PROMOTER_BP, GeneContext
from genomix.scoring import Scored

EXPLAIN_COLUMNS = [
    "chrom",
    "pos",
    "id",
    "ref",
    "alt",
    "score",
    "method",
    "rank",
    "feature",
    "label",
    "label_kind",
    "motif_id",
    "tf_name",
    "effect",
    "ref_act",
    "alt_act",
    "delta",
    "offset",
    "motif_delta",
    "mediated_fraction",
    "p_value",
    "hypothesis",
    "status",
    "statistic",
    "concept",
    "members",
    "tf_family",
    "tf_alternatives",
    "q_value",
    "score_p",
    "effect_share",
    "error_share",
    *GENE_COLUMNS,
]
SIGNIFICANT_Q = 0.05  # a hypothesis with a q-value at or above this is worded as not significant
MODEL_READS_P = 0.05  # the model's own score reads the variant when its score p-value is below this
SENTENCE_ALTERNATIVES = 4  # the sentence names this many of the TFs that fit about as well, then counts the rest
# Consequence (label_effect, or the status without a hypothesis) closes the list: bcftools +split-vep
# refuses a tag without a field of that name.
# The gene context follows (GeneConsequence: the SO term of the region, or VEP's / snpEff's own).
GMX_FIELDS = (
    "Allele|Method|Score|Feature|Label|Effect|Delta|MotifDelta|Mediated|P|Q|Family|EffectShare|ErrorShare|Consequence"
    "|Gene|Transcript|Region|GeneConsequence|Exon|Intron|SpliceDistance|SpliceSite"
)
ERROR_MOST = 0.5  # from this error_share on, the SAE's error term carries most of the model's response


@dataclass
class Hypothesis:
    """One row of the hypotheses table (see EXPLAIN_COLUMNS; `pos` 1-based as in the VCF). Rank 0 is
    the one row of an ALT without a hypothesis, whose `status` says why. `tf_family`: the JASPAR family
    of the matrix that names a motif hypothesis; `tf_alternatives`: the TFs whose matrices fit the site
    about as well as `tf_name`'s (comma-separated); `q_value`: Benjamini-Hochberg over the run's top hypotheses
    (NaN until a run sets it, see `FalseDiscovery`); `score_p`: how often null variants of the same kind
    move the model's own score as much; `effect_share`: the share of the model's response to the variant
    (the score's quantity at the variant and the bases near it, see `decompose`) that the hypothesis'
    features carry, by attribution patching; `error_share`: the share the SAE's error term carries
    (one per ALT, on each of its rows; see `attribution`); `genes`: the ALT's gene context (its GENE_COLUMNS,
    see `genomix.io.genes`; set by the run, `.` until then). Beside the columns it keeps
    what its sentence and the follow-up designs read: the PWM `evidence`, the number of members that
    moved, the naming feature's annotation F1, and where the lead feature changed most in the ref and
    the alt window (`ref_index`, `alt_index`; -1 for a deleted or an inserted base)."""

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    score: float
    method: str
    status: str
    rank: int = 0
    feature: int = -1
    label: str = "."
    label_kind: str = "."
    motif_id: str = "."
    tf_name: str = "."
    effect: str = "."
    ref_act: float = math.nan
    alt_act: float = math.nan
    delta: float = math.nan
    offset: int = 0
    motif_delta: float = math.nan
    mediated_fraction: float = math.nan
    p_value: float = math.nan
    statistic: float = math.nan
    concept: str = "."
    members: str = "."
    tf_family: str = "."
    tf_alternatives: str = "."
    q_value: float = math.nan
    score_p: float = math.nan
    effect_share: float = math.nan
    error_share: float = math.nan
    genes: GeneContext = GeneContext()
    evidence: Evidence | None = None
    moved_members: int = 1
    naming_feature: int = -1
    annotation_f1: float = math.nan
    ref_index: int = -1
    alt_index: int = -1

    @classmethod
    def none(cls, scored: Scored, status: str | None = None) -> Hypothesis:
        """The rank-0 row of an ALT without a hypothesis (its variant's status unless `status` is given)."""
        v = scored.variant
        return cls(v.chrom, v.vcf_pos, v.id, v.ref, v.alt, scored.score, scored.method, status or v.status)

    @property
    def hypothesis(self) -> str:
        """The sentence (the `hypothesis` column); `.` without a hypothesis."""
        return sentence(self) if self.rank > 0 else "."

    def row(self) -> dict:
        return {column: getattr(self.genes if column in GENE_COLUMNS else self, column) for column in EXPLAIN_COLUMNS}

    def gmx_entry(self) -> str:
        """This row's INFO/GMX entry (see GMX_FIELDS): `|`, `,`, `;`, `=` and blanks in text become `_`."""
        named = self.rank > 0
        fields = [
            self.alt,
            self.method,
            self.score,
            self.feature if named else None,
            self.label if named else None,
            self.effect if named else None,
            self.delta,
            self.motif_delta,
            self.mediated_fraction,
            self.p_value,
            self.q_value,
            self.tf_family if named and self.tf_family != "." else None,
            self.effect_share,
            self.error_share,
            f"{self.label}_{self.effect}" if named else self.status,
            *(None if value == "." else value for value in (getattr(self.genes, c) for c in GENE_COLUMNS)),
        ]
        return "|".join(_gmx_text(f) for f in fields)


def _gmx_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "".join("_" if c in ",;=| \t" else c for c in str(value))


def sentence(h: Hypothesis) -> str:
    """One plain sentence: the mechanism, then the evidence. A hypothesis whose q-value reaches
    SIGNIFICANT_Q is worded as a possibility, not as a mechanism; the model's own score decides
    whether the change is said to be the model's reading or the SAE features' alone."""
    where = f"{h.ref}>{h.alt} at {h.chrom}:{h.pos}" + _place(h.genes)
    moves = "falls" if h.delta < 0 else "rises"
    lead = f"from {h.ref_act:.2f} to {h.alt_act:.2f} at {h.offset:+d} bp"
    others = f" with {h.moved_members - 1} more of its features" if h.moved_members > 1 else ""
    significant = not h.q_value >= SIGNIFICANT_Q  # NaN (no q yet) counts as significant
    evidence = h.evidence
    if h.label_kind == "motif":
        verb = (
            ("weakens" if h.effect == "loss" else "creates or strengthens")
            if significant
            else ("may weaken" if h.effect == "loss" else "may create or strengthen")
        )
        text = f"{where} {verb} {_site(h)}: feature {h.feature} {moves} {lead}{others}"
        if not math.isnan(h.motif_delta):
            text += (
                f"; the {h.tf_name} PWM (JASPAR {h.motif_id}) scores the site {evidence.ref_pwm:.1f} "
                f"in ref, {evidence.alt_pwm:.1f} in alt"
            )
            if evidence.holder < evidence.site:
                allele = "ref" if h.effect == "loss" else "alt"
                text += f" (no PWM support: {allele} has no site, which scores {evidence.site:.1f} or more)"
            elif not evidence.supported:
                text += " (no PWM support: the score moves less than 1 bit its way)"
    elif h.label_kind == "annotation":
        verb = (
            ("disrupts" if h.effect == "loss" else "creates")
            if significant
            else ("may disrupt" if h.effect == "loss" else "may create")
        )
        text = (
            f"{where} {verb} {_article(h.label)} {h.label} signal: feature {h.feature} {moves} {lead}{others} "
            f"(held-out F1 {h.annotation_f1:.2f} of feature {h.naming_feature} for {h.label})"
        )
    else:
        text = f"{where} changes feature {h.feature}, which no motif or annotation names: it {moves} {lead}"
    text += _shares(h)
    if h.score_p < MODEL_READS_P:
        text += f"; the model's own score moves too (score p = {h.score_p:.2g})"
    elif h.score_p >= MODEL_READS_P:
        text += (
            "; only the SAE's features see it: the model's own score moves no more than at random "
            f"variants (score p = {h.score_p:.2g})"
        )
    stats = f"p = {h.p_value:.2g}" + ("" if math.isnan(h.q_value) else f", q = {h.q_value:.2g}")
    if not significant:
        return f"Not significant ({stats}): {text}."
    return f"{text}; {stats}."


def _place(genes: GeneContext) -> str:
    """` (in intron 3 of GENE1, 5 bp from the donor)`, or `` without a gene context."""
    if genes.region in (".", "intergenic"):
        return " (intergenic)" if genes.region == "intergenic" else ""
    if genes.region == "promoter":
        return f" (in the promoter of {genes.gene}, within {PROMOTER_BP // 1000} kb upstream)"
    part = next(
        (
            f"{kind} {number.split('/')[0]}"
            for kind, number in (("intron", genes.intron), ("exon", genes.exon))
            if number != "."
        ),
        "",
    )
    qualifier = {
        "CDS": "the coding sequence of ",
        "5'UTR": "the 5' UTR of ",
        "3'UTR": "the 3' UTR of ",
        "splice_region": "the splice region of ",
    }.get(genes.region, "")
    if not part:  # read from CSQ/ANN without an exon or intron number
        text = f"in {qualifier or genes.region + ' of '}{genes.gene}"
    else:
        text = f"in {qualifier}{part} of {genes.gene}"
    if genes.splice_distance is not None:
        text += f", {genes.splice_distance} bp from the {genes.splice_site}"
    return f" ({text})"


def _percent(share: float) -> str:
    """A share in whole percent, with no sign on a share that rounds to 0 ("0%", not "-0%")."""
    return f"{share:.0%}" if round(share * 100) != 0 else "0%"


def _shares(h: Hypothesis) -> str:
    """What share of the model's response the hypothesis' features carry, by attribution and, for the
    top one, by patching them back; and whether the SAE's error term carries most of it."""
    text = ""
    features = "its features carry" if h.moved_members > 1 else "the feature carries"
    if not math.isnan(h.effect_share):
        text += f"; {features} {_percent(h.effect_share)} of the model's response to the variant"
    if not math.isnan(h.mediated_fraction):
        them = "them" if h.moved_members > 1 else "it"
        text += f" (patching {them} back restores {_percent(h.mediated_fraction)})"
    if h.error_share >= ERROR_MOST:
        text += (
            f"; the SAE's error term carries most of it ({h.error_share:.0%}): this is the SAE's reading, "
            "not the model's mechanism"
        )
    return text


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _site(h: Hypothesis) -> str:
    """`a site of the AP-2 family (TFAP2C; about as well: TFAP2A, TFAP2B)`, or `a TFAP2C site` without
    a family."""
    if h.tf_family == ".":
        return f"{_article(h.label)} {h.label} site"
    name = h.tf_name if h.tf_name != "." else h.label
    others = [] if h.tf_alternatives == "." else h.tf_alternatives.split(",")
    if len(others) > SENTENCE_ALTERNATIVES:  # the column keeps them all
        others = others[:SENTENCE_ALTERNATIVES] + [f"{len(others) - SENTENCE_ALTERNATIVES} more"]
    alternatives = f"; about as well: {', '.join(others)}" if others else ""
    return f"a site of the {h.tf_family} family ({name}{alternatives})"


@dataclass
class Explained:
    """One ALT: its score, its hypotheses (best first; one of rank 0 when it has none), for the
    report the window and the activation tracks of the lead features (ref, alt on ref bases), and
    the share of the model's response each feature carries (`attribution`; None for an ALT not tested);
    `reverse`: the window was read on its reverse strand (SpliceAI, see `rank`)."""

    scored: Scored
    hypotheses: list[Hypothesis]
    window: object = None
    tracks: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    attribution: Attribution | None = None
    reverse: bool = False

    @property
    def variant(self):
        return self.scored.variant

    @property
    def status(self) -> str:
        return self.hypotheses[0].status

    @property
    def top(self) -> Hypothesis | None:
        """The rank-1 hypothesis, or None."""
        return self.hypotheses[0] if self.hypotheses[0].rank == 1 else None


def explain_table(explained: list[Explained]) -> pd.DataFrame:
    """One row per ALT and hypothesis (rank 0 where there is none), columns EXPLAIN_COLUMNS."""
    rows = [h.row() for item in explained for h in item.hypotheses]
    return pd.DataFrame(rows, columns=EXPLAIN_COLUMNS).astype(
        {
            "pos": "int64",
            "rank": "int64",
            "feature": "int64",
            "offset": "int64",
            "splice_distance": "Int64",
            "method": "string",  # no method for a skipped ALT: the column must stay text in a chunk of those only
        }
    )


class FalseDiscovery:
    """q-values of a run: Benjamini-Hochberg over the top hypothesis of every tested ALT (status ok or
    no_feature_change, the latter with p = 1), collected with `add` while the run streams. A rank-1
    hypothesis gets its BH q-value; a lower-ranked one the q-value its p-value would have among the
    top ones, or its ALT's first where that is larger."""

    def __init__(self):
        self._tops: list[float] = []
        self._sorted: np.ndarray | None = None

    def add(self, explained: list[Explained]) -> list[Explained]:
        for item in explained:
            if item.status in ("ok", "no_feature_change"):
                top = item.top
                self._tops.append(1.0 if top is None or math.isnan(top.p_value) else top.p_value)
        self._sorted = None
        return explained

    def q_value(self, p: float) -> float:
        if self._sorted is None:
            self._sorted = np.sort(np.asarray(self._tops, dtype=float))
            m = len(self._sorted)
            adjusted = self._sorted * m / np.arange(1, m + 1)
            self._q = np.minimum(np.minimum.accumulate(adjusted[::-1])[::-1], 1.0)
        m = len(self._sorted)
        if math.isnan(p) or m == 0:
            return math.nan
        r = int(np.searchsorted(self._sorted, p, side="right"))  # tops at or below p
        q = p * m / max(r, 1)
        if r < m:
            q = min(q, self._q[r])
        return float(min(q, 1.0))

    def fill(self, explained: list[Explained]) -> list[Explained]:
        """Set the q-value of every hypothesis of `explained` (once all the run's ALTs were added)."""
        for item in explained:
            first = math.nan
            for h in item.hypotheses:
                if h.rank > 0:
                    h.q_value = self.q_value(h.p_value) if h.rank == 1 else max(self.q_value(h.p_value), first)
                    first = h.q_value if h.rank == 1 else first
        return explained
