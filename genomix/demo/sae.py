"""The demo SAE: a BatchTopK SAE on the demo model's middle layer, trained on the training contigs.

    python -m genomix.demo.sae [--data data/demo]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from genomix.sae.train import TrainingPlan

DEMO_SAE_PLAN = TrainingPlan(layer="blocks.3", d_sae=768, k=32, architecture="batchtopk", tokens=10_000_000,
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


def _log_every(n: int):
    log = logging.getLogger("genomix")

    def report(step: int, metrics: dict) -> None:
        if step % n == 0:
            log.info("SAE step %d: %s", step, "  ".join(f"{k} {v:.3f}" for k, v in metrics.items()))

    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="genomix: %(message)s")
    _, metrics = train_demo_sae(args.data)
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
