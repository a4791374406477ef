"""`genomix demo`: run genomix on the demo world, and rebuild the world, its model, SAE, atlas and nulls."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from genomix.cli.progress import Progress, command_line

app = typer.Typer(help="The demo world: a synthetic genome planted with JASPAR motifs, and a model trained on it.")
log = logging.getLogger("genomix")


@app.callback(invoke_without_command=True)
def demo(
    context: typer.Context,
    out: Path = typer.Option(Path("genomix-demo-out"), "--out", "-o", help="Folder for the outputs."),
    window: int = typer.Option(512, help="Window in bp (the demo model sees about 500 bp)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress."),
) -> None:
    """Score the demo truth variants with the demo model and report how well it separates them; measure
    the demo SAE on the held-out contig, check the demo atlas against the planted motifs, and explain
    the variants into hypotheses, an annotated VCF, an HTML report and lab designs."""
    if context.invoked_subcommand is not None:
        return
    from genomix.pipelines import run_demo

    run_demo(out, window, echo=typer.echo, progress=lambda label: Progress(label, quiet), command=command_line())


@app.command("build")
def build(
    data: Path = typer.Option(Path("data/demo"), help="Where the genome, annotations and model go."),
    variants: Path = typer.Option(Path("variants"), help="Where demo.vcf.gz goes."),
    steps: int = typer.Option(4800, help="Training steps of the demo model."),
) -> None:
    """Rebuild the demo world from its seed: genome, annotations, truth variants, the trained model, its SAE,
    atlas and nulls."""
    from genomix.demo.world import build_demo

    world = build_demo(data, variants, steps=steps)
    typer.echo(
        f"demo world in {data} ({sum(map(len, world.contigs.values()))} bp, "
        f"{world.motif_coverage():.1%} in planted motifs); truth variants in {variants}/demo.vcf.gz"
    )


@app.command("model")
def model(
    genome: Path = typer.Option(Path("data/demo/genome.fa.gz"), help="The demo genome."),
    out: Path = typer.Option(Path("data/demo/model"), help="The model folder."),
    held_out: str = typer.Option("chr3", help="The contig left out of training."),
    steps: int = typer.Option(4800, help="Training steps."),
    seed: int = typer.Option(0, help="Seed of the weights and batches."),
) -> None:
    """Train the demo model alone (about 65 minutes on 2 CPU cores); interrupted and started again with the
    same arguments, it resumes."""
    from genomix.demo.train import train_demo_model

    train_demo_model(genome, out, held_out, steps=steps, seed=seed)


@app.command("sae")
def sae(
    data: Path = typer.Option(Path("data/demo"), help="The demo data folder."),
    atlas_only: bool = typer.Option(False, "--atlas-only", help="Keep the SAE, rebuild its atlas (and nulls)."),
    nulls_only: bool = typer.Option(False, "--nulls-only", help="Keep the SAE and atlas, draw explain's nulls again."),
) -> None:
    """Train the demo SAE, build its atlas on the held-out contig and draw explain's nulls."""
    from genomix.demo.sae import build_demo_atlas, save_demo_nulls, train_demo_sae

    if nulls_only:
        typer.echo("\n".join(map(str, save_demo_nulls(data))))
        return
    if not atlas_only:
        _, metrics = train_demo_sae(data)
        typer.echo(json.dumps(metrics, indent=1))
    typer.echo(build_demo_atlas(data).table.label_kind.value_counts().to_string())


@app.command("starter")
def starter(
    data: Path = typer.Option(Path("data"), help="Where starter/genome.fa.gz goes."),
    variants: Path = typer.Option(Path("variants"), help="Where starter.vcf.gz goes."),
) -> None:
    """The starter files: a small random genome and a variant file with every awkward case."""
    from genomix.demo.starter import build_starter

    typer.echo(f"wrote {', '.join(map(str, build_starter(data, variants)))}")


@app.command("evaluate")
def evaluate(
    model: str = typer.Option("demo", "--model", "-m", help="Hub id, local model folder, or `demo`."),
    data: Path = typer.Option(None, help="Demo data folder (default: the shipped one)."),
    vcf: Path = typer.Option(None, help="Truth VCF (default: variants/demo.vcf.gz)."),
    window: int = typer.Option(512, help="Window in bp."),
) -> None:
    """How well a model knows the demo world: masked-base accuracy at planted sites vs background, and AUROC
    of |score| for functional vs neutral truth variants."""
    from genomix.models.registry import load_model
    from genomix.paths import demo_dir, demo_variants
    from genomix.pipelines.demo import evaluate_demo_model

    figures = evaluate_demo_model(load_model(model), data or demo_dir(), vcf or demo_variants(), window=window)
    typer.echo(json.dumps(figures, indent=1))
