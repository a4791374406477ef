"""The demo SAE: a BatchTopK SAE on the demo model's middle layer, trained on the training contigs,
its feature atlas, built on the held-out contig with the demo annotations, and explain's nulls
drawn in advance for it.

    genomix demo sae [--data data/demo] [--atlas-only | --nulls-only]
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from genomix.sae.train import TrainingPlan

DEMO_SAE_PLAN = TrainingPlan(
    layer="blocks.3", d_sae=1536, k=32, architecture="batchtopk", tokens=10_000_000, batch_size=4096, window=512, seed=0
)


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
    sae = train_sae(model, genome, data / "sae", plan, regions=training, model_name="demo", progress=_log_every(100))
    metrics = evaluate_sae(sae, model, genome, Regions.whole_genome(genome, [held_out]), windows=256)
    metrics |= {"contig": held_out}
    (data / "sae" / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    return sae, metrics


def build_demo_atlas(data: Path, held_out: str = "chr3", windows: int = 2048, nulls: bool = True):
    """Name the demo SAE's features on `held_out`; saves `data/sae/atlas.parquet` and, with `nulls`, explain's
    nulls beside it (`save_demo_nulls`); returns the atlas."""
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
    if nulls:
        save_demo_nulls(data)
    return atlas


def save_demo_nulls(data: Path) -> list[Path]:
    """Draw explain's nulls of the demo SAE and atlas (SNVs, 1-2 bp indels; explain's defaults) into
    `data/sae/atlas.nulls`, as `genomix features annotate` does for any atlas."""
    from genomix.features.atlas import ATLAS_NAME, FeatureAtlas, nulls_path
    from genomix.hypotheses import Explainer
    from genomix.io.genome import Genome
    from genomix.models.registry import load_model
    from genomix.sae.formats import load_sae

    model = load_model(str(data / "model"))
    explainer = Explainer(
        model, load_sae(data / "sae", model), FeatureAtlas.load(data / "sae"), Genome(data / "genome.fa.gz")
    )
    return explainer.save_nulls(nulls_path(data / "sae" / ATLAS_NAME))


def _log_every(n: int):
    log = logging.getLogger("genomix")

    def report(step: int, metrics: dict) -> None:
        if step % n == 0:
            log.info("SAE step %d: %s", step, "  ".join(f"{k} {v:.3f}" for k, v in metrics.items()))

    return report
