"""Concepts: the SAE's fractured features put back together.

An SAE splits one concept ("a HNF1A site") over several features (one per strand, offset or
context), and paralogs share near-identical matrices, so the best JASPAR match of each fragment may
name a different member of the family (HNF1A, HNF1B). Grouping, in three steps:

1. Motif-labelled features are grouped by the JASPAR family of their best match (the TF name where
   the collection gives no family): features whose seqlets match the same family of matrices.
2. Annotation-labelled features are grouped by their class, or join the motif concept whose TF the
   class is named after (an annotation of that TF's sites or peaks).
3. An unlabelled feature joins the concept of the labelled feature it is closest to when both agree:
   decoder cosine >= `min_cosine` and co-activation >= `min_coactivation` (the share of its top
   examples within `margin` bp of that feature's top examples: they fire at the same genome
   positions), or its own seqlet PPM matches that feature's under TOMTOM (q < `ppm_q`, either
   strand; only with 25 labelled PPMs or more, TOMTOM's background being its targets' columns)
   with decoder cosine >= `min_cosine`.

A concept is named by its members' most common label. Each keeps its evidence: how its members were
grouped, their mean pairwise decoder cosine, and how many joined by similarity.

How fractured and entangled an SAE is: `genomix.features.measures`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genomix.features.examples import example_position


@dataclass(frozen=True)
class GroupingOptions:
    min_cosine: float = 0.5
    min_coactivation: float = 0.3
    ppm_q: float = 0.01
    margin: int = 10


def motif_families(atlas) -> dict[str, str]:
    """JASPAR family of each motif id in the atlas (from the atlas' `motif_family` column when it has
    one, else from the collection it was built with; none for a collection without families)."""
    table = atlas.table
    if "motif_family" in table:
        known = table.dropna(subset=["motif_id", "motif_family"])
        return dict(zip(known.motif_id, known.motif_family))
    return {m.matrix_id: m.family for m in atlas.motif_collection() or [] if m.family}


def _positions(examples) -> dict[str, np.ndarray]:
    where: dict[str, list[int]] = {}
    for example in examples if examples is not None else []:
        contig, position = example_position(example)
        where.setdefault(contig, []).append(position)
    return {c: np.sort(np.array(p)) for c, p in where.items()}


def coactivation(a, b, margin: int = 10) -> float:
    """Share of the top examples `a` (["chr:pos", ...]) within `margin` bp of one of `b`'s."""
    if a is None or not len(a):
        return 0.0
    others = _positions(b)
    near = 0
    for contig, positions in _positions(a).items():
        if contig in others:
            theirs = others[contig]
            first = np.minimum(np.searchsorted(theirs, positions - margin), len(theirs) - 1)  # first >= p - margin
            near += int((np.abs(theirs[first] - positions) <= margin).sum())
    return near / len(a)


def group_features(sae, atlas, options: GroupingOptions = GroupingOptions()) -> pd.DataFrame:
    """The concept table: concept, name, kind, key, members, size, labelled, joined, mean_cosine,
    evidence. Members are feature ids; `labelled` of them carry the concept's label kind."""
    table = atlas.table.set_index("feature").sort_index()
    families = motif_families(atlas)
    keys: dict[int, tuple[str, str]] = {}
    for feature, row in table.iterrows():
        if row.label_kind == "motif":
            keys[feature] = ("motif", families.get(row.motif_id) or row.tf_name)
    by_tf = {table.tf_name.loc[f]: key for f, key in sorted(keys.items())}
    for feature, row in table.iterrows():
        if row.label_kind == "annotation":  # an annotation class named like a concept's TF (ChIP peaks, sites)
            keys[feature] = by_tf.get(row.label, ("annotation", row.label))
    decoder = sae.W_dec.detach().float().cpu().numpy()
    decoder = decoder / np.maximum(np.linalg.norm(decoder, axis=1, keepdims=True), 1e-12)
    labelled = np.array(sorted(keys))
    joined: dict[int, tuple[int, str]] = {}
    if len(labelled):
        unlabelled = np.array([f for f in table.index if f not in keys])
        ppm_matches = _ppm_matches(table, unlabelled, labelled, options.ppm_q)
        for first in range(0, len(unlabelled), 4096):  # the closest labelled decoders, a block of rows at a time
            block = unlabelled[first : first + 4096]
            cosine = decoder[block] @ decoder[labelled].T
            nearest = np.argsort(-cosine, axis=1)[:, :5]
            for i, feature in enumerate(block):
                for j in nearest[i]:
                    if cosine[i, j] < options.min_cosine:
                        break
                    other = int(labelled[j])
                    if (feature, other) in ppm_matches:
                        joined[int(feature)] = (other, f"seqlet PPM matches feature {other}'s")
                        break
                    share = coactivation(table.top_examples.loc[feature], table.top_examples.loc[other], options.margin)
                    if share >= options.min_coactivation:
                        joined[int(feature)] = (other, f"fires with feature {other} ({share:.0%} of its top examples)")
                        break
    for feature, (other, _) in joined.items():
        keys[feature] = keys[other]
    ordered = sorted(set(keys.values()))
    rows = []
    labels = table.label
    for number, (kind, key) in enumerate(ordered):
        members = sorted(f for f, k in keys.items() if k == (kind, key))
        own = [f for f in members if f not in joined]
        name = Counter(labels.loc[[f for f in own if table.label_kind.loc[f] == kind] or own]).most_common(1)[0][0]
        vectors = decoder[members]
        pairs = vectors @ vectors.T
        mean_cosine = float((pairs.sum() - len(members)) / max(len(members) * (len(members) - 1), 1))
        how = f"best JASPAR match in the family {key}" if kind == "motif" else f"labelled {key}"
        sites = [f for f in own if kind == "motif" and table.label_kind.loc[f] == "annotation"]
        if sites:
            how += f"; {len(sites)} labelled by the annotation class {', '.join(sorted(set(labels.loc[sites])))}"
        if len(members) > len(own):
            how += f"; {len(members) - len(own)} unlabelled joined: " + "; ".join(
                f"{f}: {joined[f][1]}" for f in members if f in joined
            )
        rows.append(
            (number, name, kind, key, members, len(members), len(own), len(members) - len(own), mean_cosine, how)
        )
    return pd.DataFrame(
        rows,
        columns=["concept", "name", "kind", "key", "members", "size", "labelled", "joined", "mean_cosine", "evidence"],
    )


def _ppm_matches(table: pd.DataFrame, unlabelled: np.ndarray, labelled: np.ndarray, q: float) -> set[tuple[int, int]]:
    """(unlabelled, labelled) feature pairs whose trimmed seqlet PPMs match under TOMTOM (either strand)."""
    from memelite import tomtom

    from genomix.features.motifs import benjamini_hochberg, trim

    def trimmed(features):
        kept = {}
        for f in features:
            ppm = table.ppm.loc[f]
            if ppm is not None:
                core, _ = trim(np.array([list(c) for c in ppm]))
                if core is not None:
                    kept[int(f)] = core
        return kept

    queries, targets = trimmed(unlabelled), trimmed(labelled)
    if not queries or len(targets) < 25:  # TOMTOM's background is the targets' columns: too few, unreliable p
        return set()
    q_names, t_names = list(queries), list(targets)
    p, *_ = tomtom(
        [queries[f].T.astype(np.float64) for f in q_names], [targets[f].T.astype(np.float64) for f in t_names]
    )
    significant = benjamini_hochberg(p.ravel()).reshape(p.shape) < q
    return {(q_names[i], t_names[j]) for i, j in zip(*np.nonzero(significant))}


def concept_ids(table: pd.DataFrame, d_sae: int) -> np.ndarray:
    """Concept id of each feature (-1 for none) from a concept table."""
    ids = np.full(d_sae, -1, dtype=np.int64)
    for row in table.itertuples(index=False):
        ids[np.asarray(row.members, dtype=np.int64)] = row.concept
    return ids


def concepts(sae, atlas, options: GroupingOptions | None = None) -> pd.DataFrame:
    """The concept table of an SAE and its atlas: the one stored beside the atlas (written by
    `genomix features annotate`) unless `options` are given, else grouped now."""
    if options is None and atlas.concepts is not None:
        if (
            "concept" in atlas.table
            and not (
                concept_ids(atlas.concepts, len(atlas.table)) == atlas.table.sort_values("feature").concept.to_numpy()
            ).all()
        ):
            from genomix.errors import GenomixError

            raise GenomixError(
                "the atlas' concept column and its concept table disagree; rebuild them with "
                "`genomix features annotate`"
            )
        return atlas.concepts
    return group_features(sae, atlas, options or GroupingOptions())
