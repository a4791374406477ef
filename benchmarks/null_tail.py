#!/usr/bin/env python
"""Is the fitted tail right? Small p-values from explain's default null against a brute-force null 20x larger.

With explain's default null (500 SNVs, seed 0), a p-value below 11/501 comes from the generalised
Pareto tail fitted to the null's largest statistics (`genomix.hypotheses.null.tail_p_value`). Here
SNVs near the demo world's planted sites (random positions within `--flank` bp of a site, random
ALT; seeded) are explained with that null, and those whose p falls in [1e-3, 1e-2) — the range a
null of 10,000 resolves with at least 10 null variants reaching it — are explained again with a
null 20x larger drawn with another seed (its p-value the plain share reaching, +1 in both counts;
the tail is not used there). A variant passes when the two p-values are within a factor of 2.
Variants with p < 1e-3 are listed too, against the brute-force null's count (which can only bound
them).

    .venv/bin/python benchmarks/null_tail.py [--variants 50] [--pool 600] [--large 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from genomix.demo.world import SEED, build_world
from genomix.hypotheses.null import share_reaching
from genomix.io.genome import Genome
from genomix.io.variants import Variant
from genomix.paths import demo_dir
from genomix.pipelines import load_explainer
from genomix.sequence import ALPHABET


def pool(genome: Genome, n: int, flank: int, seed: int) -> list[Variant]:
    """`n` SNVs at random positions within `flank` bp of a planted site of the demo world."""
    world = build_world(SEED)
    sites = [e for e in world.elements if e.kind in ("motif", "ctcf_site")]
    rng = np.random.default_rng(seed)
    variants, seen = [], set()
    while len(variants) < n:
        site = sites[int(rng.integers(len(sites)))]
        pos = int(rng.integers(site.start - flank, site.end + flank))
        if (site.chrom, pos) in seen or not 0 <= pos < genome.lengths[site.chrom]:
            continue
        seen.add((site.chrom, pos))
        ref = genome.fetch(site.chrom, pos, pos + 1)
        alt = str(rng.choice([b for b in ALPHABET if b != ref]))
        variants.append(Variant(site.chrom, pos, ref, alt, id=f"tail{len(variants)}", contig=site.chrom))
    return variants


def top_p(explainer, variants: list[Variant]) -> tuple[np.ndarray, np.ndarray]:
    """The top hypothesis' p-value and |statistic| of each variant (p = 1, statistic 0 without one)."""
    p, z = [], []
    for item in explainer.explain(variants):
        top = item.top
        p.append(top.p_value if top is not None and item.status == "ok" else 1.0)
        z.append(abs(top.statistic) if top is not None and item.status == "ok" else 0.0)
    return np.array(p), np.array(z)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=50)
    parser.add_argument("--pool", type=int, default=600)
    parser.add_argument("--flank", type=int, default=40)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    genome = Genome(demo_dir() / "genome.fa.gz")
    small = load_explainer(genome, "demo")  # explain's defaults: 500 null variants, seed 0
    candidates = pool(genome, args.pool, args.flank, args.seed)
    start = time.time()
    p_small, _ = top_p(small, candidates)
    print(f"pool: {len(candidates)} SNVs explained in {time.time() - start:.0f} s; p < 0.01: {(p_small < 0.01).sum()}")
    band = np.nonzero((p_small >= 1e-3) & (p_small < 1e-2))[0][: args.variants]
    below = np.nonzero(p_small < 1e-3)[0][: args.variants]
    start = time.time()
    large = load_explainer(genome, "demo", null_size=args.large, seed=1)
    chosen = [candidates[i] for i in np.concatenate([band, below])]
    p_large, z_large = top_p(large, chosen)
    tops = large.null(("snv", 1)).tops
    print(f"brute-force null of {args.large} drawn and {len(chosen)} SNVs explained in {time.time() - start:.0f} s")
    reaching = np.array([len(tops) - np.searchsorted(tops, z, side="left") for z in z_large])
    p_brute = np.array([share_reaching(tops, z) for z in z_large])
    ratio = p_small[np.concatenate([band, below])] / p_brute
    inside = ratio[: len(band)]
    print()
    print(f"| p from the fitted tail (null of 500) vs brute force (null of {args.large}) | value |")
    print("|---|---|")
    print(f"| SNVs with 1e-3 <= p < 1e-2 compared | {len(band)} |")
    print(f"| within a factor of 2 | {(np.abs(np.log2(inside)) <= 1).sum()} of {len(band)} |")
    print(f"| median ratio tail / brute force | {np.median(inside):.2f} |")
    print(f"| ratio range | {inside.min():.2f} - {inside.max():.2f} |")
    if len(below):
        outside = ratio[len(band) :]
        print(
            f"| SNVs with p < 1e-3: brute-force count reaching them (median, range) | "
            f"{np.median(reaching[len(band) :]):.0f}, {reaching[len(band) :].min()}-{reaching[len(band) :].max()} |"
        )
        kept = (outside <= 2).sum()
        print(f"| ... tail p at most 2x the brute-force share (+1 in both counts) | {kept} of {len(below)} |")
    print()
    print("variant\tp_tail\tp_brute\tbrute_reaching")
    for i, k in enumerate(np.concatenate([band, below])):
        print(f"{candidates[k].chrom}:{candidates[k].vcf_pos}\t{p_small[k]:.3g}\t{p_brute[i]:.3g}\t{reaching[i]}")


if __name__ == "__main__":
    main()
