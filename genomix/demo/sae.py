"""The demo SAE: a BatchTopK SAE on the demo model's middle layer, trained on the training contigs,
its feature atlas, built on the held-out contig with the demo annotations, and explain's nulls
drawn in advance for it.

    python -m genomix.demo.sae [--data data/demo] [--atlas-only | --nulls-only]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from genomix.sae.train import TrainingPlan

DEMO_SAE_PLAN = TrainingPlan(layer="blocks.3", d_sae=1536, k=32, architecture="batchtopk", tokens=10_000_000,
                             batch_size=4096, window=512, seed=0)


def train_demo_sae(data: Path, held_out: str = "chr3", plan: TrainingPlan = DEMO_SAE_PLAN):
    """Train the demo SAE into `data/sae` on every contig but `held_out`; returns it with its metrics
    on `held_out` (also written to `data/sae/metrics.json`)."""
    from genomix.io.genome import Genome
    from genomix.models.registry import load_model
    from genomix.sae.activations import Regions
    from genomix.sae.metrics import evaluate_sae
    from genomix.sae.train import train_sae

    model = load_model(str(data / "model"))
    genome = Genome(data / "genome.fa.gz")
    training = Regions.whole_genome(genome, [c for c in genome.contigs if c != held_out])
    sae = train_sae(model, genome, data / "sae", plan, regions=training, model_name="demo",
                    progress=_log_every(100))
    metrics = evaluate_sae(sae, model, genome, Regions.whole_genome(genome, [held_out]), windows=256)
    metrics |= {"contig": held_out}
    (data / "sae" / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    return sae, metrics


def build_demo_atlas(data: Path, held_out: str = "chr3", windows: int = 2048):
    """Name the demo SAE's features on `held_out`; saves `data/sae/atlas.parquet` and returns the atlas."""
    from genomix.features.annotations import read_annotations
    from genomix.features.atlas import ATLAS_NAME, build_atlas
    from genomix.io.genome import Genome
    from genomix.models.registry import load_model
    from genomix.sae.activations import Regions
    from genomix.sae.formats import load_sae

    model = load_model(str(data / "model"))
    sae = load_sae(data / "sae", model)
    genome = Genome(data / "genome.fa.gz")
    annotations = read_annotations(data / "annotations.bed", genome)
    atlas = build_atlas(sae, model, genome, Regions.whole_genome(genome, [held_out]), annotations, windows=windows)
    atlas.save(data / "sae" / ATLAS_NAME)
    save_demo_nulls(data)
    return atlas


def save_demo_nulls(data: Path) -> list[Path]:
    """Draw explain's nulls of the demo SAE and atlas (SNVs, 1-2 bp indels; explain's defaults) into
    `data/sae/atlas.nulls`, as `genomix features annotate` does for any atlas."""
    from genomix.features.atlas import ATLAS_NAME, nulls_path
    from genomix.hypotheses import load_explainer
    from genomix.models.registry import load_model

    folder = nulls_path(data / "sae" / ATLAS_NAME)
    return load_explainer(data / "genome.fa.gz", data / "sae", model=load_model(str(data / "model"))).save_nulls(folder)


def _log_every(n: int):
    log = logging.getLogger("genomix")

    def report(step: int, metrics: dict) -> None:
        if step % n == 0:
            log.info("SAE step %d: %s", step, "  ".join(f"{k} {v:.3f}" for k, v in metrics.items()))

    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--atlas-only", action="store_true", help="keep the SAE, rebuild its atlas")
    parser.add_argument("--nulls-only", action="store_true", help="keep the SAE and atlas, draw explain's nulls again")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="genomix: %(message)s")
    if args.nulls_only:
        print("\n".join(map(str, save_demo_nulls(args.data))))
        return
    if not args.atlas_only:
        _, metrics = train_demo_sae(args.data)
        print(json.dumps(metrics, indent=1))
    atlas = build_demo_atlas(args.data)
    print(atlas.table.label_kind.value_counts().to_string())


if __name__ == "__main__":
    main()
