"""What the PWMs say about a motif hypothesis.

A motif hypothesis is supported when the matrix of one of its named members (the motif-labelled
features of the concept: a family's matrices, tried from the member that changed most) has a site
touching the variant in the allele the hypothesis says holds it (ref for a loss, alt for a gain;
p <= 1e-4, the atlas' site threshold) and the score moves its way by at least 1 bit. A family is
tested with all its matrices because its members are fragments of one concept: a site of one TF
of the family scores below the site threshold of another's matrix (a FOS::JUN site under JUNB's),
and a short matrix (7 bp) counts only its consensus as a site. A matrix that does not fit the
window tests nothing.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from genomix.io.windows import Window
from genomix.motifs.breaks import MotifScanner
from genomix.motifs.pwm import best_site, score_p_value, score_survival, site_matrix

log = logging.getLogger("genomix")

ALTERNATIVE_RATIO = 10.0  # a paralog fits about as well when its site p-value is within this factor of the best


def effect_of(statistic: float) -> str:
    """`loss` for a negative statistic, `gain` otherwise."""
    return "loss" if statistic < 0 else "gain"


@dataclass
class Evidence:
    """What the PWM says about a motif hypothesis: the feature whose atlas row names it, its matrix
    id, the matrix's best score at the variant in ref and alt, the score of a site (p <= `SITE_P`), and
    the effect the hypothesis claims. NaN scores where there is no matrix to test, or no placement of
    it fits the window."""

    feature: int
    motif_id: str | None
    ref_pwm: float = math.nan
    alt_pwm: float = math.nan
    site: float = math.nan
    effect: str = "."

    @property
    def supported(self) -> bool:
        """The allele the hypothesis says holds the site (ref for a loss, alt for a gain) holds one,
        and the score moves the hypothesis' way by at least 1 bit (a halving of the odds)."""
        return self.holder >= self.site and self.moved >= 1.0 - 1e-6

    @property
    def holder(self) -> float:
        """The best score in the allele the hypothesis says holds the site."""
        return self.ref_pwm if self.effect == "loss" else self.alt_pwm

    @property
    def moved(self) -> float:
        """How far the score moves the hypothesis' way (bits)."""
        return (self.ref_pwm - self.alt_pwm) * (1 if self.effect == "loss" else -1)

    @property
    def contradicted(self) -> bool:
        """A matrix was tested and does not support the hypothesis."""
        return not math.isnan(self.site) and not self.supported


def pwm_scores(window: Window, pwm: np.ndarray) -> tuple[float, float]:
    """Best log-odds of the motif over placements touching the variant, in ref and in alt. For an
    indel both scans reach one base past the allele (the junction), so an intact site beside the
    event scores the same in both."""
    indel = int(window.ref_span[1] - window.ref_span[0] != window.alt_span[1] - window.alt_span[0])
    return (
        best_site(window.ref, pwm, window.ref_span[0], window.ref_span[1] + indel)[0],
        best_site(window.alt, pwm, window.alt_span[0], window.alt_span[1] + indel)[0],
    )


class MotifEvidence:
    """The PWM test of hypotheses about an atlas' features: each motif label's matrix (`pwms`, by
    JASPAR id, log-odds) and the score of a site of it (`site_scores`). `motifs`: the atlas'
    matrices (Motif, by id; `atlas_motifs` by default)."""

    def __init__(self, table, motifs: dict):
        self.motifs = motifs
        self.kinds = table.label_kind.to_numpy()
        self.motif_ids = table.motif_id.to_numpy()
        self.pwms, self.site_scores = {}, {}
        for motif_id, m in motifs.items():
            self.pwms[motif_id], self.site_scores[motif_id] = site_matrix(m.ppm)

    def test(
        self, window: Window, members: np.ndarray, kind: str, statistic: float, per_feature: np.ndarray, lead: int
    ) -> Evidence:
        """The atlas row that names a unit (its `members` of label kind `kind`) here and, for a motif,
        what the PWMs say: the first named member (by how much it changed) whose matrix supports the
        hypothesis, else the first whose matrix fits the window, else the named member that changed
        most (tested by no matrix). `lead`: the feature named when no member carries the unit's kind."""
        named = members[self.kinds[members] == kind]  # not joined unlabelled ones
        if not len(named):
            return Evidence(lead, None)
        named = named[np.argsort(-np.abs(per_feature[named]), kind="stable")]
        if kind != "motif":
            return Evidence(int(named[0]), None)
        tested, first = set(), None
        for feature in named:
            motif_id = self.motif_ids[feature]
            if motif_id not in self.pwms or motif_id in tested:
                continue
            tested.add(motif_id)
            ref_pwm, alt_pwm = pwm_scores(window, self.pwms[motif_id])
            if not (math.isfinite(ref_pwm) and math.isfinite(alt_pwm)):  # the matrix does not fit the window
                continue
            found = Evidence(int(feature), motif_id, ref_pwm, alt_pwm, self.site_scores[motif_id], effect_of(statistic))
            if found.supported:
                return found
            if first is None:
                first = found
        if first is not None:
            return first
        motif_id = self.motif_ids[named[0]]
        return Evidence(int(named[0]), motif_id if isinstance(motif_id, str) else None)


def atlas_motifs(atlas) -> dict:
    """The matrices (Motif, by id) of the atlas' motif labels, of every other member of their JASPAR
    families and of the TOMTOM matches of the motif-labelled features (`motif_matches`), from the
    collection the atlas was built with."""
    labelled = atlas.table[atlas.table.label_kind == "motif"]
    wanted = set(labelled.motif_id.dropna())
    if not wanted:
        return {}
    motifs = atlas.motif_collection()
    if motifs is None:
        log.warning(
            "the atlas does not say which motif collection it used (%r); motif_delta left out",
            atlas.metadata.get("motif_source"),
        )
        return {}
    families = {m.family for m in motifs if m.matrix_id in wanted and m.family not in ("", ".")}
    matches = {str(name) for names in labelled.get("motif_matches", ()) if names is not None for name in names}
    return {m.matrix_id: m for m in motifs if m.matrix_id in wanted or m.family in families or m.tf_name in matches}


@dataclass
class Named:
    """The matrix a motif hypothesis is named by (`motif_id`, `tf_name`, its JASPAR `family`; its best
    score in ref and alt, the score of a site, the p-value of the holder's score) and the TFs whose
    matrices fit about as well (`alternatives`)."""

    motif_id: str
    tf_name: str
    family: str
    ref_pwm: float
    alt_pwm: float
    site: float
    site_p: float
    alternatives: list[str]


class FamilyNames:
    """Names motif hypotheses by the candidate matrix that fits the site best. A concept's candidates
    (`candidates`) are every matrix of its JASPAR family and the TOMTOM matches of its motif-labelled
    features: paralogs share motifs, and JASPAR files some of them under other family names (EBF1
    under "Early B-Cell Factor-related factors", Ebf4 under "EBF-related"), so the family a
    hypothesis names is the named matrix' own. `motifs`: the collection the atlas was built with."""

    def __init__(self, motifs):
        self.by_id = {motif.matrix_id: motif for motif in motifs or ()}
        self._scanners: dict[tuple, tuple[MotifScanner, list]] = {}

    def candidates(self, family: str, matches=()) -> tuple[str, ...]:
        """Ids of the matrices of `family` and of the TFs named in `matches`, sorted."""
        names = set(matches)
        return tuple(
            sorted(
                i
                for i, m in self.by_id.items()
                if (m.family == family and family not in ("", ".")) or m.tf_name in names
            )
        )

    def _scanner(self, candidates: tuple[str, ...]):
        if candidates not in self._scanners:
            members = [self.by_id[i] for i in candidates]
            survival = [score_survival(site_matrix(m.ppm)[0]) for m in members]
            self._scanners[candidates] = MotifScanner(members), survival
        return self._scanners[candidates]

    def name(self, window: Window, candidates: tuple[str, ...], effect: str) -> Named | None:
        """The candidate matrix that best supports a site `effect` (loss: in ref; gain: in alt) at the
        variant of `window` (the smallest p of the holder's score), with the TFs whose supporting
        matrices' p-values lie within ALTERNATIVE_RATIO of it; None when no candidate supports one."""
        if not candidates:
            return None
        scanner, survival = self._scanner(candidates)
        ref, alt = scanner.at_variant(window)
        holder, other = (ref, alt) if effect == "loss" else (alt, ref)
        supported = np.nonzero(scanner.supported(ref, alt, effect))[0]
        if not len(supported):
            return None
        p = {int(m): score_p_value(holder[m], survival[m]) for m in supported}
        order = sorted(p, key=lambda m: (p[m], -(holder[m] - other[m]), scanner.motifs[m].matrix_id))
        best = scanner.motifs[order[0]]
        alternatives = [
            scanner.motifs[m].tf_name
            for m in order[1:]
            if p[m] <= ALTERNATIVE_RATIO * p[order[0]] and scanner.motifs[m].tf_name != best.tf_name
        ]
        return Named(
            best.matrix_id,
            best.tf_name,
            best.family,
            float(ref[order[0]]),
            float(alt[order[0]]),
            float(scanner.sites[order[0]]),
            p[order[0]],
            list(dict.fromkeys(alternatives)),
        )
