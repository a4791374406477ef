#!/usr/bin/env python
"""Does the demo atlas name the real mechanisms? And does a model that learned nothing get names?

1. Builds the demo SAE's atlas on held-out chr3 (timed, from a cold start of the models) and checks
   its motif labels against the planted truth (`genomix.demo.evaluate.atlas_truth`).
2. Per annotation class, the feature with the best F1 on the first half of the windows (over all
   features, not only those labelled with the class) and its F1 on the second half.
3. Control: a randomly initialised model of the demo model's shape, an SAE trained on it the same
   way (fewer activations), and its atlas built the same way: it should get (almost) no motif labels.

    .venv/bin/python benchmarks/atlas_accuracy.py [--control-tokens 2000000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import genomix as gx
from genomix.demo.evaluate import atlas_truth
from genomix.features.annotations import annotation_f1, read_annotations
from genomix.features.atlas import build_atlas
from genomix.io.genome import Genome
from genomix.paths import demo_dir
from genomix.sae.activations import Regions
from genomix.sae.train import train_sae

CLASSES = ["exon", "intron", "splice_donor", "splice_acceptor", "cpg_island", "CTCF"]


def class_features(sae, model, genome, annotations, atlas, held_out):
    """Per class of CLASSES, the feature with the best F1 on the first half of 512 held-out windows
    (like its threshold) and its figures on the second half, indexed by class."""
    scores = annotation_f1(
        sae, model, genome, annotations, atlas.table.max_activation.to_numpy(), held_out, windows=512, classes=CLASSES
    )
    return scores.sort_values("f1_selection", ascending=False).groupby("annotation").head(1).set_index("annotation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control-tokens", type=int, default=2_000_000)
    args = parser.parse_args()
    data = demo_dir()
    genome = Genome(data / "genome.fa.gz")
    held_out = Regions.whole_genome(genome, ["chr3"])
    annotations = read_annotations(data / "annotations.bed", genome)

    start = time.time()
    model = gx.load_model("demo")
    sae = gx.load_sae("demo", model)
    atlas = build_atlas(sae, model, genome, held_out, annotations)
    seconds = time.time() - start
    truth = atlas_truth(atlas, data / "annotations.bed", data / "motifs.tsv")
    print(
        f"demo atlas built in {seconds:.1f} s (models loaded, {atlas.metadata['windows']} windows of chr3, TOMTOM, "
        "annotation F1, concepts)"
    )
    print(json.dumps(truth, indent=1))

    best = class_features(sae, model, genome, annotations, atlas, held_out)
    print("per class, the feature picked on the first half; its second-half (held-out) figures:")
    for cls in CLASSES:
        row = best.loc[cls]
        print(
            f"  {cls:16s} feature {int(row.feature):4d}  t {row.threshold:.2f}  P {row.precision:.3f}  "
            f"R {row.recall:.3f}  F1 {row.f1:.3f}"
        )

    from genomix.demo.sae import DEMO_SAE_PLAN
    from genomix.demo.train import DEMO_CONFIG
    from genomix.models.convnet import ConvNetConfig, ConvNetForMaskedLM, dna_tokenizer
    from genomix.sae.train import TrainingPlan

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        torch.manual_seed(1)
        ConvNetForMaskedLM(ConvNetConfig(**DEMO_CONFIG)).save_pretrained(folder / "random-model")
        dna_tokenizer().save_pretrained(folder / "random-model")
        random_model = gx.load_model(str(folder / "random-model"))
        plan = TrainingPlan(**{**DEMO_SAE_PLAN.__dict__, "tokens": args.control_tokens})
        training = Regions.whole_genome(genome, ["chr1", "chr2"])
        start = time.time()
        random_sae = train_sae(random_model, genome, folder / "random-sae", plan, regions=training)
        control = build_atlas(random_sae, random_model, genome, held_out, annotations)
        kinds = control.table.label_kind.value_counts()
        print(
            f"control (random-init model, SAE on {args.control_tokens:,} activations, {time.time() - start:.0f} s): "
            f"{kinds.get('motif', 0)} motif labels "
            f"({sorted(set(control.table[control.table.label_kind == 'motif'].label))}), "
            f"{kinds.get('annotation', 0)} annotation labels, {kinds.get('unlabelled', 0)} unlabelled"
        )


if __name__ == "__main__":
    main()
