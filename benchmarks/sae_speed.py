#!/usr/bin/env python
"""SAE training throughput: the inner loop of `genomix sae train` against a plain PyTorch TopK loop.

Both train on the same activations, already in memory (capturing them from a model is the same
cost for both and is left out): genomix's `Trainer.step` (TopK or BatchTopK, geometric-median
decoder bias at step 0, decoder gradient projection, clipping, unit-norm decoder, dead-latent
counts and metrics; AuxK costs more once latents are dead, which the first steps of a 10 M-token
run, timed here, do not reach) and the
reference loop a user writes from the TopK paper: encode with a per-row top-k, decode, MSE,
Adam, renormalise the decoder. Activations/s of each, interleaved over repeats (medians).

    .venv/bin/python benchmarks/sae_speed.py            # d_in 512, d_sae 4096 (NT-50M width, 8x)
    .venv/bin/python benchmarks/sae_speed.py --quick    # d_in 96, d_sae 768 (8x the demo model's width)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from genomix.sae.base import ARCHITECTURES
from genomix.sae.train import Trainer, TrainingPlan


def reference_loop(x_batches: list[torch.Tensor], d_in: int, d_sae: int, k: int, lr: float) -> float:
    """Plain TopK SAE training; returns seconds."""
    torch.manual_seed(0)
    W_dec = torch.randn(d_sae, d_in)
    W_dec /= W_dec.norm(dim=1, keepdim=True)
    W_dec.requires_grad_()
    W_enc = W_dec.detach().T.clone().requires_grad_()
    b_enc = torch.zeros(d_sae, requires_grad=True)
    b_dec = torch.zeros(d_in, requires_grad=True)
    optimizer = torch.optim.Adam([W_enc, W_dec, b_enc, b_dec], lr=lr)
    start = time.perf_counter()
    for x in x_batches:
        pre = (x - b_dec) @ W_enc + b_enc
        top = pre.topk(k, dim=-1)
        f = torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))
        loss = (x - (f @ W_dec + b_dec)).pow(2).sum(-1).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        with torch.no_grad():
            W_dec /= W_dec.norm(dim=1, keepdim=True)
    return time.perf_counter() - start


def genomix_loop(x_batches: list[torch.Tensor], plan: TrainingPlan, d_in: int) -> float:
    sae = ARCHITECTURES[plan.architecture](d_in, plan.d_sae, plan.k)
    trainer = Trainer(sae, plan)
    start = time.perf_counter()
    for x in x_batches:
        trainer.step(x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()
    d_in, d_sae, k = (96, 768, 32) if args.quick else (512, 4096, 32)
    steps = args.steps or (60 if args.quick else 30)
    generator = torch.Generator().manual_seed(0)
    # activations with a few strong directions, like a residual stream, rather than isotropic noise
    basis = torch.randn(d_in * 2, d_in, generator=generator)
    x_batches = [
        torch.relu(torch.randn(args.batch_size, d_in * 2, generator=generator) - 1.0) @ basis for _ in range(steps)
    ]
    print(
        f"machine: torch {torch.__version__}, {torch.get_num_threads()} threads; d_in {d_in}, d_sae {d_sae}, "
        f"k {k}, batch {args.batch_size}, {steps} steps, {args.repeats} repeats"
    )
    times: dict[str, list[float]] = {"reference topk": [], "genomix topk": [], "genomix batchtopk": []}
    for repeat in range(args.repeats):
        for name in times:
            if name == "reference topk":
                seconds = reference_loop(x_batches, d_in, d_sae, k, lr=2e-4 / (d_sae / 2**14) ** 0.5)
            else:
                # timed: the first steps of a 10 M-token run (latents count as dead after 500 k tokens,
                # so AuxK and resampling, which only work on dead latents, are not triggered here)
                plan = TrainingPlan(
                    layer="blocks.0",
                    d_sae=d_sae,
                    k=k,
                    architecture=name.split()[1],
                    tokens=10_000_000,
                    batch_size=args.batch_size,
                )
                seconds = genomix_loop(x_batches, plan, d_in)
            times[name].append(seconds)
        print(f"  repeat {repeat + 1}: " + "  ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()), flush=True)
    reference = statistics.median(times["reference topk"])
    print("\n| loop | activations/s | vs reference |\n|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {steps * args.batch_size / median:,.0f} | {reference / median:.2f} |")


if __name__ == "__main__":
    main()
