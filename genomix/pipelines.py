"""The drivers: from a VCF and a genome to finished files, and the Python API's `score` and `explain`.

Every run streams the VCF in chunks of whole records through one driver (`write_outputs`): each
output is a sink that writes its part of every chunk (a table, the annotated VCF, the report's best
cards, follow-up designs) under a partial name, moved into place only when the run completes. Run
metadata (`run_metadata`) is built here, once per run.
"""

from __future__ import annotations

import heapq
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from genomix.errors import GenomixError
from genomix.hypotheses import Explainer, ExplainOptions, explain_table
from genomix.io.genome import Genome
from genomix.io.outputs import AnnotatedVcfWriter, TableWriter, output_format, vcf_float, written_whole
from genomix.io.variants import iter_variant_chunks, open_vcf
from genomix.scoring import ScoreOptions, default_window, score_variants, scores_table

SCORE_INFO = {
    "GMX_SCORE": (
        "A",
        "Float",
        "genomix zero-shot score per ALT: llr and delta_ll are log P(alt) - log P(ref) (negative: the model "
        "finds the ALT less likely); embedding is a distance (>= 0); see ##genomix_method",
    )
}


def _explain_info() -> dict:
    from genomix.hypotheses.records import GMX_FIELDS

    return {
        "GMX_SCORE": (
            "A",
            "Float",
            "genomix zero-shot score per ALT: llr and delta_ll are log P(alt) - log P(ref) "
            "(negative: the model finds the ALT less likely); embedding is a distance (>= 0)",
        ),
        "GMX": (
            ".",
            "String",
            f"genomix hypotheses, one entry per ALT and hypothesis (rank order; an ALT without a "
            f"hypothesis has one entry with empty fields). Format: {GMX_FIELDS}",
        ),
    }


def run_metadata(command: str | None = None, **fields) -> dict:
    """Provenance written into outputs: the genomix version, `fields` as `genomix_<name>` (those that
    are not None), and the command line when there is one."""
    import genomix

    meta = {"genomix_version": genomix.__version__}
    meta |= {f"genomix_{key}": value for key, value in fields.items() if value is not None}
    return meta | ({"genomix_command": command} if command else {})


# ---------------------------------------------------------------------------------------------- the driver


class _TableSink:
    """A TSV or Parquet table: `frame(results)` per chunk, `empty` gives the columns of an empty run."""

    def __init__(
        self, path: Path | None, frame: Callable[[list], pd.DataFrame], empty: pd.DataFrame, format: str | None = None
    ):
        self.path, self.frame, self.empty, self.format = path, frame, empty, format

    def open(self, partial, vcf) -> None:
        self.writer = TableWriter(partial, self.format or output_format(self.path))

    def write(self, records, results) -> None:
        self.writer.write(self.frame(results))

    def close(self, counts) -> None:
        self.writer.close(empty=self.empty)


class _VcfSink:
    """The input VCF with INFO fields added: `values(results of one record)` -> {tag: tuple}."""

    def __init__(self, path: Path | None, info: dict, meta: dict, values: Callable[[list], dict]):
        self.path, self.info, self.meta, self.values = path, info, meta, values

    def open(self, partial, vcf) -> None:
        with open_vcf(vcf) as template:
            self.writer = AnnotatedVcfWriter(
                "-" if partial is None else partial,
                template.header,
                self.info,
                self.meta,
                output_format("-" if self.path is None else self.path),
            )

    def write(self, records, results) -> None:
        by_record: dict[int, list] = {}
        for item in results:
            by_record.setdefault(item.variant.record, []).append(item)
        for index, record in records:
            self.writer.write(record, self.values(by_record[index]))

    def close(self, counts) -> None:
        self.writer.close()


class _ReportSink:
    """The HTML report: cards for the `limit` explained ALTs with the smallest top p-value (ties: the
    larger |statistic|, then input order), kept in a heap while the run streams."""

    def __init__(self, path: Path, limit: int, explainer: Explainer, meta: dict):
        self.path, self.limit, self.explainer, self.meta = path, limit, explainer, meta
        self.best: list = []  # heap of (-p, |statistic|, -order, Explained)
        self.order = 0

    def open(self, partial, vcf) -> None:
        self.partial = partial

    def write(self, records, results) -> None:
        for item in results:
            top = item.top
            if top is not None:
                key = (-top.p_value, abs(top.statistic), -self.order, item)
                self.order += 1
                (heapq.heappush if len(self.best) < self.limit else heapq.heappushpop)(self.best, key)

    def close(self, counts) -> None:
        from genomix.report.html import write_report

        cards = [entry[3] for entry in sorted(self.best, key=lambda e: (-e[0], -e[1], -e[2]))]
        write_report(self.partial, cards, counts, self.explainer.atlas, self.explainer.evidence.motifs, self.meta)


def write_outputs(
    vcf, chunks: Iterable[tuple[list, list]], sinks: list, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Run `chunks` ((records, results) in input order; a result has a `status`) into every sink, each
    written under a partial name and moved to its path only when all are complete. `progress(n)` is
    called with the number of ALTs done after each chunk. Returns the counts of ALTs by status."""
    counts: Counter = Counter()
    with written_whole([sink.path for sink in sinks]) as partials:
        for sink, partial in zip(sinks, partials):
            sink.open(partial, vcf)
        for records, results in chunks:
            for sink in sinks:
                sink.write(records, results)
            counts.update(item.status for item in results)
            if progress:
                progress(len(results))
        for sink in sinks:
            sink.close(dict(counts))
    return dict(counts)


# ---------------------------------------------------------------------------------------------- score


def iter_scores(
    vcf,
    genome: Genome,
    model,
    options: ScoreOptions | None = None,
    region: str | None = None,
    ref_check: str = "error",
    chunk_size: int = 512,
) -> Iterator[tuple[list, list]]:
    """Stream a VCF/BCF through the model in chunks of about `chunk_size` ALTs (whole records):
    (records as (index in the input, pysam record), their Scored ALTs). Memory stays bounded by the
    chunk; every input ALT comes back with a status."""
    options = options or ScoreOptions()
    options.check(model)
    for records, variants in iter_variant_chunks(vcf, genome, region, ref_check, chunk_size):
        yield records, score_variants(model, genome, variants, **asdict(options))


def _score_options(options: ScoreOptions | None, overrides: dict) -> tuple[ScoreOptions, dict]:
    """ScoreOptions from `options` and the keywords that name its fields; the other keywords (how the
    VCF is read: region, ref_check, chunk_size) apart."""
    fields = ScoreOptions.__dataclass_fields__
    options = replace(options or ScoreOptions(), **{k: v for k, v in overrides.items() if k in fields})
    return options, {k: v for k, v in overrides.items() if k not in fields}


def score(vcf, fasta, model, options: ScoreOptions | None = None, **overrides) -> pd.DataFrame:
    """Score every ALT of a VCF/BCF against `fasta` with `model` (a GenomicModel or a name to load):
    a DataFrame with the columns of `scores_table`. Keywords: ScoreOptions' fields, region, ref_check,
    chunk_size."""
    from genomix.models.registry import load_model

    model = load_model(model) if isinstance(model, str) else model
    genome = fasta if isinstance(fasta, Genome) else Genome(fasta)
    options, reading = _score_options(options, overrides)
    frames = [scores_table(scored) for _, scored in iter_scores(vcf, genome, model, options, **reading)]
    return pd.concat(frames, ignore_index=True) if frames else scores_table([])


def score_metadata(model, options: ScoreOptions, command: str | None = None) -> dict:
    return run_metadata(
        command,
        model=model.name,
        method=options.method,
        window=options.window or default_window(model),
        reverse_complement="yes" if options.rc else "no",
    )


def score_to_file(
    vcf,
    genome: Genome,
    model,
    out,
    options: ScoreOptions | None = None,
    meta: dict | None = None,
    progress: Callable[[int], None] | None = None,
    **overrides,
) -> dict[str, int]:
    """Score a VCF/BCF once and write each of `out` (one path or several: .tsv, .parquet, .vcf, .vcf.gz,
    .bcf, or `-` for VCF on stdout). Files appear only when complete. Keywords as in `score`; `meta`:
    provenance lines (default `score_metadata`). Returns counts of ALTs by status."""
    options, reading = _score_options(options, overrides)
    options.check(model)
    outs = [out] if isinstance(out, (str, os.PathLike)) else list(out)
    meta = meta if meta is not None else score_metadata(model, options)
    sinks = []
    for target in outs:
        path = None if str(target) == "-" else Path(target)
        if output_format(target) in ("tsv", "parquet"):
            sinks.append(_TableSink(path, scores_table, scores_table([])))
        else:
            sinks.append(
                _VcfSink(path, SCORE_INFO, meta, lambda items: {"GMX_SCORE": tuple(vcf_float(s.score) for s in items)})
            )
    return write_outputs(vcf, iter_scores(vcf, genome, model, options, **reading), sinks, progress)


# ---------------------------------------------------------------------------------------------- explain


def sae_model_name(folder) -> str:
    """The model an SAE folder was trained on, from its cfg.json."""
    config = Path(folder) / "cfg.json"
    if not config.is_file():
        raise GenomixError(f"{folder} has no cfg.json to name its model; name the model")
    name = json.loads(config.read_text()).get("metadata", {}).get("model_name")
    if not name:
        raise GenomixError(f"{config} does not name the SAE's model (metadata.model_name); name the model")
    return name


def load_explainer(
    genome,
    sae="demo",
    atlas=None,
    model=None,
    options: ExplainOptions | None = None,
    device: str | None = None,
    **overrides,
) -> Explainer:
    """An Explainer for `sae` (a folder, `demo`, or an SAE object); the model comes from the SAE's
    metadata unless given, the atlas from the SAE's folder unless given. Keywords: ExplainOptions'."""
    from genomix.features.atlas import FeatureAtlas
    from genomix.models.registry import load_model
    from genomix.paths import SHIPPED
    from genomix.sae.base import SAE
    from genomix.sae.formats import load_sae

    genome = genome if isinstance(genome, Genome) else Genome(genome)
    if isinstance(sae, SAE):
        if model is None or atlas is None:
            raise GenomixError("with an SAE object, pass its model and atlas too")
    else:
        if model is None:
            model = load_model(SHIPPED if str(sae) == SHIPPED else sae_model_name(sae), device=device)
        elif isinstance(model, str):
            model = load_model(model, device=device)
        atlas = atlas if atlas is not None else sae
        sae = load_sae(sae, model)
    if not isinstance(atlas, FeatureAtlas):
        atlas = FeatureAtlas.load(atlas)
    return Explainer(model, sae, atlas, genome, options, **overrides)


def explain(
    vcf,
    fasta,
    sae="demo",
    atlas=None,
    model=None,
    region: str | None = None,
    ref_check: str = "error",
    chunk_size: int = 256,
    **options,
) -> pd.DataFrame:
    """Hypotheses of every ALT of a VCF/BCF: a DataFrame with EXPLAIN_COLUMNS, one row per ALT and
    hypothesis (rank 0 where there is none). Options as in `ExplainOptions`."""
    explainer = load_explainer(fasta, sae, atlas, model, **options)
    frames = [
        explain_table(explainer.explain(variants))
        for _, variants in iter_variant_chunks(vcf, explainer.genome, region, ref_check, chunk_size)
    ]
    return pd.concat(frames, ignore_index=True) if frames else explain_table([])


def explain_metadata(explainer: Explainer, sae_source=None, command: str | None = None) -> dict:
    return run_metadata(
        command,
        model=explainer.model.name,
        layer=explainer.sae.metadata.get("hook_name"),
        sae=None if sae_source is None else str(sae_source),
        motifs=explainer.atlas.metadata.get("motif_source", "."),
        window=explainer.window,
        grouping=explainer.options.group,
    )


def explain_to_file(
    vcf,
    explainer: Explainer,
    out=None,
    vcf_out=None,
    report=None,
    followup=None,
    meta: dict | None = None,
    region: str | None = None,
    ref_check: str = "error",
    chunk_size: int = 256,
    report_limit: int = 100,
    progress=None,
) -> dict[str, int]:
    """Explain a VCF/BCF once and write what is asked: `out` (.tsv/.parquet), `vcf_out` (.vcf,
    .vcf.gz, .bcf), `report` (.html, cards for the `report_limit` ALTs with the smallest p),
    `followup` (.tsv). Files appear only when complete. Returns counts of ALTs by status."""
    from genomix.report.followup import FOLLOWUP_COLUMNS, followup_designs

    finals = {
        name: Path(path)
        for name, path in (("out", out), ("vcf", vcf_out), ("report", report), ("followup", followup))
        if path is not None
    }
    if not finals:
        raise GenomixError("nothing to write: name an output table, an annotated VCF, a report or follow-up designs")
    expected = {"out": ("tsv", "parquet"), "vcf": ("vcf", "vcf.gz", "bcf"), "followup": ("tsv",)}
    for name, final in finals.items():
        if str(final) == "-":
            raise GenomixError("explain writes files; name one instead of -")
        kind = "html" if name == "report" else output_format(final)
        if kind not in expected.get(name, ("html",)) or (
            name == "report" and final.suffix.lower() not in (".html", ".htm")
        ):
            raise GenomixError(f"{final}: expected {' or '.join('.' + k for k in expected.get(name, ('html',)))}")
    meta = meta if meta is not None else explain_metadata(explainer)
    sinks = []
    if "out" in finals:
        sinks.append(_TableSink(finals["out"], explain_table, explain_table([])))
    if "vcf" in finals:
        sinks.append(
            _VcfSink(
                finals["vcf"],
                _explain_info(),
                meta,
                lambda items: {
                    "GMX_SCORE": tuple(vcf_float(item.scored.score) for item in items),
                    "GMX": tuple(h.gmx_entry() for item in items for h in item.hypotheses),
                },
            )
        )
    if "report" in finals:
        sinks.append(_ReportSink(finals["report"], report_limit, explainer, meta))
    if "followup" in finals:
        designs = lambda explained: followup_designs(explained, explainer.evidence.pwms, seed=explainer.options.seed)  # noqa: E731
        sinks.append(_TableSink(finals["followup"], designs, pd.DataFrame(columns=FOLLOWUP_COLUMNS), "tsv"))
    chunks = (
        (records, explainer.explain(variants))
        for records, variants in iter_variant_chunks(vcf, explainer.genome, region, ref_check, chunk_size)
    )
    return write_outputs(vcf, chunks, sinks, progress)


# ---------------------------------------------------------------------------------------------- SAEs and atlases


def load_sae_and_model(sae, model: str | None = None, device: str | None = None, trust_remote_code: bool = False):
    """An SAE and the model it reads (named, or the one its cfg.json records), checked to match."""
    from genomix.models.registry import load_model
    from genomix.sae.formats import load_sae

    trained = load_sae(sae)
    name = model or trained.metadata.get("model_name")
    if not name:
        raise GenomixError(f"{sae} does not record its model; name the model it reads")
    loaded = load_model(name, device=device, trust_remote_code=trust_remote_code)
    trained.check_matches(loaded)
    return trained, loaded


def annotate(
    sae,
    fasta,
    model: str | None = None,
    regions=None,
    annotations=None,
    motifs=None,
    jaspar_release: str = "JASPAR2024",
    options=None,
    out=None,
    nulls: bool = True,
    device: str | None = None,
    trust_remote_code: bool = False,
    progress=None,
):
    """Build the feature atlas of `sae` on `fasta` (its `regions`, a BED path) with `annotations` (BED
    or GFF3 path) and `motifs` (a MEME file; JASPAR `jaspar_release` by default), save it at `out`
    (default: atlas.parquet in the SAE folder), and with `nulls` draw explain's nulls for SNVs and
    1-2 bp indels beside it (a genome too short for them only warns). `options`: AtlasOptions.
    Returns the atlas and where it was saved."""
    import logging

    from genomix.features.annotations import read_annotations
    from genomix.features.atlas import ATLAS_NAME, FeatureAtlas, build_atlas, nulls_path
    from genomix.motifs.jaspar import load_jaspar, read_meme_motifs
    from genomix.paths import SHIPPED
    from genomix.sae.activations import Regions

    if options is not None and options.min_site_share is not None and not 0 <= options.min_site_share <= 1:
        raise GenomixError(
            f"the minimum site share is a share of the top examples, between 0 and 1 (got {options.min_site_share})",
            option="min_site_share",
        )
    if out is None:
        if str(sae) == SHIPPED:
            raise GenomixError(
                "name the output file of an atlas of the demo SAE; the shipped one is rebuilt by "
                "`genomix demo sae --atlas-only`"
            )
        out = (Path(sae) if Path(sae).is_dir() else Path(sae).parent) / ATLAS_NAME
    trained, loaded = load_sae_and_model(sae, model, device, trust_remote_code)
    genome = Genome(fasta)
    library = read_meme_motifs(motifs) if motifs else load_jaspar(jaspar_release)
    atlas = build_atlas(
        trained,
        loaded,
        genome,
        Regions.from_bed(regions, genome) if regions else None,
        read_annotations(annotations, genome) if annotations else None,
        library,
        options,
        motif_source=str(motifs) if motifs else jaspar_release,
        progress=progress,
    )
    atlas.save(out)
    if nulls:
        log = logging.getLogger("genomix")
        try:
            Explainer(loaded, trained, FeatureAtlas.load(out), genome).save_nulls(nulls_path(Path(out)))
            log.info("atlas: explain's nulls for SNVs and 1-2 bp indels drawn into %s", nulls_path(Path(out)))
        except GenomixError as error:  # the atlas stands; explain draws its nulls on its first run
            log.warning("atlas: explain's nulls not drawn in advance (%s)", error)
    return atlas, Path(out)


def concept_inputs(sae, annotations=None, fasta=None):
    """The SAE (no model needed), its atlas, and the annotations with the contig lengths that
    entanglement needs (the demo's own for the demo SAE)."""
    from genomix.features.annotations import read_annotations
    from genomix.features.atlas import FeatureAtlas
    from genomix.paths import SHIPPED, demo_dir
    from genomix.sae.formats import load_sae

    trained, atlas = load_sae(sae), FeatureAtlas.load(sae)
    if str(sae) == SHIPPED and annotations is None:
        annotations, fasta = demo_dir() / "annotations.bed", fasta or demo_dir() / "genome.fa.gz"
    if annotations is not None and fasta is None:
        raise GenomixError("annotations need the genome they lie on (its contig lengths give the classes' base rates)")
    if annotations is None:
        return trained, atlas, None, None
    genome = Genome(fasta)
    return trained, atlas, read_annotations(annotations, genome), dict(genome.lengths)


# ---------------------------------------------------------------------------------------------- the demo


def run_demo(
    out: Path, window: int = 512, echo: Callable[[str], None] = print, progress=None, command: str | None = None
) -> dict:
    """The demo run: score the demo truth variants and say how well the scores separate them, measure
    the demo SAE on the held-out contig, check the demo atlas against the planted motifs, and explain
    the variants into hypotheses, an annotated VCF, an HTML report and lab designs. Says what it finds
    through `echo(line)`; `progress(label)` is a context manager whose value has `advance(n)` (None:
    none); `command`: the command line, for the outputs' provenance. Returns the figures."""
    from contextlib import nullcontext

    from genomix.demo.evaluate import atlas_truth, explain_truth, read_truth, score_auroc
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
    figures = score_auroc(pd.read_csv(scores[0], sep="\t"), read_truth(vcf), HELD_OUT)
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
        )
    hypotheses = pd.read_csv(outputs["out"], sep="\t", keep_default_na=False, na_values=["NA"])
    explained = explain_truth(hypotheses, read_truth(vcf), atlas, HELD_OUT)
    echo(
        f"explain: top hypothesis names the planted TF for {explained['top1_tf_all']:.1%} of loss/gain variants "
        f"({explained['top1_tf_held_out']:.1%} held out), direction right for {explained['direction_all']:.1%}; "
        f"neutral variants with p < 0.01: {explained['neutral_p_below_0.01']:.1%}"
    )
    echo(
        f"report: {outputs['report']}\nhypotheses: {outputs['out']}, {outputs['vcf_out']}; lab designs: "
        f"{outputs['followup']}"
    )
    return {"score": figures, "sae": metrics, "atlas": truth, "explain": explained}
