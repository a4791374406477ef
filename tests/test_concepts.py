"""Concepts: grouping fractured features, and the fracture and entanglement measures."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from genomix.features.atlas import FeatureAtlas
from genomix.features.concepts import GroupingOptions, coactivation, concept_ids, group_features
from genomix.features.measures import adjusted_rand_index, entanglement, fracture
from genomix.sae.base import TopKSAE


def test_adjusted_rand_index_matches_the_hand_computed_value():
    # contingency [[2, 0, 0], [0, 1, 1]]: sum C(n_ij, 2) = 1, rows 2, columns 1, C(4, 2) = 6
    expected = (1 - 2 * 1 / 6) / ((2 + 1) / 2 - 2 * 1 / 6)
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(expected)
    assert adjusted_rand_index(["a", "a", "b"], [5, 5, 7]) == pytest.approx(1.0)


def test_coactivation_is_the_share_of_examples_near_the_others():
    a = ["chr1:100", "chr1:200", "chr2:50", "chr1:1000"]
    b = ["chr1:105", "chr2:70", "chr1:990"]
    assert coactivation(a, b, margin=10) == pytest.approx(2 / 4)  # 100~105 and 1000~990; 200 and chr2:50 are far
    assert coactivation(a, b, margin=20) == pytest.approx(3 / 4)
    assert coactivation([], b) == 0.0


def _atlas(rows: list[dict]) -> FeatureAtlas:
    base = {
        "label": "unlabelled",
        "label_kind": "unlabelled",
        "motif_id": None,
        "tf_name": None,
        "motif_family": None,
        "ppm": None,
        "top_examples": [],
    }
    table = pd.DataFrame([{**base, "feature": i, **row} for i, row in enumerate(rows)])
    return FeatureAtlas(table, {"motif_source": "JASPAR2024"})


def _sae(directions: np.ndarray) -> TopKSAE:
    sae = TopKSAE(directions.shape[1], directions.shape[0], k=1)
    with torch.no_grad():
        sae.W_dec.copy_(torch.as_tensor(directions, dtype=torch.float32))
    return sae


def test_features_group_by_family_and_class_and_unlabelled_ones_join_only_with_both_kinds_of_evidence():
    rng = np.random.default_rng(0)
    d = rng.normal(size=(7, 16))
    d[3] = d[0] + 0.1 * rng.normal(size=16)  # close to feature 0's decoder direction
    d[4] = d[0] + 0.1 * rng.normal(size=16)
    here = [f"chr1:{p}" for p in range(1000, 1100, 10)]
    elsewhere = [f"chr1:{p}" for p in range(5000, 5100, 10)]
    atlas = _atlas(
        [
            {
                "label": "GATA1",
                "label_kind": "motif",
                "motif_id": "MA1",
                "tf_name": "GATA1",
                "motif_family": "GATA",
                "top_examples": here,
            },
            {"label": "GATA2", "label_kind": "motif", "motif_id": "MA2", "tf_name": "GATA2", "motif_family": "GATA"},
            {"label": "exon", "label_kind": "annotation"},
            {"top_examples": here},  # unlabelled, same direction, fires with feature 0: joins
            {"top_examples": elsewhere},  # unlabelled, same direction, fires elsewhere: stays out
            {"top_examples": here},  # unlabelled, fires with feature 0 but points elsewhere: stays out
            {"label": "GATA1", "label_kind": "annotation"},  # an annotation of GATA1 sites: joins the GATA concept
        ]
    )
    table = group_features(_sae(d), atlas, GroupingOptions(min_cosine=0.8, min_coactivation=0.5))
    ids = concept_ids(table, 7)
    assert ids[0] == ids[1] == ids[3] == ids[6] and ids[2] not in (ids[0], -1)
    assert ids[4] == -1 and ids[5] == -1
    gata = table.set_index("concept").loc[ids[0]]
    assert gata["name"] in ("GATA1", "GATA2") and gata["size"] == 4 and gata["joined"] == 1 and gata["kind"] == "motif"
    assert "GATA" in gata.evidence and "3" in gata.evidence and "annotation class GATA1" in gata.evidence
    assert fracture(table)["max"] == 4 and fracture(table)["mean"] == pytest.approx(2.5)


def test_entanglement_counts_features_enriched_in_unrelated_classes_only():
    lengths = {"chr1": 10_000}
    annotations = pd.DataFrame(
        {
            "chrom": ["chr1"] * 5,
            "start": [100, 110, 5000, 8000, 5200],
            "end": [300, 120, 5200, 8200, 5400],
            "cls": ["enhancer", "GATA1", "exon", "CTCF", "intron"],
        }
    )
    gata = [f"chr1:{p}" for p in range(111, 120)]  # in GATA1 sites, which nest in the enhancer
    mixed = [f"chr1:{p}" for p in range(5001, 5010)] + [f"chr1:{p}" for p in range(8001, 8010)]  # exon and CTCF
    atlas = _atlas(
        [
            {"label": "GATA1", "label_kind": "motif", "top_examples": gata},
            {"label": "exon", "label_kind": "annotation", "top_examples": mixed},
            {"top_examples": mixed},  # unlabelled: not counted
            {
                "label": "splice_donor",
                "label_kind": "annotation",  # exon and the intron beside it: one thing
                "top_examples": [f"chr1:{p}" for p in range(5191, 5211)],
            },
        ]
    )
    atlas.metadata["regions"] = ["chr1"]
    result = entanglement(atlas, annotations, lengths, margin=0)
    assert result["labelled_features"] == 3 and result["entangled"] == 1 and result["fraction"] == pytest.approx(1 / 3)
    assert "feature 1" in result["examples"][0] and "exon" in result["examples"][0] and "CTCF" in result["examples"][0]


def test_demo_concepts_are_stored_beside_the_atlas_and_summarised_by_the_cli(tmp_path):
    atlas = FeatureAtlas.load("demo")
    assert atlas.concepts is not None and "concept" in atlas.table
    assert (concept_ids(atlas.concepts, len(atlas.table)) == atlas.table.concept.to_numpy()).all()
    done = subprocess.run([sys.executable, "-m", "genomix", "concepts", "summary"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "fracture:" in done.stdout and "entanglement:" in done.stdout
    plot, out = tmp_path / "c.png", tmp_path / "c.tsv"
    done = subprocess.run(
        [sys.executable, "-m", "genomix", "concepts", "compare", "demo", "demo", "--plot", plot, "-o", out],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert plot.read_bytes()[:4] == b"\x89PNG"
    compared = pd.read_csv(out, sep="\t")
    assert len(compared) == 2 and compared.concepts.iloc[0] == len(atlas.concepts)
