"""DNA model backends behind one protocol."""

from genomix.models.base import GenomicModel, TokenBatch, layer_name
from genomix.models.registry import BACKENDS, load_model, register_backend

__all__ = ["BACKENDS", "GenomicModel", "TokenBatch", "layer_name", "load_model", "register_backend"]
