"""`genomix concepts`: an SAE's fractured features put back together, and how fractured and entangled it is."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(no_args_is_help=True, help="Concepts: an SAE's fractured features put back together.")


@app.command("summary")
def summary(
    sae: str = typer.Option("demo", "--sae", help="SAE folder holding its atlas, or `demo`."),
    annotations: Optional[Path] = typer.Option(None, help="BED or GFF3 classes for entanglement (demo: its own)."),
    fasta: Optional[Path] = typer.Option(
        None, "--fasta", "-f", help="The genome the atlas was built on (contig lengths)."
    ),
) -> None:
    """Fracture (features per concept), entanglement (features enriched in unrelated classes) and the concept table."""
    from genomix.features.concepts import concepts
    from genomix.features.measures import summarize, summary_lines
    from genomix.pipelines import concept_inputs

    trained, atlas, table, lengths = concept_inputs(sae, annotations, fasta)
    typer.echo("\n".join(summary_lines(summarize(trained, atlas, table, lengths))))
    shown = concepts(trained, atlas)[["concept", "name", "kind", "size", "labelled", "joined", "mean_cosine"]]
    typer.echo(shown.to_string(index=False, float_format=lambda x: f"{x:.2f}"))


@app.command("compare")
def compare(
    saes: list[str] = typer.Argument(
        ..., help="SAE folders (layers of one model, or different models), each with its atlas."
    ),
    annotations: Optional[Path] = typer.Option(None, help="BED or GFF3 classes for entanglement."),
    fasta: Optional[Path] = typer.Option(None, "--fasta", "-f", help="The genome the atlases were built on."),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="The comparison table: .tsv."),
    plot: Optional[Path] = typer.Option(None, help="A PNG: features per concept and entanglement, SAE by SAE."),
) -> None:
    """Fracture and entanglement of several SAEs side by side."""
    import pandas as pd

    from genomix.features.measures import comparison_row
    from genomix.pipelines import concept_inputs

    frame = pd.DataFrame([comparison_row(sae, *concept_inputs(sae, annotations, fasta)) for sae in saes])
    typer.echo(frame.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if out is not None:
        from genomix.io.outputs import written_whole

        with written_whole([out]) as (partial,):
            frame.to_csv(partial, sep="\t", index=False)
    if plot is not None:
        from genomix.report.plots import plot_concept_comparison

        plot_concept_comparison(frame, plot)
