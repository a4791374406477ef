"""Concepts: the atlas' labelled features put back together.

An SAE fractures one concept ("a HNF1A site") into several features (one per strand, offset or
context), and paralogs share near-identical matrices, so the best JASPAR match of each fragment may
name a different member of the family (HNF1A, HNF1B). Features are grouped here by what their labels
agree on: motif-labelled features by the JASPAR family of their best match (the TF name where the
collection gives no family), annotation-labelled features by their class. Unlabelled features
belong to no concept. A concept is named by its members' most common label.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd


def motif_families(atlas) -> dict[str, str]:
    """JASPAR family of each motif id in the atlas (from the atlas' `motif_family` column when it has
    one, else from the pinned JASPAR release)."""
    table = atlas.table
    if "motif_family" in table:
        return dict(zip(table.motif_id.dropna(), table.motif_family.dropna()))
    from genomix.motifs.jaspar import load_jaspar

    source = str(atlas.metadata.get("motif_source") or "")
    if not source.startswith("JASPAR"):
        return {}
    return {m.matrix_id: m.family for m in load_jaspar(release=source) if m.family}


def concepts(atlas) -> tuple[np.ndarray, pd.DataFrame]:
    """(concept id of each feature, -1 for unlabelled; the concept table: concept, name, kind, key,
    members, size, evidence)."""
    table = atlas.table.sort_values("feature")
    families = motif_families(atlas)
    keys = []
    for row in table.itertuples(index=False):
        if row.label_kind == "motif":
            family = families.get(row.motif_id)
            keys.append(("motif", family) if family else ("motif", row.tf_name))
        elif row.label_kind == "annotation":
            keys.append(("annotation", row.label))
        else:
            keys.append(None)
    ordered = sorted({k for k in keys if k is not None})
    index = {k: i for i, k in enumerate(ordered)}
    concept_of = np.array([index[k] if k is not None else -1 for k in keys], dtype=np.int64)
    labels = table.label.to_numpy()
    features = table.feature.to_numpy()
    rows = []
    for i, (kind, key) in enumerate(ordered):
        members = features[concept_of == i]
        name = Counter(labels[concept_of == i]).most_common(1)[0][0]
        evidence = (f"best JASPAR match in the family {key}" if kind == "motif" and key != name
                    else f"labelled {key}")
        rows.append((i, name, kind, key, [int(m) for m in members], len(members), evidence))
    return concept_of, pd.DataFrame(rows, columns=["concept", "name", "kind", "key", "members", "size", "evidence"])
