#!/usr/bin/env python
"""How much of the model's response the right hypothesis carries, and does attribution patching agree
with real patching?

1. Attribution vs real patching, on `--sample` ok ALTs of the demo truth VCF (drawn with seed 0):
   for each of a variant's hypotheses, its `effect_share` (attribution patching) against the share
   that patching its concept's features back really restores (`decompose.mediated_fractions`), and
   the same for the SAE's error term (`error_share`); Pearson and Spearman over the pairs.
2. On truth sets (`--sets`, as in `explain_accuracy.py`: `shipped`, `final`, ...): for each loss or
   gain variant, the share of the response the planted TF's concept carries (the concept of the
   planted matrix' JASPAR family, whether or not explain names it), and whether it is the concept
   that carries the largest share; the top hypothesis' `effect_share` and the `error_share` of loss,
   gain and neutral variants. Medians, pooled over the sets.

    .venv/bin/python benchmarks/attribution.py [--sample 100] [--sets shipped,final] [--json out.json] [--rows rows.tsv]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from explain_accuracy import materialise, truth_sets
from scipy.stats import pearsonr, spearmanr

from genomix.demo.evaluate import read_truth
from genomix.demo.world import SEED, build_world
from genomix.hypotheses.decompose import ERROR, measure, mediated_fractions, run_passes
from genomix.io.variants import read_variants
from genomix.io.windows import make_window
from genomix.motifs.jaspar import load_jaspar
from genomix.paths import demo_dir, demo_variants
from genomix.pipelines import load_explainer


def against_patching(explainer, sample: int) -> dict:
    """Attribution vs real patching of each hypothesis' concept and of the error term."""
    variants = [v for v in read_variants(demo_variants(), explainer.genome) if v.ok]
    picked = sorted(np.random.default_rng(0).choice(len(variants), size=sample, replace=False))
    explained = explainer.explain([variants[i] for i in picked])
    units = {unit.name: unit for unit in explainer.units}
    items = [item for item in explained if item.status == "ok"]
    windows = [make_window(explainer.genome, item.variant, explainer.window) for item in items]
    passes = run_passes(explainer.model, explainer.sae, windows, explainer.options.batch_size, explainer.options.radius)
    measures = [
        measure(explainer.model, p, item.scored.method, explainer.options.radius) for item, p in zip(items, passes)
    ]
    patches = [[[int(f) for f in units[h.label].members] for h in item.hypotheses] + [[ERROR]] for item in items]
    real = mediated_fractions(explainer.model, explainer.sae, passes, measures, patches, explainer.options.batch_size)
    hypotheses = [
        (h.effect_share, fraction)
        for item, fractions in zip(items, real)
        for h, fraction in zip(item.hypotheses, fractions)
    ]
    errors = [(item.hypotheses[0].error_share, fractions[-1]) for item, fractions in zip(items, real)]
    result = {"variants": len(items)}
    for name, pairs in (("hypotheses", hypotheses), ("error_term", errors)):
        pairs = np.array([pair for pair in pairs if np.isfinite(pair).all()])
        result[name] = {
            "pairs": len(pairs),
            "pearson": float(pearsonr(pairs[:, 0], pairs[:, 1])[0]),
            "spearman": float(spearmanr(pairs[:, 0], pairs[:, 1])[0]),
            "median_abs_difference": float(np.median(np.abs(pairs[:, 0] - pairs[:, 1]))),
        }
    totals = [item.attribution.features.sum() + item.attribution.error for item in items]
    result["median_sum_of_all_shares"] = float(np.nanmedian(totals))
    return result


def planted_shares(name: str, kind: str, seed, args, world, families) -> pd.DataFrame:
    """One row per tested ALT of the set: class, the planted concept's share and whether it is the largest,
    the top hypothesis' effect_share and the error_share."""
    with tempfile.TemporaryDirectory() as scratch:
        fasta, vcf = materialise(kind, seed, Path(scratch), world)
        truth = read_truth(vcf).set_index(["chrom", "pos", "id"])
        explainer = load_explainer(fasta, "demo", null_size=args.null_size)
        explained = explainer.explain(list(read_variants(vcf, explainer.genome)))
    rows = []
    for item in explained:
        if item.attribution is None:
            continue
        v = item.variant
        t = truth.loc[(v.chrom, v.vcf_pos, v.id)]
        shares = np.array([item.attribution.share(unit.members) for unit in explainer.units])
        planted = [
            u
            for u, unit in enumerate(explainer.units)
            if unit.kind == "motif" and unit.family == families.get(t.truth_id)
        ]
        top = item.top
        rows.append(
            (
                name,
                t.truth_class,
                shares[planted[0]] if planted else np.nan,
                bool(planted) and int(np.nanargmax(shares)) == planted[0],
                top.effect_share if top is not None else np.nan,
                item.attribution.error,
                item.attribution.effect,
            )
        )
    return pd.DataFrame(rows, columns=["set", "truth_class", "planted", "largest", "top_share", "error", "effect"])


def summary(rows: pd.DataFrame) -> dict:
    sites = rows[rows.truth_class.isin(["loss", "gain"])]
    with_concept = sites[sites.planted.notna()]
    neutral = rows[rows.truth_class == "neutral"]
    return {
        "loss_gain": len(sites),
        "with_a_planted_concept": len(with_concept),
        "planted_median_share": float(with_concept.planted.median()),
        "planted_largest": float(with_concept.largest.mean()),
        "loss_gain_top_median_share": float(sites.top_share.median()),
        "loss_gain_median_error_share": float(sites.error.median()),
        "neutral": len(neutral),
        "neutral_top_median_share": float(neutral.top_share.median()),
        "neutral_median_error_share": float(neutral.error.median()),
        "loss_gain_error_share_at_least_half": float((sites.error >= 0.5).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--sets", default="shipped,final")
    parser.add_argument("--null-size", type=int, default=500)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--rows", type=Path, default=None, help="write every set's rows here (TSV), set by set")
    args = parser.parse_args()
    results = {}
    if args.sample:
        explainer = load_explainer(demo_dir() / "genome.fa.gz", "demo", null_size=args.null_size)
        results["attribution_vs_patching"] = against_patching(explainer, args.sample)
        print(json.dumps(results["attribution_vs_patching"], indent=1), flush=True)
    world = build_world(SEED)
    families = {m.matrix_id: m.family for m in load_jaspar()}
    frames = []
    for name, kind, seed in truth_sets(args.sets) if args.sets else []:
        frames.append(planted_shares(name, kind, seed, args, world, families))
        results[name] = summary(frames[-1])
        print(name, json.dumps(results[name]), flush=True)
        if args.rows:
            pd.concat(frames).to_csv(args.rows, sep="\t", index=False)
    if frames:
        results["pooled"] = summary(pd.concat(frames))
        print("pooled", json.dumps(results["pooled"], indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
