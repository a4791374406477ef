"""Ranked mechanistic hypotheses per variant, with their evidence.

Each feature's change near the variant (see `decompose`) is scored as
`s = delta / typical * min(1, max(ref, alt) / typical)`, where `typical` is the median of the
feature's top activations in the atlas: a change counts in units of the feature's usual strength, and only as much as the feature is
really on in the ref or the alt window (a weak feature wobbling near zero is not a lost site).
Features are then put back together into concepts (see `genomix.features.concepts`: one concept per
JASPAR family or annotation class, with the unlabelled features that fire with its members), and a
concept's raw statistic is the sum of its members' `s` divided by the square root of its size, so a
concept with many fragments is not favoured for its size alone. Each concept's raw statistic is
then put in units of its own spread under the null (`z`: divided by its standard deviation over the
shuffled-context null variants of the same kind), so a concept that moves with any change of
sequence (a broad class such as enhancer) does not outrank one that moves only when its site does.
Hypotheses are the concepts with the largest |z| among those whose raw |statistic| reaches
`min_change`, with one exception: a motif hypothesis that its own PWMs contradict comes after every
other. It is supported when the matrix of one of its named members (the motif-labelled features of
the concept: a family's matrices, tried from the member that changed most) has a site touching the
variant in the allele the hypothesis says holds it (ref for a loss, alt for a gain; p <= 1e-4, the
atlas' site threshold) and the score moves its way by at least 1 bit; the model's feature moving
with no such site change is more likely a neighbour's or the context's doing (a matrix that does
not fit the window tests nothing). A family is tested with all its matrices because its members are
fragments of one concept: a site of one TF of the family scores below the site threshold of
another's matrix (a FOS::JUN site under JUNB's), and a short matrix (7 bp) counts only its
consensus as a site. Unlabelled features compete, each on its own, only with `unlabelled=True`, and
`group="feature"` ranks labelled features one by one instead of concepts. The `statistic` column is
z.

Each hypothesis carries its name (the concept's), its lead feature (the member that changed most)
and its activations (ref, alt, delta, offset), the atlas label of its named member whose matrix
supports it (else of the first whose matrix fits the window, else of its named member that changed
most; any named member of the family lends its matrix, moved or not: the matrix tests the site, the
features the model's response), effect (loss when the statistic is negative, gain otherwise), the
PWM log-odds change of that member's motif at the site (`motif_delta`), the share of the model's
effect that patching all members back restores (`mediated_fraction`, see `decompose`), and a
p-value against shuffled-context null variants of the same kind (see `null`: the null statistic is
the |z| of the hypothesis each null variant puts first, by the same rule, so the top hypothesis'
p-value is uniform under the null). A variant without a hypothesis keeps one row of rank 0 whose
status says why."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genomix.errors import GenomixError
from genomix.hypotheses.decompose import Pass, base_tracks, feature_change, mediated_fractions, run_passes
from genomix.hypotheses.null import STANDARD_KINDS, null_backgrounds, null_kind, null_windows
from genomix.features.atlas import FeatureAtlas, nulls_path
from genomix.io.genome import Genome
from genomix.io.variants import Variant
from genomix.io.windows import Window, make_window
from genomix.motifs.pwm import best_site, site_matrix
from genomix.scoring import Scored, score_variants

log = logging.getLogger("genomix")

EXPLAIN_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "score", "method", "rank", "feature", "label", "label_kind",
                   "motif_id", "tf_name", "effect", "ref_act", "alt_act", "delta", "offset", "motif_delta",
                   "mediated_fraction", "p_value", "hypothesis", "status", "statistic", "concept", "members"]
GROUPS = ("concept", "feature")
MEMBER_MIN = 0.05  # a member is listed as evidence when its own |s| reaches this
MIN_SCALE = 0.02  # floor of a unit's null standard deviation, for units that never move under the null


@dataclass
class Explained:
    """One ALT: its score, its hypotheses (rows of EXPLAIN_COLUMNS as dicts, best first), and for the
    report the window and the activation tracks of the lead features (ref, alt on ref bases)."""

    scored: Scored
    rows: list[dict]
    window: object = None
    tracks: dict = field(default_factory=dict)


@dataclass
class _Null:
    """A null of one kind of variant: each unit's standard deviation (`scale`, at least MIN_SCALE) and
    the sorted |z| of the hypothesis each null variant puts first (`tops`)."""

    scale: np.ndarray
    tops: np.ndarray


@dataclass
class _Evidence:
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


@dataclass
class _Unit:
    """What a hypothesis is about: a concept, or one feature."""

    name: str
    kind: str
    members: np.ndarray
    concept: str


class Explainer:
    """Explains variants with one model, SAE and atlas; holds the null distributions it has drawn.

    `window` defaults to the SAE's training context (or 512 bp); `radius`: bp either side of the allele
    where feature changes count; `top`: hypotheses per ALT; `min_change`: smallest raw |statistic|
    that makes a candidate; `null_size`: null variants per kind; `group`, `unlabelled`: see the module;
    `null_cache`: a folder where nulls are kept between runs (named by everything they depend on);
    nulls drawn in advance beside the atlas (`save_nulls`, the `atlas.nulls` folder) are read too.
    """

    def __init__(self, model, sae, atlas: FeatureAtlas, genome: Genome, window: int | None = None, radius: int = 20,
                 top: int = 3, min_change: float = 0.1, null_size: int = 500, method: str = "auto", rc: bool = True,
                 batch_size: int = 16, seed: int = 0, group: str = "concept", unlabelled: bool = False,
                 motifs: dict | None = None, null_cache: str | Path | None = None):
        from genomix.features.concepts import concept_ids, concepts

        if len(atlas.table) != sae.d_sae:
            raise GenomixError(f"the atlas has {len(atlas.table)} features but the SAE has {sae.d_sae}; "
                               "use the atlas built for this SAE (`genomix features annotate`)")
        if atlas.metadata.get("model_fingerprint") not in (None, sae.metadata.get("model_fingerprint")):
            raise GenomixError("the atlas was built for another model than this SAE's; rebuild it with `genomix features annotate`")
        if null_size < 10:
            raise GenomixError(f"--null-size {null_size} is too small for a p-value: use at least 10 (default 500)")
        if group not in GROUPS:
            raise GenomixError(f"unknown grouping {group!r}; choose one of {', '.join(GROUPS)}")
        self.model, self.sae, self.atlas, self.genome = model, sae, atlas, genome
        self.window = window or int(sae.metadata.get("context_size") or 512)
        self.radius, self.top, self.min_change, self.null_size = radius, top, min_change, null_size
        self.method, self.rc, self.batch_size, self.seed, self.group = method, rc, batch_size, seed, group
        self.table = atlas.table.set_index("feature").sort_index()
        self._kinds = self.table.label_kind.to_numpy()
        self._motif_ids = self.table.motif_id.to_numpy()
        typical = np.array([np.median(a) if a is not None and len(a) else np.nan for a in self.table.top_activations])
        self.typical = np.where(typical > 0, typical, np.inf)
        self.motifs = motifs if motifs is not None else atlas_motifs(atlas)
        self.pwms, self.site_scores = {}, {}  # by motif id: the PWM, the score of a site
        for motif_id, m in self.motifs.items():
            self.pwms[motif_id], self.site_scores[motif_id] = site_matrix(m.ppm)
        table = concepts(sae, atlas)
        concept_of = concept_ids(table, sae.d_sae)
        self.concepts = table
        self.units: list[_Unit] = []
        for row in table.itertuples(index=False):
            members = np.asarray(row.members)
            if group == "concept":
                self.units.append(_Unit(row.name, row.kind, members, row.name))
            else:  # each labelled member on its own
                self.units += [_Unit(str(self.table.label.loc[f]), str(self.table.label_kind.loc[f]), np.array([f]), row.name)
                               for f in members if self.table.label_kind.loc[f] != "unlabelled"]
        if unlabelled:
            self.units += [_Unit("unlabelled", "unlabelled", np.array([f]), ".") for f in np.nonzero(concept_of < 0)[0]]
        self.weights = np.zeros((len(self.units), sae.d_sae))
        for i, unit in enumerate(self.units):
            self.weights[i, unit.members] = 1 / math.sqrt(len(unit.members))
        self._null: dict[tuple, _Null] = {}
        self.null_cache = Path(null_cache) if null_cache is not None else None
        self.null_folders = [f for f in (self.null_cache, atlas.path and nulls_path(atlas.path)) if f is not None]
        self._background_seqs: list[str] | None = None  # the null's shuffled backgrounds, drawn when first needed
        self._null_digest: str | None = None  # a hash of what the nulls depend on, made when first needed

    # ------------------------------------------------------------------ statistic and null

    def feature_statistic(self, change) -> np.ndarray:
        """Each feature's signed `s` (see the module docstring)."""
        active = np.minimum(1.0, np.maximum(change.ref_act, change.alt_act) / self.typical)
        return change.delta / self.typical * active

    def raw_statistic(self, change) -> np.ndarray:
        """Each unit's signed sum of its members' `s` over the square root of its size."""
        return self.weights @ self.feature_statistic(change)

    def null(self, kind: tuple[str, int]) -> "_Null":
        """The null of `kind`: each unit's spread, and the sorted |z| of the hypothesis each null variant
        puts first (ranked the way real variants are). Drawn once (see `draw_nulls`)."""
        if kind not in self._null:
            self.draw_nulls([kind])
        return self._null[kind]

    def draw_nulls(self, kinds) -> None:
        """Draw the nulls of `kinds` that are neither drawn nor in the cache, together: their null variants
        share their backgrounds, so the ref window of each background runs once for all of them."""
        missing = [kind for kind in dict.fromkeys(kinds) if kind not in self._null and not self._read_null(kind)]
        if not missing:
            return
        by_kind = null_windows(self._backgrounds(), missing, self.window, self.seed)
        windows = [by_kind[kind][i] for i in range(self.null_size) for kind in missing]  # a background's kinds together
        group = max(1, 2 * self.batch_size // (1 + len(missing))) * len(missing)  # about 2 x batch_size sequences a pass
        per_feature = np.stack([self.feature_statistic(feature_change(p, self.radius))
                                for first in range(0, len(windows), group)
                                for p in run_passes(self.model, self.sae, windows[first:first + group], group,
                                                    self.radius, logits=False)])
        for k, kind in enumerate(missing):
            features = per_feature[k::len(missing)]
            raw = features @ self.weights.T
            scale = np.maximum(raw.std(axis=0), MIN_SCALE)
            tops = []  # the |z| of the hypothesis each null variant would put first
            for window, r, f in zip(by_kind[kind], raw, features):
                units, _ = self._select(window, r, r / scale, f, 1)
                tops.append(abs(r[units[0]] / scale[units[0]]) if units else 0.0)
            self._null[kind] = _Null(scale, np.sort(tops))
            if self.null_cache is not None:
                self._save_null(kind, self.null_cache)

    def save_nulls(self, folder: str | Path, kinds=STANDARD_KINDS) -> list[Path]:
        """Draw the nulls of `kinds` (by default SNVs and 1-2 bp indels, most of a VCF) and save them in
        `folder`, the `atlas.nulls` folder beside an atlas file, where explain finds them (a first
        explain run then draws only the nulls of other kinds), in place of the nulls saved there
        before."""
        self.draw_nulls(kinds)
        for old in Path(folder).glob("null-*.npz"):
            old.unlink()
        return [self._save_null(kind, Path(folder)) for kind in kinds]

    def _read_null(self, kind: tuple[str, int]) -> bool:
        """Read the null of `kind` from the first folder that has it; False when none has a readable one."""
        for folder in self.null_folders:
            try:
                with np.load(folder / self._null_name(kind)) as arrays:
                    self._null[kind] = _Null(arrays["scale"], arrays["tops"])
                return True
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:  # half-written or foreign: draw it
                log.warning("ignoring the unreadable null %s (%s)", folder / self._null_name(kind), error)
        return False

    def _save_null(self, kind: tuple[str, int], folder: Path) -> Path:
        """Write through a file of its own and rename, so runs sharing a cache never read a partial one."""
        folder.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=".npz")
        with os.fdopen(handle, "wb") as out:
            np.savez(out, scale=self._null[kind].scale, tops=self._null[kind].tops)
        os.replace(partial, folder / self._null_name(kind))
        return folder / self._null_name(kind)

    def _backgrounds(self) -> list[str]:
        if self._background_seqs is None:
            self._background_seqs = null_backgrounds(self.genome, self.null_size, self.window, self.seed)
        return self._background_seqs

    def _null_name(self, kind: tuple[str, int]) -> str:
        """The file name of a null: named by everything the null depends on (the SAE's weights, the
        fingerprint of the model's weights, the units and their kinds, the atlas' typical activations,
        labels and motif ids, the null's backgrounds themselves (so the genome's sequence, window,
        seed, size and the way they are drawn), radius, kind, min_change, the PWMs, their site scores
        and the ranking rule)."""
        if self._null_digest is None:
            self._null_digest = self._null_dependencies()
        return f"null-{kind[0]}{kind[1]}-{hashlib.sha256((self._null_digest + repr(kind)).encode()).hexdigest()[:20]}.npz"

    def _null_dependencies(self) -> str:
        from genomix.sae.base import model_fingerprint

        digest = hashlib.sha256()
        for name, tensor in sorted(self.sae.weights().items()):
            digest.update(name.encode() + tensor.detach().float().cpu().numpy().tobytes())
        digest.update(np.ascontiguousarray(self.weights).tobytes())
        digest.update(np.ascontiguousarray(self.typical).tobytes())
        digest.update(repr((self.sae.metadata.get("model_fingerprint"), model_fingerprint(self.model),
                            self.sae.metadata.get("hook_name"), self.window, self.radius, self.seed, self.null_size,
                            self.sae.architecture, getattr(self.sae, "k", None), self.min_change,
                            sorted(self.site_scores.items()), [unit.kind for unit in self.units],
                            "PWM-contradicted motif hypotheses last, tested with every named member's matrix")).encode())
        digest.update(repr((list(self._kinds), list(self._motif_ids))).encode())
        for motif_id in sorted(self.pwms):
            digest.update(motif_id.encode() + np.ascontiguousarray(self.pwms[motif_id]).tobytes())
        digest.update("".join(self._backgrounds()).encode())
        return digest.hexdigest()

    def p_value(self, z: float, kind: tuple[str, int]) -> float:
        """Share of null variants of `kind` whose first hypothesis' |z| reaches |z| (+1 in both counts)."""
        tops = self.null(kind).tops
        return float((1 + len(tops) - np.searchsorted(tops, abs(z), side="left")) / (1 + len(tops)))

    # ------------------------------------------------------------------ explaining

    def explain(self, variants: list[Variant]) -> list[Explained]:
        """Hypotheses of each ALT, in input order. Windows go through in groups of `batch_size`, so
        memory holds one group's activations at a time."""
        scored = score_variants(self.model, self.genome, variants, self.method, self.window, self.rc, self.batch_size)
        results = [Explained(s, [_empty_row(s)]) for s in scored]
        todo = [i for i, s in enumerate(scored) if s.variant.ok]
        self.draw_nulls(null_kind(scored[i].variant) for i in todo)
        for first in range(0, len(todo), self.batch_size):
            group = todo[first:first + self.batch_size]
            windows = [make_window(self.genome, scored[i].variant, self.window) for i in group]
            passes = run_passes(self.model, self.sae, windows, self.batch_size, self.radius)
            found = [self._candidates(p, null_kind(scored[i].variant)) for i, p in zip(group, passes)]
            patches = [[[int(f) for f in self.units[u].members] for u in units] for units, *_ in found]
            mediated = mediated_fractions(self.model, self.sae, passes, patches, self.batch_size)
            for i, p, (units, change, z, per_feature, kind, evidence), fractions in zip(group, passes, found, mediated):
                if not units:
                    results[i].rows[0]["status"] = "no_feature_change"
                    continue
                rows = [self._row(scored[i], p, change, self.units[u], z[u], per_feature, rank, fraction,
                                  self.p_value(z[u], kind), evidence[u])
                        for rank, (u, fraction) in enumerate(zip(units, fractions), start=1)]
                leads = [row["feature"] for row in rows]
                ref, alt = base_tracks(self.sae, p, leads)
                results[i] = Explained(scored[i], rows, p.window, {f: (ref[k], alt[k]) for k, f in enumerate(leads)})
        return results

    def _candidates(self, p: Pass, kind: tuple[str, int]):
        """The units to report for one pass (best first), with the numbers they were picked by: every
        unit whose raw |statistic| reaches `min_change`, by |z|, except that a motif hypothesis the
        PWM contradicts (`_Evidence.contradicted`) comes after all the others."""
        change = feature_change(p, self.radius)
        per_feature = self.feature_statistic(change)
        raw = self.weights @ per_feature
        z = raw / self.null(kind).scale  # each unit's z: in units of its spread under the null of its kind
        units, evidence = self._select(p.window, raw, z, per_feature, self.top)
        return units, change, z, per_feature, kind, evidence

    def _select(self, window: Window, raw: np.ndarray, z: np.ndarray, per_feature: np.ndarray,
                top: int) -> tuple[list[int], dict[int, "_Evidence"]]:
        """The first `top` units by |z| among those whose raw |statistic| reaches `min_change`, the
        contradicted motif hypotheses after the others (in |z| order too), and their evidence."""
        kept, contradicted, evidence = [], [], {}
        for u in np.argsort(-np.abs(z), kind="stable"):
            if not abs(raw[u]) >= self.min_change:  # NaN too
                continue
            evidence[int(u)] = found = self._evidence(window, self.units[u], z[u], per_feature)
            (contradicted if found.contradicted else kept).append(int(u))
            if len(kept) == top:
                break
        return (kept + contradicted)[:top], evidence

    def _evidence(self, window: Window, unit: _Unit, statistic: float, per_feature: np.ndarray) -> "_Evidence":
        """The atlas row that names the unit here and, for a motif, what the PWMs say: the first named
        member (by how much it changed) whose matrix supports the hypothesis, else the first whose
        matrix fits the window, else the named member that changed most (tested by no matrix)."""
        named = unit.members[self._kinds[unit.members] == unit.kind]  # not joined unlabelled ones
        if not len(named):
            return _Evidence(_lead(unit, statistic, per_feature), None)
        named = named[np.argsort(-np.abs(per_feature[named]), kind="stable")]
        if unit.kind != "motif":
            return _Evidence(int(named[0]), None)
        tested, first = set(), None
        for feature in named:
            motif_id = self._motif_ids[feature]
            if motif_id not in self.pwms or motif_id in tested:
                continue
            tested.add(motif_id)
            ref_pwm, alt_pwm = pwm_scores(window, self.pwms[motif_id])
            if not (math.isfinite(ref_pwm) and math.isfinite(alt_pwm)):  # the matrix does not fit the window
                continue
            found = _Evidence(int(feature), motif_id, ref_pwm, alt_pwm, self.site_scores[motif_id], _effect(statistic))
            if found.supported:
                return found
            if first is None:
                first = found
        if first is not None:
            return first
        motif_id = self._motif_ids[named[0]]
        return _Evidence(int(named[0]), motif_id if isinstance(motif_id, str) else None)

    def _row(self, scored: Scored, p: Pass, change, unit: _Unit, statistic: float, per_feature: np.ndarray,
             rank: int, mediated: float, p_value: float, evidence: "_Evidence") -> dict:
        lead = _lead(unit, statistic, per_feature)
        atlas, motif_id = self.table.loc[evidence.feature], evidence.motif_id
        motif_delta = evidence.alt_pwm - evidence.ref_pwm
        moved = [int(f) for f in unit.members[np.argsort(-np.abs(per_feature[unit.members]))]
                 if abs(per_feature[f]) >= MEMBER_MIN]
        row = _empty_row(scored)
        row.update(rank=rank, feature=lead, label=unit.name, label_kind=unit.kind, motif_id=motif_id or ".",
                   tf_name=str(atlas.tf_name) if motif_id else ".", effect=_effect(statistic),
                   ref_act=float(change.ref_act[lead]), alt_act=float(change.alt_act[lead]),
                   delta=float(change.delta[lead]), offset=int(change.offset[lead]), motif_delta=motif_delta,
                   mediated_fraction=mediated, p_value=p_value, status="ok", statistic=float(statistic),
                   concept=unit.concept, members=",".join(map(str, moved)) or str(lead),
                   _ref_index=int(change.ref_index[lead]), _alt_index=int(change.alt_index[lead]))
        row["hypothesis"] = sentence(row, atlas, evidence, len(moved))
        return row


def _effect(statistic: float) -> str:
    return "loss" if statistic < 0 else "gain"


def _lead(unit: _Unit, statistic: float, per_feature: np.ndarray) -> int:
    """The member that changed most the unit's way (of all members when none did)."""
    members = unit.members
    agreeing = members[np.sign(per_feature[members]) == np.sign(statistic)]
    members = agreeing if len(agreeing) else members
    return int(members[np.argmax(np.abs(per_feature[members]))])


def pwm_scores(window, pwm: np.ndarray) -> tuple[float, float]:
    """Best log-odds of the motif over placements touching the variant, in ref and in alt. For an
    indel both scans reach one base past the allele (the junction), so an intact site beside the
    event scores the same in both."""
    indel = int(window.ref_span[1] - window.ref_span[0] != window.alt_span[1] - window.alt_span[0])
    return (best_site(window.ref, pwm, window.ref_span[0], window.ref_span[1] + indel)[0],
            best_site(window.alt, pwm, window.alt_span[0], window.alt_span[1] + indel)[0])


def _empty_row(scored: Scored) -> dict:
    v = scored.variant
    return {"chrom": v.chrom, "pos": v.vcf_pos, "id": v.id, "ref": v.ref, "alt": v.alt, "score": scored.score,
            "method": scored.method, "rank": 0, "feature": -1, "label": ".", "label_kind": ".", "motif_id": ".",
            "tf_name": ".", "effect": ".", "ref_act": math.nan, "alt_act": math.nan, "delta": math.nan, "offset": 0,
            "motif_delta": math.nan, "mediated_fraction": math.nan, "p_value": math.nan, "hypothesis": ".",
            "status": v.status, "statistic": math.nan, "concept": ".", "members": "."}


def sentence(row: dict, atlas: pd.Series, evidence: _Evidence, n_members: int) -> str:
    """One plain sentence: the mechanism, then the evidence (`atlas`: the row of the feature that names it)."""
    where = f"{row['ref']}>{row['alt']} at {row['chrom']}:{row['pos']}"
    moves = "falls" if row["delta"] < 0 else "rises"
    lead = f"from {row['ref_act']:.2f} to {row['alt_act']:.2f} at {row['offset']:+d} bp"
    others = f" with {n_members - 1} more of its features" if n_members > 1 else ""
    if row["label_kind"] == "motif":
        verb = "weakens" if row["effect"] == "loss" else "creates or strengthens"
        text = f"{where} {verb} a {row['label']} site: feature {row['feature']} {moves} {lead}{others}"
        if not math.isnan(row["motif_delta"]):
            text += (f"; the {row['tf_name']} PWM (JASPAR {row['motif_id']}) scores the site {evidence.ref_pwm:.1f} "
                     f"in ref, {evidence.alt_pwm:.1f} in alt")
            if evidence.holder < evidence.site:
                allele = "ref" if row["effect"] == "loss" else "alt"
                text += f" (no PWM support: {allele} has no site, which scores {evidence.site:.1f} or more)"
            elif not evidence.supported:
                text += " (no PWM support: the score moves less than 1 bit its way)"
    elif row["label_kind"] == "annotation":
        verb = "disrupts" if row["effect"] == "loss" else "creates"
        text = (f"{where} {verb} a {row['label']} signal: feature {row['feature']} {moves} {lead}{others} (held-out "
                f"F1 {atlas.annotation_f1:.2f} of feature {atlas.name} for {atlas.label})")
    else:
        text = f"{where} changes feature {row['feature']}, which no motif or annotation names: it {moves} {lead}"
    if not math.isnan(row["mediated_fraction"]):
        text += f"; patching {'them' if n_members > 1 else 'it'} back restores {max(row['mediated_fraction'], 0.0):.0%} of the model's effect"
    return text + f"; p = {row['p_value']:.2g}."


def atlas_motifs(atlas: FeatureAtlas) -> dict:
    """The matrices (Motif, by id) of the atlas' motif labels, from the collection it was built with."""
    from pathlib import Path

    from genomix.motifs.jaspar import load_jaspar, read_meme_motifs

    source = str(atlas.metadata.get("motif_source") or "")
    wanted = set(atlas.table.loc[atlas.table.label_kind == "motif", "motif_id"].dropna())
    if not wanted:
        return {}
    if source.startswith("JASPAR"):
        motifs = load_jaspar(release=source)
    elif source and Path(source).is_file():
        motifs = read_meme_motifs(source)
    else:
        log.warning("the atlas does not say which motif collection it used (%r); motif_delta left out", source)
        return {}
    return {m.matrix_id: m for m in motifs if m.matrix_id in wanted}


def explain_table(explained: list[Explained]) -> pd.DataFrame:
    """One row per ALT and hypothesis (rank 0 where there is none), columns EXPLAIN_COLUMNS."""
    rows = [row for item in explained for row in item.rows]
    return pd.DataFrame(rows, columns=EXPLAIN_COLUMNS).astype({"pos": "int64", "rank": "int64", "feature": "int64",
                                                                "offset": "int64"})
