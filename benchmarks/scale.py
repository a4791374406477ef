#!/usr/bin/env python
"""Past one process: `genomix score` with the local engine and with Ray (1 and 2 model workers).

Everything is built in a temporary folder: VCFs of random SNVs on the demo genome (fixed seed, REF
from the genome, sorted, bgzipped and indexed) and, by default, a tiny random-init character ESM (so
that the runs weigh genomix's and Ray's own work; `--model demo` takes the demo ConvNet). Each run is
its own Python process calling `genomix.pipelines.score_to_file` (the function `genomix score`
calls), TSV written; the model's loading is outside the clock, Ray's start (a local cluster of 2
CPUs) inside it.

Measured in the same invocation, interleaved over repeats (medians):
- speed: variants/s of local, ray with 1 worker and ray with 2 workers on the 20,000-SNV VCF; Ray's
  overhead at 1 worker = 1 - ray1 / local (target <= 15 %);
- memory: the peak resident memory of the run (the driver, plus for Ray the sum over its worker
  processes at the sampled peak) on 20,000 and 200,000 SNVs at a small window (target: the larger VCF
  needs <= 1.2x the smaller's, both engines; the larger VCF runs once, 1 worker);
- the cost per window of the demo model and of a Nucleotide Transformer v2-500M-shape model (random
  init, ESM, 24 layers, hidden 1024; a forward of one 1,000-token window, batch 8), from which the cost
  of a 4.5 M-variant genome on N GPUs is worked out (printed with its assumptions).

Usage:
    .venv/bin/python benchmarks/scale.py --quick   # 2,000 / 20,000 SNVs, one repeat
    .venv/bin/python benchmarks/scale.py           # 20,000 / 200,000 SNVs, 3 repeats
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "demo" / "genome.fa.gz"

RUN = r"""
import json, resource, sys, threading, time
import psutil
import genomix as gx
from genomix.io.genome import Genome
from genomix.pipelines import score_to_file
from genomix.pipelines.shards import RayEngine

vcf, out, engine, workers, window = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
genome, model = Genome(sys.argv[6]), gx.load_model(sys.argv[7])
peak, done = [0], threading.Event()

def ray_workers():
    total = 0
    for process in psutil.process_iter(["cmdline", "memory_info"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "ray::" in cmdline or "default_worker.py" in cmdline:
            total += process.info["memory_info"].rss
    return total

def sample():
    while not done.is_set():
        peak[0] = max(peak[0], ray_workers())
        time.sleep(0.2)

if engine == "ray":
    threading.Thread(target=sample, daemon=True).start()
started = time.perf_counter()
runner = None
if engine == "ray":
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    runner = RayEngine(workers=workers)
counts = score_to_file(vcf, genome, model, out, window=window, engine=runner)
if engine == "ray":
    ray.shutdown()
seconds = time.perf_counter() - started
done.set()
driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "alts": sum(counts.values()), "driver": driver, "workers": peak[0]}))
"""


def make_vcf(path: Path, n: int, seed: int, margin: int = 600) -> Path:
    """`n` random SNVs on the demo genome, sorted, bgzipped and indexed."""
    import pysam

    from genomix.io.genome import Genome

    rng = np.random.default_rng(seed)
    genome = Genome(FASTA)
    contigs = list(genome.lengths)
    lengths = np.array([genome.lengths[c] - 2 * margin for c in contigs], dtype=float)
    picks = rng.choice(len(contigs), size=n, p=lengths / lengths.sum())
    rows = []
    for index in range(len(contigs)):
        count = int((picks == index).sum())
        positions = np.unique(rng.integers(margin, genome.lengths[contigs[index]] - margin, size=count))
        for pos in positions:
            ref = genome.fetch(contigs[index], int(pos), int(pos) + 1)
            if ref not in "ACGT":
                continue
            alt = rng.choice([b for b in "ACGT" if b != ref])
            rows.append(f"{contigs[index]}\t{pos + 1}\t.\t{ref}\t{alt}\t.\t.\t.\n")
    header = "##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={c},length={genome.lengths[c]}>\n" for c in contigs)
    plain = path.with_suffix("")
    plain.write_text(header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(rows))
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.tabix_index(str(path), preset="vcf", force=True, keep_original=True)
    return path


def run(vcf: Path, folder: Path, engine: str, workers: int, window: int, model: str) -> dict:
    """One run in its own process, every process (driver and Ray workers) computing with one torch
    thread: the 2 cores are then shared without oversubscription, and the engines compare fairly."""
    out = folder / f"{engine}{workers}-{vcf.stem}.tsv"
    command = [sys.executable, "-c", RUN, str(vcf), str(out), engine, str(workers), str(window), str(FASTA), model]
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    out.unlink()
    return result


def window_cost(model, window: int, batch: int = 8, repeats: int = 3) -> float:
    """Seconds of one forward pass per window (median over repeats of a batch)."""
    import torch

    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), size=window)) for _ in range(batch)]
    tokens = model.tokenize(seqs)
    times = []
    with torch.no_grad():
        model.forward(tokens)
        for _ in range(repeats):
            started = time.perf_counter()
            model.forward(tokens)
            times.append(time.perf_counter() - started)
    return statistics.median(times) / batch


def tiny_model(folder: Path) -> Path:
    """The tests' random-init 3-layer character-level ESM masked LM (hidden 32): the runs then weigh
    genomix's and Ray's own work more than the model's."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import save_char_mlm

    return save_char_mlm(folder)


def nt500m(folder: Path):
    """A random-init ESM masked LM of the Nucleotide Transformer v2-500M shape (24 layers, hidden 1024,
    6-mer vocabulary; `score_speed.build_model`), loaded the way a hub id is."""
    from score_speed import build_model

    import genomix as gx

    shape = {"hidden": 1024, "layers": 24, "heads": 16, "intermediate": 4096}
    return gx.load_model(str(build_model(folder, shape, max_positions=2050, seed=0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--window", type=int, default=128, help="bp per window (small: the runs measure overhead)")
    parser.add_argument("--model", default="tiny", help="tiny (a 3-layer character ESM) or any genomix model name")
    parser.add_argument("--sizes", type=int, nargs=2, default=None, help="the small and large VCF's SNVs")
    args = parser.parse_args()
    small, large = args.sizes or ((2_000, 20_000) if args.quick else (20_000, 200_000))
    repeats = args.repeats or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="genomix-scale-") as scratch:
        folder = Path(scratch)
        vcfs = {n: make_vcf(folder / f"snvs{n}.vcf.gz", n, seed=n) for n in (small, large)}
        model = args.model if args.model != "tiny" else str(tiny_model(folder / "tiny"))
        speed: dict[str, list[float]] = {"local": [], "ray1": [], "ray2": []}
        memory: dict[tuple[str, int], list[float]] = {}
        for repeat in range(repeats):
            for name, engine, workers in (("local", "local", 1), ("ray1", "ray", 1), ("ray2", "ray", 2)):
                result = run(vcfs[small], folder, engine, workers, args.window, model)
                speed[name].append(result["alts"] / result["seconds"])
                if workers == 1:
                    memory.setdefault((engine, small), []).append(result["driver"] + result["workers"])
                print(f"repeat {repeat + 1}: {name} {result}", flush=True)
        for engine in ("local", "ray"):  # once: the large VCF is 10x the work
            result = run(vcfs[large], folder, engine, 1, args.window, model)
            memory[(engine, large)] = [result["driver"] + result["workers"]]
            print(f"{engine} on {large}: {result}", flush=True)
        rates = {name: statistics.median(values) for name, values in speed.items()}
        print(f"\nvariants/s on {small:,} SNVs, window {args.window} bp, medians of {repeats}:")
        for name, rate in rates.items():
            print(f"  {name}: {rate:.1f}  ({rate / rates['local']:.2f}x local)")
        print(f"  Ray's overhead at 1 worker: {1 - rates['ray1'] / rates['local']:.1%} (target <= 15 %)")
        print("peak resident memory (driver + Ray workers), medians:")
        for engine in ("local", "ray"):
            low, high = (statistics.median(memory[(engine, n)]) / 2**20 for n in (small, large))
            print(f"  {engine}: {low:.0f} MiB on {small:,}, {high:.0f} MiB on {large:,}: {high / low:.2f}x (<= 1.2)")

        import genomix as gx

        demo = gx.load_model("demo")
        demo_cost = window_cost(demo, 1024)
        big = nt500m(folder / "nt500m")
        params = sum(p.numel() for p in big.model.parameters())
        big_cost = window_cost(big, 6000, batch=2, repeats=2)  # 1,000 6-mer tokens
        print(f"\nper window on this CPU: demo model 1,024 bp {demo_cost * 1e3:.1f} ms; ")
        print(f"NT-v2-500M shape ({params / 1e6:.0f} M parameters), 6,000 bp = 1,000 tokens: {big_cost:.2f} s")
        flops = 2 * params * 1000  # a forward: about 2 FLOPs per parameter per token
        print(f"  achieved {flops / big_cost / 1e9:.1f} GFLOP/s on this CPU")
        windows = 4_500_000 * 2  # llr: one masked window per strand; shared by the ALTs of one site
        for throughput, label in ((200e12, "a GPU at 200 TFLOP/s bf16 used at 100 %"), (60e12, "at 30 %")):
            per_gpu_hours = windows * flops / throughput / 3600
            print(f"  4.5 M SNVs x 2 strands = {windows:,} windows; {label}: {per_gpu_hours:.1f} GPU-hours")
            print("    " + ", ".join(f"{n} GPUs {per_gpu_hours / n:.2f} h" for n in (1, 8, 32)))
        cpu_hours = windows * big_cost / 3600
        print(f"  on this CPU (2 cores): {cpu_hours:,.0f} hours")


if __name__ == "__main__":
    main()
