"""`genomix explain`: ranked hypotheses for every ALT of a VCF."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from genomix.cli.engine import DTYPE, ENGINE, GPUS_PER_WORKER, RAY_ADDRESS, SHARD_SIZE, WORKERS, make_engine
from genomix.cli.progress import Progress, command_line, summary
from genomix.errors import GenomixError

log = logging.getLogger("genomix")


def explain(
    vcf: Path = typer.Argument(..., help="Variants: VCF or BCF, plain or bgzipped."),
    fasta: Path = typer.Option(..., "--fasta", "-f", help="Reference FASTA (plain or bgzipped) matching the VCF."),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="Hypotheses table: .tsv or .parquet."),
    sae: Optional[str] = typer.Option(None, help="SAE folder (its cfg.json names the model); default: the demo SAE."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="Model (default: the SAE's; `demo` brings the demo SAE and atlas)."
    ),
    atlas: Optional[Path] = typer.Option(None, help="Feature atlas (default: atlas.parquet in the SAE folder)."),
    top: int = typer.Option(3, help="Hypotheses per ALT."),
    vcf_out: Optional[Path] = typer.Option(
        None, help="The input VCF with INFO/GMX_SCORE and INFO/GMX: .vcf, .vcf.gz or .bcf."
    ),
    report: Optional[Path] = typer.Option(None, help="Self-contained HTML report."),
    followup: Optional[Path] = typer.Option(None, help="Lab follow-up designs (MPRA oligos, EMSA probes): .tsv."),
    report_limit: int = typer.Option(100, help="Variant cards in the report (smallest p first)."),
    report_mutagenesis: int = typer.Option(
        10,
        help="Cards (best first) that show the model's own view: in-silico mutagenesis ±20 bp in ref and alt, "
        "121 to 242 forward passes each.",
    ),
    genes: Optional[Path] = typer.Option(
        None,
        help="Genes (GFF3 or GTF) for each ALT's gene, region and splice distance (default: the demo's with the "
        "demo genome); a VCF's own VEP CSQ or snpEff ANN comes first.",
    ),
    group: str = typer.Option("concept", help="Rank concepts (fractured features put together) or single features."),
    unlabelled: bool = typer.Option(False, "--unlabelled", help="Let unlabelled features make hypotheses too."),
    window: Optional[int] = typer.Option(None, help="Window in bp (default: the SAE's training window)."),
    radius: int = typer.Option(20, help="bp either side of the allele where feature changes count."),
    null_size: int = typer.Option(500, help="Shuffled-context null variants per kind, for the p-values."),
    null_cache: Optional[Path] = typer.Option(
        None, help="Folder keeping the nulls between runs (a second run skips drawing them)."
    ),
    method: str = typer.Option("auto", help="Score: auto, llr, delta_ll or embedding (spliceai with SpliceAI)."),
    distance: int = typer.Option(
        50, help="With SpliceAI: bp either side of the variant where its output is read (SpliceAI's -D)."
    ),
    batch_size: int = typer.Option(16, help="Windows per forward pass."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... (default: cuda when available)."),
    dtype: str = DTYPE,
    ref_check: str = typer.Option("error", help="When REF differs from the FASTA: error, warn (skip and log) or skip."),
    region: Optional[str] = typer.Option(None, help="Only this region, e.g. chr1:100-200 (needs an indexed VCF)."),
    seed: int = typer.Option(0, help="Seed of the null variants and of the scrambled controls."),
    engine: str = ENGINE,
    ray_address: Optional[str] = RAY_ADDRESS,
    workers: int = WORKERS,
    gpus_per_worker: float = GPUS_PER_WORKER,
    shard_size: Optional[int] = SHARD_SIZE,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary."),
) -> None:
    """Explain every ALT of a VCF: ranked hypotheses from SAE features, with their evidence."""
    from genomix.hypotheses import ExplainOptions
    from genomix.io.outputs import check_outputs
    from genomix.paths import SHIPPED
    from genomix.pipelines import explain_metadata, explain_to_file, load_explainer

    if sae is None and model not in (None, SHIPPED):
        raise GenomixError("a model other than demo needs its SAE (train one with `genomix sae train`)", option="sae")
    sae = sae or SHIPPED
    options = ExplainOptions(
        window=window,
        radius=radius,
        top=top,
        null_size=null_size,
        method=method,
        batch_size=batch_size,
        seed=seed,
        group=group,
        unlabelled=unlabelled,
        null_cache=null_cache,
        distance=distance,
    )
    written = [p for p in (out, vcf_out, report, followup) if p is not None]
    check_outputs(written)
    runner = make_engine(engine, ray_address, workers, gpus_per_worker)
    explainer = load_explainer(fasta, sae, atlas, model, options, device=device, dtype=dtype)
    with Progress("explaining", quiet) as bar:
        counts = explain_to_file(
            vcf,
            explainer,
            out,
            vcf_out,
            report,
            followup,
            meta=explain_metadata(explainer, sae, command_line()),
            region=region,
            ref_check=ref_check,
            report_limit=report_limit,
            progress=bar.advance,
            genes=genes,
            report_mutagenesis=report_mutagenesis,
            engine=runner,
            **({} if shard_size is None else {"chunk_size": shard_size}),
        )
    if not quiet:
        log.info("%d ALTs explained into %s (%s)", sum(counts.values()), ", ".join(map(str, written)), summary(counts))
