"""Concepts: the SAE's fractured features put back together, and how fractured and entangled it is.

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

Measures: fracture (labelled features per concept) and entanglement (features whose top examples
are enriched, each at least `min_share` of the examples and `min_enrichment` times the base rate,
in two or more annotation classes that neither nest in nor adjoin each other).
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
    one, else from the pinned JASPAR release)."""
    table = atlas.table
    if "motif_family" in table:
        known = table.dropna(subset=["motif_id", "motif_family"])
        return dict(zip(known.motif_id, known.motif_family))
    from genomix.motifs.jaspar import load_jaspar

    source = str(atlas.metadata.get("motif_source") or "")
    if not source.startswith("JASPAR"):
        return {}
    return {m.matrix_id: m.family for m in load_jaspar(release=source) if m.family}


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
            block = unlabelled[first:first + 4096]
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
        how = (f"best JASPAR match in the family {key}" if kind == "motif" else f"labelled {key}")
        sites = [f for f in own if kind == "motif" and table.label_kind.loc[f] == "annotation"]
        if sites:
            how += f"; {len(sites)} labelled by the annotation class {', '.join(sorted(set(labels.loc[sites])))}"
        if len(members) > len(own):
            how += f"; {len(members) - len(own)} unlabelled joined: " + "; ".join(
                f"{f}: {joined[f][1]}" for f in members if f in joined)
        rows.append((number, name, kind, key, members, len(members), len(own), len(members) - len(own), mean_cosine, how))
    return pd.DataFrame(rows, columns=["concept", "name", "kind", "key", "members", "size", "labelled", "joined",
                                       "mean_cosine", "evidence"])


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
    p, *_ = tomtom([queries[f].T.astype(np.float64) for f in q_names], [targets[f].T.astype(np.float64) for f in t_names])
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
        if "concept" in atlas.table and not (concept_ids(atlas.concepts, len(atlas.table))
                                             == atlas.table.sort_values("feature").concept.to_numpy()).all():
            from genomix.errors import GenomixError

            raise GenomixError("the atlas' concept column and its concept table disagree; rebuild them with "
                               "`genomix features annotate`")
        return atlas.concepts
    return group_features(sae, atlas, options or GroupingOptions())


# ---------------------------------------------------------------------------------------------- measures


def fracture(table: pd.DataFrame) -> dict:
    """Features per labelled concept: mean, median, max, the distribution and the most fractured."""
    sizes = table["size"].to_numpy()
    if not len(sizes):
        return {"concepts": 0, "mean": float("nan"), "median": float("nan"), "max": 0, "distribution": {},
                "most_fractured": []}
    top = table.sort_values("size", ascending=False).head(5)
    return {"concepts": int(len(sizes)), "mean": float(sizes.mean()), "median": float(np.median(sizes)),
            "max": int(sizes.max()), "distribution": {int(k): int(v) for k, v in sorted(Counter(sizes).items())},
            "most_fractured": [f"{r.name} ({r.size})" for r in top.itertuples(index=False)]}


def _merged(annotations: pd.DataFrame, margin: int = 0) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per class and contig, the elements (widened by `margin`) merged into sorted disjoint intervals."""
    merged: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for (cls, contig), group in annotations.groupby(["cls", "chrom"]):
        order = np.argsort(group.start.to_numpy(), kind="stable")
        starts = np.maximum(group.start.to_numpy()[order] - margin, 0)
        ends = group.end.to_numpy()[order] + margin
        reach = np.maximum.accumulate(ends)
        new = np.concatenate([[True], starts[1:] > reach[:-1]])  # an interval that starts past all before it
        merged.setdefault(cls, {})[contig] = (starts[new], np.maximum.reduceat(ends, np.nonzero(new)[0]))
    return merged


def _covered(intervals: tuple[np.ndarray, np.ndarray]) -> int:
    return int((intervals[1] - intervals[0]).sum())


def _overlap(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> int:
    """Bases shared by two sets of sorted disjoint intervals."""
    total = 0
    first = np.searchsorted(b[1], a[0], side="right")  # the first b interval ending after each a starts
    last = np.searchsorted(b[0], a[1], side="left")  # past the last b interval starting before each a ends
    for start, end, i, j in zip(a[0], a[1], first, last):
        if j > i:
            total += int(np.maximum(0, np.minimum(end, b[1][i:j]) - np.maximum(start, b[0][i:j])).sum())
    return total


def _inside(intervals: tuple[np.ndarray, np.ndarray], positions: np.ndarray) -> np.ndarray:
    where = np.searchsorted(intervals[0], positions, side="right") - 1
    return (where >= 0) & (positions < intervals[1][np.maximum(where, 0)])


def class_shares(atlas, annotations: pd.DataFrame, margin: int = 5) -> pd.DataFrame:
    """Per feature (rows) and annotation class (columns): the share of its top examples inside an element
    of the class (± `margin` bp)."""
    merged = _merged(annotations, margin)
    classes = sorted(merged)
    examples = [(row, *example_position(example)) for row, found in enumerate(atlas.table.top_examples)
                for example in (found if found is not None else [])]
    shares = np.zeros((len(atlas.table), len(classes)))
    if examples:
        frame = pd.DataFrame(examples, columns=["row", "contig", "position"])
        sizes = np.bincount(frame.row, minlength=len(atlas.table))
        for column, cls in enumerate(classes):
            for contig, local in frame.groupby("contig"):
                if contig in merged[cls]:
                    hit = _inside(merged[cls][contig], local.position.to_numpy())
                    shares[:, column] += np.bincount(local.row.to_numpy()[hit], minlength=len(atlas.table))
        shares /= np.maximum(sizes, 1)[:, None]
    return pd.DataFrame(shares, columns=classes, index=atlas.table.feature.to_numpy())


def base_rates(annotations: pd.DataFrame, lengths: dict[str, int], contigs: list[str]) -> pd.Series:
    """Share of the positions of `contigs` inside each class (overlapping elements counted once)."""
    total = sum(lengths[c] for c in contigs)
    merged = _merged(annotations[annotations.chrom.isin(contigs)])
    return pd.Series({cls: sum(_covered(i) for i in by_contig.values()) / total for cls, by_contig in merged.items()})


def related_classes(annotations: pd.DataFrame, contigs: list[str], margin: int = 5,
                    share: float = 0.5) -> set[tuple[str, str]]:
    """Pairs of classes (a, b) where at least `share` of a's elements lie inside or within `margin` bp
    of an element of b: nested (a TF site in an enhancer) or adjoining (an exon and its intron, a
    polypyrimidine tract and its acceptor) classes describe one thing, not two."""
    annotations = annotations[annotations.chrom.isin(contigs)]
    widened = _merged(annotations, margin + 1)  # overlapping these: at most `margin` bp away (touching: 0)
    near: dict[tuple[str, str], int] = {}
    for (a, contig), elements in annotations.groupby(["cls", "chrom"]):
        for b, by_contig in widened.items():
            if b != a and contig in by_contig:
                starts, ends = by_contig[contig]
                first = np.searchsorted(ends, elements.start.to_numpy(), side="right")  # first b ending past it
                hit = (first < len(starts)) & (starts[np.minimum(first, len(starts) - 1)] < elements.end.to_numpy())
                near[(a, b)] = near.get((a, b), 0) + int(hit.sum())
    totals = annotations.groupby("cls").size().to_dict()
    return {(a, b) for (a, b), count in near.items() if count / totals[a] >= share}


def entanglement(atlas, annotations: pd.DataFrame, lengths: dict[str, int], min_share: float = 0.2,
                 min_enrichment: float = 2.0, margin: int = 5) -> dict:
    """Labelled features whose top examples are enriched in two or more annotation classes that are not
    related (see `related_classes`: an enhancer and the TF sites inside it, or an exon and the
    intron beside it, are one thing; a TF site and an exon are two): their fraction of labelled
    features, and examples."""
    contigs = atlas.metadata.get("regions") or sorted(lengths)
    shares = class_shares(atlas, annotations, margin)
    rates = base_rates(annotations, lengths, contigs).reindex(shares.columns).fillna(0)
    related = related_classes(annotations, contigs, margin)
    enriched = (shares >= min_share) & (shares >= min_enrichment * rates.to_numpy()[None, :])
    labelled = atlas.table.set_index("feature").label_kind != "unlabelled"
    tangled = []
    for feature, row in enriched.iterrows():
        if not labelled.loc[feature]:
            continue
        classes = sorted(row[row].index, key=lambda c: -shares.loc[feature, c])
        unrelated = [(a, b) for i, a in enumerate(classes) for b in classes[i + 1:]
                     if (a, b) not in related and (b, a) not in related]
        if unrelated:
            a, b = unrelated[0]
            tangled.append((int(feature), a, float(shares.loc[feature, a]), b, float(shares.loc[feature, b])))
    n_labelled = int(labelled.sum())
    return {"labelled_features": n_labelled, "entangled": len(tangled),
            "fraction": len(tangled) / n_labelled if n_labelled else float("nan"),
            "examples": [f"feature {f}: {a} ({sa:.0%} of top examples) and {b} ({sb:.0%})"
                         for f, a, sa, b, sb in sorted(tangled, key=lambda t: -min(t[2], t[4]))[:5]]}


def adjusted_rand_index(truth, predicted) -> float:
    """Adjusted Rand index of two labelings of the same items (Hubert and Arabie)."""
    from math import comb

    table = pd.crosstab(pd.Series(list(truth)), pd.Series(list(predicted))).to_numpy()
    n = int(table.sum())
    pairs = sum(comb(int(x), 2) for x in table.ravel())
    rows = sum(comb(int(x), 2) for x in table.sum(axis=1))
    columns = sum(comb(int(x), 2) for x in table.sum(axis=0))
    expected = rows * columns / comb(n, 2) if n > 1 else 0.0
    largest = (rows + columns) / 2
    return float((pairs - expected) / (largest - expected)) if largest != expected else 1.0


def summarize(sae, atlas, annotations: pd.DataFrame | None = None, lengths: dict[str, int] | None = None) -> dict:
    """One SAE's concept figures: its layer, features, labelled features, concepts, fracture and (with
    annotations and contig lengths) entanglement."""
    table = concepts(sae, atlas)
    labelled = int((atlas.table.label_kind != "unlabelled").sum())
    figures = {"model": sae.metadata.get("model_name"), "layer": sae.metadata.get("hook_name"), "features": sae.d_sae,
               "labelled": labelled, "concepts": int(len(table)), "fracture": fracture(table)}
    if annotations is not None and lengths is not None:
        figures["entanglement"] = entanglement(atlas, annotations, lengths)
    return figures
