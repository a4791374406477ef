"""`genomix models`: inspect DNA models."""

from __future__ import annotations

from typing import Optional

import typer

app = typer.Typer(no_args_is_help=True, help="Inspect DNA models.")


@app.command("info")
def info(
    model: str = typer.Argument("demo", help="Hub id, local model folder, or `demo`."),
    backend: Optional[str] = typer.Option(None, help="Model backend (default: from the model's config)."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow the model's own code to run."),
) -> None:
    """Print a model's kind, context, layers and width."""
    from genomix.models.registry import load_model

    loaded = load_model(model, backend=backend, device="cpu", trust_remote_code=trust_remote_code)
    from genomix.scoring import subword_tokens

    k = loaded.tokenizer.k if hasattr(loaded, "tokenizer") else 1
    tokens = "characters" if k == 1 else f"{k}-mers"
    if subword_tokens(loaded):
        tokens = "subwords (BPE), bases placed through the tokenizer's offsets"
    context = f"{loaded.context_bp} bp" if loaded.context_bp is not None else "not declared (windows of any length)"
    typer.echo(
        f"model    {loaded.name}\nbackend  {loaded.backend}\nkind     {loaded.kind}\ntokens   {tokens}\n"
        f"context  {context}\nd_model  {loaded.d_model}\n"
        f"layers   {len(loaded.layers)}: {loaded.layers[0]} .. {loaded.layers[-1]}"
    )
