"""Model types that a package defines rather than transformers: the package is imported and its Auto
classes registered before transformers reads a folder of that type."""

from __future__ import annotations

from genomix.errors import GenomixError

GPN_MODEL_TYPES = ("GPN", "ConvNet", "GPNRoFormer")
GPN_STAR_MODEL_TYPES = ("GPNStar",)


def register_gpn_classes(model_type: str, source: str) -> None:
    """Import gpn and register its Auto classes, so that transformers can read a `model_type` folder."""
    if model_type in GPN_STAR_MODEL_TYPES:
        raise GenomixError(
            f"{source} is a GPN-Star model, which reads aligned genomes (an MSA) rather than one sequence; "
            "genomix scores single-sequence models only."
        )
    try:
        import gpn
    except ImportError as error:
        raise GenomixError(
            f"{source} is a GPN model (model_type {model_type}); install its package to load it: pip install gpn"
        ) from error
    gpn.register_auto_classes("gpn")


def register_package_classes(model_type: str | None, source: str) -> None:
    """Let transformers read a folder whose `model_type` a package defines (gpn's), importing that package."""
    if model_type in GPN_MODEL_TYPES + GPN_STAR_MODEL_TYPES:
        register_gpn_classes(model_type, source)
