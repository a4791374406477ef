"""Train the demo model: a dilated residual ConvNet masked LM on the demo genome's training contigs.

    genomix demo model --genome data/demo/genome.fa.gz --out data/demo/model --steps 4800

Fixed seed, fixed number of steps; a checkpoint every `checkpoint_every` steps lets an
interrupted run continue where it stopped when started again with the same arguments.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from genomix.io.genome import Genome
from genomix.models.convnet import DNA_VOCABULARY, ConvNetConfig, ConvNetForMaskedLM, dna_tokenizer
from genomix.sae.train import read_checkpoint, save_checkpoint

log = logging.getLogger("genomix")

DEMO_CONFIG = dict(
    hidden_size=96, num_hidden_layers=6, intermediate_size=192, kernel_size=9, dilations=[1, 2, 4, 8, 16, 32]
)


def encode(seq: str) -> np.ndarray:
    """Token ids of an upper-case DNA string in DNA_VOCABULARY."""
    lookup = np.full(256, DNA_VOCABULARY.index("N"), dtype=np.int64)
    for base in "ACGTN":
        lookup[ord(base)] = DNA_VOCABULARY.index(base)
    return lookup[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]


def training_batches(
    contigs: list[np.ndarray], batch_size: int, length: int, mask_rate: float, rng: np.random.Generator
):
    """Endless (input_ids, labels) batches of random windows with `mask_rate` of positions masked."""
    sizes = np.array([len(c) - length for c in contigs], dtype=float)
    weights = sizes / sizes.sum()
    mask_id = DNA_VOCABULARY.index("<mask>")
    while True:
        which = rng.choice(len(contigs), size=batch_size, p=weights)
        starts = [int(rng.integers(0, len(contigs[c]) - length)) for c in which]
        ids = np.stack([contigs[c][s : s + length] for c, s in zip(which, starts)])
        masked = rng.random(ids.shape) < mask_rate
        labels = np.where(masked, ids, -100)
        inputs = np.where(masked, mask_id, ids)
        yield torch.from_numpy(inputs), torch.from_numpy(labels)


def train_demo_model(
    genome_path: Path,
    out: Path,
    held_out: str,
    steps: int = 4800,
    batch_size: int = 32,
    length: int = 512,
    learning_rate: float = 2e-3,
    seed: int = 0,
    checkpoint_every: int = 100,
    config: dict | None = None,
) -> ConvNetForMaskedLM:
    """Train and save the model folder `out` (config, safetensors, tokenizer); returns the model."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    genome = Genome(genome_path)
    contigs = [encode(genome.fetch(c, 0, genome.lengths[c])) for c in genome.contigs if c != held_out]
    model = ConvNetForMaskedLM(ConvNetConfig(**(config or DEMO_CONFIG)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "training_checkpoint.pt"
    arguments = dict(
        genome=str(genome_path),
        held_out=held_out,
        steps=steps,
        batch_size=batch_size,
        length=length,
        learning_rate=learning_rate,
        seed=seed,
        config=config or DEMO_CONFIG,
    )
    step = 0
    batches = training_batches(contigs, batch_size, length, 0.15, rng)
    if checkpoint.exists():
        state = read_checkpoint(checkpoint)
        if state.get("arguments") == arguments:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            rng.bit_generator.state = state["rng"]
            torch.set_rng_state(state["torch_rng"])
            step = state["step"]
            log.info("resuming demo model training at step %d of %d", step, steps)
    model.train()
    started, losses = time.time(), []
    while step < steps:
        inputs, labels = next(batches)
        loss = model(inputs, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(loss.item())
        if step % 20 == 0:
            log.info(
                "step %d/%d  loss %.4f  %.1f s/step",
                step,
                steps,
                np.mean(losses[-20:]),
                (time.time() - started) / len(losses),
            )
        if step % checkpoint_every == 0 or step == steps:
            save_checkpoint(
                dict(
                    arguments=arguments,
                    model=model.state_dict(),
                    optimizer=optimizer.state_dict(),
                    schedule=schedule.state_dict(),
                    rng=rng.bit_generator.state,
                    torch_rng=torch.get_rng_state(),
                    step=step,
                ),
                checkpoint,
            )
            model.eval()
            model.save_pretrained(out)
            dna_tokenizer().save_pretrained(out)
            model.train()
    model.eval()
    (out / "training.json").write_text(
        json.dumps(dict(arguments, final_loss=float(np.mean(losses[-50:] or [0]))), indent=1)
    )
    checkpoint.unlink(missing_ok=True)
    return model
