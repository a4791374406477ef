#!/usr/bin/env python
"""How often does genomix explain name the planted mechanism of a demo truth variant?

Explains variants/demo.vcf.gz with the demo model, SAE and atlas twice: hypotheses about concepts
(fractured features put together, the default) and about single labelled features
(`group="feature"`), and scores the top hypothesis of each variant against the truth
(`genomix.demo.evaluate.explain_truth`).

    .venv/bin/python benchmarks/explain_accuracy.py [--null-size 500] [--top 3]
"""

from __future__ import annotations

import argparse
import json
import time

from genomix.demo.evaluate import explain_truth, read_truth
from genomix.demo.world import HELD_OUT
from genomix.hypotheses import explain_table, load_explainer
from genomix.io.variants import read_variants
from genomix.paths import demo_dir, demo_variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--null-size", type=int, default=500)
    parser.add_argument("--top", type=int, default=3, help="hypotheses kept per ALT (explain's default: 3)")
    args = parser.parse_args()
    truth = read_truth(demo_variants())
    for group in ("concept", "feature"):
        explainer = load_explainer(demo_dir() / "genome.fa.gz", "demo", null_size=args.null_size, group=group,
                                    top=args.top)
        start = time.time()
        table = explain_table(explainer.explain(list(read_variants(demo_variants(), explainer.genome))))
        figures = explain_truth(table, truth, explainer.atlas, HELD_OUT)
        figures["seconds"] = round(time.time() - start, 1)
        print(f"group={group}: {json.dumps(figures, indent=1)}")


if __name__ == "__main__":
    main()
