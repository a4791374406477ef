"""Scoring a VCF: the Python API's `score` and the file driver `score_to_file`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from genomix.errors import GenomixError
from genomix.io.genome import Genome
from genomix.io.outputs import output_format, vcf_float
from genomix.io.splice_genes import SpliceAnnotation, read_splice_genes
from genomix.io.variants import iter_variant_chunks
from genomix.models.base import move_model, reduced_precision
from genomix.pipelines.drive import TableSink, VcfSink, method_values, run_metadata, table_provenance, write_outputs
from genomix.pipelines.shards import ShardStore, input_file, run_identity, sharded, shards_folder
from genomix.scoring import ScoreOptions, default_window, score_variants, scores_table
from genomix.splicing import INFO_FORMAT, splice_scores, splice_table

METHOD_INFO = {
    "GMX_METHOD": (
        "A",
        "String",
        "genomix scoring method per ALT, the quantity its GMX_SCORE is (llr, delta_ll, embedding or spliceai); "
        ". for an ALT that was skipped",
    )
}
SCORE_INFO = {
    "GMX_SCORE": (
        "A",
        "Float",
        "genomix zero-shot score per ALT: llr and delta_ll are log P(alt) - log P(ref) (negative: the model "
        "finds the ALT less likely); embedding is a distance (>= 0); spliceai is the largest of SpliceAI's four "
        "delta scores; GMX_METHOD says which each ALT got",
    )
} | METHOD_INFO
SPLICEAI_INFO = {
    "SpliceAI": (
        ".",
        "String",
        "SpliceAI variant annotation (SpliceAI 1.3.1's models and rules, computed by genomix). These include "
        "delta scores (DS) and delta positions (DP) for acceptor gain (AG), acceptor loss (AL), donor gain (DG), "
        f"and donor loss (DL). Format: {INFO_FORMAT}",
    )
}


def iter_scores(
    vcf,
    genome: Genome,
    model,
    options: ScoreOptions | None = None,
    region: str | None = None,
    ref_check: str = "error",
    chunk_size: int = 512,
    genes: SpliceAnnotation | str | os.PathLike | None = None,
) -> Iterator[tuple[list, list]]:
    """Stream a VCF/BCF through the model in chunks of about `chunk_size` ALTs (whole records):
    (records as (index in the input, pysam record), their Scored ALTs, or SpliceScored ones for
    SpliceAI, which needs `genes`: SpliceAI's annotation table or a GFF3). Memory stays bounded by the
    chunk; every input ALT comes back with a status."""
    options = options or ScoreOptions()
    options.check(model)
    work = ScoreWork(model, genome, options, _genes(options, model, genes))
    for records, variants in iter_variant_chunks(vcf, genome, region, ref_check, chunk_size):
        yield records, work(variants)


class ScoreWork:
    """The work of one chunk, `work(variants) -> [Scored]` (SpliceScored for SpliceAI, which needs
    `genes`): what a shard holds and a Ray actor runs."""

    def __init__(self, model, genome: Genome, options: ScoreOptions, genes: SpliceAnnotation | None = None):
        self.model, self.genome, self.options, self.genes = model, genome, options, genes

    def __call__(self, variants: list) -> list:
        options = self.options
        if self.genes is not None:
            return splice_scores(
                self.model, self.genome, variants, self.genes, options.distance, options.mask, options.batch_size
            )
        method, window, rc, batch, layer = options.method, options.window, options.rc, options.batch_size, options.layer
        return score_variants(
            self.model, self.genome, variants, method, window, rc, batch, layer, reuse_prefix=options.reuse_prefix
        )

    def to(self, device: str) -> None:
        move_model(self.model, device)


def _genes(options: ScoreOptions, model, genes) -> SpliceAnnotation | None:
    """The gene annotation SpliceAI's scores need (read when a path), None for the other methods."""
    if not options.spliceai(model):
        return None
    if genes is None:
        raise GenomixError(
            "SpliceAI's scores are per transcript: pass a gene annotation (SpliceAI's annotation table or a "
            "GFF3 with mRNA and exon features)",
            option="annotation",
        )
    return genes if isinstance(genes, SpliceAnnotation) else read_splice_genes(genes)


def _score_options(options: ScoreOptions | None, overrides: dict) -> tuple[ScoreOptions, dict]:
    """ScoreOptions from `options` and the keywords that name its fields; the other keywords (how the
    VCF is read: region, ref_check, chunk_size) apart."""
    fields = ScoreOptions.__dataclass_fields__
    options = replace(options or ScoreOptions(), **{k: v for k, v in overrides.items() if k in fields})
    return options, {k: v for k, v in overrides.items() if k not in fields}


def score(vcf, fasta, model, options: ScoreOptions | None = None, engine=None, **overrides) -> pd.DataFrame:
    """Score every ALT of a VCF/BCF against `fasta` with `model` (a GenomicModel or a name to load):
    a DataFrame with the columns of `scores_table` (of `splice_table` for SpliceAI). `engine`: None (this
    process) or a `RayEngine`. Keywords: ScoreOptions' fields, region, ref_check, chunk_size, genes."""
    from genomix.models.registry import load_model

    model = load_model(model) if isinstance(model, str) else model
    genome = fasta if isinstance(fasta, Genome) else Genome(fasta)
    options, reading = _score_options(options, overrides)
    table = splice_table if options.spliceai(model) else scores_table
    if engine is None:
        frames = [table(scored) for _, scored in iter_scores(vcf, genome, model, options, **reading)]
    else:
        options.check(model)
        work = ScoreWork(model, genome, options, _genes(options, model, reading.get("genes")))
        with input_file(vcf) as vcf, ShardStore(None, {}) as store:
            frames = [table(scored) for _, scored in sharded(_reading(vcf, genome, reading), work, store, engine)]
    return pd.concat(frames, ignore_index=True) if frames else table([])


def score_metadata(model, options: ScoreOptions, command: str | None = None) -> dict:
    if options.spliceai(model):
        return run_metadata(
            command,
            model=model.name,
            method="spliceai",
            window=10_000 + 2 * options.distance + 1,
            distance=options.distance,
            mask="yes" if options.mask else "no",
        )
    return run_metadata(
        command,
        model=model.name,
        method=options.method,
        window=default_window(model) if options.window is None else options.window,
        reverse_complement="yes" if options.rc else "no",
        dtype=reduced_precision(model),
    )


def score_to_file(
    vcf,
    genome: Genome,
    model,
    out,
    options: ScoreOptions | None = None,
    meta: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine=None,
    **overrides,
) -> dict[str, int]:
    """Score a VCF/BCF once and write each of `out` (one path or several: .tsv, .parquet, .vcf, .vcf.gz,
    .bcf, or `-` for VCF on stdout; for SpliceAI the VCF carries the `SpliceAI` INFO field in the official
    format). Files appear only when complete; until then finished chunks are kept beside the first file
    (`shards`), so the same call started again does only the rest. Keywords as in `score`; `meta`:
    provenance lines (default `score_metadata`); `engine`: None (this process) or a `RayEngine`;
    `progress(alts, shards)` after each chunk. Returns counts of ALTs by status."""
    options, reading = _score_options(options, overrides)
    options.check(model)
    outs = [out] if isinstance(out, (str, os.PathLike)) else list(out)
    meta = meta if meta is not None else score_metadata(model, options)
    genes = reading.get("genes")
    work = ScoreWork(model, genome, options, _genes(options, model, genes))
    with input_file(vcf) as vcf:
        reading = _reading(vcf, genome, reading)
        depends = asdict(options) | {"batch_size": None, "region": reading[2], "ref_check": reading[3]}
        source = genes.source if isinstance(genes, SpliceAnnotation) else genes
        identity = run_identity(vcf, genome, model, depends | {"chunk_size": reading[4], "genes": source})
        sinks = _score_sinks(outs, options.spliceai(model), meta, table_provenance(meta, identity, model))
        with ShardStore(shards_folder(outs), identity) as store:
            counts = write_outputs(vcf, sharded(reading, work, store, engine, progress), sinks)
            store.finish()
    return counts


def _score_sinks(outs: list, spliceai: bool, meta: dict, provenance: dict) -> list:
    """A sink per output: tables (Parquet ones carrying `provenance`), or the VCF with GMX_SCORE and
    GMX_METHOD (and SpliceAI's field for SpliceAI)."""
    table = splice_table if spliceai else scores_table
    sinks = []
    for target in outs:
        path = None if str(target) == "-" else Path(target)
        if output_format(target) in ("tsv", "parquet"):
            sinks.append(TableSink(path, table, table([]), meta=provenance))
        elif spliceai:
            sinks.append(VcfSink(path, SCORE_INFO | SPLICEAI_INFO, meta, _spliceai_values))
        else:
            sinks.append(VcfSink(path, SCORE_INFO, meta, _score_values))
    return sinks


def _score_values(items: list) -> dict:
    """INFO of one record: GMX_SCORE and GMX_METHOD per ALT."""
    return {"GMX_SCORE": tuple(vcf_float(item.score) for item in items), "GMX_METHOD": method_values(items)}


def _reading(vcf, genome: Genome, reading: dict) -> tuple:
    """(vcf, genome, region, ref_check, chunk_size): how a run reads its VCF, as `sharded` takes it."""
    return vcf, genome, reading.get("region"), reading.get("ref_check", "error"), reading.get("chunk_size", 512)


def _spliceai_values(items: list) -> dict:
    """INFO of one record: GMX_SCORE and GMX_METHOD per ALT, and SpliceAI's entries (ALT by ALT, transcript by
    transcript)."""
    entries = tuple(gene.entry(item.variant.alt) for item in items for gene in item.genes)
    return _score_values(items) | {"SpliceAI": entries or None}
