#!/usr/bin/env python
"""How often does genomix explain name the planted mechanism of a demo truth variant?

Explains variants/demo.vcf.gz with the demo model, SAE and atlas twice: hypotheses about concepts
(fractured features put together, the default) and about single labelled features
(`group="feature"`), and scores the top hypothesis of each variant against the truth
(`genomix.demo.evaluate.explain_truth`).

`--truth-seed N` draws another truth set from the same demo world instead (`truth_variants(world, N)`,
the shipped one is seed 2024), leaving out its variants within 50 bp of a shipped truth variant: the
ranking rules were chosen on the shipped set, so this one checks them on sites they were not fitted to.

`--seeds 0,1,2` runs each group once per seed of the null draw (explain's `seed`; 0 is its default):
the neutral-variant figures move with the draw.

    .venv/bin/python benchmarks/explain_accuracy.py [--null-size 500] [--top 3] [--truth-seed N]
        [--groups concept,feature] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from genomix.demo.evaluate import explain_truth, read_truth
from genomix.demo.world import HELD_OUT
from genomix.hypotheses import explain_table
from genomix.io.variants import read_variants
from genomix.paths import demo_dir, demo_variants
from genomix.pipelines import load_explainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--null-size", type=int, default=500)
    parser.add_argument("--top", type=int, default=3, help="hypotheses kept per ALT (explain's default: 3)")
    parser.add_argument("--truth-seed", type=int, default=None, help="another truth set of the demo world")
    parser.add_argument("--groups", default="concept,feature")
    parser.add_argument("--seeds", default="0", help="seeds of the null draw, one run each (explain's default: 0)")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory()
    vcf = demo_variants() if args.truth_seed is None else other_truth(args.truth_seed, Path(scratch.name))
    truth = read_truth(vcf)
    for group in args.groups.split(","):
        for seed in map(int, args.seeds.split(",")):
            explainer = load_explainer(
                demo_dir() / "genome.fa.gz", "demo", null_size=args.null_size, group=group, top=args.top, seed=seed
            )
            start = time.time()
            table = explain_table(explainer.explain(list(read_variants(vcf, explainer.genome))))
            figures = explain_truth(table, truth, explainer.atlas, HELD_OUT)
            figures["seconds"] = round(time.time() - start, 1)
            print(f"group={group} seed={seed}: {json.dumps(figures, indent=1)}")


def other_truth(seed: int, folder: Path, margin: int = 50) -> Path:
    """A truth VCF drawn with `seed` from the demo world, without variants within `margin` bp of the shipped ones."""
    from genomix.demo.world import SEED, build_world, truth_variants, write_truth_vcf

    shipped = read_truth(demo_variants())
    world = build_world(SEED)
    drawn = truth_variants(world, seed)
    near = {c: g.pos.to_numpy() - 1 for c, g in shipped.groupby("chrom")}
    kept = [v for v in drawn if np.abs(near.get(v.chrom, np.array([10**12])) - v.pos).min() > margin]
    print(f"truth seed {seed}: {len(kept)} of {len(drawn)} variants are more than {margin} bp from the shipped ones")
    write_truth_vcf(world, kept, folder / "truth.vcf.gz")
    return folder / "truth.vcf.gz"


if __name__ == "__main__":
    main()
