"""How fractured and entangled an SAE's features are.

Fracture: labelled features per concept (see `genomix.features.concepts`). Entanglement: features
whose top examples are enriched, each at least `min_share` of the examples and `min_enrichment`
times the base rate, in two or more annotation classes that neither nest in nor adjoin each other.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from genomix.features.concepts import concepts
from genomix.features.examples import example_position


def fracture(table: pd.DataFrame) -> dict:
    """Features per labelled concept: mean, median, max, the distribution and the most fractured."""
    sizes = table["size"].to_numpy()
    if not len(sizes):
        return {
            "concepts": 0,
            "mean": float("nan"),
            "median": float("nan"),
            "max": 0,
            "distribution": {},
            "most_fractured": [],
        }
    top = table.sort_values("size", ascending=False).head(5)
    return {
        "concepts": int(len(sizes)),
        "mean": float(sizes.mean()),
        "median": float(np.median(sizes)),
        "max": int(sizes.max()),
        "distribution": {int(k): int(v) for k, v in sorted(Counter(sizes).items())},
        "most_fractured": [f"{r.name} ({r.size})" for r in top.itertuples(index=False)],
    }


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


def _inside(intervals: tuple[np.ndarray, np.ndarray], positions: np.ndarray) -> np.ndarray:
    where = np.searchsorted(intervals[0], positions, side="right") - 1
    return (where >= 0) & (positions < intervals[1][np.maximum(where, 0)])


def class_shares(atlas, annotations: pd.DataFrame, margin: int = 5) -> pd.DataFrame:
    """Per feature (rows) and annotation class (columns): the share of its top examples inside an element
    of the class (± `margin` bp)."""
    merged = _merged(annotations, margin)
    classes = sorted(merged)
    examples = [
        (row, *example_position(example))
        for row, found in enumerate(atlas.table.top_examples)
        for example in (found if found is not None else [])
    ]
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


def related_classes(
    annotations: pd.DataFrame, contigs: list[str], margin: int = 5, share: float = 0.5
) -> set[tuple[str, str]]:
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


def entanglement(
    atlas,
    annotations: pd.DataFrame,
    lengths: dict[str, int],
    min_share: float = 0.2,
    min_enrichment: float = 2.0,
    margin: int = 5,
) -> dict:
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
        unrelated = [
            (a, b)
            for i, a in enumerate(classes)
            for b in classes[i + 1 :]
            if (a, b) not in related and (b, a) not in related
        ]
        if unrelated:
            a, b = unrelated[0]
            tangled.append((int(feature), a, float(shares.loc[feature, a]), b, float(shares.loc[feature, b])))
    n_labelled = int(labelled.sum())
    return {
        "labelled_features": n_labelled,
        "entangled": len(tangled),
        "fraction": len(tangled) / n_labelled if n_labelled else float("nan"),
        "examples": [
            f"feature {f}: {a} ({sa:.0%} of top examples) and {b} ({sb:.0%})"
            for f, a, sa, b, sb in sorted(tangled, key=lambda t: -min(t[2], t[4]))[:5]
        ],
    }


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
    figures = {
        "model": sae.metadata.get("model_name"),
        "layer": sae.metadata.get("hook_name"),
        "features": sae.d_sae,
        "labelled": labelled,
        "concepts": int(len(table)),
        "fracture": fracture(table),
    }
    if annotations is not None and lengths is not None:
        figures["entanglement"] = entanglement(atlas, annotations, lengths)
    return figures


def summary_lines(figures: dict) -> list[str]:
    """What `genomix concepts summary` says of one SAE's figures (see `summarize`)."""
    f = figures["fracture"]
    lines = [
        f"{figures['model']} {figures['layer']}: {figures['features']} features, {figures['labelled']} labelled, "
        f"{figures['concepts']} concepts",
        f"fracture: {f['mean']:.2f} features per concept (median {f['median']:.0f}, max {f['max']}); most "
        f"fractured: {', '.join(f['most_fractured'])}",
    ]
    if "entanglement" in figures:
        e = figures["entanglement"]
        lines.append(
            f"entanglement: {e['entangled']} of {e['labelled_features']} labelled features "
            f"({e['fraction']:.1%}) are enriched in two unrelated classes"
            + (": " + "; ".join(e["examples"][:3]) if e["examples"] else "")
        )
    return lines


def comparison_row(name: str, sae, atlas, annotations: pd.DataFrame | None, lengths: dict[str, int] | None) -> dict:
    """One SAE's row of `genomix concepts compare`."""
    figures = summarize(sae, atlas, annotations, lengths)
    return {
        "sae": name,
        "model": figures["model"],
        "layer": figures["layer"],
        "features": figures["features"],
        "labelled": figures["labelled"],
        "concepts": figures["concepts"],
        "features_per_concept": figures["fracture"]["mean"],
        "max_features_per_concept": figures["fracture"]["max"],
        "entangled_fraction": figures.get("entanglement", {}).get("fraction", float("nan")),
    }
