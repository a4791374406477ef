"""Explaining a VCF: `load_explainer`, the Python API's `explain` and the file driver `explain_to_file`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from genomix.errors import GenomixError
from genomix.hypotheses import Explained, Explainer, ExplainOptions, FalseDiscovery, explain_table
from genomix.io.genes import GeneAnnotation, Genes
from genomix.io.genome import Genome
from genomix.io.outputs import output_format, vcf_float
from genomix.io.variants import iter_variant_chunks
from genomix.models.base import move_model, reduced_precision
from genomix.pipelines.drive import ReportSink, TableSink, VcfSink, run_metadata, table_provenance, write_outputs
from genomix.pipelines.score import METHOD_INFO
from genomix.pipelines.shards import ShardStore, input_file, run_identity, sharded, shards_folder


def _explain_info() -> dict:
    from genomix.hypotheses.records import GMX_FIELDS

    return {
        "GMX_SCORE": (
            "A",
            "Float",
            "genomix zero-shot score per ALT: llr and delta_ll are log P(alt) - log P(ref) "
            "(negative: the model finds the ALT less likely); embedding is a distance (>= 0); spliceai is "
            "SpliceAI's largest change of acceptor or donor probability near the variant (0-1); GMX_METHOD says "
            "which each ALT got",
        ),
        **METHOD_INFO,
        "GMX": (
            ".",
            "String",
            f"genomix hypotheses, one entry per ALT and hypothesis (rank order; an ALT without a "
            f"hypothesis has one entry with empty fields). Format: {GMX_FIELDS}",
        ),
    }


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
    dtype: str = "auto",
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
            model = load_model(SHIPPED if str(sae) == SHIPPED else sae_model_name(sae), device=device, dtype=dtype)
        elif isinstance(model, str):
            model = load_model(model, device=device, dtype=dtype)
        atlas = atlas if atlas is not None else sae
        sae = load_sae(sae, model)
    if not isinstance(atlas, FeatureAtlas):
        atlas = FeatureAtlas.load(atlas)
    return Explainer(model, sae, atlas, genome, options, **overrides)


def gene_annotation(genes, genome: Genome) -> GeneAnnotation:
    """Where ALTs' gene context comes from: `genes` (a GFF3/GTF path or `Genes`), or with None the
    demo's genes.gff3 when `genome` is the demo genome (else none); a VCF's own CSQ/ANN comes first."""
    from genomix.paths import demo_dir

    if genes is None and Path(genome.path).resolve() == (demo_dir() / "genome.fa.gz").resolve():
        genes = demo_dir() / "genes.gff3"
    if genes is not None and not isinstance(genes, Genes):
        genes = Genes.load(genes)
    return GeneAnnotation(genes)


def place_in_genes(explained: list[Explained], records: list, annotation: GeneAnnotation) -> list[Explained]:
    """Set the gene context of every hypothesis of `explained` (records: (index, pysam record) of the chunk)."""
    by_index = dict(records)
    for item in explained:
        context = annotation.context(by_index.get(item.variant.record), item.variant)
        for h in item.hypotheses:
            h.genes = context
    return explained


def explain(
    vcf,
    fasta,
    sae="demo",
    atlas=None,
    model=None,
    region: str | None = None,
    ref_check: str = "error",
    chunk_size: int = 256,
    engine=None,
    genes=None,
    **options,
) -> pd.DataFrame:
    """Hypotheses of every ALT of a VCF/BCF: a DataFrame with EXPLAIN_COLUMNS, one row per ALT and
    hypothesis (rank 0 where there is none), q-values over the whole VCF, gene context from the VCF's
    CSQ/ANN or `genes` (see `gene_annotation`). `engine`: None (this process) or a `RayEngine`. Options
    as in `ExplainOptions`."""
    explainer = load_explainer(fasta, sae, atlas, model, **options)
    annotation = gene_annotation(genes, explainer.genome)
    fdr, explained = FalseDiscovery(), []
    with input_file(vcf) as vcf, ShardStore(None, {}) as store:
        reading = (vcf, explainer.genome, region, ref_check, chunk_size)
        for records, results in sharded(reading, ExplainWork(explainer), store, engine):
            explained += place_in_genes(fdr.add(results), records, annotation)
    return explain_table(fdr.fill(explained))


class ExplainWork:
    """The work of one chunk, `work(variants) -> [Explained]` without their tracks (the report draws
    its cards' again): what a shard holds and a Ray actor runs."""

    def __init__(self, explainer: Explainer):
        self.explainer = explainer

    def __call__(self, variants: list) -> list:
        return [
            Explained(item.scored, item.hypotheses, item.window, reverse=item.reverse)
            for item in self.explainer.explain(variants)
        ]

    def to(self, device: str) -> None:
        move_model(self.explainer.model, device)
        self.explainer.sae.to(device)


def explain_metadata(explainer: Explainer, sae_source=None, command: str | None = None) -> dict:
    return run_metadata(
        command,
        model=explainer.model.name,
        layer=explainer.sae.metadata.get("hook_name"),
        sae=None if sae_source is None else str(sae_source),
        motifs=explainer.atlas.metadata.get("motif_source", "."),
        window=explainer.window,
        grouping=explainer.options.group,
        dtype=reduced_precision(explainer.model),
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
    engine=None,
    genes=None,
    report_mutagenesis: int = 10,
) -> dict[str, int]:
    """Explain a VCF/BCF once and write what is asked: `out` (.tsv/.parquet), `vcf_out` (.vcf,
    .vcf.gz, .bcf), `report` (.html, cards for the `report_limit` ALTs with the smallest p),
    `followup` (.tsv); gene context as in `gene_annotation`; the first `report_mutagenesis` cards get
    in-silico mutagenesis logos. Files appear only when complete; until then finished chunks are kept
    beside the first of them (`shards`), so the same call started again does only the rest. `engine`:
    None (this process) or a `RayEngine`; `progress(alts, shards)` after each chunk. Returns counts of
    ALTs by status."""

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
    with input_file(vcf) as vcf:
        reading = (vcf, explainer.genome, region, ref_check, chunk_size)
        identity = run_identity(vcf, explainer.genome, explainer.model, explain_identity(explainer, reading))
        provenance = table_provenance(meta, identity, explainer.model)
        sinks = _explain_sinks(finals, explainer, meta, provenance, report_limit, report_mutagenesis)
        cards = next((sink for sink in sinks if isinstance(sink, ReportSink)), None)
        annotation = gene_annotation(genes, explainer.genome)
        with ShardStore(shards_folder(list(finals.values())), identity) as store:
            chunks = _ranked_chunks(reading, ExplainWork(explainer), store, engine, annotation, cards, progress)
            counts = write_outputs(vcf, chunks, sinks)
            store.finish()
    return counts


def _explain_sinks(
    finals: dict, explainer: Explainer, meta: dict, provenance: dict, report_limit: int, report_mutagenesis: int
) -> list:
    """A sink per output named in `finals`; the table, in Parquet, carries `provenance`."""
    from genomix.report.followup import FOLLOWUP_COLUMNS, followup_designs

    sinks = []
    if "out" in finals:
        sinks.append(TableSink(finals["out"], explain_table, explain_table([]), meta=provenance))
    if "vcf" in finals:
        sinks.append(
            VcfSink(
                finals["vcf"],
                _explain_info(),
                meta,
                lambda items: {
                    "GMX_SCORE": tuple(vcf_float(item.scored.score) for item in items),
                    "GMX_METHOD": tuple(item.scored.method for item in items),
                    "GMX": tuple(h.gmx_entry() for item in items for h in item.hypotheses),
                },
            )
        )
    if "report" in finals:
        sinks.append(ReportSink(finals["report"], report_limit, explainer, meta, report_mutagenesis))
    if "followup" in finals:
        designs = lambda explained: followup_designs(explained, explainer.evidence.pwms, seed=explainer.options.seed)  # noqa: E731
        sinks.append(TableSink(finals["followup"], designs, pd.DataFrame(columns=FOLLOWUP_COLUMNS), "tsv"))
    return sinks


def explain_identity(explainer: Explainer, reading: tuple) -> dict:
    """The options an explain run's shards depend on: the explainer's (its SAE, atlas, nulls' inputs
    and ranking rule, through the nulls' digest) and how the VCF is read."""
    options = {k: v for k, v in asdict(explainer.options).items() if k not in ("batch_size", "null_cache")}
    _, _, region, ref_check, chunk_size = reading
    digest = explainer._null_dependencies()
    return options | {"explainer": digest, "region": region, "ref_check": ref_check, "chunk_size": chunk_size}


def _ranked_chunks(reading: tuple, work: ExplainWork, store: ShardStore, engine, annotation, cards, progress):
    """(records, explained) chunks with q-values and gene context: every chunk is explained (or its
    shard loaded) first, the report's best cards kept, then the VCF is read again and each chunk comes
    back from its shard with the q-values over the whole run."""
    fdr = FalseDiscovery()
    for records, explained in sharded(reading, work, store, engine, progress):
        fdr.add(place_in_genes(explained, records, annotation))
        if cards is not None:
            cards.add(explained)
    if cards is not None:
        fdr.fill(cards.cards())
    for number, (records, variants) in enumerate(iter_variant_chunks(*reading)):
        yield records, fdr.fill(place_in_genes(store.load(number, len(variants)), records, annotation))
