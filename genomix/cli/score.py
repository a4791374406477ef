"""`genomix score`: zero-shot scores of every ALT of a VCF."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from genomix.cli.engine import DTYPE, ENGINE, GPUS_PER_WORKER, RAY_ADDRESS, SHARD_SIZE, WORKERS, make_engine
from genomix.cli.progress import Progress, command_line, summary

log = logging.getLogger("genomix")


def score(
    vcf: Path = typer.Argument(..., help="Variants: VCF or BCF, plain or bgzipped."),
    fasta: Path = typer.Option(..., "--fasta", "-f", help="Reference FASTA (plain or bgzipped) matching the VCF."),
    out: list[str] = typer.Option(
        ...,
        "--output",
        "-o",
        help="Output: .tsv, .parquet, .vcf, .vcf.gz, .bcf, or - for VCF on stdout (repeat for several).",
    ),
    model: str = typer.Option(
        "demo", "--model", "-m", help="Hub id, local model folder, `demo`, or `spliceai` (needs the spliceai package)."
    ),
    method: str = typer.Option("auto", help="auto, llr, delta_ll, embedding or spliceai."),
    annotation: Optional[Path] = typer.Option(
        None, "--annotation", "-a", help="spliceai: gene annotation, SpliceAI's annotation table or a GFF3."
    ),
    distance: int = typer.Option(50, help="spliceai: bp either side of the variant where sites are scored (-D)."),
    mask: bool = typer.Option(
        False, "--mask/--no-mask", help="spliceai: mask annotated site gains and unannotated losses (-M 1)."
    ),
    window: Optional[int] = typer.Option(None, help="Window in bp (default: 1024 or the model's context)."),
    layer: Optional[str] = typer.Option(None, help="Layer for the embedding score (default: the last)."),
    batch_size: int = typer.Option(32, help="Forward passes per batch; results do not depend on it."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1, ... (default: cuda when available)."),
    dtype: str = DTYPE,
    ref_check: str = typer.Option("error", help="When REF differs from the FASTA: error, warn (skip and log) or skip."),
    region: Optional[str] = typer.Option(None, help="Only this region, e.g. chr1:100-200 (needs an indexed VCF)."),
    rc: bool = typer.Option(True, "--rc/--no-rc", help="Average with the reverse-complement strand."),
    backend: Optional[str] = typer.Option(None, help="Model backend (default: from the model's config)."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model's own code to run."),
    engine: str = ENGINE,
    ray_address: Optional[str] = RAY_ADDRESS,
    workers: int = WORKERS,
    gpus_per_worker: float = GPUS_PER_WORKER,
    shard_size: Optional[int] = SHARD_SIZE,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary."),
) -> None:
    """Score every ALT of a VCF with a DNA language model, or with SpliceAI's delta scores."""
    from genomix.io.genome import Genome
    from genomix.io.outputs import check_outputs
    from genomix.models.registry import load_model
    from genomix.pipelines import score_metadata, score_to_file
    from genomix.scoring import ScoreOptions

    check_outputs(out)
    runner = make_engine(engine, ray_address, workers, gpus_per_worker)
    options = ScoreOptions(method, window, rc, batch_size, layer, distance, mask)
    genome = Genome(fasta)
    loaded = load_model(model, backend=backend, device=device, trust_remote_code=trust_remote_code, dtype=dtype)
    with Progress("scoring", quiet) as bar:
        counts = score_to_file(
            vcf,
            genome,
            loaded,
            out,
            options,
            meta=score_metadata(loaded, options, command_line()),
            progress=bar.advance,
            engine=runner,
            ref_check=ref_check,
            region=region,
            genes=annotation,
            **({} if shard_size is None else {"chunk_size": shard_size}),
        )
    if not quiet:
        log.info("%d ALTs scored into %s (%s)", sum(counts.values()), ", ".join(out), summary(counts))
