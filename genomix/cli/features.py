"""`genomix features`: the feature atlas, SAE features named by motifs and annotations."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from genomix.cli.engine import DTYPE
from genomix.errors import GenomixError

app = typer.Typer(no_args_is_help=True, help="The feature atlas: SAE features named by motifs and annotations.")
log = logging.getLogger("genomix")


@app.command("annotate")
def annotate(
    fasta: Path = typer.Option(..., "--fasta", "-f", help="Genome to scan (best: regions the SAE was not trained on)."),
    sae: str = typer.Option("demo", "--sae", help="SAE folder, or `demo`."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model (default: the one in the SAE's cfg.json)."),
    regions: Optional[Path] = typer.Option(None, help="BED file: scan windows from these regions only."),
    annotations: Optional[Path] = typer.Option(
        None, help="BED (class = name column) or GFF3 (class = type) to label by."
    ),
    jaspar_release: str = typer.Option("JASPAR2024", help="JASPAR release (CORE vertebrates, offline via pyjaspar)."),
    motifs: Optional[Path] = typer.Option(None, "--motifs", help="A MEME file of motifs to use instead of JASPAR."),
    q: float = typer.Option(0.05, help="TOMTOM q-value under which a feature takes a motif's name."),
    min_site_share: float = typer.Option(
        0.25,
        help="Share of the feature's top examples that must have a site of "
        "the matched motif (p <= 1e-4, uniform background) within 10 bp for the "
        "match to name it.",
    ),
    site_check: bool = typer.Option(
        True,
        "--site-check/--no-site-check",
        help="Check TOMTOM matches against the motif's sites at the feature's peaks.",
    ),
    windows: int = typer.Option(2048, help="Random windows to scan (2048 x 512 bp: about 1 Mb)."),
    min_cosine: float = typer.Option(
        0.5, help="Concepts: decoder cosine an unlabelled feature needs to join a labelled one."
    ),
    min_coactivation: float = typer.Option(
        0.3, help="Concepts: share of its top examples it must share with that feature."
    ),
    out: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Atlas Parquet file (default: atlas.parquet in the SAE folder)."
    ),
    nulls: bool = typer.Option(
        True,
        "--nulls/--no-nulls",
        help="Also draw explain's nulls for SNVs and 1-2 bp "
        "indels on this genome (explain's defaults), into the atlas' .nulls folder.",
    ),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ..."),
    dtype: str = DTYPE,
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model's own code to run."),
) -> None:
    """Name every feature of an SAE by the JASPAR motif or the annotation it matches."""
    from genomix.features.atlas import AtlasOptions
    from genomix.features.concepts import GroupingOptions
    from genomix.pipelines import annotate

    options = AtlasOptions(
        windows=windows,
        q_threshold=q,
        min_site_share=min_site_share if site_check else None,
        grouping=GroupingOptions(min_cosine=min_cosine, min_coactivation=min_coactivation),
    )
    atlas, out = annotate(
        sae,
        fasta,
        model,
        regions,
        annotations,
        motifs,
        jaspar_release,
        options,
        out,
        nulls,
        device,
        trust_remote_code,
        dtype=dtype,
        progress=lambda stage: log.info("atlas: %s done", stage),
    )
    counts = atlas.table.label_kind.value_counts()
    typer.echo(
        f"{len(atlas.table)} features: {counts.get('motif', 0)} named by a motif, "
        f"{counts.get('annotation', 0)} by an annotation, {counts.get('unlabelled', 0)} unlabelled; "
        f"{atlas.table[atlas.table.label_kind != 'unlabelled'].label.nunique()} distinct labels, "
        f"{len(atlas.concepts)} concepts. Atlas: {out}"
    )


@app.command("show")
def show(
    feature: int = typer.Argument(..., help="Feature number."),
    sae: str = typer.Option("demo", "--sae", help="SAE folder holding atlas.parquet, an atlas file, or `demo`."),
) -> None:
    """A feature's card: label, statistics, a text logo of its seqlets, and its top examples."""
    from genomix.features.atlas import FeatureAtlas, feature_card

    atlas = FeatureAtlas.load(sae)
    if not 0 <= feature < len(atlas.table):
        raise GenomixError(f"the atlas has features 0 .. {len(atlas.table) - 1}; there is no feature {feature}")
    typer.echo(feature_card(atlas, feature))


@app.command("html")
def html(
    out: Path = typer.Option(..., "--output", "-o", help="The HTML page to write."),
    sae: str = typer.Option("demo", "--sae", help="SAE folder holding atlas.parquet, an atlas file, or `demo`."),
    limit: Optional[int] = typer.Option(None, help="At most this many labelled features (logos take a while)."),
) -> None:
    """A self-contained page with a card per labelled feature: logos (its seqlets, its JASPAR match), stats and
    examples."""
    from genomix.features.atlas import FeatureAtlas
    from genomix.features.html import write_atlas_html

    atlas = FeatureAtlas.load(sae)
    write_atlas_html(atlas, out, limit)
    typer.echo(f"{out}: {min(limit or 10**9, int((atlas.table.label_kind != 'unlabelled').sum()))} feature cards")
