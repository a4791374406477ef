"""The feature atlas: what SAE features fire on, and the motifs and annotations they match."""
