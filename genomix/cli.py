"""The `genomix` command: a thin layer over the library."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from genomix.errors import GenomixError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Variant hypotheses from DNA foundation models.")
models_app = typer.Typer(no_args_is_help=True, help="Inspect DNA models.")
app.add_typer(models_app, name="models")

_state = {"debug": False}
log = logging.getLogger("genomix")


def _version(value: bool) -> None:
    if value:
        import genomix

        typer.echo(f"genomix {genomix.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = debug
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("genomix: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def run() -> None:
    """Entry point: one clear line and a non-zero exit on bad input, a traceback only with --debug."""
    try:
        app(standalone_mode=False)
    except GenomixError as error:
        if _state["debug"]:
            raise
        typer.echo(f"genomix: error: {error}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("genomix: aborted", err=True)
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Exception as error:  # noqa: BLE001 - the last line of defence
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        if _state["debug"]:
            raise
        typer.echo(f"genomix: internal error: {type(error).__name__}: {error} (rerun with --debug for the traceback)", err=True)
        sys.exit(1)


class _Progress:
    """A rich progress line on stderr when it is a terminal; silent otherwise or with --quiet."""

    def __init__(self, label: str, quiet: bool, total: int | None = None, unit: str = "variants"):
        self._bar, self._unit = None, unit
        if not quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(SpinnerColumn(), TextColumn(label), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=False)
            self._task = self._bar.add_task(label, total=total, rate="")

    def __enter__(self):
        if self._bar:
            self._bar.start()
        return self

    def advance(self, n: int) -> None:
        if self._bar:
            self._bar.advance(self._task, n)
            task = self._bar.tasks[0]
            if task.elapsed:
                self._bar.update(self._task, rate=f"{task.completed / task.elapsed:.1f} {self._unit}/s")

    def update(self, completed: int, **fields) -> None:
        if self._bar:
            self._bar.update(self._task, completed=completed, **fields)

    def __exit__(self, *exc) -> None:
        if self._bar:
            self._bar.stop()


@app.command()
def score(
    vcf: Path = typer.Argument(..., help="Variants: VCF or BCF, plain or bgzipped."),
    fasta: Path = typer.Option(..., "--fasta", "-f", help="Reference FASTA (plain or bgzipped) matching the VCF."),
    out: list[str] = typer.Option(..., "--output", "-o", help="Output: .tsv, .parquet, .vcf, .vcf.gz, .bcf, or - for VCF on stdout (repeat for several)."),
    model: str = typer.Option("demo", "--model", "-m", help="Hub id, local model folder, or `demo`."),
    method: str = typer.Option("auto", help="auto, llr, delta_ll or embedding."),
    window: Optional[int] = typer.Option(None, help="Window in bp (default: 1024 or the model's context)."),
    layer: Optional[str] = typer.Option(None, help="Layer for the embedding score (default: the last)."),
    batch_size: int = typer.Option(32, help="Forward passes per batch; results do not depend on it."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1, ... (default: cuda when available)."),
    ref_check: str = typer.Option("error", help="When REF differs from the FASTA: error, warn (skip and log) or skip."),
    region: Optional[str] = typer.Option(None, help="Only this region, e.g. chr1:100-200 (needs an indexed VCF)."),
    rc: bool = typer.Option(True, "--rc/--no-rc", help="Average with the reverse-complement strand."),
    backend: Optional[str] = typer.Option(None, help="Model backend (default: from the model's config)."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model's own code to run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary."),
) -> None:
    """Score every ALT of a VCF with a DNA language model."""
    import genomix
    from genomix.io.genome import Genome
    from genomix.models.registry import load_model
    from genomix.scoring import default_window, score_to_file

    genome = Genome(fasta)
    loaded = load_model(model, backend=backend, device=device, trust_remote_code=trust_remote_code)
    width = window or default_window(loaded)
    meta = {
        "genomix_version": genomix.__version__,
        "genomix_model": loaded.name,
        "genomix_method": method,
        "genomix_window": width,
        "genomix_reverse_complement": "yes" if rc else "no",
        "genomix_command": shlex.join(["genomix"] + sys.argv[1:]),
    }
    with _Progress("scoring", quiet) as bar:
        counts = score_to_file(vcf, genome, loaded, out, meta=meta, progress=bar.advance, method=method, window=width,
                               rc=rc, batch_size=batch_size, layer=layer, ref_check=ref_check, region=region)
    if not quiet:
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        log.info("%d ALTs scored into %s (%s)", sum(counts.values()), ", ".join(out), summary or "none")


@app.command()
def explain(
    vcf: Path = typer.Argument(..., help="Variants: VCF or BCF, plain or bgzipped."),
    fasta: Path = typer.Option(..., "--fasta", "-f", help="Reference FASTA (plain or bgzipped) matching the VCF."),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="Hypotheses table: .tsv or .parquet."),
    sae: Optional[str] = typer.Option(None, help="SAE folder (its cfg.json names the model); default: the demo SAE."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model (default: the SAE's; `demo` brings the demo SAE and atlas)."),
    atlas: Optional[Path] = typer.Option(None, help="Feature atlas (default: atlas.parquet in the SAE folder)."),
    top: int = typer.Option(3, help="Hypotheses per ALT."),
    vcf_out: Optional[Path] = typer.Option(None, help="The input VCF with INFO/GMX_SCORE and INFO/GMX: .vcf, .vcf.gz or .bcf."),
    report: Optional[Path] = typer.Option(None, help="Self-contained HTML report."),
    followup: Optional[Path] = typer.Option(None, help="Lab follow-up designs (MPRA oligos, EMSA probes): .tsv."),
    report_limit: int = typer.Option(100, help="Variant cards in the report (smallest p first)."),
    group: str = typer.Option("concept", help="Rank concepts (fractured features put together) or single features."),
    unlabelled: bool = typer.Option(False, "--unlabelled", help="Let unlabelled features make hypotheses too."),
    window: Optional[int] = typer.Option(None, help="Window in bp (default: the SAE's training window)."),
    radius: int = typer.Option(20, help="bp either side of the allele where feature changes count."),
    null_size: int = typer.Option(500, help="Shuffled-context null variants per kind, for the p-values."),
    null_cache: Optional[Path] = typer.Option(None, help="Folder keeping the nulls between runs (a second run skips drawing them)."),
    method: str = typer.Option("auto", help="Score: auto, llr, delta_ll or embedding."),
    batch_size: int = typer.Option(16, help="Windows per forward pass."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... (default: cuda when available)."),
    ref_check: str = typer.Option("error", help="When REF differs from the FASTA: error, warn (skip and log) or skip."),
    region: Optional[str] = typer.Option(None, help="Only this region, e.g. chr1:100-200 (needs an indexed VCF)."),
    seed: int = typer.Option(0, help="Seed of the null variants and of the scrambled controls."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary."),
) -> None:
    """Explain every ALT of a VCF: ranked hypotheses from SAE features, with their evidence."""
    from genomix.hypotheses import explain_to_file, load_explainer, sae_model_name
    from genomix.models.registry import load_model

    if sae is None and model not in (None, "demo"):
        raise GenomixError("--model other than demo needs its --sae (train one with `genomix sae train`)")
    sae_path = sae or "demo"
    loaded = load_model(model or ("demo" if sae_path == "demo" else sae_model_name(sae_path)), device=device)
    explainer = load_explainer(fasta, sae_path, atlas, loaded, window=window, radius=radius, top=top,
                               null_size=null_size, method=method, batch_size=batch_size, seed=seed, group=group,
                               unlabelled=unlabelled, null_cache=null_cache)
    meta = _explain_meta(explainer, sae_path)
    with _Progress("explaining", quiet) as bar:
        counts = explain_to_file(vcf, explainer, out, vcf_out, report, followup, meta=meta, region=region,
                                 ref_check=ref_check, report_limit=report_limit, progress=bar.advance)
    if not quiet:
        written = ", ".join(str(p) for p in (out, vcf_out, report, followup) if p is not None)
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        log.info("%d ALTs explained into %s (%s)", sum(counts.values()), written, summary or "none")


def _explain_meta(explainer, sae_path) -> dict:
    import genomix

    return {"genomix_version": genomix.__version__, "genomix_model": explainer.model.name,
            "genomix_layer": explainer.sae.metadata.get("hook_name"), "genomix_sae": str(sae_path),
            "genomix_motifs": explainer.atlas.metadata.get("motif_source", "."), "genomix_window": explainer.window,
            "genomix_grouping": explainer.group,
            "genomix_command": shlex.join(["genomix"] + sys.argv[1:])}


@models_app.command("info")
def models_info(
    model: str = typer.Argument("demo", help="Hub id, local model folder, or `demo`."),
    backend: Optional[str] = typer.Option(None, help="Model backend (default: from the model's config)."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model's own code to run."),
) -> None:
    """Print a model's kind, context, layers and width."""
    from genomix.models.registry import load_model

    loaded = load_model(model, backend=backend, device="cpu", trust_remote_code=trust_remote_code)
    tokens = "characters" if loaded.tokenizer.k == 1 else f"{loaded.tokenizer.k}-mers"
    typer.echo(
        f"model    {loaded.name}\nbackend  {loaded.backend}\nkind     {loaded.kind}\ntokens   {tokens}\n"
        f"context  {loaded.context_bp} bp\nd_model  {loaded.d_model}\n"
        f"layers   {len(loaded.layers)}: {loaded.layers[0]} .. {loaded.layers[-1]}"
    )


concepts_app = typer.Typer(no_args_is_help=True, help="Concepts: an SAE's fractured features put back together.")
app.add_typer(concepts_app, name="concepts")


def _concept_inputs(sae: str, annotations: Optional[Path], fasta: Optional[Path]):
    """The SAE (no model needed), its atlas, and the annotations with contig lengths for entanglement
    (the demo's own for the demo SAE)."""
    from genomix.features.annotations import read_annotations
    from genomix.features.atlas import FeatureAtlas
    from genomix.io.genome import Genome
    from genomix.paths import demo_dir
    from genomix.sae.formats import load_sae

    trained, atlas = load_sae(sae), FeatureAtlas.load(sae)
    if sae == "demo" and annotations is None:
        annotations, fasta = demo_dir() / "annotations.bed", fasta or demo_dir() / "genome.fa.gz"
    if annotations is not None and fasta is None:
        raise GenomixError("--annotations needs --fasta (its contig lengths give the classes' base rates)")
    if annotations is None:
        return trained, atlas, None, None
    genome = Genome(fasta)
    return trained, atlas, read_annotations(annotations, genome), dict(genome.lengths)


@concepts_app.command("summary")
def concepts_summary(
    sae: str = typer.Option("demo", "--sae", help="SAE folder holding its atlas, or `demo`."),
    annotations: Optional[Path] = typer.Option(None, help="BED or GFF3 classes for entanglement (demo: its own)."),
    fasta: Optional[Path] = typer.Option(None, "--fasta", "-f", help="The genome the atlas was built on (contig lengths)."),
) -> None:
    """Fracture (features per concept), entanglement (features enriched in unrelated classes) and the concept table."""
    from genomix.features.concepts import concepts, summarize

    trained, atlas, table, lengths = _concept_inputs(sae, annotations, fasta)
    figures = summarize(trained, atlas, table, lengths)
    f = figures["fracture"]
    typer.echo(f"{figures['model']} {figures['layer']}: {figures['features']} features, {figures['labelled']} labelled, "
               f"{figures['concepts']} concepts")
    typer.echo(f"fracture: {f['mean']:.2f} features per concept (median {f['median']:.0f}, max {f['max']}); most "
               f"fractured: {', '.join(f['most_fractured'])}")
    if "entanglement" in figures:
        e = figures["entanglement"]
        typer.echo(f"entanglement: {e['entangled']} of {e['labelled_features']} labelled features ({e['fraction']:.1%}) "
                   f"are enriched in two unrelated classes" + (": " + "; ".join(e["examples"][:3]) if e["examples"] else ""))
    shown = concepts(trained, atlas)[["concept", "name", "kind", "size", "labelled", "joined", "mean_cosine"]]
    typer.echo(shown.to_string(index=False, float_format=lambda x: f"{x:.2f}"))


@concepts_app.command("compare")
def concepts_compare(
    saes: list[str] = typer.Argument(..., help="SAE folders (layers of one model, or different models), each with its atlas."),
    annotations: Optional[Path] = typer.Option(None, help="BED or GFF3 classes for entanglement."),
    fasta: Optional[Path] = typer.Option(None, "--fasta", "-f", help="The genome the atlases were built on."),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="The comparison table: .tsv."),
    plot: Optional[Path] = typer.Option(None, help="A PNG: features per concept and entanglement, SAE by SAE."),
) -> None:
    """Fracture and entanglement of several SAEs side by side."""
    import pandas as pd

    from genomix.features.concepts import summarize

    rows = []
    for sae in saes:
        trained, atlas, table, lengths = _concept_inputs(sae, annotations, fasta)
        figures = summarize(trained, atlas, table, lengths)
        rows.append({"sae": sae, "model": figures["model"], "layer": figures["layer"], "features": figures["features"],
                     "labelled": figures["labelled"], "concepts": figures["concepts"],
                     "features_per_concept": figures["fracture"]["mean"], "max_features_per_concept": figures["fracture"]["max"],
                     "entangled_fraction": figures.get("entanglement", {}).get("fraction", float("nan"))})
    frame = pd.DataFrame(rows)
    typer.echo(frame.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if out is not None:
        frame.to_csv(out, sep="\t", index=False)
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [f"{r.model} {r.layer}" for r in frame.itertuples()]
        figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
        left.bar(names, frame.features_per_concept, color="#4a7")
        left.set_ylabel("features per concept")
        right.bar(names, frame.entangled_fraction, color="#a47")
        right.set_ylabel("entangled share")
        for axis in (left, right):
            axis.tick_params(axis="x", labelrotation=30, labelsize=8)
        figure.tight_layout()
        figure.savefig(plot, dpi=100)
        plt.close(figure)


demo_app = typer.Typer(help="The demo world: a synthetic genome planted with JASPAR motifs, and a model trained on it.")
app.add_typer(demo_app, name="demo")


@demo_app.callback(invoke_without_command=True)
def demo(
    context: typer.Context,
    out: Path = typer.Option(Path("genomix-demo-out"), "--out", "-o", help="Folder for the outputs."),
    window: int = typer.Option(512, help="Window in bp (the demo model sees about 500 bp)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress."),
) -> None:
    """Score the demo truth variants with the demo model and report how well it separates them; measure
    the demo SAE on the held-out contig, check the demo atlas against the planted motifs, and explain
    the variants into hypotheses, an annotated VCF, an HTML report and lab designs."""
    if context.invoked_subcommand is not None:
        return
    import pandas as pd

    import genomix
    from genomix.demo.evaluate import atlas_truth, explain_truth, read_truth, score_auroc
    from genomix.demo.world import HELD_OUT
    from genomix.features.atlas import FeatureAtlas
    from genomix.hypotheses import Explainer, explain_to_file
    from genomix.io.genome import Genome
    from genomix.models.registry import load_model
    from genomix.paths import demo_dir, demo_variants
    from genomix.sae.activations import Regions
    from genomix.sae.formats import load_sae
    from genomix.sae.metrics import evaluate_sae
    from genomix.scoring import score_to_file

    out.mkdir(parents=True, exist_ok=True)
    vcf, genome = demo_variants(), Genome(demo_dir() / "genome.fa.gz")
    model = load_model("demo")
    meta = {"genomix_version": genomix.__version__, "genomix_model": "demo", "genomix_method": "auto",
            "genomix_window": window, "genomix_reverse_complement": "yes"}
    with _Progress("scoring the demo variants", quiet) as bar:
        score_to_file(vcf, genome, model, [out / "demo.scores.tsv", out / "demo.scored.vcf.gz"], meta=meta,
                      progress=bar.advance, window=window)
    figures = score_auroc(pd.read_csv(out / "demo.scores.tsv", sep="\t"), read_truth(vcf), HELD_OUT)
    typer.echo(f"demo variants: {vcf}\noutputs: {out}/demo.scores.tsv, {out}/demo.scored.vcf.gz")
    typer.echo("AUROC of |score|, functional vs neutral truth variants:")
    for name in ("all", "held_out"):
        parts = "  ".join(f"{c} {figures[f'auroc_{name}_{c}']:.3f}" for c in ("loss", "gain", "splice"))
        typer.echo(f"  {name:9s} {figures[f'auroc_{name}']:.3f}   ({parts})")
    sae = load_sae("demo", model)
    metrics = evaluate_sae(sae, model, genome, Regions.whole_genome(genome, [HELD_OUT]), windows=256)
    typer.echo(f"demo SAE ({sae.d_sae} features at {sae.metadata['hook_name']}, {sae.architecture} k={sae.k}), "
               f"on {metrics['windows']} windows of held-out {HELD_OUT}:")
    typer.echo(f"  variance explained {metrics['variance_explained']:.3f}   L0 {metrics['l0']:.1f}   "
               f"dead {metrics['dead_fraction']:.1%}   loss recovered {metrics['loss_recovered']:.3f}")
    atlas = FeatureAtlas.load("demo")
    truth = atlas_truth(atlas, demo_dir() / "annotations.bed", demo_dir() / "motifs.tsv")
    kinds = atlas.table.label_kind.value_counts()
    typer.echo(f"demo atlas: {kinds.get('motif', 0)} features named by a JASPAR motif, {kinds.get('annotation', 0)} by "
               f"an annotation, {kinds.get('unlabelled', 0)} unlabelled; {truth['tfs_matched']} of "
               f"{truth['planted_tfs']} planted TFs found by a feature whose peaks lie in their sites "
               f"(median truth share {truth['median_truth_share']:.2f})")
    explainer = Explainer(model, sae, atlas, genome, window=window, null_cache=out / "nulls")
    outputs = {"out": out / "demo.hypotheses.tsv", "vcf_out": out / "demo.explained.vcf.gz",
               "report": out / "demo.report.html", "followup": out / "demo.followup.tsv"}
    with _Progress("explaining the demo variants", quiet) as bar:
        explain_to_file(vcf, explainer, **outputs, meta=_explain_meta(explainer, "demo"), progress=bar.advance,
                        report_limit=50)
    hypotheses = pd.read_csv(outputs["out"], sep="\t", keep_default_na=False, na_values=["NA"])
    figures = explain_truth(hypotheses, read_truth(vcf), atlas, HELD_OUT)
    typer.echo(f"explain: top hypothesis names the planted TF for {figures['top1_tf_all']:.1%} of loss/gain variants "
               f"({figures['top1_tf_held_out']:.1%} held out), direction right for {figures['direction_all']:.1%}; "
               f"neutral variants with p < 0.01: {figures['neutral_p_below_0.01']:.1%}")
    typer.echo(f"report: {outputs['report']}\nhypotheses: {outputs['out']}, {outputs['vcf_out']}; lab designs: "
               f"{outputs['followup']}")


@demo_app.command("build")
def demo_build(
    data: Path = typer.Option(Path("data/demo"), help="Where the genome, annotations and model go."),
    variants: Path = typer.Option(Path("variants"), help="Where demo.vcf.gz goes."),
    steps: int = typer.Option(4800, help="Training steps of the demo model."),
) -> None:
    """Rebuild the demo world from its seed: genome, annotations, truth variants, and the trained model."""
    from genomix.demo.world import build_demo

    world = build_demo(data, variants, steps=steps)
    typer.echo(f"demo world in {data} ({sum(map(len, world.contigs.values()))} bp, "
               f"{world.motif_coverage():.1%} in planted motifs); truth variants in {variants}/demo.vcf.gz")


sae_app = typer.Typer(no_args_is_help=True, help="Sparse autoencoders on a model's activations: train, evaluate.")
app.add_typer(sae_app, name="sae")


@sae_app.command("train")
def sae_train(
    fasta: Path = typer.Option(..., "--fasta", "-f", help="Genome to sample windows from (plain or bgzipped FASTA)."),
    out: Path = typer.Option(..., "--output", "-o", help="Folder for the SAE (cfg.json + sae_weights.safetensors)."),
    model: str = typer.Option("demo", "--model", "-m", help="Hub id, local model folder, or `demo`."),
    layer: str = typer.Option(..., help="Layer: an index (negative counts from the end) or blocks.i."),
    regions: Optional[Path] = typer.Option(None, help="BED file: draw windows from these regions only."),
    tokens: int = typer.Option(10_000_000, help="Activations (positions) to train on."),
    d_sae: int = typer.Option(..., "--d-sae", help="Number of features (8 x d_model is usual)."),
    k: int = typer.Option(32, help="Active features per position (the L0 target)."),
    architecture: str = typer.Option("batchtopk", help="batchtopk or topk."),
    batch_size: int = typer.Option(4096, help="Activations per training step."),
    window: int = typer.Option(512, help="Window length in bp the model runs on."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (default 2e-4 / sqrt(d_sae / 2^14))."),
    seed: int = typer.Option(0, help="Seed of the windows drawn and of the initial weights."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1, ... (default: cuda when visible)."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model's own code to run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress."),
) -> None:
    """Train an SAE; interrupted and started again with the same arguments, it resumes."""
    from genomix.models.registry import load_model
    from genomix.sae.train import TrainingPlan, train_sae

    loaded = load_model(model, device=device, trust_remote_code=trust_remote_code)
    plan = TrainingPlan(layer=layer, d_sae=d_sae, k=k, architecture=architecture, tokens=tokens,
                        batch_size=batch_size, window=window, lr=lr, seed=seed)
    with _Progress("training the SAE", quiet, total=plan.steps, unit="steps") as bar:
        def progress(step: int, metrics: dict) -> None:
            bar.update(step, rate=f"explained {metrics['explained']:.3f}  L0 {metrics['l0']:.1f}")

        trained = train_sae(loaded, fasta, out, plan, regions=regions, model_name=model, progress=progress)
    if not quiet:
        log.info("SAE saved in %s (%d features at %s of %s)", out, d_sae, trained.metadata["hook_name"], model)


def _sae_and_its_model(sae: str, model: str | None, device: str | None, trust_remote_code: bool):
    """An SAE and the model it reads (named, or the one its cfg.json records), checked to match."""
    from genomix.models.registry import load_model
    from genomix.sae.formats import load_sae

    trained = load_sae(sae)
    name = model or trained.metadata.get("model_name")
    if not name:
        raise GenomixError(f"{sae} does not record its model; pass --model")
    loaded = load_model(name, device=device, trust_remote_code=trust_remote_code)
    trained.check_matches(loaded)
    return trained, loaded


@sae_app.command("eval")
def sae_eval(
    sae: str = typer.Argument("demo", help="SAE folder (or file to import), or `demo` (the default)."),
    fasta: Path = typer.Option(..., "--fasta", "-f", help="Genome to evaluate on."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model (default: the one in the SAE's cfg.json)."),
    regions: Optional[Path] = typer.Option(None, help="BED file: evaluate on windows from these regions only."),
    windows: int = typer.Option(128, help="Random windows to evaluate on."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ..."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model's own code to run."),
) -> None:
    """Variance explained, L0, dead fraction and loss recovered of an SAE."""
    import json

    from genomix.sae.metrics import evaluate_sae

    trained, loaded = _sae_and_its_model(sae, model, device, trust_remote_code)
    metrics = evaluate_sae(trained, loaded, fasta, regions, windows=windows)
    typer.echo(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}, indent=1))


features_app = typer.Typer(no_args_is_help=True, help="The feature atlas: SAE features named by motifs and annotations.")
app.add_typer(features_app, name="features")


@features_app.command("annotate")
def features_annotate(
    fasta: Path = typer.Option(..., "--fasta", "-f", help="Genome to scan (best: regions the SAE was not trained on)."),
    sae: str = typer.Option("demo", "--sae", help="SAE folder, or `demo`."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model (default: the one in the SAE's cfg.json)."),
    regions: Optional[Path] = typer.Option(None, help="BED file: scan windows from these regions only."),
    annotations: Optional[Path] = typer.Option(None, help="BED (class = name column) or GFF3 (class = type) to label by."),
    jaspar_release: str = typer.Option("JASPAR2024", help="JASPAR release (CORE vertebrates, offline via pyjaspar)."),
    motifs: Optional[Path] = typer.Option(None, "--motifs", help="A MEME file of motifs to use instead of JASPAR."),
    q: float = typer.Option(0.05, help="TOMTOM q-value under which a feature takes a motif's name."),
    min_site_share: float = typer.Option(0.25, help="Share of the feature's top examples that must have a site of "
                                         "the matched motif (p <= 1e-4, uniform background) within 10 bp for the "
                                         "match to name it."),
    site_check: bool = typer.Option(True, "--site-check/--no-site-check",
                                    help="Check TOMTOM matches against the motif's sites at the feature's peaks."),
    windows: int = typer.Option(2048, help="Random windows to scan (2048 x 512 bp: about 1 Mb)."),
    min_cosine: float = typer.Option(0.5, help="Concepts: decoder cosine an unlabelled feature needs to join a labelled one."),
    min_coactivation: float = typer.Option(0.3, help="Concepts: share of its top examples it must share with that feature."),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="Atlas Parquet file (default: atlas.parquet in the SAE folder)."),
    nulls: bool = typer.Option(True, "--nulls/--no-nulls", help="Also draw explain's nulls for SNVs and 1-2 bp "
                               "indels on this genome (explain's defaults), into the atlas' .nulls folder."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ..."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model's own code to run."),
) -> None:
    """Name every feature of an SAE by the JASPAR motif or the annotation it matches."""
    from genomix.features.annotations import read_annotations
    from genomix.features.atlas import ATLAS_NAME, build_atlas
    from genomix.io.genome import Genome
    from genomix.motifs.jaspar import load_jaspar, read_meme_motifs
    from genomix.sae.activations import Regions

    if not 0 <= min_site_share <= 1:
        raise GenomixError(f"--min-site-share is a share of the top examples, between 0 and 1 (got {min_site_share})")
    trained, loaded = _sae_and_its_model(sae, model, device, trust_remote_code)
    genome = Genome(fasta)
    where = Regions.from_bed(regions, genome) if regions else None
    table = read_annotations(annotations, genome) if annotations else None
    library = read_meme_motifs(motifs) if motifs else load_jaspar(jaspar_release)
    if out is None:
        if sae == "demo":
            raise GenomixError("pass -o for an atlas of the demo SAE; the shipped one is rebuilt by "
                               "`python -m genomix.demo.sae --atlas-only`")
        out = (Path(sae) if Path(sae).is_dir() else Path(sae).parent) / ATLAS_NAME
    from genomix.features.concepts import GroupingOptions

    atlas = build_atlas(trained, loaded, genome, where, table, library, windows=windows, q_threshold=q,
                        min_site_share=min_site_share if site_check else None,
                        motif_source=str(motifs) if motifs else jaspar_release,
                        grouping=GroupingOptions(min_cosine=min_cosine, min_coactivation=min_coactivation),
                        progress=lambda stage: log.info("atlas: %s done", stage))
    atlas.save(out)
    if nulls:
        from genomix.features.atlas import FeatureAtlas, nulls_path
        from genomix.hypotheses import Explainer

        try:
            Explainer(loaded, trained, FeatureAtlas.load(out), genome).save_nulls(nulls_path(out))
            log.info("atlas: explain's nulls for SNVs and 1-2 bp indels drawn into %s", nulls_path(out))
        except GenomixError as error:  # the atlas stands; explain draws its nulls on its first run
            log.warning("atlas: explain's nulls not drawn in advance (%s)", error)
    counts = atlas.table.label_kind.value_counts()
    typer.echo(f"{len(atlas.table)} features: {counts.get('motif', 0)} named by a motif, "
               f"{counts.get('annotation', 0)} by an annotation, {counts.get('unlabelled', 0)} unlabelled; "
               f"{atlas.table[atlas.table.label_kind != 'unlabelled'].label.nunique()} distinct labels, "
               f"{len(atlas.concepts)} concepts. Atlas: {out}")


@features_app.command("show")
def features_show(
    feature: int = typer.Argument(..., help="Feature number."),
    sae: str = typer.Option("demo", "--sae", help="SAE folder holding atlas.parquet, an atlas file, or `demo`."),
) -> None:
    """A feature's card: label, statistics, a text logo of its seqlets, and its top examples."""
    from genomix.features.atlas import FeatureAtlas, feature_card

    atlas = FeatureAtlas.load(sae)
    if not 0 <= feature < len(atlas.table):
        raise GenomixError(f"the atlas has features 0 .. {len(atlas.table) - 1}; there is no feature {feature}")
    typer.echo(feature_card(atlas, feature))


@features_app.command("html")
def features_html(
    out: Path = typer.Option(..., "--output", "-o", help="The HTML page to write."),
    sae: str = typer.Option("demo", "--sae", help="SAE folder holding atlas.parquet, an atlas file, or `demo`."),
    limit: Optional[int] = typer.Option(None, help="At most this many labelled features (logos take a while)."),
) -> None:
    """A self-contained page with a card per labelled feature: logos (its seqlets, its JASPAR match), stats, examples."""
    from genomix.features.atlas import FeatureAtlas
    from genomix.features.html import write_atlas_html

    atlas = FeatureAtlas.load(sae)
    write_atlas_html(atlas, out, limit)
    typer.echo(f"{out}: {min(limit or 10**9, int((atlas.table.label_kind != 'unlabelled').sum()))} feature cards")
