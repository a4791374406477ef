"""Sparse autoencoders: TopK and BatchTopK classes, training on streamed activations, metrics, file formats."""

from genomix.sae.base import ARCHITECTURES, SAE, BatchTopKSAE, ReLUSAE, TopKSAE
from genomix.sae.formats import load_sae
from genomix.sae.metrics import evaluate_sae
from genomix.sae.train import TrainingPlan, train_sae

__all__ = [
    "ARCHITECTURES",
    "SAE",
    "BatchTopKSAE",
    "ReLUSAE",
    "TopKSAE",
    "TrainingPlan",
    "evaluate_sae",
    "load_sae",
    "train_sae",
]
