"""The demo run: genomix on the demo world, with what it finds said as it goes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from genomix.hypotheses import Explainer
from genomix.io.genome import Genome
from genomix.pipelines.explain import explain_metadata, explain_to_file
from genomix.pipelines.score import score_metadata, score_to_file
from genomix.scoring import ScoreOptions

ACCURACY_FILE = "explain_accuracy.json"  # the final sets' figures, written by benchmarks/explain_accuracy.py


def accuracy_figures() -> dict:
    """The pooled figures of the final truth sets by kind (in_genome, transplanted), as recorded by
    `benchmarks/explain_accuracy.py --sets final --json data/demo/explain_accuracy.json`; {} when absent."""
    import json

    from genomix.paths import demo_dir

    path = demo_dir() / ACCURACY_FILE
    if not path.exists():
        return {}
    return {
        row["kind"]: row
        for row in json.loads(path.read_text())
        if row["set"].startswith("final") and "pooled" in row["set"]
    }


def _accuracy_line(figures: dict) -> str:
    return (
        f"  family-level top-1 (the JASPAR family of tf_name) {figures['family_top1']:.3f}, TF-level top-1 (tf_name) "
        f"{figures['tf_top1']:.3f}, direction {figures['direction']:.3f}; sensitivity (loss/gain with q < 0.05) "
        f"{figures['sensitivity']:.3f}, precision among them {figures['precision']:.3f}; neutral variants with "
        f"q < 0.05 {figures['neutral_called']:.3f}, their p uniform: KS p {figures['neutral_ks_p']:.2f}"
    )


DEMO_MUTAGENESIS = 3  # cards with in-silico mutagenesis (about 9 s of CPU each): the demo stays a few minutes


def run_demo(
    out: Path, window: int = 512, echo: Callable[[str], None] = print, progress=None, command: str | None = None
) -> dict:
    """The demo run: score the demo truth variants and say how well the scores separate them, measure
    the demo SAE on the held-out contig, check the demo atlas against the planted motifs, and explain
    the variants into hypotheses, an annotated VCF, an HTML report and lab designs. Says what it finds
    through `echo(line)`; `progress(label)` is a context manager whose value has `advance(n)` (None:
    none); `command`: the command line, for the outputs' provenance. Returns the figures."""
    from contextlib import nullcontext

    from genomix.demo.evaluate import atlas_truth, call_metrics, explain_calls, explain_truth, read_truth, score_auroc
    from genomix.demo.world import HELD_OUT
    from genomix.features.atlas import FeatureAtlas
    from genomix.models.registry import load_model
    from genomix.paths import SHIPPED, demo_dir, demo_variants
    from genomix.sae.activations import Regions
    from genomix.sae.formats import load_sae
    from genomix.sae.metrics import evaluate_sae

    progress = progress or (lambda label: nullcontext(None))
    out.mkdir(parents=True, exist_ok=True)
    vcf, genome = demo_variants(), Genome(demo_dir() / "genome.fa.gz")
    model = load_model(SHIPPED)
    scores = [out / "demo.scores.tsv", out / "demo.scored.vcf.gz"]
    with progress("scoring the demo variants") as bar:
        options = ScoreOptions(window=window)
        score_to_file(
            vcf, genome, model, scores, options, score_metadata(model, options, command), progress=bar and bar.advance
        )
    truth_table = read_truth(vcf)
    figures = score_auroc(pd.read_csv(scores[0], sep="\t"), truth_table, HELD_OUT)
    echo(f"demo variants: {vcf}\noutputs: {out}/demo.scores.tsv, {out}/demo.scored.vcf.gz")
    echo("AUROC of |score|, functional vs neutral truth variants:")
    for name in ("all", "held_out"):
        parts = "  ".join(f"{c} {figures[f'auroc_{name}_{c}']:.3f}" for c in ("loss", "gain", "splice"))
        echo(f"  {name:9s} {figures[f'auroc_{name}']:.3f}   ({parts})")
    sae = load_sae(SHIPPED, model)
    metrics = evaluate_sae(sae, model, genome, Regions.whole_genome(genome, [HELD_OUT]), windows=256)
    echo(
        f"demo SAE ({sae.d_sae} features at {sae.metadata['hook_name']}, {sae.architecture} k={sae.k}), "
        f"on {metrics['windows']} windows of held-out {HELD_OUT}:"
    )
    echo(
        f"  variance explained {metrics['variance_explained']:.3f}   L0 {metrics['l0']:.1f}   "
        f"dead {metrics['dead_fraction']:.1%}   loss recovered {metrics['loss_recovered']:.3f}"
    )
    atlas = FeatureAtlas.load(SHIPPED)
    truth = atlas_truth(atlas, demo_dir() / "annotations.bed", demo_dir() / "motifs.tsv")
    kinds = atlas.table.label_kind.value_counts()
    echo(
        f"demo atlas: {kinds.get('motif', 0)} features named by a JASPAR motif, {kinds.get('annotation', 0)} by "
        f"an annotation, {kinds.get('unlabelled', 0)} unlabelled; {truth['tfs_matched']} of "
        f"{truth['planted_tfs']} planted TFs found by a feature whose peaks lie in their sites "
        f"(median truth share {truth['median_truth_share']:.2f})"
    )
    explainer = Explainer(model, sae, atlas, genome, window=window, null_cache=out / "nulls")
    outputs = {
        "out": out / "demo.hypotheses.tsv",
        "vcf_out": out / "demo.explained.vcf.gz",
        "report": out / "demo.report.html",
        "followup": out / "demo.followup.tsv",
    }
    with progress("explaining the demo variants") as bar:
        explain_to_file(
            vcf,
            explainer,
            **outputs,
            meta=explain_metadata(explainer, SHIPPED, command),
            progress=bar and bar.advance,
            report_limit=50,
            report_mutagenesis=DEMO_MUTAGENESIS,
        )
    hypotheses = pd.read_csv(outputs["out"], sep="\t", keep_default_na=False, na_values=["NA"])
    explained = explain_truth(hypotheses, truth_table, atlas, HELD_OUT)
    families = {m.matrix_id: m.family for m in atlas.motif_collection() or ()}
    shipped = call_metrics(explain_calls(hypotheses), truth_table, families)
    explained["calls"] = shipped
    echo(f"explain, on {vcf.name} (the set explain's rules were developed on, so it flatters them):")
    echo(_accuracy_line(shipped["all"]))
    final = accuracy_figures()
    for kind, figures in final.items():
        echo(f"explain, on the {kind} final sets ({figures['set']}; measured once, rules frozen):")
        echo(_accuracy_line(figures["genomix"]["all"]))
    if final:
        echo(f"  (benchmarks/explain_accuracy.py --sets final; {demo_dir() / ACCURACY_FILE})")
    echo(
        f"report: {outputs['report']}\nhypotheses: {outputs['out']}, {outputs['vcf_out']}; lab designs: "
        f"{outputs['followup']}"
    )
    return {"score": figures, "sae": metrics, "atlas": truth, "explain": explained}


def evaluate_demo_model(model, data: Path, truth_vcf: Path, window: int = 512, batch_size: int = 32) -> dict:
    """How well `model` knows the demo world in `data`: AUROC of |score| for functional vs neutral
    variants of `truth_vcf`, and masked-base accuracy at planted sites vs background on the held-out
    contig."""
    from genomix.demo.evaluate import masked_accuracy, read_truth, score_auroc
    from genomix.demo.world import HELD_OUT
    from genomix.pipelines.score import score

    genome = Genome(data / "genome.fa.gz")
    scores = score(truth_vcf, genome, model, window=window, batch_size=batch_size)
    figures = score_auroc(scores, read_truth(truth_vcf), HELD_OUT)
    return figures | masked_accuracy(model, genome, data / "annotations.bed", HELD_OUT)
