"""SAEs with their models, and the feature atlas: `annotate` builds one and draws explain's nulls beside it."""

from __future__ import annotations

from pathlib import Path

from genomix.errors import GenomixError
from genomix.hypotheses import Explainer
from genomix.io.genome import Genome


def load_sae_and_model(
    sae, model: str | None = None, device: str | None = None, trust_remote_code: bool = False, dtype: str = "auto"
):
    """An SAE and the model it reads (named, or the one its cfg.json records), checked to match."""
    from genomix.models.registry import load_model
    from genomix.sae.formats import load_sae

    trained = load_sae(sae)
    name = model or trained.metadata.get("model_name")
    if not name:
        raise GenomixError(f"{sae} does not record its model; name the model it reads")
    loaded = load_model(name, device=device, trust_remote_code=trust_remote_code, dtype=dtype)
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
    dtype: str = "auto",
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
    trained, loaded = load_sae_and_model(sae, model, device, trust_remote_code, dtype)
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
