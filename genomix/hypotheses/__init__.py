"""Explain variants: per ALT, ranked mechanistic hypotheses from SAE features, with their evidence.

`explain(vcf, fasta, sae=...)` returns the hypotheses as a DataFrame; `explain_to_file` streams a
VCF into a table, an annotated VCF, an HTML report and follow-up designs.
"""

from __future__ import annotations

import heapq
import math
from pathlib import Path

import pandas as pd

from genomix.errors import GenomixError
from genomix.hypotheses.rank import EXPLAIN_COLUMNS, Explained, Explainer, explain_table

__all__ = ["EXPLAIN_COLUMNS", "Explained", "Explainer", "explain", "explain_table", "explain_to_file", "load_explainer", "sae_model_name"]

# Consequence (label_effect, or the status without a hypothesis) closes the list: bcftools +split-vep
# refuses a tag without a field of that name.
GMX_FIELDS = "Allele|Method|Score|Feature|Label|Effect|Delta|MotifDelta|Mediated|P|Consequence"
EXPLAIN_INFO = {
    "GMX_SCORE": ("A", "Float", "genomix zero-shot score per ALT: llr and delta_ll are log P(alt) - log P(ref) "
                  "(negative: the model finds the ALT less likely); embedding is a distance (>= 0)"),
    "GMX": (".", "String", f"genomix hypotheses, one entry per ALT and hypothesis (rank order; an ALT without a "
            f"hypothesis has one entry with empty fields). Format: {GMX_FIELDS}"),
}


def load_explainer(genome, sae="demo", atlas=None, model=None, **options) -> Explainer:
    """An Explainer for `sae` (a folder, `demo`, or an SAE object); the model comes from the SAE's
    metadata unless given, the atlas from the SAE's folder unless given."""
    from genomix.features.atlas import FeatureAtlas
    from genomix.io.genome import Genome
    from genomix.models.registry import load_model
    from genomix.sae.base import SAE
    from genomix.sae.formats import load_sae

    genome = genome if isinstance(genome, Genome) else Genome(genome)
    if isinstance(sae, SAE):
        if model is None or atlas is None:
            raise GenomixError("with an SAE object, pass its model and atlas too")
    else:
        if model is None:
            name = "demo" if str(sae) == "demo" else sae_model_name(sae)
            model = load_model(name)
        elif isinstance(model, str):
            model = load_model(model)
        atlas = atlas if atlas is not None else sae
        sae = load_sae(sae, model)
    if not isinstance(atlas, FeatureAtlas):
        atlas = FeatureAtlas.load(atlas)
    return Explainer(model, sae, atlas, genome, **options)


def sae_model_name(folder) -> str:
    """The model an SAE folder was trained on, from its cfg.json."""
    import json

    config = Path(folder) / "cfg.json"
    if not config.is_file():
        raise GenomixError(f"{folder} has no cfg.json to name its model; pass --model")
    name = json.loads(config.read_text()).get("metadata", {}).get("model_name")
    if not name:
        raise GenomixError(f"{config} does not name the SAE's model (metadata.model_name); pass --model")
    return name


def explain(vcf, fasta, sae="demo", atlas=None, model=None, region: str | None = None, ref_check: str = "error",
            chunk_size: int = 256, **options) -> pd.DataFrame:
    """Hypotheses of every ALT of a VCF/BCF: a DataFrame with EXPLAIN_COLUMNS, one row per ALT and
    hypothesis (rank 0 where there is none). Options as in `Explainer`."""
    from genomix.io.variants import iter_variant_chunks

    explainer = load_explainer(fasta, sae, atlas, model, **options)
    frames = [explain_table(explainer.explain(variants))
              for _, variants in iter_variant_chunks(vcf, explainer.genome, region, ref_check, chunk_size)]
    return pd.concat(frames, ignore_index=True) if frames else explain_table([])


def gmx_entries(item: Explained) -> list[str]:
    """The INFO/GMX entries of one ALT (see GMX_FIELDS)."""
    def text(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return "".join("_" if c in ",;=| \t" else c for c in str(value))

    entries = []
    for row in item.rows:
        hypothesis = row["rank"] > 0
        fields = [row["alt"], row["method"], row["score"], row["feature"] if hypothesis else None,
                  row["label"] if hypothesis else None, row["effect"] if hypothesis else None, row["delta"],
                  row["motif_delta"], row["mediated_fraction"], row["p_value"],
                  f"{row['label']}_{row['effect']}" if hypothesis else row["status"]]
        entries.append("|".join(text(f) for f in fields))
    return entries


def explain_to_file(vcf, explainer: Explainer, out=None, vcf_out=None, report=None, followup=None,
                    meta: dict | None = None, region: str | None = None, ref_check: str = "error",
                    chunk_size: int = 256, report_limit: int = 100, progress=None) -> dict[str, int]:
    """Explain a VCF/BCF once and write what is asked: `out` (.tsv/.parquet), `vcf_out` (.vcf,
    .vcf.gz, .bcf), `report` (.html, cards for the `report_limit` ALTs with the smallest p),
    `followup` (.tsv). Files appear only when complete. Returns counts of ALTs by status."""
    from genomix.io.outputs import AnnotatedVcfWriter, TableWriter, output_format, vcf_float, written_whole
    from genomix.io.variants import iter_variant_chunks, open_vcf
    from genomix.report.followup import FOLLOWUP_COLUMNS, followup_designs

    finals = {name: Path(path) for name, path in (("out", out), ("vcf", vcf_out), ("report", report),
                                                  ("followup", followup)) if path is not None}
    if not finals:
        raise GenomixError("nothing to write: give an output table, --vcf-out, --report or --followup")
    expected = {"out": ("tsv", "parquet"), "vcf": ("vcf", "vcf.gz", "bcf"), "followup": ("tsv",)}
    for name, final in finals.items():
        if str(final) == "-":
            raise GenomixError("explain writes files; name one instead of -")
        kind = "html" if name == "report" else output_format(final)
        if kind not in expected.get(name, ("html",)) or (name == "report" and final.suffix.lower() not in (".html", ".htm")):
            raise GenomixError(f"{final}: expected {' or '.join('.' + k for k in expected.get(name, ('html',)))}")
    meta = meta or {}
    counts: dict[str, int] = {}
    best: list = []  # heap of (-p, |statistic|, -order, Explained) for the report
    order = 0
    with written_whole(list(finals.values())) as partials:
        partial = dict(zip(finals, partials))
        writers = {}
        if "out" in partial:
            writers["out"] = TableWriter(partial["out"], output_format(finals["out"]))
        if "followup" in partial:
            writers["followup"] = TableWriter(partial["followup"], "tsv")
        if "vcf" in partial:
            with open_vcf(vcf) as template:
                writers["vcf"] = AnnotatedVcfWriter(partial["vcf"], template.header, EXPLAIN_INFO, meta,
                                                    output_format(finals["vcf"]))
        for records, variants in iter_variant_chunks(vcf, explainer.genome, region, ref_check, chunk_size):
            explained = explainer.explain(variants)
            table = explain_table(explained)
            if "out" in writers:
                writers["out"].write(table)
            if "report" in partial:
                for item in explained:
                    top = item.rows[0]
                    if top["rank"] == 1:
                        key = (-top["p_value"], abs(top["statistic"]), -order, item)
                        order += 1
                        (heapq.heappush if len(best) < report_limit else heapq.heappushpop)(best, key)
            if "followup" in writers:
                writers["followup"].write(followup_designs(explained, explainer.pwms, seed=explainer.seed))
            if "vcf" in writers:
                by_record: dict[int, list[Explained]] = {}
                for item in explained:
                    by_record.setdefault(item.scored.variant.record, []).append(item)
                for index, record in records:
                    items = by_record[index]
                    writers["vcf"].write(record, {
                        "GMX_SCORE": tuple(vcf_float(item.scored.score) for item in items),
                        "GMX": tuple(entry for item in items for entry in gmx_entries(item))})
            for item in explained:
                status = item.rows[0]["status"]
                counts[status] = counts.get(status, 0) + 1
            if progress:
                progress(len(variants))
        if "out" in writers:
            writers["out"].close(empty=explain_table([]))
        if "followup" in writers:
            writers["followup"].close(empty=pd.DataFrame(columns=FOLLOWUP_COLUMNS))
        if "vcf" in writers:
            writers["vcf"].close()
        if "report" in partial:
            from genomix.report.html import write_report

            cards = [entry[3] for entry in sorted(best, key=lambda e: (-e[0], -e[1], -e[2]))]
            write_report(partial["report"], cards, counts, explainer.atlas, explainer.motifs, meta)
    return counts
