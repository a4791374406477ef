#!/usr/bin/env python
"""An SAE on a SpliceAI layer, trained on the demo genome's genes, and what its features are.

1. Trains a BatchTopK SAE (8 x 160 features, k = 32) on SpliceAI's residual stream at `--layer`
   (default blocks.7: after the eighth residual unit, reading about 200 bp either side), on windows
   drawn from the genes of chr1 and chr2 (each gene with 500 bp either side).
2. Measures it on windows of the held-out chr3's genes: variance explained, L0, dead share, and loss
   recovered (SpliceAI's output with the reconstruction spliced in, as a cross-entropy against its
   own clean output).
3. Builds its atlas on chr3's genes (JASPAR matches, annotation labels of the demo's
   annotations.bed), and per splice class (exon, intron, donor, acceptor, branch point,
   polypyrimidine tract) the feature with the best F1 on the first half of held-out windows and its
   F1 on the second half.

Needs the spliceai package (`pip install --no-deps spliceai h5py`). Not run in CI:

    .venv/bin/python benchmarks/spliceai_sae.py [--tokens 2000000] [--out spliceai-sae/]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import genomix as gx
from genomix.features.annotations import annotation_f1, read_annotations
from genomix.features.atlas import build_atlas
from genomix.io.genome import Genome
from genomix.io.splice_genes import read_splice_genes
from genomix.paths import demo_dir
from genomix.sae.activations import Regions
from genomix.sae.metrics import evaluate_sae
from genomix.sae.train import TrainingPlan, train_sae

CLASSES = ["exon", "intron", "splice_donor", "splice_acceptor", "branch_point", "polypyrimidine_tract"]
FLANK = 500


def gene_regions(genome: Genome, contigs: list[str]) -> Regions:
    genes = [t for t in read_splice_genes(demo_dir() / "genes.gff3").transcripts if t.chrom in contigs]
    return Regions(
        [t.chrom for t in genes],
        np.array([max(0, t.start - FLANK) for t in genes], dtype=np.int64),
        np.array([min(genome.lengths[t.chrom], t.end + FLANK) for t in genes], dtype=np.int64),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="blocks.7")
    parser.add_argument("--tokens", type=int, default=2_000_000)
    parser.add_argument("--window", type=int, default=1024)
    parser.add_argument("--atlas-windows", type=int, default=1024)
    parser.add_argument("--f1-windows", type=int, default=512)
    parser.add_argument("--out", type=Path, default=Path("spliceai-sae"))
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("spliceai_sae.json"))
    args = parser.parse_args()
    genome = Genome(demo_dir() / "genome.fa.gz")
    model = gx.load_model("spliceai", device="cpu")
    training, held_out = gene_regions(genome, ["chr1", "chr2"]), gene_regions(genome, ["chr3"])
    plan = TrainingPlan(layer=args.layer, d_sae=8 * model.d_model, k=32, tokens=args.tokens, window=args.window, seed=0)
    start = time.time()
    sae = train_sae(model, genome, args.out, plan, regions=training, model_name="spliceai")
    train_seconds = time.time() - start
    metrics = evaluate_sae(sae, model, genome, held_out, windows=128, window=args.window)
    print(f"SAE at {args.layer} ({sae.d_sae} features, k 32, {args.tokens:,} activations, {train_seconds:.0f} s):")
    print("  " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))

    annotations = read_annotations(demo_dir() / "annotations.bed", genome)
    start = time.time()
    atlas = build_atlas(sae, model, genome, held_out, annotations, windows=args.atlas_windows)
    atlas.save(args.out / "atlas.parquet")
    kinds = atlas.table.label_kind.value_counts()
    labels = atlas.table[atlas.table.label_kind == "annotation"].label.value_counts()
    motif_labels = sorted(set(atlas.table[atlas.table.label_kind == "motif"].label))
    print(
        f"atlas on chr3's genes ({time.time() - start:.0f} s): {kinds.get('motif', 0)} motif labels {motif_labels}, "
        f"{kinds.get('annotation', 0)} annotation labels {dict(labels)}, {kinds.get('unlabelled', 0)} unlabelled"
    )
    scores = annotation_f1(
        sae,
        model,
        genome,
        annotations,
        atlas.table.max_activation.to_numpy(),
        held_out,
        windows=args.f1_windows,
        classes=CLASSES,
    )
    best = scores.sort_values("f1_selection", ascending=False).groupby("annotation").head(1).set_index("annotation")
    per_class = {}
    print("per class, the feature picked on the first half of the held-out windows; its second-half figures:")
    for cls in CLASSES:
        row = best.loc[cls]
        per_class[cls] = {k: float(row[k]) for k in ("feature", "threshold", "precision", "recall", "f1")}
        print(
            f"  {cls:22s} feature {int(row.feature):4d}  t {row.threshold:.2f}  P {row.precision:.3f}  "
            f"R {row.recall:.3f}  F1 {row.f1:.3f}"
        )
    result = {
        "layer": args.layer,
        "d_sae": sae.d_sae,
        "tokens": args.tokens,
        "window": args.window,
        "train_seconds": round(train_seconds),
        "metrics": metrics,
        "atlas_labels": {k: int(v) for k, v in kinds.items()},
        "annotation_labels": {k: int(v) for k, v in labels.items()},
        "motif_labels": motif_labels,
        "best_feature_per_class": per_class,
    }
    args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
