"""The options every long run shares: which engine does the work, and how big a shard is."""

from __future__ import annotations

from typing import Optional

import typer

from genomix.errors import GenomixError

ENGINE = typer.Option("local", help="Who does the work: local (this process) or ray (a Ray cluster, `genomix[ray]`).")
RAY_ADDRESS = typer.Option(None, "--ray-address", help="Ray cluster to join (default: start a local one).")
WORKERS = typer.Option(1, help="Model workers with --engine ray (one loaded model each).")
GPUS_PER_WORKER = typer.Option(0.0, "--gpus-per-worker", help="GPUs per model worker with --engine ray.")
DTYPE = typer.Option(
    "auto",
    help="Precision of the model's weights: auto (bfloat16 on a GPU that supports it, else float32), float32, "
    "bfloat16 or float16.",
)
SHARD_SIZE = typer.Option(
    None, "--shard-size", help="ALTs per shard: the unit of work kept beside the output until the run is whole."
)


def make_engine(engine: str, address: Optional[str], workers: int, gpus_per_worker: float):
    """None for the local engine, else a RayEngine."""
    from genomix.pipelines.shards import ENGINES, RayEngine

    if engine not in ENGINES:
        raise GenomixError(f"the engine must be one of {', '.join(ENGINES)}, not {engine!r}", option="engine")
    if engine == "local":
        if address is not None or workers != 1 or gpus_per_worker:
            raise GenomixError("--ray-address, --workers and --gpus-per-worker go with --engine ray", option="engine")
        return None
    return RayEngine(address, workers, gpus_per_worker)
