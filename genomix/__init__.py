"""genomix: variant hypotheses from DNA foundation models.

Names are imported on first use, so `genomix --help` and error messages do not wait for torch.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("genomix")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

_EXPORTS = {
    "GenomixError": "genomix.errors",
    "Genome": "genomix.io.genome",
    "Variant": "genomix.io.variants",
    "read_variants": "genomix.io.variants",
    "Window": "genomix.io.windows",
    "make_window": "genomix.io.windows",
    "GenomicModel": "genomix.models.base",
    "load_model": "genomix.models.registry",
    "score": "genomix.pipelines",
    "ScoreOptions": "genomix.scoring",
    "score_variants": "genomix.scoring",
    "score_windows": "genomix.scoring",
    "SAE": "genomix.sae.base",
    "load_sae": "genomix.sae.formats",
    "train_sae": "genomix.sae.train",
    "TrainingPlan": "genomix.sae.train",
    "evaluate_sae": "genomix.sae.metrics",
    "FeatureAtlas": "genomix.features.atlas",
    "build_atlas": "genomix.features.atlas",
    "AtlasOptions": "genomix.features.atlas",
    "explain": "genomix.pipelines",
    "load_explainer": "genomix.pipelines",
    "Explainer": "genomix.hypotheses",
    "ExplainOptions": "genomix.hypotheses",
    "Hypothesis": "genomix.hypotheses",
    "concepts": "genomix.features.concepts",
    "saturation_mutagenesis": "genomix.mutagenesis",
    "Mutagenesis": "genomix.mutagenesis",
    "Genes": "genomix.io.genes",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'genomix' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
