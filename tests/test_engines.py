"""Runs cut into shards: resumed after SIGKILL with only the unfinished shards computed, refused when
the options changed; the Ray engine writes the same bytes as the local one, also when an actor dies."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import genomix as gx
from genomix.errors import GenomixError
from genomix.io.genome import Genome
from genomix.pipelines import explain_to_file, load_explainer, score_to_file

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "demo" / "genome.fa.gz"
VCF = ROOT / "variants" / "demo.vcf.gz"  # the demo truth set: 509 ALTs
SHARD = 32  # ALTs per shard: 16 shards


def without_provenance(path: Path) -> list[str]:
    """The lines of a VCF but genomix's provenance header lines (the command line differs)."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        return [line for line in handle if not line.startswith("##genomix")]


class CountingModel:
    """The demo model with its forward passes counted (sequences run), by the test."""

    def __init__(self):
        self.model = gx.load_model("demo")
        self.sequences = 0
        forward = self.model.forward

        def counted(tokens, *args, **kwargs):
            self.sequences += len(tokens)
            return forward(tokens, *args, **kwargs)

        self.model.forward = counted


def test_a_run_killed_half_way_resumes_with_only_the_unfinished_shards_and_writes_the_same_output(tmp_path):
    genome = Genome(FASTA)
    counting = CountingModel()
    per_shard, last = {}, [0]

    def note(alts, shards):
        per_shard[shards - 1], last[0] = counting.sequences - last[0], counting.sequences

    reference = [tmp_path / "reference.tsv", tmp_path / "reference.vcf.gz"]
    score_to_file(VCF, genome, counting.model, reference, window=256, chunk_size=SHARD, progress=note)
    assert len(per_shard) == 16 and not Path(str(reference[0]) + ".genomix-shards").exists()

    outputs = [tmp_path / "scores.tsv", tmp_path / "scores.vcf.gz"]
    shards = Path(str(outputs[0]) + ".genomix-shards")
    command = [sys.executable, "-m", "genomix", "score", VCF, "--fasta", FASTA, "--window", "256"]
    run = subprocess.Popen(
        [*command, "--shard-size", str(SHARD), "-o", outputs[0], "-o", outputs[1]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    while run.poll() is None and len(list(shards.glob("shard-*.pkl"))) < 4:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    finished = {int(p.stem.split("-")[1]) for p in shards.glob("shard-*.pkl")}
    assert 4 <= len(finished) < 16 and not any(p.exists() for p in outputs)

    counting.sequences = 0
    score_to_file(VCF, genome, counting.model, outputs, window=256, chunk_size=SHARD)
    assert counting.sequences == sum(n for shard, n in per_shard.items() if shard not in finished)
    assert outputs[0].read_bytes() == reference[0].read_bytes()
    assert without_provenance(outputs[1]) == without_provenance(reference[1])
    assert not shards.exists()


def test_a_run_with_other_options_refuses_the_shards_and_says_how_to_start_over(tmp_path):
    genome, model = Genome(FASTA), gx.load_model("demo")
    out = tmp_path / "scores.tsv"
    shards = Path(str(out) + ".genomix-shards")

    def stop_after_two(alts, done):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_to_file(VCF, genome, model, out, window=256, chunk_size=SHARD, progress=stop_after_two)
    assert len(list(shards.glob("shard-*.pkl"))) == 2 and not out.exists()
    with pytest.raises(GenomixError, match=r"another option window.*remove .*genomix-shards to start over"):
        score_to_file(VCF, genome, model, out, window=128, chunk_size=SHARD)
    assert len(list(shards.glob("shard-*.pkl"))) == 2


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray of 2 CPUs; this process computes with one torch thread, and so do the 2 workers
    (they take the driver's count), so that 3 processes do not spin on 2 cores."""
    import torch

    ray = pytest.importorskip("ray", reason="the Ray engine needs ray (pip install 'genomix[ray]')")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    torch.set_num_threads(threads)


def test_the_ray_engine_scores_and_explains_the_demo_truth_set_to_the_same_files_as_the_local_engine(
    tmp_path, ray_cluster
):
    from genomix.pipelines.shards import RayEngine

    genome, model = Genome(FASTA), gx.load_model("demo")
    for engine in ("local", "ray"):
        runner = RayEngine(workers=2) if engine == "ray" else None
        outputs = [tmp_path / f"{engine}.tsv", tmp_path / f"{engine}.vcf.gz"]
        score_to_file(VCF, genome, model, outputs, window=256, chunk_size=64, engine=runner)
        explainer = load_explainer(FASTA, "demo")
        table, annotated = tmp_path / f"{engine}-hypotheses.tsv", tmp_path / f"{engine}-hypotheses.vcf.gz"
        explain_to_file(VCF, explainer, table, annotated, engine=runner)
    assert (tmp_path / "ray.tsv").read_bytes() == (tmp_path / "local.tsv").read_bytes()
    assert without_provenance(tmp_path / "ray.vcf.gz") == without_provenance(tmp_path / "local.vcf.gz")
    assert (tmp_path / "ray-hypotheses.tsv").read_bytes() == (tmp_path / "local-hypotheses.tsv").read_bytes()
    local, ray = (without_provenance(tmp_path / f"{e}-hypotheses.vcf.gz") for e in ("local", "ray"))
    assert ray == local and sum(1 for line in local if not line.startswith("#")) > 400


def test_a_ray_run_whose_actor_is_killed_finishes_with_the_same_output(tmp_path, ray_cluster):
    from ray._private import state
    from ray._private.worker import global_worker

    from genomix.pipelines.shards import RayEngine

    genome, model = Genome(FASTA), gx.load_model("demo")
    reference = tmp_path / "reference.tsv"
    score_to_file(VCF, genome, model, reference, window=256, chunk_size=SHARD)
    out = tmp_path / "scores.tsv"
    shards = Path(str(out) + ".genomix-shards")
    killed = []

    def workers(alive: bool = True) -> list[str]:
        """Ray's model actors (from the cluster's own table; the actors of Ray Data have no name)."""
        return [
            actor
            for actor, info in state.actors().items()
            if "_Worker" in info["ActorClassName"] and (info["State"] == "ALIVE") == alive
        ]

    def kill_one_actor():
        while not killed:
            if len(list(shards.glob("shard-*.pkl"))) >= 2 and workers():
                actor = workers()[0]
                ray_cluster.kill(global_worker.core_worker.get_actor_handle(ray_cluster.ActorID.from_hex(actor)))
                killed.append(actor)
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one_actor, daemon=True)
    killer.start()
    score_to_file(VCF, genome, model, out, window=256, chunk_size=SHARD, engine=RayEngine(workers=2))
    assert killed, "no actor was killed before the run finished"
    assert killed[0] in workers(alive=False)
    assert out.read_bytes() == reference.read_bytes()
