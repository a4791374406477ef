"""Naming features by annotations: precision per position, recall per element and F1, with the
threshold picked on one half of the windows and scored on the other, recomputed by brute force."""

import numpy as np
import pandas as pd
import pytest

import genomix as gx
from genomix.features.annotations import THRESHOLDS, annotation_f1, best_annotation, read_annotations
from genomix.io.genome import Genome
from genomix.sae import TopKSAE
from genomix.sae.activations import Regions
from tiny_models import save_convnet

BED = [
    ("chr1", 10, 40, "exon"),
    ("chr1", 60, 65, "site"),
    ("chr1", 90, 150, "exon"),
    ("chr1", 170, 178, "site"),
    ("chr1", 200, 260, "exon"),
    ("chr1", 280, 290, "site"),
    ("chr2", 5, 20, "exon"),
    ("chr1", 100, 130, "exon"),
]  # overlaps another exon: its positions count once for precision


def brute_force(sae, model, genome, annotations, maximum, regions, windows, window, batch, seed):
    rng = np.random.default_rng(seed)
    draws = [d for first in range(0, windows, batch) for d in regions.draw(rng, min(batch, windows - first), window)]
    halves = {0: [], 1: []}
    for number, (contig, start) in enumerate(draws):
        seq = genome.fetch(contig, start, start + window)
        _, captured = model.forward(model.tokenize([seq]), layers=("blocks.1",))
        codes = sae.encode(captured["blocks.1"][0]).detach().numpy()
        halves[number % 2].append((contig, start, codes))
    result = {}
    for cls in ("exon", "site"):  # share of the second half's positions inside the class
        inside = total = 0
        for contig, start, codes in halves[1]:
            positions = np.arange(start, start + window)
            total += window
            covered = np.zeros(window, dtype=bool)
            for c, s, e, name in BED:
                if c == contig and name == cls:
                    covered |= (positions >= s) & (positions < e)
            inside += covered.sum()
        result[cls] = inside / total
    for feature in range(sae.d_sae):
        for cls in ("exon", "site"):
            scores = []
            for half in (0, 1):
                per_threshold = []
                for threshold in THRESHOLDS:
                    active_total = inside_total = hit = elements = 0
                    for contig, start, codes in halves[half]:
                        active = codes[:, feature] > threshold * maximum[feature]
                        active_total += active.sum()
                        positions = np.arange(start, start + window)
                        covered = np.zeros(window, dtype=bool)
                        for c, s, e, name in BED:
                            if c != contig or name != cls:
                                continue
                            inside = (positions >= s) & (positions < e)
                            if inside.any():
                                elements += 1
                                covered |= inside
                                hit += (active & inside).any()
                        inside_total += (active & covered).sum()
                    precision = inside_total / active_total if active_total else 0.0
                    recall = hit / elements if elements else 0.0
                    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
                    per_threshold.append((precision, recall, f1))
                scores.append(per_threshold)
            chosen = int(np.argmax([f1 for _, _, f1 in scores[0]]))
            result[(feature, cls)] = (THRESHOLDS[chosen], *scores[1][chosen])
    return result


def test_f1_with_the_threshold_chosen_on_the_other_half_matches_brute_force(tmp_path, small_fasta):
    model = gx.load_model(str(save_convnet(tmp_path / "model")))
    sae = TopKSAE(16, 12, 3, {"hook_name": "blocks.1"}, seed=4)
    genome = Genome(small_fasta)
    bed = tmp_path / "annotations.bed"
    pd.DataFrame(BED).to_csv(bed, sep="\t", header=False, index=False)
    annotations = read_annotations(bed, genome)
    regions = Regions.whole_genome(genome)
    maximum = np.full(12, 0.5)
    table = annotation_f1(sae, model, genome, annotations, maximum, regions, windows=6, window=80, batch=4, seed=11)
    expected = brute_force(sae, model, genome, annotations, maximum, regions, windows=6, window=80, batch=4, seed=11)
    assert len(table) == 12 * 2
    for row in table.itertuples():
        threshold, precision, recall, f1 = expected[(row.feature, row.annotation)]
        assert (row.threshold, row.precision, row.recall, row.f1) == pytest.approx((threshold, precision, recall, f1))
        assert row.base_rate == pytest.approx(expected[row.annotation])
    best = best_annotation(table, min_enrichment=1.2)
    assert list(best.feature) == list(range(12))
    for feature, rows in table.groupby("feature"):  # the class is picked on the first half
        enriched = rows[
            (rows.base_rate_selection > 0)
            & (rows.f1_selection > 0)
            & (rows.precision_selection >= 1.2 * rows.base_rate_selection)
        ]
        if len(enriched):
            chosen = enriched.loc[enriched.f1_selection.idxmax()]
            assert (best.annotation[feature], best.f1[feature]) == (chosen.annotation, chosen.f1)
        else:
            assert best.f1[feature] == 0.0 and best.annotation.isna()[feature]
    assert table.precision.max() <= 1.0 and table.f1.max() <= 1.0


def test_gff3_types_become_classes_with_0_based_starts(tmp_path, small_fasta):
    gff = tmp_path / "genes.gff3"
    gff.write_text("##gff-version 3\nchr1\tsrc\texon\t11\t40\t.\t+\t.\tID=e1\n1\tsrc\tintron\t41\t89\t.\t+\t.\tID=i1\n")
    table = read_annotations(gff, Genome(small_fasta))
    assert table.values.tolist() == [["chr1", 10, 40, "exon"], ["chr1", 40, 89, "intron"]]
