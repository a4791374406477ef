#!/usr/bin/env python
"""Does a larger dictionary name more of the planted TFs? The demo SAE's recipe at other sizes.

Trains an SAE at the demo SAE's layer with the demo recipe (BatchTopK k = 32, 10 M activations of
chr1 and chr2) for each `--sizes` (into benchmarks/.cache/, reused when there), builds its atlas on
held-out chr3 and prints its reconstruction metrics, the atlas checked against the planted truth
(`genomix.demo.evaluate.atlas_truth`) and the held-out F1 of the best feature per class.

    .venv/bin/python benchmarks/sae_size.py --sizes 1536
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging

from atlas_accuracy import class_features  # benchmarks/, beside this script
from concepts_layers import CACHE, cached_sae_with_atlas

from genomix.demo.evaluate import atlas_truth
from genomix.demo.sae import DEMO_SAE_PLAN
from genomix.features.annotations import read_annotations
from genomix.io.genome import Genome
from genomix.models.registry import load_model
from genomix.paths import demo_dir
from genomix.sae.activations import Regions
from genomix.sae.metrics import evaluate_sae


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1536])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="genomix: %(message)s")
    model = load_model("demo")
    genome = Genome(demo_dir() / "genome.fa.gz")
    annotations = read_annotations(demo_dir() / "annotations.bed", genome)
    held_out = Regions.whole_genome(genome, ["chr3"])
    for size in args.sizes:
        sae, atlas = cached_sae_with_atlas(
            dataclasses.replace(DEMO_SAE_PLAN, d_sae=size),
            CACHE / f"sae-{DEMO_SAE_PLAN.layer}-{size}",
            model,
            genome,
            annotations,
        )
        figures = {
            "d_sae": size,
            "metrics": evaluate_sae(sae, model, genome, held_out, windows=256),
            "truth": atlas_truth(atlas, demo_dir() / "annotations.bed", demo_dir() / "motifs.tsv"),
        }
        best = class_features(sae, model, genome, annotations, atlas, held_out)
        figures["held_out_f1"] = {cls: round(float(f1), 3) for cls, f1 in best.f1.items()}
        print(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
