"""The feature atlas: one row per SAE feature with what it fires on and the name it earned.

A feature is labelled by a motif when its trimmed seqlet PPM matches a JASPAR matrix at
q < `q_threshold` (TOMTOM, BH across all comparisons) and that matrix's sites are found at its
strongest examples (`genomix.features.motifs.SiteSupport`); otherwise by an annotation class when its
held-out F1 exceeds `min_f1` with a precision at least twice the class's share of positions;
otherwise it stays unlabelled. Saved as Parquet next to the SAE,
with the atlas' provenance in the file's metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from genomix.errors import GenomixError
from genomix.io.genome import Genome
from genomix.io.outputs import written_whole
from genomix.sae.activations import Regions
from genomix.sae.base import SAE

ATLAS_NAME = "atlas.parquet"


def concepts_path(atlas_path: Path) -> Path:
    """Where an atlas file's concept table lives: `atlas.parquet` -> `atlas.concepts.parquet`."""
    return atlas_path.with_name(atlas_path.name.removesuffix(".parquet") + ".concepts.parquet")


def nulls_path(atlas_path: Path) -> Path:
    """The folder of explain's nulls drawn in advance for an atlas file: `atlas.parquet` -> `atlas.nulls/`
    (see `genomix.hypotheses.rank.Explainer.save_nulls`)."""
    return atlas_path.with_name(atlas_path.name.removesuffix(".parquet") + ".nulls")


@dataclass
class FeatureAtlas:
    """`table`: one row per feature; `metadata`: provenance; `concepts`: the concept table stored
    beside the atlas (`atlas.concepts.parquet` for `atlas.parquet`, see `genomix.features.concepts`);
    `path`: the file it was loaded from (None for one built in memory)."""

    table: pd.DataFrame
    metadata: dict = field(default_factory=dict)
    concepts: pd.DataFrame | None = None
    path: Path | None = None  # the file it was loaded from

    def label(self, feature: int) -> str:
        """The feature's label, or `unlabelled`."""
        return str(self.table.loc[self.table.feature == feature, "label"].iloc[0])

    def save(self, path: str | Path) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        table = pa.Table.from_pandas(self.table, preserve_index=False)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"genomix_atlas": json.dumps(self.metadata).encode()}
        )
        beside = concepts_path(path)
        with written_whole([path] if self.concepts is None else [path, beside]) as partials:
            pq.write_table(table, partials[0])
            if self.concepts is not None:
                self.concepts.to_parquet(partials[1], index=False)
        if self.concepts is None and beside.exists():
            beside.unlink()  # it belonged to the atlas this one replaces
        return path

    @classmethod
    def load(cls, path: str | Path) -> FeatureAtlas:
        """An atlas file, or the SAE folder that holds one (`demo` for the demo SAE's)."""
        import pyarrow.parquet as pq

        from genomix.paths import shipped

        path = Path(shipped(path, "sae"))
        if path.is_dir():
            path = path / ATLAS_NAME
        if not path.is_file():
            raise GenomixError(f"no feature atlas at {path}; build one with `genomix features annotate`")
        table = pq.read_table(path)
        metadata = json.loads((table.schema.metadata or {}).get(b"genomix_atlas", b"{}"))
        concepts = concepts_path(path)
        return cls(table.to_pandas(), metadata, pd.read_parquet(concepts) if concepts.is_file() else None, path)

    def motif_collection(self) -> list | None:
        """The motifs (Motif) of the collection the atlas was built with: a JASPAR release or a MEME
        file; None when the atlas does not name one that can be read here."""
        from genomix.motifs.jaspar import load_jaspar, read_meme_motifs

        source = str(self.metadata.get("motif_source") or "")
        if source.startswith("JASPAR"):
            return load_jaspar(release=source)
        if source and Path(source).is_file():
            return read_meme_motifs(source)
        return None


@dataclass(frozen=True)
class AtlasOptions:
    """How an atlas is built. `windows` random windows of `window` bp are scanned, keeping each
    feature's `n_top` strongest examples with `flank` bp each side; a feature with `min_examples` or
    more gets a seqlet PPM. A TOMTOM match at q < `q_threshold` names it only when the motif has a site
    near at least `min_site_share` of its top examples (and far more often than near
    `background_positions` random positions; `min_site_share=None` turns that check off: TOMTOM alone
    names features); an annotation names it at held-out F1 > `min_f1`. Features are then grouped into
    concepts (`grouping`: `genomix.features.concepts.GroupingOptions`)."""

    windows: int = 2048
    window: int = 512
    q_threshold: float = 0.05
    min_f1: float = 0.5
    n_top: int = 100
    flank: int = 10
    min_examples: int = 20
    min_site_share: float | None = 0.25
    background_positions: int = 1000
    grouping: object = None


def build_atlas(
    sae: SAE,
    model,
    genome: Genome | str | Path,
    regions: Regions | None = None,
    annotations: pd.DataFrame | None = None,
    motifs: list | None = None,
    options: AtlasOptions | None = None,
    motif_source: str | None = None,
    progress=None,
    **overrides,
) -> FeatureAtlas:
    """Scan the genome (best on regions the SAE was not trained on), then name every feature
    (`options`: AtlasOptions, or its fields as keywords).

    `motifs` default to JASPAR's CORE vertebrates of the pinned release; `motif_source` names what
    was passed instead (a release, a MEME file) for the atlas' provenance."""
    from genomix.features.annotations import annotation_f1, best_annotation
    from genomix.features.concepts import GroupingOptions, concept_ids, group_features
    from genomix.features.examples import top_examples
    from genomix.features.motifs import SiteSupport, match_motifs, seqlet_ppm, trim
    from genomix.motifs.jaspar import DEFAULT_RELEASE, load_jaspar

    options = replace(options or AtlasOptions(), **overrides)
    grouping = options.grouping or GroupingOptions()
    windows, window, n_top, flank = options.windows, options.window, options.n_top, options.flank
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    regions = regions or Regions.whole_genome(genome)
    motifs_given, motifs = motifs, motifs if motifs is not None else load_jaspar()
    examples = top_examples(sae, model, genome, regions, windows=windows, window=window, n_top=n_top, flank=flank)
    if progress:
        progress("examples")
    ppms, trimmed = {}, {}
    for feature in range(sae.d_sae):
        if len(examples.seqlets[feature]) >= options.min_examples:
            ppms[feature] = seqlet_ppm(examples.seqlets[feature])
            core, _ = trim(ppms[feature])
            if core is not None:
                trimmed[feature] = core
    reach = flank + max((len(m.ppm) for m in motifs), default=0)
    contexts = {
        f: [
            genome.fetch(examples.contigs[c], p - reach, p + reach + 1)
            for c, p, a in zip(examples.contig[f], examples.position[f], examples.activation[f])
            if a > 0
        ]
        for f in trimmed
    }
    background = [
        genome.fetch(contig, start, start + 2 * reach + 1)
        for contig, start in regions.draw(np.random.default_rng(3), options.background_positions, 2 * reach + 1)
    ]
    support = (
        None
        if options.min_site_share is None
        else SiteSupport(contexts, background, reach, flank=flank, min_share=options.min_site_share)
    )
    matches = match_motifs(trimmed, motifs, options.q_threshold, support=support).set_index("feature")
    if progress:
        progress("motifs")
    table = pd.DataFrame(
        {"feature": np.arange(sae.d_sae), "frequency": examples.frequency, "max_activation": examples.max_activation}
    )
    table = table.join(
        matches.rename(
            columns={
                "p": "tomtom_p",
                "q": "tomtom_q",
                "strand": "motif_strand",
                "offset": "motif_offset",
                "overlap": "motif_overlap",
                "labelled": "motif_labelled",
                "matches": "motif_matches",
                "site_share": "motif_site_share",
                "site_background": "motif_site_background",
            }
        ),
        on="feature",
    )
    families = {m.matrix_id: m.family or None for m in motifs}
    table.insert(table.columns.get_loc("tf_name") + 1, "motif_family", table.motif_id.map(families))
    if annotations is not None and len(annotations):
        scores = best_annotation(
            annotation_f1(
                sae, model, genome, annotations, examples.max_activation, regions, windows=windows, window=window
            )
        )
        table = table.merge(
            scores.rename(
                columns={
                    "f1": "annotation_f1",
                    "precision": "annotation_precision",
                    "recall": "annotation_recall",
                    "threshold": "annotation_threshold",
                }
            ).drop(columns=["f1_selection", "precision_selection", "base_rate_selection", "base_rate"]),
            on="feature",
            how="left",
        )
        if progress:
            progress("annotations")
    else:
        table["annotation"], table["annotation_f1"] = None, np.nan
    motif_ok = table.motif_labelled.fillna(False).astype(bool)
    annotation_ok = ~motif_ok & (table.annotation_f1.fillna(0) > options.min_f1)
    table["label"] = np.where(motif_ok, table.tf_name, np.where(annotation_ok, table.annotation, "unlabelled"))
    table["label_kind"] = np.where(motif_ok, "motif", np.where(annotation_ok, "annotation", "unlabelled"))
    table["motif_labelled"] = motif_ok
    table["ppm"] = [ppms[f].round(4).tolist() if f in ppms else None for f in table.feature]
    table["top_examples"] = [
        [
            f"{examples.contigs[c]}:{p + 1}"
            for c, p, a in zip(examples.contig[f], examples.position[f], examples.activation[f])
            if a > 0
        ]
        for f in table.feature
    ]
    table["top_activations"] = [[round(float(a), 4) for a in examples.activation[f] if a > 0] for f in table.feature]
    metadata = {
        "sae": sae.metadata.get("model_name"),
        "hook_name": sae.metadata.get("hook_name"),
        "model_fingerprint": sae.metadata.get("model_fingerprint"),
        "motif_source": motif_source or (DEFAULT_RELEASE if motifs_given is None else "given"),
        "motifs": len(motifs),
        "q_threshold": options.q_threshold,
        "min_site_share": options.min_site_share,
        "site_p_value": support.p_value if support else None,
        "min_f1": options.min_f1,
        "windows": windows,
        "window": window,
        "positions": examples.positions_seen,
        "flank": flank,
        "regions": sorted(set(regions.contigs)),
    }
    atlas = FeatureAtlas(table, metadata)
    atlas.concepts = group_features(sae, atlas, grouping)
    atlas.table["concept"] = concept_ids(atlas.concepts, sae.d_sae)
    atlas.metadata["grouping"] = grouping.__dict__
    return atlas


def text_logo(ppm, height: int = 4) -> list[str]:
    """A logo in text: per column, the bases above 1/4 stacked by probability (top line = most
    likely), upper case where the column carries at least one bit."""
    from genomix.features.motifs import information
    from genomix.sequence import ALPHABET

    ppm = np.asarray(ppm)
    bits = information(ppm)
    lines = [[" "] * len(ppm) for _ in range(height)]
    for column, probabilities in enumerate(ppm):
        order = [i for i in np.argsort(-probabilities) if probabilities[i] > 0.25][:height]
        for row, base in enumerate(order):
            letter = ALPHABET[base]
            lines[row][column] = letter if bits[column] >= 1 else letter.lower()
    return ["".join(line).rstrip() for line in lines if any(c != " " for c in line)]


def feature_card(atlas: FeatureAtlas, feature: int) -> str:
    """What `genomix features show` prints."""
    row = atlas.table.loc[atlas.table.feature == feature].iloc[0]
    lines = [
        f"feature {feature}: {row.label} ({row.label_kind})",
        f"  fires at {row.frequency:.3%} of positions; max activation {row.max_activation:.3f}",
    ]
    if isinstance(row.get("tf_name"), str):
        lines.append(
            f"  best motif match: {row.tf_name} {row.motif_id} (TOMTOM p {row.tomtom_p:.2e}, q {row.tomtom_q:.2e}, "
            f"strand {row.motif_strand}); names that pass: {', '.join(row.motif_matches) or 'none'}"
        )
        if pd.notna(row.get("motif_site_share")):
            lines.append(
                f"  its sites lie near {row.motif_site_share:.0%} of the top examples "
                f"({row.motif_site_background:.1%} of random positions)"
            )
    if isinstance(row.get("annotation"), str):
        lines.append(
            f"  best annotation: {row.annotation} (held-out F1 {row.annotation_f1:.3f}, precision "
            f"{row.annotation_precision:.3f}, recall {row.annotation_recall:.3f})"
        )
    if row.ppm is not None:
        lines.append("  seqlet logo (centre = the peak):")
        lines += ["    " + line for line in text_logo(np.array([list(c) for c in row.ppm]))]
    examples = ", ".join(
        f"{where} ({value:.2f})" for where, value in zip(row.top_examples[:10], row.top_activations[:10])
    )
    lines.append(f"  top examples ({len(row.top_examples)} kept): {examples or 'none'}")
    return "\n".join(lines)
