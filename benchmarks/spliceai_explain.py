#!/usr/bin/env python
"""`genomix explain` with SpliceAI on the demo truth set's splice and neutral variants.

Explains them with SpliceAI, the SAE on its blocks.7 and that SAE's atlas (both from
`benchmarks/spliceai_sae.py`, which trains the SAE on chr1 and chr2's genes and names its features
on chr3's), and reads the top hypothesis as a user does: the share of splice variants whose first
hypothesis is a splice-site concept (splice_donor or splice_acceptor), per broken element and per
contig; the score (SpliceAI's largest change within 50 bp) of splice vs neutral variants; the
p-values of neutral variants; the shares of the response the top hypothesis and the SAE's error
carry. Needs the spliceai package (`pip install --no-deps spliceai h5py`). Not run in CI:

    .venv/bin/python benchmarks/spliceai_explain.py [--sae spliceai-sae] [--null-size 500]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam
from scipy.stats import kstest

from genomix.demo.evaluate import SPLICE_LABELS, SPLICE_REGION_LABELS, auroc, read_truth
from genomix.paths import demo_dir, demo_variants
from genomix.pipelines import explain


def subset(source: Path, classes: set[str], out: Path) -> Path:
    """The records of `source` whose TRUTH_CLASS is one of `classes`."""
    with pysam.VariantFile(str(source)) as vcf, pysam.VariantFile(str(out), "w", header=vcf.header) as kept:
        for record in vcf:
            if record.info["TRUTH_CLASS"] in classes:
                kept.write(record)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sae", type=Path, default=Path("spliceai-sae"))
    parser.add_argument("--null-size", type=int, default=500)
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("spliceai_explain.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        vcf = subset(demo_variants(), {"splice", "neutral"}, Path(folder) / "splice_neutral.vcf")
        start = time.time()
        table = explain(vcf, demo_dir() / "genome.fa.gz", sae=args.sae, null_size=args.null_size)
        seconds = time.time() - start
    truth = read_truth(demo_variants())
    every = table.merge(truth, on=["chrom", "pos", "id"])
    top = every[every["rank"] <= 1]
    splice, neutral = top[top.truth_class == "splice"], top[top.truth_class == "neutral"]
    named = splice.label.isin(SPLICE_LABELS)
    anywhere = every[(every.truth_class == "splice") & every.label.isin(SPLICE_LABELS)].id.nunique()
    right_site = (splice.label == splice.truth_element).mean()
    neutral_p = neutral.p_value.fillna(1.0)
    result = {
        "variants": int(len(top)),
        "splice_variants": int(len(splice)),
        "seconds": round(seconds),
        "seconds_per_variant": round(seconds / len(top), 2),
        "splice_top_is_splice_site": float(named.mean()),
        "splice_top_is_the_broken_site": float(right_site),
        "splice_top_is_splice_region": float(splice.label.isin(SPLICE_REGION_LABELS).mean()),
        "splice_site_among_the_hypotheses": anywhere / len(splice),
        "per_element": {
            element: {
                "variants": int(len(part)),
                "top_is_splice_site": float(part.label.isin(SPLICE_LABELS).mean()),
                "top_is_the_broken_site": float((part.label == element).mean()),
                "top_labels": part.label.value_counts().to_dict(),
            }
            for element, part in splice.groupby("truth_element")
        },
        "per_contig": {
            f"{chrom} ({role})": float(splice[splice.chrom == chrom].label.isin(SPLICE_LABELS).mean())
            for chrom, role in (("chr1", "SAE training"), ("chr2", "SAE training"), ("chr3", "atlas labels"))
        },
        "score_median_splice": float(splice.score.median()),
        "score_median_neutral": float(neutral.score.median()),
        "score_auroc_splice_vs_neutral": auroc(splice.score, neutral.score),
        "p_median_splice": float(splice.p_value.median()),
        "neutral_p_below_0.01": float((neutral_p < 0.01).mean()),
        "neutral_ks_p": float(kstest(neutral_p, "uniform").pvalue),
        "splice_median_effect_share_of_top": float(np.nanmedian(splice.effect_share)),
        "splice_median_error_share": float(np.nanmedian(splice.error_share)),
        "splice_median_mediated_fraction_of_top": float(np.nanmedian(splice.mediated_fraction)),
    }
    print(json.dumps(result, indent=1))
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    misses = splice[~named][["chrom", "pos", "id", "truth_element", "label", "statistic", "p_value", "score"]]
    print("splice variants whose first hypothesis is not a splice site:")
    print(misses.to_string(index=False))


if __name__ == "__main__":
    main()
