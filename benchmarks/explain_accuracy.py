#!/usr/bin/env python
"""How right is genomix explain, read as a user reads it, next to the PWM scan a geneticist would run?

Each truth set is explained with the demo model, SAE and atlas, and scanned motifbreakR-style with
every JASPAR2024 CORE vertebrate matrix (`genomix.motifs.breaks`); both are scored by
`genomix.demo.evaluate.call_metrics` on the same variants: family- and TF-level top-1 from the name
in the `tf_name` column, direction, sensitivity (called: genomix q < 0.05; the scan: any call),
precision and direction among the called ones, neutral variants called and the KS test of their
p-values; over the whole set and its held-out part. Beside them, the demo model's own AUROC of
|score| (loss and gain vs neutral, per scoring method).

Sets (`--sets`): `shipped` (variants/demo.vcf.gz, the set the ranking rules were developed on),
`development` (the development seeds of `genomix.demo.truth`), `final` (its final seeds: measured
once, with the rules frozen), or `in_genome:SEED` / `transplanted:SEED`.

    .venv/bin/python benchmarks/explain_accuracy.py --sets shipped,development [--null-size 500] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genomix.demo.evaluate import auroc, call_metrics, explain_calls, read_truth
from genomix.demo.truth import DEVELOPMENT_SEEDS, FINAL_SEEDS, fresh_truth, transplanted_truth
from genomix.demo.world import SEED, build_world
from genomix.hypotheses import FalseDiscovery, explain_table
from genomix.io.variants import read_variants
from genomix.motifs.breaks import motif_breaks
from genomix.motifs.jaspar import load_jaspar
from genomix.paths import demo_dir, demo_variants
from genomix.pipelines import load_explainer


def truth_sets(names: str) -> list[tuple[str, str, int | None]]:
    sets = []
    for name in names.split(","):
        if name == "shipped":
            sets.append(("shipped", "in_genome", None))
        elif name in ("development", "final"):
            seeds = DEVELOPMENT_SEEDS if name == "development" else FINAL_SEEDS
            sets += [
                (f"{name} {kind} {seed}", kind, seed) for kind in ("in_genome", "transplanted") for seed in seeds[kind]
            ]
        else:
            kind, seed = name.split(":")
            sets.append((f"{kind} {seed}", kind, int(seed)))
    return sets


def materialise(kind: str, seed: int | None, folder: Path, world) -> tuple[Path, Path]:
    """The set's FASTA and VCF."""
    if seed is None:
        return demo_dir() / "genome.fa.gz", demo_variants()
    if kind == "in_genome":
        return demo_dir() / "genome.fa.gz", fresh_truth(seed, folder, world=world)
    return transplanted_truth(seed, folder, world=world)


def scan_calls(genome, variants, motifs) -> pd.DataFrame:
    breaks = motif_breaks(genome, variants, motifs).groupby("index").head(1).set_index("index")
    rows = []
    for i, v in enumerate(variants):
        hit = breaks.loc[i] if i in breaks.index else None
        rows.append(
            (
                v.chrom,
                v.vcf_pos,
                v.id,
                hit.tf_name if hit is not None else ".",
                hit.motif_id if hit is not None else ".",
                hit.effect if hit is not None else ".",
                hit is not None,
            )
        )
    return pd.DataFrame(rows, columns=["chrom", "pos", "id", "tf_name", "motif_id", "effect", "called"]).assign(
        p=np.nan
    )


def model_auroc(table: pd.DataFrame, truth: pd.DataFrame) -> dict:
    top = table[(table["rank"] <= 1) & table.status.isin(["ok", "no_feature_change"])].merge(
        truth, on=["chrom", "pos", "id"]
    )
    result = {}
    for method, rows in top.groupby("method"):
        magnitude = rows.score.abs()
        result[method] = auroc(
            magnitude[rows.truth_class.isin(["loss", "gain"])], magnitude[rows.truth_class == "neutral"]
        )
    return result


def model_reads(calls: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Per planted TF, the share of its loss/gain variants whose score the model's own output moves
    more than at random variants (score p < 0.05), and of its called ones."""
    sites = truth[truth.truth_class.isin(["loss", "gain"])].merge(calls, on=["chrom", "pos", "id"])
    return {
        tf: {"sites": int(len(rows)), "model_reads": float(rows.model_reads.mean())}
        for tf, rows in sites.groupby("truth_tf")
    }


def pooled(name: str, kind: str, parts: list, families) -> dict:
    """The figures of several sets together (their loci renamed apart)."""
    tagged = [[frame.assign(chrom=f"{i}:" + frame.chrom.astype(str)) for frame in part] for i, part in enumerate(parts)]
    calls, scan, table, truth = (pd.concat(frames, ignore_index=True) for frames in zip(*tagged))
    return {
        "set": name,
        "kind": kind,
        "seed": None,
        "variants": int(sum(len(part[3]) for part in parts)),
        "explain_seconds": float("nan"),
        "genomix": call_metrics(calls, truth, families),
        "scan": call_metrics(scan, truth, families),
        "model_auroc": model_auroc(table, truth),
        "model_reads": model_reads(calls, truth),
    }


def measure(name: str, kind: str, seed: int | None, args, world, motifs, families) -> tuple[dict, tuple]:
    with tempfile.TemporaryDirectory() as scratch:
        fasta, vcf = materialise(kind, seed, Path(scratch), world)
        truth = read_truth(vcf)
        explainer = load_explainer(fasta, "demo", null_size=args.null_size, seed=args.null_seed)
        variants = list(read_variants(vcf, explainer.genome))
        start = time.time()
        fdr = FalseDiscovery()
        table = explain_table(fdr.fill(fdr.add(explainer.explain(variants))))
        seconds = time.time() - start
        scan = scan_calls(explainer.genome, variants, motifs)
    calls = explain_calls(table)
    if args.tables:
        args.tables.mkdir(parents=True, exist_ok=True)
        table.merge(truth, on=["chrom", "pos", "id"], how="left").to_csv(
            args.tables / f"{name.replace(' ', '_')}.tsv", sep="\t", index=False
        )
    return {
        "set": name,
        "kind": kind,
        "seed": seed,
        "variants": len(variants),
        "explain_seconds": round(seconds, 1),
        "genomix": call_metrics(calls, truth, families),
        "scan": call_metrics(scan, truth, families),
        "model_auroc": model_auroc(table, truth),
        "model_reads": model_reads(calls, truth),
    }, (calls, scan, table, truth)


ROWS = [
    ("family_top1", "family-level top-1 (loss/gain)"),
    ("tf_top1", "TF-level top-1, `tf_name`"),
    ("direction", "direction (loss/gain)"),
    ("sensitivity", "sensitivity (genomix q < 0.05; scan: a call)"),
    ("precision", "precision among called (family and direction right)"),
    ("direction_called", "direction among called"),
    ("neutral_called", "neutral variants called"),
    ("neutral_ks_p", "neutral p-values uniform, KS p"),
]


def markdown(figures: dict) -> str:
    lines = [
        f"### {figures['set']} ({figures['variants']} ALTs"
        + (f"; explain {figures['explain_seconds']} s)" if not np.isnan(figures["explain_seconds"]) else ")"),
        "",
        "| | genomix | PWM scan | genomix, held out | PWM scan, held out |",
        "|---|---|---|---|---|",
    ]
    for key, label in ROWS:
        cells = [figures[who][part][key] for part in ("all", "held_out") for who in ("genomix", "scan")]
        lines.append(f"| {label} | " + " | ".join("–" if np.isnan(c) else f"{c:.3f}" for c in cells) + " |")
    reads = [row["model_reads"] * row["sites"] for row in figures["model_reads"].values()]
    sites = sum(row["sites"] for row in figures["model_reads"].values())
    lines.append(
        f"| loss/gain variants the model's score reads (score p < 0.05) | {sum(reads) / max(sites, 1):.3f} | | | |"
    )
    counts = {
        part: (figures["genomix"][part]["sites"], figures["genomix"][part]["neutral"]) for part in ("all", "held_out")
    }
    lines.append(
        f"| loss/gain, neutral variants | {counts['all'][0]}, {counts['all'][1]} | | "
        f"{counts['held_out'][0]}, {counts['held_out'][1]} | |"
    )
    lines.append(
        "| model AUROC of \\|score\\| | "
        + ", ".join(f"{m} {v:.3f}" for m, v in figures["model_auroc"].items())
        + " | | | |"
    )
    return "\n".join(lines)


def per_tf(figures: dict) -> str:
    """Per planted TF: its loss/gain variants and how often the model's own score reads them."""
    lines = ["| planted TF | loss/gain variants | model's score reads them (score p < 0.05) |", "|---|---|---|"]
    for tf, row in sorted(figures["model_reads"].items()):
        lines.append(f"| {tf} | {row['sites']} | {row['model_reads']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="shipped,development")
    parser.add_argument("--null-size", type=int, default=500)
    parser.add_argument("--null-seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument(
        "--tables", type=Path, default=None, help="write each set's explain table (with its truth) here"
    )
    args = parser.parse_args()
    world = build_world(SEED)
    motifs = load_jaspar()
    families = {m.matrix_id: m.family for m in motifs}
    results, parts = [], {}
    for name, kind, seed in truth_sets(args.sets):
        figures, frames = measure(name, kind, seed, args, world, motifs, families)
        results.append(figures)
        parts.setdefault((name.split()[0], kind), []).append(frames)
        print(markdown(figures), flush=True)
        print(flush=True)
    for (group, kind), sets in parts.items():
        if len(sets) > 1:
            figures = pooled(f"{group} {kind}, {len(sets)} sets pooled", kind, sets, families)
            results.append(figures)
            print(markdown(figures), flush=True)
            print(per_tf(figures), flush=True)
            print(flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
