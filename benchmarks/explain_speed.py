#!/usr/bin/env python
"""Explain's speed against score's, on the same VCF and model, in the same run.

The demo truth VCF (509 variants) with the demo model, SAE and atlas, window 512, on CPU. Per
repeat (interleaved, medians reported):
- score: `genomix.scoring.score_variants` (llr for SNVs, embedding distance for indels, both strands);
- explain, first run: a new `Explainer` explains the whole VCF, as one `genomix explain --model demo`
  run does: it reads the nulls shipped beside the demo atlas (SNVs, 1-2 bp indels; drawn by
  `genomix demo sae --nulls-only`, as `genomix features annotate` does for any atlas) and
  draws those of other kinds on the way;
- explain, nothing drawn: the same with an atlas that has no nulls beside it (one built in memory):
  every null (500 shuffled-context variants per kind of variant in the VCF) is drawn on the way;
- explain, warm: the last Explainer explains the VCF again, nulls already drawn (what a second
  chunk of a long VCF costs).
Model, SAE, atlas and genome loading are not timed. Target (issue): explain at most 4x slower.

    .venv/bin/python benchmarks/explain_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from genomix.features.atlas import FeatureAtlas, nulls_path
from genomix.hypotheses.null import null_kind
from genomix.io.variants import read_variants
from genomix.paths import demo_dir, demo_variants
from genomix.pipelines import load_explainer
from genomix.scoring import score_variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--null-size", type=int, default=500)
    args = parser.parse_args()
    first = load_explainer(demo_dir() / "genome.fa.gz", "demo", null_size=args.null_size)
    variants = list(read_variants(demo_variants(), first.genome))
    bare = FeatureAtlas(first.atlas.table, first.atlas.metadata, first.atlas.concepts)  # no nulls beside it
    kinds = {null_kind(v) for v in variants if v.ok}
    shipped = [kind for kind in kinds if (nulls_path(first.atlas.path) / first.nulls.name(kind)).is_file()]
    print(f"null kinds of the VCF: {len(kinds)}; beside the atlas (not drawn by the first run): {len(shipped)}")
    times = {"score": [], "explain_first_run": [], "explain_nothing_drawn": [], "explain_warm": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        score_variants(first.model, first.genome, variants, window=first.window)
        times["score"].append(time.perf_counter() - start)
        for name, atlas in (("explain_first_run", first.atlas), ("explain_nothing_drawn", bare)):
            explainer = load_explainer(first.genome, first.sae, atlas, first.model, null_size=args.null_size)
            start = time.perf_counter()
            explainer.explain(variants)
            times[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        explainer.explain(variants)
        times["explain_warm"].append(time.perf_counter() - start)
    medians = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "variants": len(variants),
        "null_kinds": len(explainer.nulls.drawn),
        "repeats": args.repeats,
        **{f"{k}_seconds": round(v, 2) for k, v in medians.items()},
        **{f"{k}_variants_per_s": round(len(variants) / v, 1) for k, v in medians.items()},
        **{f"{k}_over_score": round(medians[k] / medians["score"], 2) for k in times if k != "score"},
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
