"""The training losses over groups (a positive and its negatives, the positive in column 0).

`listwise`: softmax cross-entropy over the positive and its negatives; `bce`: pointwise. With distillation, a KL
term pulls the model's distribution over each group towards a teacher's (the teacher's scores are standardised per
group and scaled by 3, so teachers of any score range work).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from crossrank.errors import InputError
from crossrank.training.data import Group

Loss = Literal["listwise", "bce"]


def loss_function(kind: Loss, torch: Any) -> Callable[[Any], Any]:
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


def distill_loss(groups: Sequence[Group], logits: Any, torch: Any) -> Any:
    """Summed KL(teacher || model) over the groups' softmax distributions."""
    if any(g.teacher is None for g in groups):
        raise InputError("distillation needs teacher scores on every group (crossrank train --teacher ...)")
    teacher = torch.tensor([g.teacher for g in groups], dtype=logits.dtype, device=logits.device)
    teacher = (teacher - teacher.mean(dim=1, keepdim=True)) / (teacher.std(dim=1, keepdim=True) + 1e-6) * 3.0
    return torch.nn.functional.kl_div(
        torch.log_softmax(logits, dim=1), torch.log_softmax(teacher, dim=1), log_target=True, reduction="sum"
    )
