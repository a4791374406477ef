#!/usr/bin/env python
"""Concepts on the demo world: does the grouping recover the planted TFs, and how fractured and
entangled is the demo model, layer by layer?

For blocks.1, blocks.3 (the shipped demo SAE) and blocks.5 of the demo model: an SAE trained the
demo SAE's way (`DEMO_SAE_PLAN`: BatchTopK k = 32, 10 M activations of chr1 and chr2; the two extra
ones are trained into benchmarks/.cache/ unless already there) and its atlas on held-out chr3 with
the demo annotations. Per layer: concepts, fracture, entanglement, and the grouping checked
against the planted TF of each motif-labelled feature (`genomix.demo.evaluate.concept_truth`).

    .venv/bin/python benchmarks/concepts_layers.py [--layers blocks.3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
from pathlib import Path

from genomix.demo.evaluate import concept_truth
from genomix.demo.sae import DEMO_SAE_PLAN
from genomix.features.annotations import read_annotations
from genomix.features.atlas import ATLAS_NAME, FeatureAtlas, build_atlas
from genomix.features.measures import summarize
from genomix.io.genome import Genome
from genomix.models.registry import load_model
from genomix.paths import demo_dir, demo_sae_dir
from genomix.sae.activations import Regions
from genomix.sae.base import model_fingerprint
from genomix.sae.formats import load_sae
from genomix.sae.train import train_sae

CACHE = Path(__file__).resolve().parent / ".cache"
LAYERS = ("blocks.1", "blocks.3", "blocks.5")


def cached_sae_with_atlas(plan, folder: Path, model, genome, annotations):
    """An SAE of the demo model trained under `plan` on chr1 and chr2 into `folder`, and its atlas on
    chr3; both reused when an earlier run left them there for this same model."""
    config = folder / "cfg.json"
    if config.is_file() and json.loads(config.read_text())["metadata"].get("model_fingerprint") != model_fingerprint(
        model
    ):
        shutil.rmtree(folder)  # trained on another demo model
    if config.is_file():
        sae = load_sae(folder, model)
    else:
        sae = train_sae(
            model, genome, folder, plan, regions=Regions.whole_genome(genome, ["chr1", "chr2"]), model_name="demo"
        )
    if not (folder / ATLAS_NAME).is_file():
        build_atlas(sae, model, genome, Regions.whole_genome(genome, ["chr3"]), annotations).save(folder / ATLAS_NAME)
    return sae, FeatureAtlas.load(folder)


def sae_with_atlas(layer: str, model, genome, annotations):
    if layer == DEMO_SAE_PLAN.layer:
        return load_sae(demo_sae_dir(), model), FeatureAtlas.load("demo")
    return cached_sae_with_atlas(
        dataclasses.replace(DEMO_SAE_PLAN, layer=layer), CACHE / f"sae-{layer}", model, genome, annotations
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", nargs="+", default=list(LAYERS), help="layers to compare (default: all three)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="genomix: %(message)s")
    model = load_model("demo")
    genome = Genome(demo_dir() / "genome.fa.gz")
    annotations = read_annotations(demo_dir() / "annotations.bed", genome)
    for layer in args.layers:
        sae, atlas = sae_with_atlas(layer, model, genome, annotations)
        figures = summarize(sae, atlas, annotations, dict(genome.lengths))
        figures["planted_tf_grouping"] = concept_truth(atlas, atlas.concepts, demo_dir() / "annotations.bed")
        print(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
