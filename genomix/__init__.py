"""genomix: variant hypotheses from DNA foundation models."""

from importlib.metadata import PackageNotFoundError, version

from genomix.errors import GenomixError
from genomix.io import Genome, Variant, Window, make_window, read_variants
from genomix.models import GenomicModel, load_model
from genomix.scoring import score, score_variants, score_windows

try:
    __version__ = version("genomix")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "Genome",
    "GenomicModel",
    "GenomixError",
    "Variant",
    "Window",
    "__version__",
    "load_model",
    "make_window",
    "read_variants",
    "score",
    "score_variants",
    "score_windows",
]
