"""The demo truth checks that produce the accuracy figures in benchmarks/RESULTS.md, on hand-built
tables whose right answers are counted by hand."""

import pandas as pd
import pytest

from genomix.demo.evaluate import explain_truth
from genomix.features.atlas import FeatureAtlas


def test_explain_truth_counts_names_directions_and_ranks_by_hand():
    atlas = FeatureAtlas(
        pd.DataFrame(
            {
                "feature": [0, 1, 2, 3],
                "label_kind": ["motif", "motif", "annotation", "unlabelled"],
                "tf_name": ["JUND", "SP2", None, None],
                "motif_matches": [["JUND", "FOS::JUN"], ["SP2", "SP1"], [], []],
                "label": ["JUND", "SP2", "splice_donor", "unlabelled"],
            }
        )
    )
    truth = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr3", "chr3", "chr1", "chr1"],
            "pos": [10, 20, 30, 40, 50, 60],
            "id": list("abcdef"),
            "truth_class": ["loss", "gain", "loss", "loss", "neutral", "splice"],
            "truth_tf": ["FOS::JUN", "SP1", "FOS::JUN", "CTCF", ".", "."],
        }
    )

    def row(i, rank, label, kind, members, effect, p=0.5):
        return {
            "chrom": truth.chrom[i],
            "pos": truth.pos[i],
            "id": truth.id[i],
            "alt": "A",
            "rank": rank,
            "label": label,
            "label_kind": kind,
            "members": members,
            "effect": effect,
            "p_value": p,
        }

    table = pd.DataFrame(
        [
            row(0, 1, "JUND", "motif", "0", "loss"),  # right TF (a passing match), right direction
            row(1, 1, "JUND", "motif", "0", "loss"),  # wrong TF, wrong direction ...
            row(1, 2, "SP2", "motif", "1", "gain"),  # ... the right one second
            row(2, 1, "SP2", "motif", "1", "loss"),  # wrong TF, right direction, right one nowhere
            row(3, 1, "JUND", "motif", "0,1", "loss"),  # CTCF: no feature names it
            row(4, 1, "SP2", "motif", "1", "gain", p=0.004),  # neutral with p < 0.01
            row(5, 1, "splice_donor", "annotation", "2", "loss"),
        ]
    )
    figures = explain_truth(table, truth, atlas, "chr3")
    assert figures["top1_tf_all"] == pytest.approx(1 / 4)
    assert figures["top1_tf_all_where_the_atlas_names_the_tf"] == pytest.approx(1 / 3)
    assert figures["sites_of_tfs_the_atlas_does_not_name_all"] == 1
    assert figures["direction_all"] == pytest.approx(3 / 4)
    assert figures["top1_tf_held_out"] == 0.0 and figures["direction_held_out"] == 1.0
    assert figures["named_tf_wrong_at_top_first_right_rank"] == {0: 1, 2: 1}
    assert figures["right_tf_among_the_hypotheses"] == pytest.approx(2 / 4)
    assert figures["neutral_p_below_0.01"] == 1.0
    assert figures["splice_top_is_splice_site"] == 1.0
    assert figures["variants"] == 6
