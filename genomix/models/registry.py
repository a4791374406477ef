"""`load_model`, the one way to get a GenomicModel: the backend (`genomix.models.base.BACKENDS`) is the
one named, or the first whose `claims` the model's config."""

from __future__ import annotations

import contextlib
import os
import sys

import torch

from genomix.errors import GenomixError
from genomix.models.base import BACKENDS, GenomicModel, resolve_dtype


def load_model(
    name_or_path: str | os.PathLike,
    backend: str | None = None,
    device: str | None = None,
    trust_remote_code: bool = False,
    dtype: str | None = "auto",
) -> GenomicModel:
    """Load a DNA model by hub id, local folder, `demo`, or a name a backend loads by (`spliceai`); the
    backend is inferred from the model's config. `dtype`: auto (bfloat16 on a GPU that supports it,
    float32 on CPU), float32, bfloat16 or float16. What model packages print while loading goes to
    stderr, so that stdout carries only genomix's output (`genomix score -o - | bcftools view`)."""
    with contextlib.redirect_stdout(sys.stderr):
        return _load_model(name_or_path, backend, device, trust_remote_code, dtype)


def _load_model(name_or_path, backend, device, trust_remote_code, dtype) -> GenomicModel:
    import genomix.models.evo2  # noqa: F401  (registers the evo2 backend; vortex is imported when a model loads)
    import genomix.models.gpn  # noqa: F401  (registers the gpn backend and, before it, the hf-* ones)
    import genomix.models.spliceai  # noqa: F401  (registers the spliceai backend; its weights load when asked)
    from genomix.paths import shipped

    if dtype not in (None, "auto"):
        resolve_dtype(dtype, torch.device("cpu"))  # refuse an unknown name before anything loads
    source = str(shipped(name_or_path, "model"))
    named = [name for name, cls in BACKENDS.items() if source in getattr(cls, "names", ())]
    if backend is None and named:
        backend = named[0]
    if backend is not None:
        if backend not in BACKENDS:
            raise GenomixError(f"unknown backend {backend!r}; choose one of {', '.join(sorted(BACKENDS))}")
        chosen = BACKENDS[backend]
    else:
        from genomix.models.huggingface import read_config

        config = read_config(source, trust_remote_code)
        # A backend for one family (gpn) comes before the generic hf-* ones that would also claim it.
        ordered = sorted(BACKENDS.values(), key=lambda cls: getattr(cls, "generic", False))
        chosen = next((cls for cls in ordered if cls.claims(source, config)), None)
    if chosen is not None:
        model = chosen(source, device=device, trust_remote_code=trust_remote_code, dtype=dtype)
        model.name = str(name_or_path)  # `demo`, not the folder it happens to be installed in
        return model
    raise GenomixError(
        f"no genomix backend recognises {name_or_path} (architectures: {getattr(config, 'architectures', None)}). "
        f"Name one: backend=NAME ({', '.join(sorted(BACKENDS))}).",
        option="backend",
    )
