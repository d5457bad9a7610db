"""The training loop: token-budget micro-batches of groups, gradient accumulation, held-out evaluation each epoch,
checkpoint and resume, early stop, the best model saved as a Hugging Face folder. On a GPU when torch sees one.

Losses: `listwise` (softmax cross-entropy over the positive and its negatives) or `bce` (pointwise); with
`distill > 0`, a KL term pulls the model's distribution over each group towards a teacher's (the teacher's
scores are standardised per group and scaled by 3, so teachers of any score range work).
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from crossrank.batching import concat, pad_batch
from crossrank.errors import InputError
from crossrank.hf import hf_quiet, require_torch
from crossrank.outputs import MODEL, check_output, follow_umask, mark_output
from crossrank.progress import progress_bar
from crossrank.tokenization import PairEncoder, load_tokenizer
from crossrank.training.data import Group
from crossrank.training.layers import freeze_below

log = logging.getLogger(__name__)
Loss = Literal["listwise", "bce"]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Every setting that shapes the trained model (saved beside it)."""

    base: str
    out: str
    epochs: int = 1
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup: float = 0.1
    loss: Loss = "listwise"
    max_length: int = 256
    groups_per_step: int = 8
    token_budget: int = 4096
    num_layers: int | None = None
    train_layers: int | None = None  # train only the top N encoder layers and the head (None: every weight)
    seed: int = 0
    holdout: float = 0.05
    patience: int = 2
    distill: float = 0.0  # weight of the KL term towards the teacher's distribution (0: labels only)
    checkpoint_every: int = 50
    threads: int | None = None
    # how the groups were made (`train` takes them ready; kept so a model folder says what it learned from)
    base_name: str | None = None  # the --base as given ("splade-tiny", "default", a hub id, a folder)
    sources: tuple[str, ...] = ()
    split: str | None = None
    negatives: int | None = None
    limit: int | None = None
    teachers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EpochResult:
    epoch: int
    train_loss: float
    heldout_accuracy: float
    heldout_mrr: float
    seconds: float

    def __str__(self) -> str:
        held_out = f"held-out accuracy {self.heldout_accuracy:.3f}, MRR {self.heldout_mrr:.3f}"
        return f"epoch {self.epoch}: loss {self.train_loss:.4f}, {held_out} ({self.seconds:.0f} s)"


@dataclass
class TrainState:
    """Where a run stands: the epoch, the next group within it, the epochs so far and the early-stop counters.

    Saved in the checkpoint as a plain dict (`as_saved`), so a checkpoint outlives changes to this class.
    """

    epoch: int = 0
    cursor: int = 0
    history: list[EpochResult] = field(default_factory=list)
    best_mrr: float = -1.0
    bad_epochs: int = 0

    def as_saved(self) -> dict[str, Any]:
        return {**asdict(self), "history": [asdict(h) for h in self.history]}

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> TrainState:
        return cls(
            epoch=int(saved["epoch"]),
            cursor=int(saved["cursor"]),
            history=[EpochResult(**h) for h in saved["history"]],
            best_mrr=float(saved["best_mrr"]),
            bad_epochs=int(saved["bad_epochs"]),
        )

    def end_epoch(self, result: EpochResult) -> bool:
        """Record a finished epoch; True when it is the best so far (held-out MRR), so the model is kept."""
        self.history.append(result)
        self.epoch += 1
        self.cursor = 0
        if result.heldout_mrr > self.best_mrr:
            self.best_mrr = result.heldout_mrr
            self.bad_epochs = 0
            return True
        self.bad_epochs += 1
        return False


def split_holdout(groups: Sequence[Group], *, fraction: float, seed: int) -> tuple[list[Group], list[Group]]:
    """Hold out a fraction of queries (all of a query's groups go to the same side)."""
    queries = sorted({g.query for g in groups})
    random.Random(seed).shuffle(queries)
    held = set(queries[: int(round(len(queries) * fraction))])
    return [g for g in groups if g.query not in held], [g for g in groups if g.query in held]


def train(
    groups: Sequence[Group],
    config: TrainConfig,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    show_progress: bool = False,
    time_limit_s: float | None = None,
) -> list[EpochResult]:
    """Fine-tune `config.base` on `groups`; the best epoch (held-out MRR) is saved to `config.out`.

    `stop_after` ends this run after that many epochs (the schedule stays the one for `config.epochs`), so a
    long training can be split across sittings with `resume=True`. `time_limit_s` ends the current epoch
    early once that many seconds have passed (it is evaluated and kept as any epoch), and trains no more.
    """
    require_torch("train")
    import torch

    if not groups:
        raise InputError("no training groups")
    sizes = {len(g.negatives) for g in groups}
    if len(sizes) != 1:
        raise InputError(f"every group needs the same number of negatives, got {sorted(sizes)}")
    out = check_output(Path(config.out), MODEL, inputs=[Path(config.base)])
    out.mkdir(parents=True, exist_ok=True)
    mark_output(out, MODEL)
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    train_groups, heldout = split_holdout(groups, fraction=config.holdout, seed=config.seed)
    run = _Run.start(config, steps=-(-len(train_groups) // config.groups_per_step) * config.epochs, torch=torch)
    checkpoint = _Checkpoint(out / "checkpoint", torch)
    state = checkpoint.restore(run) if resume else TrainState()
    give_up = None if time_limit_s is None else time.monotonic() + time_limit_s
    last_epoch = config.epochs if stop_after is None else min(config.epochs, state.epoch + stop_after)
    while state.epoch < last_epoch and state.bad_epochs < config.patience:
        started = time.perf_counter()
        losses = _epoch(run, train_groups, state, checkpoint, show_progress=show_progress, give_up=give_up)
        accuracy, mrr = evaluate_groups(run.model, heldout, run.encoder, torch)
        loss = float(np.mean(losses)) if losses else 0.0
        result = EpochResult(state.epoch + 1, loss, accuracy, mrr, time.perf_counter() - started)
        log.info("%s", result)
        if state.end_epoch(result):
            _save_model(run.model, Path(config.base), out, config, state.history)
        checkpoint.save(run, state)
        if give_up is not None and time.monotonic() >= give_up:
            log.info("time limit reached after %d groups of the epoch", len(losses) * config.groups_per_step)
            break
    return state.history


@dataclass
class _Run:
    """What one training run moves: the model, its optimizer and schedule, the encoder and the loss."""

    config: TrainConfig
    model: Any
    optimizer: Any
    scheduler: Any
    encoder: PairEncoder
    loss_fn: Callable[[Any], Any]
    torch: Any

    @classmethod
    def start(cls, config: TrainConfig, *, steps: int, torch: Any) -> _Run:
        """The base model with a one-logit head, AdamW (no decay on biases and norms), linear warm-up/decay."""
        from transformers import AutoConfig, AutoModelForSequenceClassification, get_linear_schedule_with_warmup

        base = Path(config.base)
        model_config = AutoConfig.from_pretrained(str(base), num_labels=1)
        if config.num_layers is not None:
            model_config.num_hidden_layers = config.num_layers
        with hf_quiet():
            model = AutoModelForSequenceClassification.from_pretrained(str(base), config=model_config)
        model.to("cuda" if torch.cuda.is_available() else "cpu")  # a GPU when torch sees one
        freeze_below(model, top_layers=config.train_layers)
        no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
        trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]  # all but what is frozen
        params = [
            {"params": [p for n, p in trained if not n.endswith(no_decay)], "weight_decay": config.weight_decay},
            {"params": [p for n, p in trained if n.endswith(no_decay)], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(params, lr=config.lr)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(steps * config.warmup), steps)
        encoder = PairEncoder(load_tokenizer(base), max_length=config.max_length)
        return cls(config, model, optimizer, scheduler, encoder, _loss(config.loss, torch), torch)


class _Checkpoint:
    """The run's state in `folder` (model, optimizer, schedule, random state, where the run stands), written
    whole to a temporary folder and renamed into place."""

    def __init__(self, folder: Path, torch: Any) -> None:
        self.folder = folder
        self.torch = torch

    def restore(self, run: _Run) -> TrainState:
        """Load the saved state into `run` and return where it stood (a fresh state when there is none)."""
        if not (self.folder / "state.pt").is_file():
            return TrainState()
        saved = self.torch.load(self.folder / "state.pt", weights_only=False, map_location=_device(run.model))
        run.model.load_state_dict(saved["model"])
        run.optimizer.load_state_dict(saved["optimizer"])
        run.scheduler.load_state_dict(saved["scheduler"])
        self.torch.set_rng_state(saved["torch_rng"].cpu())
        state = TrainState.from_saved(saved["state"])
        log.info("resumed at epoch %d, group %d", state.epoch, state.cursor)
        return state

    def save(self, run: _Run, state: TrainState) -> None:
        tmp = self.folder.with_name(".checkpoint.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        self.torch.save(
            {
                "model": run.model.state_dict(),
                "optimizer": run.optimizer.state_dict(),
                "scheduler": run.scheduler.state_dict(),
                "torch_rng": self.torch.get_rng_state(),
                "state": state.as_saved(),
            },
            tmp / "state.pt",
        )
        shutil.rmtree(self.folder, ignore_errors=True)
        tmp.rename(self.folder)


def _epoch(
    run: _Run,
    groups: Sequence[Group],
    state: TrainState,
    checkpoint: _Checkpoint,
    *,
    show_progress: bool,
    give_up: float | None,
) -> list[float]:
    """Train from `state.cursor` to the end of the epoch (or `give_up`); the losses of the steps taken."""
    config, torch = run.config, run.torch
    order = _epoch_order(groups, seed=config.seed + state.epoch)
    run.model.train()
    losses: list[float] = []
    with progress_bar(len(order), f"epoch {state.epoch + 1}/{config.epochs}", enabled=show_progress) as advance:
        advance(state.cursor)
        while state.cursor < len(order) and (give_up is None or time.monotonic() < give_up):
            step_groups = order[state.cursor : state.cursor + config.groups_per_step]
            losses.append(_step(run.model, step_groups, run.encoder, config, run.loss_fn, torch))
            torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
            run.optimizer.step()
            run.scheduler.step()
            run.optimizer.zero_grad()
            state.cursor += len(step_groups)
            advance(len(step_groups))
            if len(losses) % config.checkpoint_every == 0:
                checkpoint.save(run, state)
                log.info("epoch %d step %d loss %.4f", state.epoch + 1, len(losses), float(np.mean(losses[-50:])))
    return losses


def _loss(kind: Loss, torch: Any) -> Callable[[Any], Any]:
    """Logits of shape (groups, 1 + negatives), positive in column 0 -> mean loss per group."""
    if kind == "listwise":
        return lambda logits: torch.nn.functional.cross_entropy(
            logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device), reduction="sum"
        )
    if kind == "bce":

        def bce(logits: Any) -> Any:
            labels = torch.zeros_like(logits)
            labels[:, 0] = 1.0
            return (
                torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / logits.shape[1]
            )

        return bce
    raise InputError(f"unknown loss {kind!r}; choose listwise or bce")


def _distill_loss(groups: Sequence[Group], logits: Any, torch: Any) -> Any:
    """Summed KL(teacher || model) over the groups' softmax distributions."""
    if any(g.teacher is None for g in groups):
        raise InputError("distillation needs teacher scores on every group (crossrank train --teacher ...)")
    teacher = torch.tensor([g.teacher for g in groups], dtype=logits.dtype, device=logits.device)
    teacher = (teacher - teacher.mean(dim=1, keepdim=True)) / (teacher.std(dim=1, keepdim=True) + 1e-6) * 3.0
    return torch.nn.functional.kl_div(
        torch.log_softmax(logits, dim=1), torch.log_softmax(teacher, dim=1), log_target=True, reduction="sum"
    )


def _epoch_order(groups: Sequence[Group], *, seed: int) -> list[Group]:
    """Shuffled, then sorted by length inside chunks of 64 groups so micro-batches pad little."""
    shuffled = list(groups)
    random.Random(seed).shuffle(shuffled)
    ordered: list[Group] = []
    for start in range(0, len(shuffled), 64):
        chunk = shuffled[start : start + 64]
        chunk.sort(key=lambda g: len(g.positive) + sum(len(n) for n in g.negatives))
        ordered += chunk
    return ordered


def _step(
    model: Any, groups: Sequence[Group], encoder: PairEncoder, config: TrainConfig, loss_fn: Any, torch: Any
) -> float:
    """Forward and backward over one optimizer step's groups, in micro-batches within the token budget."""
    encoded = [encoder.encode(g.query, [g.positive, *g.negatives]) for g in groups]
    width = 1 + len(groups[0].negatives)
    total = 0.0
    start = 0
    while start < len(encoded):
        longest = 0
        end = start
        while end < len(encoded):
            longest = max(longest, max(len(ids) for ids in encoded[end].ids))
            if end > start and (end - start + 1) * width * longest > config.token_budget:
                break
            end += 1
        batch = pad_batch(concat(encoded[start:end], [width] * (end - start)), pad_id=encoder.pad_id)
        logits = _logits(model, batch, torch).view(end - start, width)
        loss = loss_fn(logits)
        if config.distill > 0:
            loss = (1 - config.distill) * loss + config.distill * _distill_loss(groups[start:end], logits, torch)
        loss = loss / len(groups)
        loss.backward()
        total += float(loss.detach())
        start = end
    return total


def evaluate_groups(model: Any, groups: Sequence[Group], encoder: PairEncoder, torch: Any) -> tuple[float, float]:
    """Held-out accuracy (positive scored above every negative) and MRR of the positive."""
    if not groups:
        return 0.0, 0.0
    model.eval()
    hits = 0
    reciprocal = 0.0
    with torch.inference_mode():
        for group in groups:
            pairs = encoder.encode(group.query, [group.positive, *group.negatives])
            batch = pad_batch(pairs, pad_id=encoder.pad_id)
            scores = _logits(model, batch, torch)[:, 0].float().cpu().numpy()
            rank = 1 + int(np.sum(scores[1:] >= scores[0]))
            hits += rank == 1
            reciprocal += 1.0 / rank
    model.train()
    return hits / len(groups), reciprocal / len(groups)


def _device(model: Any) -> Any:
    """Where the model's weights live (the CPU, or the GPU `_Run.start` chose)."""
    return next(model.parameters()).device


def _logits(model: Any, batch: dict[str, np.ndarray], torch: Any) -> Any:
    """The model's logits for a padded batch, moved to the model's device."""
    return model(**{k: torch.from_numpy(v).to(_device(model)) for k, v in batch.items()}).logits


def _save_model(model: Any, base: Path, out: Path, config: TrainConfig, history: list[EpochResult]) -> None:
    """The trained cross-encoder as a standard Hugging Face folder (sentence-transformers loads it too)."""
    from crossrank.basemodels import copy_tokenizer_files

    model.config.sentence_transformers = {"activation_fn": "torch.nn.modules.activation.Sigmoid"}
    with hf_quiet():
        model.save_pretrained(str(out))
    follow_umask(f for f in out.iterdir() if f.is_file() and f.suffix in (".safetensors", ".bin"))
    copy_tokenizer_files(base, out)
    tokenizer_config = out / "tokenizer_config.json"
    if tokenizer_config.is_file():
        data = json.loads(tokenizer_config.read_text())
        data["model_max_length"] = config.max_length
        tokenizer_config.write_text(json.dumps(data, indent=2))
    (out / "training.json").write_text(
        json.dumps({"config": asdict(config), "history": [asdict(h) for h in history]}, indent=2)
    )
