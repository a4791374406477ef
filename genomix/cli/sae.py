"""`genomix sae`: train and evaluate sparse autoencoders on a model's activations."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import typer

from genomix.cli.engine import DTYPE
from genomix.cli.progress import Progress

app = typer.Typer(no_args_is_help=True, help="Sparse autoencoders on a model's activations: train, evaluate.")
log = logging.getLogger("genomix")


@app.command("train")
def train(
    fasta: Path = typer.Option(..., "--fasta", "-f", help="Genome to sample windows from (plain or bgzipped FASTA)."),
    out: Path = typer.Option(..., "--output", "-o", help="Folder for the SAE (cfg.json + sae_weights.safetensors)."),
    model: str = typer.Option("demo", "--model", "-m", help="Hub id, local model folder, or `demo`."),
    layer: str = typer.Option(..., help="Layer: an index (negative counts from the end) or blocks.i."),
    regions: Optional[Path] = typer.Option(None, help="BED file: draw windows from these regions only."),
    tokens: int = typer.Option(10_000_000, help="Activations (positions) to train on."),
    d_sae: int = typer.Option(..., "--d-sae", help="Number of features (8 x d_model is usual)."),
    k: int = typer.Option(32, help="Active features per position (the L0 target)."),
    architecture: str = typer.Option("batchtopk", help="batchtopk or topk."),
    batch_size: int = typer.Option(4096, help="Activations per training step."),
    window: int = typer.Option(512, help="Window length in bp the model runs on."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (default 2e-4 / sqrt(d_sae / 2^14))."),
    seed: int = typer.Option(0, help="Seed of the windows drawn and of the initial weights."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1, ... (default: cuda when visible)."),
    dtype: str = DTYPE,
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model's own code to run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress."),
) -> None:
    """Train an SAE; interrupted and started again with the same arguments, it resumes."""
    from genomix.models.registry import load_model
    from genomix.sae.train import TrainingPlan, train_sae

    loaded = load_model(model, device=device, trust_remote_code=trust_remote_code, dtype=dtype)
    plan = TrainingPlan(
        layer=layer,
        d_sae=d_sae,
        k=k,
        architecture=architecture,
        tokens=tokens,
        batch_size=batch_size,
        window=window,
        lr=lr,
        seed=seed,
    )
    with Progress("training the SAE", quiet, total=plan.steps, unit="steps") as bar:

        def progress(step: int, metrics: dict) -> None:
            bar.update(step, rate=f"explained {metrics['explained']:.3f}  L0 {metrics['l0']:.1f}")

        trained = train_sae(loaded, fasta, out, plan, regions=regions, model_name=model, progress=progress)
    if not quiet:
        log.info("SAE saved in %s (%d features at %s of %s)", out, d_sae, trained.metadata["hook_name"], model)


@app.command("eval")
def evaluate(
    sae: str = typer.Argument("demo", help="SAE folder (or file to import), or `demo` (the default)."),
    fasta: Path = typer.Option(..., "--fasta", "-f", help="Genome to evaluate on."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model (default: the one in the SAE's cfg.json)."),
    regions: Optional[Path] = typer.Option(None, help="BED file: evaluate on windows from these regions only."),
    windows: int = typer.Option(128, help="Random windows to evaluate on."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ..."),
    dtype: str = DTYPE,
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model's own code to run."),
) -> None:
    """Variance explained, L0, dead fraction and loss recovered of an SAE."""
    from genomix.pipelines import load_sae_and_model
    from genomix.sae.metrics import evaluate_sae

    trained, loaded = load_sae_and_model(sae, model, device, trust_remote_code, dtype)
    metrics = evaluate_sae(trained, loaded, fasta, regions, windows=windows)
    typer.echo(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}, indent=1))
