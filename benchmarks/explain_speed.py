#!/usr/bin/env python
"""Explain's speed against score's, on the same VCF and model, in the same run.

The demo truth VCF (509 variants) with the demo model, SAE and atlas, window 512, on CPU. Per
repeat (interleaved, medians reported):
- score: `genomix.scoring.score_variants` (llr for SNVs, embedding distance for indels, both strands);
- explain, cold: a new `Explainer` explains the whole VCF, drawing its shuffled-context nulls (500
  variants per kind of variant in the VCF) on the way, as one `genomix explain` run does;
- explain, warm: the same Explainer explains the VCF again, nulls already drawn (what a second
  chunk of a long VCF costs).
Model, SAE, atlas and genome loading are not timed. Target (issue): explain at most 4x slower.

    .venv/bin/python benchmarks/explain_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from genomix.hypotheses import load_explainer
from genomix.io.variants import read_variants
from genomix.paths import demo_dir, demo_variants
from genomix.scoring import score_variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--null-size", type=int, default=500)
    args = parser.parse_args()
    first = load_explainer(demo_dir() / "genome.fa.gz", "demo", null_size=args.null_size)
    variants = list(read_variants(demo_variants(), first.genome))
    times = {"score": [], "explain_cold": [], "explain_warm": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        score_variants(first.model, first.genome, variants, window=first.window)
        times["score"].append(time.perf_counter() - start)
        explainer = load_explainer(first.genome, first.sae, first.atlas, first.model, null_size=args.null_size)
        start = time.perf_counter()
        explainer.explain(variants)
        times["explain_cold"].append(time.perf_counter() - start)
        start = time.perf_counter()
        explainer.explain(variants)
        times["explain_warm"].append(time.perf_counter() - start)
    medians = {k: statistics.median(v) for k, v in times.items()}
    result = {"variants": len(variants), "null_kinds": len(explainer._null), "repeats": args.repeats,
              **{f"{k}_seconds": round(v, 2) for k, v in medians.items()},
              **{f"{k}_variants_per_s": round(len(variants) / v, 1) for k, v in medians.items()},
              "explain_cold_over_score": round(medians["explain_cold"] / medians["score"], 2),
              "explain_warm_over_score": round(medians["explain_warm"] / medians["score"], 2)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
