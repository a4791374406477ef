"""Runs cut into shards, kept beside the output until the run is whole, and the engines that do them.

A run's work is the VCF's chunks (`io.variants.iter_variant_chunks`: whole records, about
`chunk_size` ALTs each). Each finished chunk is a shard: its results pickled into
`<first output>.genomix-shards/shard-NNNNNN.pkl`, written whole (a partial name, then a rename).
`run.json` there says what the shards belong to: the input's checksum, the genome's index, the
model's fingerprint, the options and the genomix version. Started again with the same command, a run
loads the finished shards and computes only the others; started with other options, it refuses to mix
them. The folder goes once every output is in place. A run whose outputs go to standard output keeps
its shards in a scratch folder instead (nothing to resume beside).

Engines compute the missing shards: `local` in this process, chunk after chunk; `ray` with Ray Data
(`RayEngine`): the chunks are located in one cheap pass (`plan_chunks`), CPU tasks read and place the
variants of one chunk each, and an actor pool runs the model (and SAE) — one loaded copy per actor,
on a GPU when asked — with Ray's own scheduling, retries and backpressure. Either way the outputs
are written afterwards from the shards, in input order, by the same driver: the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from genomix.errors import GenomixError, write_error
from genomix.io.variants import Chunk, iter_variant_chunks, plan_chunks, read_chunk

log = logging.getLogger("genomix")

SHARDS_SUFFIX = ".genomix-shards"
ENGINES = ("local", "ray")


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_identity(vcf, genome, model, options: dict) -> dict:
    """What a run's shards depend on: the input VCF's checksum, the genome's index (contig names and
    lengths), the model's weights, `options` and the genomix version."""
    import genomix
    from genomix.models.base import model_fingerprint, reduced_precision

    contigs = hashlib.sha256(repr(sorted(genome.lengths.items())).encode()).hexdigest()
    fingerprint = model_fingerprint(model)
    return {
        "input": file_digest(vcf),
        "genome": contigs,
        "model": " ".join(filter(None, (model.name, fingerprint, reduced_precision(model)))),
        "options": {key: repr(value) for key, value in sorted(options.items())},
        "genomix_version": genomix.__version__,
    }


class ShardStore:
    """The finished shards of one run in `folder` (None: a scratch folder, removed when the run ends
    whatever happens; a folder is removed too when the run stops before its first shard). `identity` says
    what they belong to; a folder holding another run's shards is refused."""

    def __init__(self, folder: Path | None, identity: dict):
        self.folder, self.identity, self.scratch = folder, identity, folder is None

    def __enter__(self) -> ShardStore:
        if self.scratch:
            self.folder = Path(tempfile.mkdtemp(prefix="genomix-shards-"))
        else:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise (write_error(error, str(self.folder)) or error) from error
        described = self.folder / "run.json"
        if described.exists():
            self._check(json.loads(described.read_text()))
        else:
            self._write(described, json.dumps(self.identity, indent=1).encode())
        self.done = {int(p.stem.split("-")[1]) for p in self.folder.glob("shard-*.pkl")}
        if self.done:
            log.info("resuming: %d finished shard(s) in %s", len(self.done), self.folder)
        return self

    def _check(self, before: dict) -> None:
        differs = [key for key in sorted(set(before) | set(self.identity)) if before.get(key) != self.identity.get(key)]
        if differs:
            if "options" in differs:
                old, new = before.get("options", {}), self.identity["options"]
                changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
                differs = [d for d in differs if d != "options"] + [f"option {k}" for k in changed]
            raise GenomixError(
                f"{self.folder} holds the finished shards of a run with another {', '.join(differs)}; genomix "
                f"does not mix them. Run the same command again to finish that run, or remove {self.folder} to "
                "start over."
            )

    def _write(self, path: Path, data: bytes) -> None:
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            partial.write_bytes(data)
            os.replace(partial, path)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise (write_error(error, str(path)) or error) from error

    def path(self, number: int) -> Path:
        return self.folder / f"shard-{number:06d}.pkl"

    def save(self, number: int, results: list) -> None:
        self._write(self.path(number), pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))
        self.done.add(number)

    def load(self, number: int, alts: int) -> list:
        """The results of shard `number`, which must hold `alts` of them."""
        with open(self.path(number), "rb") as handle:
            results = pickle.load(handle)  # written by a run of this same input and options (run.json)
        if len(results) != alts:
            raise GenomixError(
                f"{self.path(number)} holds {len(results)} results for a chunk of {alts} ALTs; remove "
                f"{self.folder} to start over."
            )
        return results

    def finish(self) -> None:
        """Remove the shards: every output is in place."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def __exit__(self, kind, error, trace) -> None:
        if self.scratch or not self.done:  # a run that stopped before its first shard leaves nothing
            self.finish()
        elif error is not None and self.folder.exists():
            kept = _resume(self)
            if hasattr(error, "left"):
                error.left.append(kept)
            else:
                log.warning("%s", kept)


def shards_folder(outputs: list) -> Path | None:
    """Where a run's shards go: beside its first file output (None: every output is standard output)."""
    for out in outputs:
        if out is not None and str(out) != "-":
            return Path(str(out) + SHARDS_SUFFIX)
    return None


@dataclass(frozen=True)
class RayEngine:
    """Ray Data over a Ray cluster: `address` (None: the one this process is connected to, else a
    local one started for the run), `workers` model actors, `gpus_per_worker` each (0: CPU). Ray
    restarts a crashed worker and retries its shard; a worker lost for good (killed, its node gone)
    stops the dataset, and the shards not yet finished run again in a new one, up to `attempts` times."""

    address: str | None = None
    workers: int = 1
    gpus_per_worker: float = 0
    attempts: int = 3

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise GenomixError(f"workers must be 1 or more, not {self.workers}", option="workers")
        if self.gpus_per_worker < 0:
            raise GenomixError("gpus-per-worker cannot be negative", option="gpus_per_worker")

    def run(self, reading: tuple, work: Callable[[list], list], store: ShardStore, progress=None) -> None:
        """Compute every shard of `reading` (vcf, genome, region, ref_check, chunk_size) missing from
        `store`, `work(variants) -> results` running in the actor pool; each is saved as it comes back."""
        try:
            import ray
            import ray.data
            import torch
        except ImportError as error:
            raise GenomixError("--engine ray needs Ray: pip install 'genomix[ray]'", option="engine") from error
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # genomix's own bar counts shards and variants
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        lost = (ray.exceptions.ActorDiedError, ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)
        try:
            for attempt in range(1, self.attempts + 1):
                try:
                    self._run(reading, work, store, progress, torch.get_num_threads())
                    return
                except lost as error:  # a worker killed for good: the finished shards stay, the rest run again
                    if attempt == self.attempts:
                        why = f"Ray workers were lost {attempt} times ({type(error).__name__})"
                        raise GenomixError(f"{why}; {_resume(store)}") from error
                    log.warning("a Ray worker was lost (%s); the unfinished shards run again", type(error).__name__)
                except Exception as error:
                    cause = _genomix_cause(error)
                    if cause is None:
                        raise
                    raise cause from error
        finally:
            if started:
                ray.shutdown()

    def _run(self, reading: tuple, work, store: ShardStore, progress, threads: int) -> None:
        import ray
        import ray.data

        vcf, genome, region, ref_check, chunk_size = reading
        todo = [asdict(c) for c in plan_chunks(vcf, region, chunk_size) if c.number not in store.done]
        if not todo:
            return
        chunks = ray.data.from_items(todo, override_num_blocks=len(todo))
        variants = chunks.map_batches(
            _read_chunks, fn_kwargs={"reading": (str(vcf), genome, region, ref_check)}, batch_size=1, num_cpus=1
        )
        results = variants.map_batches(
            _Worker,
            fn_constructor_args=(work, threads),
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            num_cpus=1,
            num_gpus=self.gpus_per_worker,
        )
        for row in results.iter_rows():
            store.save(int(row["number"]), pickle.loads(row["results"]))
            if progress:
                progress(int(row["alts"]), len(store.done))


def _genomix_cause(error: BaseException) -> GenomixError | None:
    """The GenomixError a Ray task raised (Ray wraps it), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, GenomixError):
            return error
        seen.add(id(error))
        error = getattr(error, "cause", None) or error.__cause__
    return None


def _resume(store: ShardStore) -> str:
    return f"{len(store.done)} finished shard(s) kept in {store.folder}: the same command finishes the run"


def _read_chunks(batch: dict, reading: tuple) -> dict:
    """CPU task: the placed variants of each chunk of `batch` (pickled)."""
    vcf, genome, region, ref_check = reading
    out = {"number": [], "alts": [], "variants": []}
    for row in range(len(batch["number"])):
        chunk = Chunk(**{key: int(batch[key][row]) for key in Chunk.__dataclass_fields__})
        out["number"].append(chunk.number)
        out["alts"].append(chunk.alts)
        out["variants"].append(pickle.dumps(read_chunk(vcf, genome, chunk, region, ref_check)))
    return out


class _Worker:
    """A model actor: `work` (holding the model, and the SAE for explain) loaded once, on the actor's
    GPU when it has one, then one chunk per call. On CPU it computes with the driver's number of torch
    threads: float32 sums depend on how they are split (a score differs in its 7th digit between 1 and
    2 threads), and a Ray run writes the bytes a local run does."""

    def __init__(self, work, threads: int):
        import ray
        import torch

        if ray.get_gpu_ids():
            work.to("cuda")
        else:
            torch.set_num_threads(threads)
        self.work = work

    def __call__(self, batch: dict) -> dict:
        results = [pickle.dumps(self.work(pickle.loads(v))) for v in batch["variants"]]
        return {"number": batch["number"], "alts": batch["alts"], "results": results}


def sharded(reading: tuple, work, store: ShardStore, engine=None, progress=None) -> Iterator[tuple[list, list]]:
    """(records, results) of every chunk of `reading`, in input order: finished shards from `store`, the
    others computed by `work(variants)` — in this process chunk after chunk (`engine` None), or all first
    by a RayEngine — and saved. `progress(alts, shards_done)` after each shard."""
    if engine is not None:
        engine.run(reading, work, store, progress)
    for number, (records, variants) in enumerate(iter_variant_chunks(*reading)):
        if number in store.done:
            results = store.load(number, len(variants))
            if engine is None and progress:
                progress(len(variants), number + 1)
        else:
            results = work(variants)
            store.save(number, results)
            if progress:
                progress(len(variants), number + 1)
        yield records, results


@contextmanager
def input_file(vcf):
    """The VCF as a file: standard input (`-`) is kept in a scratch file, since a sharded run reads its
    input more than once (to plan and write, and for its checksum)."""
    if str(vcf) != "-":
        yield vcf
        return
    with tempfile.TemporaryDirectory(prefix="genomix-stdin-") as scratch:
        copy = Path(scratch) / "stdin.vcf"
        with open(copy, "wb") as handle:
            shutil.copyfileobj(sys.stdin.buffer, handle)
        yield copy
