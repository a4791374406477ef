"""Training an SAE on a model's activations at one layer, streamed from a genome.

The recipe of the TopK / BatchTopK papers and dictionary_learning: decoder bias initialised
at the geometric median of the first batch, unit-norm decoder rows (the gradient component
along each row removed before a step), Adam with warm-up and a final linear decay, and an
auxiliary loss (AuxK) that reconstructs the residual from the top dead latents. Latents
still dead at a resampling point are re-initialised toward badly reconstructed inputs.

A checkpoint every `checkpoint_every` steps lets an interrupted run, started again with the
same arguments, continue where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
import math
import pickle
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from genomix.errors import GenomixError, Interrupted
from genomix.io.genome import Genome
from genomix.io.outputs import written_whole
from genomix.sae.activations import Regions, activation_stream
from genomix.sae.base import ARCHITECTURES, SAE, BatchTopKSAE, model_fingerprint

log = logging.getLogger("genomix")


@dataclass
class TrainingPlan:
    """Everything that decides the result of a run (a checkpoint resumes only under the same plan)."""

    layer: str
    d_sae: int
    k: int
    architecture: str = "batchtopk"
    tokens: int = 10_000_000
    batch_size: int = 4096
    window: int = 512
    windows_per_batch: int = 16
    lr: float | None = None
    auxk_alpha: float = 1 / 32
    dead_after_tokens: int | None = None
    resample_every: int | None = None
    seed: int = 0

    @property
    def steps(self) -> int:
        return max(1, math.ceil(self.tokens / self.batch_size))

    @property
    def learning_rate(self) -> float:
        return self.lr or 2e-4 / math.sqrt(self.d_sae / 2**14)

    @property
    def dead_after(self) -> int:
        """Tokens without firing after which a latent counts as dead: 10 M, or a twentieth of a shorter
        run, and never fewer than ten batches."""
        return self.dead_after_tokens or max(10 * self.batch_size, min(10_000_000, self.tokens // 20))

    @property
    def resample_steps(self) -> list[int]:
        """Steps at which dead latents are resampled: every tenth of the run until 70 % of it."""
        every = self.resample_every or max(1, self.steps // 10)
        return [s for s in range(every, int(0.7 * self.steps) + 1, every)]


def geometric_median(points: torch.Tensor, iterations: int = 100, tol: float = 1e-5) -> torch.Tensor:
    """Weiszfeld's algorithm."""
    guess = points.mean(dim=0)
    for _ in range(iterations):
        weights = 1 / (points - guess).norm(dim=1).clamp_min(1e-8)
        new = (weights[:, None] * points).sum(dim=0) / weights.sum()
        if (new - guess).norm() < tol:
            return new
        guess = new
    return guess


def learning_rate_factor(step: int, steps: int) -> float:
    """Linear warm-up over the first 5 % of steps, linear decay to zero over the last 20 %."""
    warmup, decay = max(1, steps // 20), max(1, steps // 5)
    return min(1.0, (step + 1) / warmup, (steps - step) / decay)


class Trainer:
    """One SAE, its optimizer and its dead-latent bookkeeping; `step(x)` trains on one batch."""

    def __init__(self, sae: SAE, plan: TrainingPlan):
        self.sae, self.plan = sae, plan
        self.optimizer = torch.optim.Adam(sae.parameters(), lr=plan.learning_rate, betas=(0.9, 0.999))
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: learning_rate_factor(s, plan.steps))
        self.since_fired = torch.zeros(sae.d_sae, dtype=torch.long, device=sae.W_enc.device)
        self.step_index = 0
        self.input_scale: float | None = None

    def auxiliary_loss(self, residual: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        """AuxK: the top `d_in / 2` dead latents reconstruct the residual, normalised by its variance."""
        dead = self.since_fired >= self.plan.dead_after
        if not dead.any():
            return residual.new_zeros(())
        k_aux = min(self.sae.d_in // 2, int(dead.sum()))
        top = torch.where(dead, pre, torch.full_like(pre, -torch.inf)).topk(k_aux, dim=-1)
        codes = torch.zeros_like(pre).scatter(-1, top.indices, top.values.clamp_min(0))
        error = (residual - codes @ self.sae.W_dec).pow(2).sum(-1).mean()
        return (error / (residual - residual.mean(0)).pow(2).sum(-1).mean().clamp_min(1e-8)).nan_to_num(0.0)

    def step(self, x: torch.Tensor) -> dict[str, float]:
        sae, plan = self.sae, self.plan
        if self.step_index == 0:
            sae.b_dec.data = geometric_median(x)
        codes, pre = sae.encode_for_training(x)
        residual = x - sae.decode(codes)
        mse = residual.pow(2).sum(-1).mean()
        aux = self.auxiliary_loss(residual.detach(), pre)
        loss = mse + plan.auxk_alpha * aux
        loss.backward()
        sae.remove_parallel_gradient()
        torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        sae.normalize_decoder()
        fired = (codes > 0).any(0)
        self.since_fired += len(x)
        self.since_fired[fired] = 0
        if isinstance(sae, BatchTopKSAE) and self.step_index >= plan.steps // 2:
            sae.update_threshold(codes.detach(), beta=0.99)
        self.step_index += 1
        if self.step_index in plan.resample_steps:
            self.resample(x)
        variance = (x - x.mean(0)).pow(2).sum(-1).mean()
        mse, aux = mse.detach(), aux.detach()
        return {
            "mse": float(mse),
            "aux": float(aux),
            "explained": float(1 - mse / variance),
            "l0": float((codes > 0).sum(-1).float().mean()),
            "dead": float((self.since_fired >= plan.dead_after).float().mean()),
        }

    @torch.no_grad()
    def resample(self, x: torch.Tensor) -> int:
        """Point dead latents at inputs the SAE reconstructs worst; returns how many were resampled."""
        sae = self.sae
        dead = torch.nonzero(self.since_fired >= self.plan.dead_after).squeeze(1)
        if len(dead) == 0:
            return 0
        codes, _ = sae.encode_for_training(x)  # the sparse code training sees (BatchTopK's threshold may be unset)
        error = (x - sae.decode(codes)).pow(2).sum(-1)
        generator = torch.Generator().manual_seed(self.plan.seed * 1_000_003 + self.step_index)
        picks = torch.multinomial(
            (error / error.sum()).cpu(), len(dead), replacement=len(dead) > len(x), generator=generator
        ).to(x.device)
        directions = x[picks] - sae.b_dec
        directions /= directions.norm(dim=1, keepdim=True).clamp_min(1e-8)
        alive = torch.ones(sae.d_sae, dtype=torch.bool, device=x.device)
        alive[dead] = False
        scale = sae.W_enc[:, alive].norm(dim=0).mean() if alive.any() else 1.0
        sae.W_dec[dead] = directions
        sae.W_enc[:, dead] = directions.T * scale * 0.2
        sae.b_enc[dead] = 0.0
        for parameter in (sae.W_dec, sae.W_enc, sae.b_enc):
            state = self.optimizer.state.get(parameter)
            if state:
                for moment in ("exp_avg", "exp_avg_sq"):
                    if parameter is sae.W_enc:
                        state[moment][:, dead] = 0.0
                    else:
                        state[moment][dead] = 0.0
        self.since_fired[dead] = 0
        log.info("resampled %d dead latents at step %d", len(dead), self.step_index)
        return len(dead)

    def state(self) -> dict:
        return {
            "sae": self.sae.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "since_fired": self.since_fired,
            "step": self.step_index,
            "input_scale": self.input_scale,
        }

    def load_state(self, state: dict) -> None:
        self.sae.load_state_dict(state["sae"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.since_fired = state["since_fired"]
        self.step_index = state["step"]
        self.input_scale = state["input_scale"]


def read_checkpoint(path: Path, device=None) -> dict:
    """A training checkpoint, read as tensors and plain values only (`weights_only`): a file that holds
    anything else is refused, since unpickling it could run code. One cut short reads as {} (start over)."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        found = [line.split("error:", 1)[1].strip() for line in str(error).splitlines() if "Unpickler error:" in line]
        raise GenomixError(
            f"{path} holds more than tensors and plain values ({found[0] if found else 'not a checkpoint'}); "
            "genomix will not load it, since that could run code. Delete it to start training over."
        ) from error
    except Exception as error:  # noqa: BLE001 - a checkpoint cut short by a crash: start over rather than fail
        log.warning("cannot read %s (%s); starting over", path, error)
        return {}


def save_checkpoint(state: dict, path: Path) -> None:
    """Write `state` (tensors and plain values) whole: a crash mid-write leaves the previous checkpoint."""
    with written_whole([path]) as (partial,):
        torch.save(state, partial)


def _inputs_digest(genome: Genome, regions: Regions) -> str:
    """What the activations are drawn from: contig names and lengths, and the regions."""
    digest = hashlib.sha256(repr(sorted(genome.lengths.items())).encode())
    digest.update(repr(regions.contigs).encode())
    digest.update(regions.starts.tobytes() + regions.ends.tobytes())
    return digest.hexdigest()[:16]


def train_sae(
    model,
    genome: Genome | str | Path,
    out: str | Path,
    plan: TrainingPlan,
    regions: Regions | str | Path | None = None,
    model_name: str | None = None,
    checkpoint_every: int = 100,
    progress: Callable[[int, dict], None] | None = None,
) -> SAE:
    """Train an SAE on `model`'s activations at `plan.layer` over `genome` (or its `regions`), save it in `out`.

    `progress(step, metrics)` is called after every step. Interrupted and called again with the
    same plan and `out`, it resumes from the last checkpoint.
    """
    from genomix.models.base import layer_name
    from genomix.scoring import check_window

    genome = genome if isinstance(genome, Genome) else Genome(genome)
    plan = TrainingPlan(**{**asdict(plan), "layer": layer_name(plan.layer, model)})
    if plan.architecture not in ("topk", "batchtopk"):
        raise GenomixError(f"unknown SAE architecture {plan.architecture!r}; choose topk or batchtopk")
    if not 0 < plan.k <= plan.d_sae:
        raise GenomixError(f"k must be between 1 and d_sae ({plan.d_sae}); got {plan.k}")
    check_window(plan.window, model)
    if regions is None:
        regions = Regions.whole_genome(genome)
    elif not isinstance(regions, Regions):
        regions = Regions.from_bed(regions, genome)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metadata = {
        "model_name": model_name or model.name,
        "hook_name": plan.layer,
        "d_model": model.d_model,
        "model_fingerprint": model_fingerprint(model),
        "context_size": plan.window,
        "training": asdict(plan),
    }
    device = model.device
    sae = ARCHITECTURES[plan.architecture](model.d_model, plan.d_sae, plan.k, metadata, seed=plan.seed).to(device)
    trainer = Trainer(sae, plan)
    checkpoint = out / "training_checkpoint.pt"
    run = {
        "plan": asdict(plan),
        "fingerprint": metadata["model_fingerprint"],
        "inputs": _inputs_digest(genome, regions),
    }
    if checkpoint.exists():
        state = read_checkpoint(checkpoint, device)
        if all(state.get(key) == value for key, value in run.items()):
            trainer.load_state(state["trainer"])
            log.info("resuming SAE training at step %d of %d", trainer.step_index, plan.steps)
        elif state:
            log.warning(
                "%s holds a checkpoint of a different run (plan, model, genome or regions); starting over", checkpoint
            )
    stream = activation_stream(
        model,
        genome,
        plan.layer,
        regions,
        plan.seed,
        start=trainer.step_index,
        length=plan.window,
        n_windows=plan.windows_per_batch,
        size=plan.batch_size,
    )
    sae.train()
    metrics: dict[str, float] = {}
    saved = trainer.step_index  # the step the checkpoint holds (0: none of this run)
    try:
        while trainer.step_index < plan.steps:
            x = next(stream).to(device)
            if trainer.input_scale is None:  # inputs scaled to a mean norm of sqrt(d_in), folded back at the end
                trainer.input_scale = math.sqrt(sae.d_in) / float(x.norm(dim=1).mean())
            metrics = trainer.step(x * trainer.input_scale)
            if progress:
                progress(trainer.step_index, metrics)
            if trainer.step_index % checkpoint_every == 0 and trainer.step_index < plan.steps:
                save_checkpoint(run | {"trainer": trainer.state()}, checkpoint)
                saved = trainer.step_index
    except Interrupted as stop:
        resume = f"{checkpoint} holds step {saved}, where the same command goes on" if saved else "no checkpoint yet"
        stop.left.append(f"SAE training stopped at step {trainer.step_index} of {plan.steps}; {resume}")
        raise
    sae.eval()
    sae.fold_input_scale(trainer.input_scale)
    sae.metadata["training_final"] = {k: round(v, 5) for k, v in metrics.items()}  # mse on inputs * input_scale
    sae.metadata["input_scale"] = trainer.input_scale
    sae.save(out)
    checkpoint.unlink(missing_ok=True)
    return sae
