"""DNA model backends behind one protocol."""

from genomix.models.base import BACKENDS, GenomicModel, TokenBatch, layer_name, register_backend
from genomix.models.registry import load_model

__all__ = ["BACKENDS", "GenomicModel", "TokenBatch", "layer_name", "load_model", "register_backend"]
