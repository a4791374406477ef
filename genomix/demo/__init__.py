"""Builds genomix shipped artefacts reproducibly."""
