"""Ranked mechanistic hypotheses per variant, with their evidence.

Each feature's change near the variant (see `decompose`) is scored as
`s = delta / typical * min(1, max(ref, alt) / typical)`, where `typical` is the median of the
feature's top activations in the atlas: a change counts in units of the feature's usual strength,
and only as much as the feature is really on in the ref or the alt window (a weak feature wobbling
near zero is not a lost site).
Features are then put back together into concepts (see `genomix.features.concepts`: one concept per
JASPAR family or annotation class, with the unlabelled features that fire with its members), and a
concept's raw statistic is the sum of its members' `s` divided by the square root of its size, so a
concept with many fragments is not favoured for its size alone. Each concept's raw statistic is
then put in units of its own spread under the null (`z`: divided by its standard deviation over the
shuffled-context null variants of the same kind), so a concept that moves with any change of
sequence (a broad class such as enhancer) does not outrank one that moves only when its site does.
Hypotheses are the concepts with the largest |z| among those whose raw |statistic| reaches
`min_change`, with one exception: a motif hypothesis that its own PWMs contradict comes after every
other (see `evidence`: the model's feature moving with no site change is more likely a neighbour's
or the context's doing). Unlabelled features compete, each on its own, only with `unlabelled=True`, and
`group="feature"` ranks labelled features one by one instead of concepts. The `statistic` column is
z.

With SpliceAI, features are read as with any model (the SAE's window, its null), while the response
is read on SpliceAI's own output (`decompose.Measure`: the acceptor or donor probability that
changes most within `distance` bp; for an indel, among the bases ref and alt share), so each real
variant runs in a window that holds SpliceAI's 5,000 bp of context beyond that range, and the null's
windows are widened, where the SAE's layer reads further, to hold all it reads. With `rc` (the
default) each window is read on both strands and explained on the one where SpliceAI's response is
larger, the strand of the gene whose splice sites the variant moves (positions stay the forward
strand's), and the null variants are read on both strands too (a neutral variant's strand is a
toss-up, so its statistic comes from either reading); without `rc`, everything is read on the
forward strand. Its score is the size of that change (for a substitution, the largest of SpliceAI's
four delta scores on that strand, without a transcript's bounds: `genomix score --model spliceai`
gives the official ones per transcript), and there is no `score_p` (the null keeps no 10 kb
windows).

Each hypothesis carries its name (the concept's), its lead feature (the member that changed most)
and its activations (ref, alt, delta, offset), the atlas label of its named member whose matrix
supports it (else of the first whose matrix fits the window, else of its named member that changed
most; any named member of the family lends its matrix, moved or not: the matrix tests the site, the
features the model's response); a motif hypothesis then takes the name of the matrix, among its
JASPAR family's and its members' TOMTOM matches in the atlas' collection, that supports it with the
most significant site (`tf_name`, `motif_id`; that matrix' `tf_family`, and the TFs that fit about
as well in `tf_alternatives`; see `evidence.FamilyNames`). Each carries its effect (loss when the
statistic is negative, gain otherwise), the PWM log-odds change of the named matrix at the site
(`motif_delta`), the share of the model's response to the variant (the score's quantity, see
`decompose`) its members carry by attribution patching (`effect_share`; `error_share`, the SAE's
error term's, is the variant's; see `attribution`), the share that patching all members of the top
hypothesis back restores (`mediated_fraction`, the causal test itself, of rank 1 only),
a p-value against shuffled-context null variants of the same kind (see `null`: the null statistic
is the |z| of the hypothesis each null variant puts first, by the same rule, so the top hypothesis'
p-value is uniform under the null), and how often those null variants move the model's own score
as much as the variant does (`score_p`: below 0.05, the model's prediction reads the change; above,
only the SAE's features see it). q-values are set over a whole run (`records.FalseDiscovery`). A
variant without a hypothesis keeps one row of rank 0 whose status says why."""

from __future__ import annotations

import hashlib
import math
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from genomix.errors import GenomixError
from genomix.features.atlas import FeatureAtlas, nulls_path
from genomix.hypotheses.attribution import attribute
from genomix.hypotheses.decompose import Pass, base_tracks, feature_change, measure, mediated_fractions, run_passes
from genomix.hypotheses.evidence import Evidence, FamilyNames, MotifEvidence, atlas_motifs, effect_of
from genomix.hypotheses.null import (
    STANDARD_KINDS,
    Null,
    NullStore,
    kind_variant,
    null_backgrounds,
    null_kind,
    null_windows,
    share_reaching,
    tail_p_value,
)
from genomix.hypotheses.records import Explained, Hypothesis
from genomix.io.genome import Genome
from genomix.io.variants import Variant
from genomix.io.windows import Window, make_window
from genomix.models.spliceai import FLANK
from genomix.scoring import Scored, check_window, choose_method, score_variants, score_windows

GROUPS = ("concept", "feature")
MEMBER_MIN = 0.05  # a member is listed as evidence when its own |s| reaches this
MIN_SCALE = 0.02  # floor of a unit's null standard deviation, for units that never move under the null


@dataclass(frozen=True)
class ExplainOptions:
    """How explain works. `window`: bp (None: the SAE's training context, or 512); `radius`: bp either
    side of the allele where feature changes count; `top`: hypotheses per ALT; `min_change`: smallest
    raw |statistic| that makes a candidate; `null_size`: null variants per kind; `method`, `rc`: the
    score (see `genomix.scoring`); `batch_size`: windows per forward pass; `seed`: of the nulls and
    the scrambled controls; `group`, `unlabelled`: see the module; `null_cache`: a folder where nulls
    are kept between runs (nulls drawn in advance beside the atlas, its `atlas.nulls`, are read too);
    `distance`: with SpliceAI, bp either side of the allele where its output is read (SpliceAI's -D)."""

    window: int | None = None
    radius: int = 20
    top: int = 3
    min_change: float = 0.1
    null_size: int = 500
    method: str = "auto"
    rc: bool = True
    batch_size: int = 16
    seed: int = 0
    group: str = "concept"
    unlabelled: bool = False
    null_cache: str | Path | None = None
    distance: int = 50

    def check(self) -> None:
        if self.window is not None:
            check_window(self.window)
        if self.null_size < 10:
            raise GenomixError(
                f"a null size of {self.null_size} is too small for a p-value: use at least 10 (default 500)",
                option="null_size",
            )
        if isinstance(self.distance, bool) or not isinstance(self.distance, int) or not 1 <= self.distance < FLANK:
            raise GenomixError(
                f"distance must be a whole number of bp from 1 to {FLANK - 1}, not {self.distance!r}",
                option="distance",
            )
        if self.group not in GROUPS:
            raise GenomixError(f"unknown grouping {self.group!r}; choose one of {', '.join(GROUPS)}", option="group")


@dataclass
class _Unit:
    """What a hypothesis is about: a concept, or one feature."""

    name: str
    kind: str
    members: np.ndarray
    concept: str
    family: str = "."
    candidates: tuple[str, ...] = ()  # the matrices that may name it (see evidence.FamilyNames)


class Explainer:
    """Explains variants with one model, SAE and atlas (`options`: ExplainOptions, or its fields as
    keywords); holds the nulls it has drawn or read (`nulls`). `motifs`: the atlas' matrices by id
    (read from the collection the atlas names by default)."""

    def __init__(
        self,
        model,
        sae,
        atlas: FeatureAtlas,
        genome: Genome,
        options: ExplainOptions | None = None,
        motifs: dict | None = None,
        **overrides,
    ):
        from genomix.features.concepts import concept_ids, concepts

        options = replace(options or ExplainOptions(), **overrides)
        options.check()
        if len(atlas.table) != sae.d_sae:
            raise GenomixError(
                f"the atlas has {len(atlas.table)} features but the SAE has {sae.d_sae}; "
                "use the atlas built for this SAE (`genomix features annotate`)"
            )
        if atlas.metadata.get("model_fingerprint") not in (None, sae.metadata.get("model_fingerprint")):
            raise GenomixError(
                "the atlas was built for another model than this SAE's; rebuild it with `genomix features annotate`"
            )
        self.model, self.sae, self.atlas, self.genome, self.options = model, sae, atlas, genome, options
        self.splice = model.kind == "splice"
        if self.splice and options.method not in ("auto", "spliceai"):
            raise GenomixError(
                f"with SpliceAI, explain reads SpliceAI's own output (method spliceai), not {options.method}",
                option="method",
            )
        self.window = int(sae.metadata.get("context_size") or 512) if options.window is None else options.window
        if self.splice:  # the null's windows hold all that the layer reads around the bases features are read at
            self.window = max(self.window, 2 * (model.reach(sae.metadata["hook_name"]) + options.radius + 1))
        check_window(self.window)
        self.table = atlas.table.set_index("feature").sort_index()
        typical = np.array([np.median(a) if a is not None and len(a) else np.nan for a in self.table.top_activations])
        self.typical = np.where(typical > 0, typical, np.inf)
        self.evidence = MotifEvidence(self.table, motifs if motifs is not None else atlas_motifs(atlas))
        self.names = FamilyNames(self.evidence.motifs.values())
        table = concepts(sae, atlas)
        concept_of = concept_ids(table, sae.d_sae)
        self.concepts = table
        self.units: list[_Unit] = []
        for row in table.itertuples(index=False):
            members = np.asarray(row.members)
            family = str(row.key) if row.kind == "motif" else "."
            if options.group == "concept":
                names = self.names.candidates(family, self._matches(members)) if row.kind == "motif" else ()
                self.units.append(_Unit(row.name, row.kind, members, row.name, family, names))
            else:  # each labelled member on its own
                self.units += [
                    _Unit(
                        str(self.table.label.loc[f]),
                        str(self.table.label_kind.loc[f]),
                        np.array([f]),
                        row.name,
                        family if self.table.label_kind.loc[f] == "motif" else ".",
                        self.names.candidates(family, self._matches([f]))
                        if self.table.label_kind.loc[f] == "motif"
                        else (),
                    )
                    for f in members
                    if self.table.label_kind.loc[f] != "unlabelled"
                ]
        if options.unlabelled:
            self.units += [_Unit("unlabelled", "unlabelled", np.array([f]), ".") for f in np.nonzero(concept_of < 0)[0]]
        self.weights = np.zeros((len(self.units), sae.d_sae))
        for i, unit in enumerate(self.units):
            self.weights[i, unit.members] = 1 / math.sqrt(len(unit.members))
        cache = Path(options.null_cache) if options.null_cache is not None else None
        folders = [f for f in (cache, atlas.path and nulls_path(atlas.path)) if f is not None]
        self.nulls = NullStore(self._null_dependencies, folders, cache)
        self._background_seqs: list[str] | None = None  # the null's shuffled backgrounds, drawn when first needed
        self._tail_fits: dict = {}

    def _matches(self, features) -> set[str]:
        """The TOMTOM matches (TF names) of the motif-labelled ones among `features`."""
        if "motif_matches" not in self.table:
            return set()
        rows = self.table.loc[list(features)]
        rows = rows[rows.label_kind == "motif"]
        return {str(name) for names in rows.motif_matches if names is not None for name in names}

    # ------------------------------------------------------------------ statistic and null

    def feature_statistic(self, change) -> np.ndarray:
        """Each feature's signed `s` (see the module docstring)."""
        active = np.minimum(1.0, np.maximum(change.ref_act, change.alt_act) / self.typical)
        return change.delta / self.typical * active

    def raw_statistic(self, change) -> np.ndarray:
        """Each unit's signed sum of its members' `s` over the square root of its size."""
        return self.weights @ self.feature_statistic(change)

    def null(self, kind: tuple[str, int]) -> Null:
        """The null of `kind`: each unit's spread, and the sorted |z| of the hypothesis each null variant
        puts first (ranked the way real variants are). Drawn once (see `draw_nulls`)."""
        if not self.nulls.has(kind):
            self.draw_nulls([kind])
        return self.nulls.drawn[kind]

    def draw_nulls(self, kinds) -> None:
        """Draw the nulls of `kinds` that are neither drawn nor in a folder, together: their null variants
        share their backgrounds, so the ref window of each background runs once for all of them."""
        missing = [kind for kind in dict.fromkeys(kinds) if not self.nulls.has(kind)]
        if not missing:
            return
        options = self.options
        by_kind = null_windows(self._backgrounds(), missing, self.window, options.seed)
        windows = [
            by_kind[kind][i] for i in range(options.null_size) for kind in missing
        ]  # a background's kinds together
        group = max(1, 2 * options.batch_size // (1 + len(missing))) * len(
            missing
        )  # about 2 x batch_size sequences a pass
        readings = self._readings()  # SpliceAI's null is read on both strands, as its real variants are
        per_feature = []
        for reading in readings:
            with reading():
                per_feature += [
                    self.feature_statistic(feature_change(p, options.radius))
                    for first in range(0, len(windows), group)
                    for p in run_passes(
                        self.model, self.sae, windows[first : first + group], group, options.radius, logits=False
                    )
                ]
        per_feature = np.stack(per_feature)
        if self.splice:  # SpliceAI's response needs 10 kb windows: its null keeps no scores
            scores = np.zeros((len(missing), 0))
        else:
            methods = {kind: choose_method(options.method, self.model, kind_variant(kind)) for kind in missing}
            scores = score_windows(
                self.model,
                [window for kind in missing for window in by_kind[kind]],
                [methods[kind] for kind in missing for _ in by_kind[kind]],
                options.rc,
                options.batch_size,
            ).reshape(len(missing), -1)
        for k, kind in enumerate(missing):
            features = per_feature[k :: len(missing)]
            raw = features @ self.weights.T
            scale = np.maximum(raw.std(axis=0), MIN_SCALE)
            tops = []  # the |z| of the hypothesis each null variant would put first
            for window, r, f in zip(by_kind[kind] * len(readings), raw, features):
                units, _ = self._select(window, r, r / scale, f, 1)
                tops.append(abs(r[units[0]] / scale[units[0]]) if units else 0.0)
            self.nulls.put(kind, Null(scale, np.sort(tops), np.sort(np.abs(scores[k]))))

    def save_nulls(self, folder: str | Path, kinds=STANDARD_KINDS) -> list[Path]:
        """Draw the nulls of `kinds` (by default SNVs and 1-2 bp indels, most of a VCF) and save them in
        `folder`, the `atlas.nulls` folder beside an atlas file, where explain finds them (a first
        explain run then draws only the nulls of other kinds), in place of the nulls saved there
        before."""
        self.draw_nulls(kinds)
        for old in Path(folder).glob("null-*.npz"):
            old.unlink()
        return [self.nulls.save(kind, Path(folder)) for kind in kinds]

    def _readings(self) -> list:
        """How windows are read: on the forward strand, and with SpliceAI and `rc` on the reverse one too
        (see `_passes`)."""
        if self.splice and self.options.rc:
            return [lambda: self.model.reading_reverse(False), self.model.reading_reverse]
        return [nullcontext]

    def _backgrounds(self) -> list[str]:
        if self._background_seqs is None:
            self._background_seqs = null_backgrounds(
                self.genome, self.options.null_size, self.window, self.options.seed
            )
        return self._background_seqs

    def _null_dependencies(self) -> str:
        """A hash of everything a null depends on: the SAE's weights, the fingerprint of the model's
        weights, the units and their kinds, the atlas' typical activations, labels and motif ids, the
        null's backgrounds themselves (so the genome's sequence, window, seed, size and the way they
        are drawn), radius, min_change, the PWMs, their site scores and the ranking rule."""
        from genomix.sae.base import model_fingerprint

        options, evidence = self.options, self.evidence
        digest = hashlib.sha256()
        for name, tensor in sorted(self.sae.weights().items()):
            digest.update(name.encode() + tensor.detach().float().cpu().numpy().tobytes())
        digest.update(np.ascontiguousarray(self.weights).tobytes())
        digest.update(np.ascontiguousarray(self.typical).tobytes())
        digest.update(
            repr(
                (
                    self.sae.metadata.get("model_fingerprint"),
                    model_fingerprint(self.model),
                    self.sae.metadata.get("hook_name"),
                    self.window,
                    options.radius,
                    options.seed,
                    options.null_size,
                    self.sae.architecture,
                    getattr(self.sae, "k", None),
                    options.min_change,
                    sorted(evidence.site_scores.items()),
                    [unit.kind for unit in self.units],
                    "spliceai" if self.splice else options.method,  # auto and spliceai are one for SpliceAI
                    options.rc,
                    "PWM-contradicted motif hypotheses last, tested with every named member's matrix",
                )
            ).encode()
        )
        digest.update(repr((list(evidence.kinds), list(evidence.motif_ids))).encode())
        for motif_id in sorted(evidence.pwms):
            digest.update(motif_id.encode() + np.ascontiguousarray(evidence.pwms[motif_id]).tobytes())
        digest.update("".join(self._backgrounds()).encode())
        if self.splice:
            digest.update(f"SpliceAI, the null read on {len(self._readings())} strand(s)".encode())
        return digest.hexdigest()

    def p_value(self, z: float, kind: tuple[str, int]) -> float:
        """Share of null variants of `kind` whose first hypothesis' |z| reaches |z| (+1 in both counts), or
        where few do, from the null's fitted tail (see `null.tail_p_value`)."""
        return tail_p_value(self.null(kind).tops, z, self._tail_fits)

    def score_p(self, score: float, kind: tuple[str, int]) -> float:
        """Share of null variants of `kind` whose |score| by the model reaches |score| (+1 in both counts);
        NaN for a null without scores (SpliceAI's)."""
        scores = self.null(kind).scores
        return share_reaching(scores, score) if math.isfinite(score) and len(scores) else math.nan

    def variant_window(self, variant: Variant) -> int:
        """The window a real variant runs in: the SAE's, or with SpliceAI one that holds its context beyond
        every base within `distance` of the allele."""
        if not self.splice:
            return self.window
        return 2 * (FLANK + self.options.distance + max(len(variant.ref), len(variant.alt)))

    # ------------------------------------------------------------------ explaining

    def explain(self, variants: list[Variant]) -> list[Explained]:
        """Hypotheses of each ALT, in input order. Windows go through in groups of `batch_size`, so
        memory holds one group's activations at a time."""
        options = self.options
        if self.splice:  # scored below, from the passes
            scored = [Scored(v, "spliceai" if v.ok else None, math.nan) for v in variants]
        else:
            scored = score_variants(
                self.model, self.genome, variants, options.method, self.window, options.rc, options.batch_size
            )
        results = [Explained(s, [Hypothesis.none(s)]) for s in scored]
        todo = [i for i, s in enumerate(scored) if s.variant.ok]
        self.draw_nulls(null_kind(scored[i].variant) for i in todo)
        # about batch_size windows of the SAE's width a pass (one at a time for SpliceAI's 10 kb)
        widest = max([self.variant_window(scored[i].variant) for i in todo] + [1])
        batch = max(1, options.batch_size * self.window // widest)
        for first in range(0, len(todo), batch):
            group = todo[first : first + batch]
            windows = [
                make_window(self.genome, scored[i].variant, self.variant_window(scored[i].variant)) for i in group
            ]
            passes, measures, reverse = self._passes(windows, [scored[i].method for i in group], batch)
            found = [self._candidates(p, null_kind(scored[i].variant)) for i, p in zip(group, passes)]
            if self.splice:  # its score is SpliceAI's largest change
                for i, m in zip(group, measures):
                    scored[i] = replace(scored[i], score=abs(m.effect))
                    results[i] = Explained(scored[i], [Hypothesis.none(scored[i])])
            patches = [[[int(f) for f in self.units[u].members] for u in units[:1]] for units, *_ in found]
            attributions, mediated = [None] * len(group), [None] * len(group)
            for strand in sorted(set(reverse)):  # SpliceAI: the windows read on each strand together
                rows = [row for row, r in enumerate(reverse) if r == strand]
                with self.model.reading_reverse(strand) if strand else nullcontext():
                    parts = [passes[row] for row in rows], [measures[row] for row in rows]
                    for row, a in zip(rows, attribute(self.model, self.sae, *parts, batch)):
                        attributions[row] = a
                    for row, m in zip(
                        rows, mediated_fractions(self.model, self.sae, *parts, [patches[row] for row in rows], batch)
                    ):
                        mediated[row] = m
            for i, p, (units, change, z, per_feature, kind, evidence), top, attribution, strand in zip(
                group, passes, found, mediated, attributions, reverse
            ):
                score_p = self.score_p(scored[i].score, kind)
                if not units:
                    results[i].hypotheses[0].status = "no_feature_change"
                    results[i].hypotheses[0].score_p = score_p
                    results[i].attribution, results[i].reverse = attribution, strand
                    continue
                fractions = top + [math.nan] * (len(units) - 1)  # the causal test of the top one only
                hypotheses = [
                    self._hypothesis(
                        scored[i],
                        p.window,
                        change,
                        self.units[u],
                        z[u],
                        per_feature,
                        rank,
                        fraction,
                        self.p_value(z[u], kind),
                        evidence[u],
                    )
                    for rank, (u, fraction) in enumerate(zip(units, fractions), start=1)
                ]
                for h, u in zip(hypotheses, units):
                    h.score_p = score_p
                    h.effect_share = attribution.share(self.units[u].members)
                    h.error_share = attribution.error
                leads = [h.feature for h in hypotheses]
                ref, alt = base_tracks(self.sae, p, leads)
                tracks = {f: (ref[k], alt[k]) for k, f in enumerate(leads)}
                results[i] = Explained(scored[i], hypotheses, p.window, tracks, attribution, strand)
        return results

    def _passes(self, windows: list[Window], methods: list[str], batch: int) -> tuple[list, list, list[bool]]:
        """Each window's pass and response (`decompose.Measure`), and whether it was read on the reverse
        strand: with SpliceAI and `rc`, each window is read on both strands and keeps the one where
        SpliceAI's response is larger (the strand of the gene whose splice sites the variant moves);
        otherwise the forward strand."""
        options = self.options

        def read() -> tuple[list, list]:
            passes = run_passes(self.model, self.sae, windows, batch, options.radius)
            return passes, [
                measure(self.model, p, method, options.radius, options.distance) for p, method in zip(passes, methods)
            ]

        passes, measures = read()
        reverse = [False] * len(windows)
        if len(self._readings()) == 2:
            with self.model.reading_reverse():
                other = read()
            for row, (p, m) in enumerate(zip(*other)):
                if abs(m.effect) > abs(measures[row].effect):
                    passes[row], measures[row], reverse[row] = p, m, True
        return passes, measures, reverse

    def _candidates(self, p: Pass, kind: tuple[str, int]):
        """The units to report for one pass (best first), with the numbers they were picked by: every
        unit whose raw |statistic| reaches `min_change`, by |z|, except that a motif hypothesis the
        PWM contradicts (`Evidence.contradicted`) comes after all the others."""
        change = feature_change(p, self.options.radius)
        per_feature = self.feature_statistic(change)
        raw = self.weights @ per_feature
        z = raw / self.null(kind).scale  # each unit's z: in units of its spread under the null of its kind
        units, evidence = self._select(p.window, raw, z, per_feature, self.options.top)
        return units, change, z, per_feature, kind, evidence

    def _select(
        self, window: Window, raw: np.ndarray, z: np.ndarray, per_feature: np.ndarray, top: int
    ) -> tuple[list[int], dict[int, Evidence]]:
        """The first `top` units by |z| among those whose raw |statistic| reaches `min_change`, the
        contradicted motif hypotheses after the others (in |z| order too), and their evidence."""
        kept, contradicted, evidence = [], [], {}
        for u in np.argsort(-np.abs(z), kind="stable"):
            if not abs(raw[u]) >= self.options.min_change:  # NaN too
                continue
            evidence[int(u)] = found = self._evidence(window, self.units[u], z[u], per_feature)
            (contradicted if found.contradicted else kept).append(int(u))
            if len(kept) == top:
                break
        return (kept + contradicted)[:top], evidence

    def _evidence(self, window: Window, unit: _Unit, statistic: float, per_feature: np.ndarray) -> Evidence:
        """What the PWMs of the unit's named members say here (see `MotifEvidence.test`)."""
        return self.evidence.test(
            window, unit.members, unit.kind, statistic, per_feature, _lead(unit, statistic, per_feature)
        )

    def _hypothesis(
        self,
        scored: Scored,
        window: Window,
        change,
        unit: _Unit,
        statistic: float,
        per_feature: np.ndarray,
        rank: int,
        mediated: float,
        p_value: float,
        evidence: Evidence,
    ) -> Hypothesis:
        lead = _lead(unit, statistic, per_feature)
        naming, motif_id = self.table.loc[evidence.feature], evidence.motif_id
        tf_name = str(naming.tf_name) if motif_id else "."
        named = self.names.name(window, unit.candidates, effect_of(statistic)) if unit.kind == "motif" else None
        if named is not None:  # the candidate matrix that fits the site best names it
            motif_id, tf_name = named.motif_id, named.tf_name
            evidence = Evidence(
                evidence.feature, motif_id, named.ref_pwm, named.alt_pwm, named.site, effect_of(statistic)
            )
        moved = [
            int(f)
            for f in unit.members[np.argsort(-np.abs(per_feature[unit.members]))]
            if abs(per_feature[f]) >= MEMBER_MIN
        ]
        v = scored.variant
        return Hypothesis(
            v.chrom,
            v.vcf_pos,
            v.id,
            v.ref,
            v.alt,
            scored.score,
            scored.method,
            "ok",
            rank=rank,
            feature=lead,
            label=unit.name,
            label_kind=unit.kind,
            motif_id=motif_id or ".",
            tf_name=tf_name,
            effect=effect_of(statistic),
            ref_act=float(change.ref_act[lead]),
            alt_act=float(change.alt_act[lead]),
            delta=float(change.delta[lead]),
            offset=int(change.offset[lead]),
            motif_delta=evidence.alt_pwm - evidence.ref_pwm,
            mediated_fraction=mediated,
            p_value=p_value,
            statistic=float(statistic),
            concept=unit.concept,
            members=",".join(map(str, moved)) or str(lead),
            tf_family=named.family if named is not None else unit.family,
            tf_alternatives=",".join(named.alternatives) if named is not None and named.alternatives else ".",
            evidence=evidence,
            moved_members=len(moved),
            naming_feature=evidence.feature,
            annotation_f1=float(naming.get("annotation_f1", math.nan)),
            ref_index=int(change.ref_index[lead]),
            alt_index=int(change.alt_index[lead]),
        )


def _lead(unit: _Unit, statistic: float, per_feature: np.ndarray) -> int:
    """The member that changed most the unit's way (of all members when none did)."""
    members = unit.members
    agreeing = members[np.sign(per_feature[members]) == np.sign(statistic)]
    members = agreeing if len(agreeing) else members
    return int(members[np.argmax(np.abs(per_feature[members]))])
