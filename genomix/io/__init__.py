"""Reading variants and the reference, and building ref/alt windows."""

from genomix.io.genome import Genome, resolve_contig
from genomix.io.variants import ReferenceCheck, Variant, read_variants
from genomix.io.windows import Window, make_window

__all__ = ["Genome", "ReferenceCheck", "Variant", "Window", "make_window", "read_variants", "resolve_contig"]
