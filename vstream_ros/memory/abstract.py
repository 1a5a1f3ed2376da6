"""The abstract part of the STAR memory: N_A 1x1 slots updated by semantic attention with the model's
q/k projections, A <- (1 - alpha) A + alpha softmax(q(A) k(E)^T / sqrt(h)) E, one committed update per
N_A buffered frames (as in training). Pure functions over the memory's tensors."""

from __future__ import annotations

import math

import torch
from torch import nn


def check_projections(q: nn.Module | None, k: nn.Module | None, dim: int) -> None:
    """ValueError unless q and k are both absent or both D -> h projections of one width."""
    if (q is None) != (k is None):
        raise ValueError("set both projections or neither")
    if q is not None:
        for name, m in (("q", q), ("k", k)):
            if getattr(m, "in_features", dim) != dim:
                raise ValueError(f"{name} projection takes {m.in_features} features, memory has {dim}")
        if getattr(q, "out_features", None) != getattr(k, "out_features", None):
            raise ValueError("q and k projections must have the same width")


@torch.no_grad()
def blend(A: torch.Tensor, E: torch.Tensor, q: nn.Module | None, k: nn.Module | None, alpha: float) -> torch.Tensor:
    """(1 - alpha) A + alpha softmax(q(A) k(E)^T / sqrt(h)) E: A's slots attend to the chunk E. Without
    projections q and k are the identity and h = D."""
    if q is None:
        qa, ke, h = A, E, A.shape[-1]
    else:
        p = next(q.parameters())
        qa = q(A.to(p.device, p.dtype)).float().to(A.device)
        ke = k(E.to(p.device, p.dtype)).float().to(A.device)
        h = qa.shape[-1]
    attn = torch.softmax(qa @ ke.T / math.sqrt(h), dim=-1)
    return (1.0 - alpha) * A + alpha * (attn @ E)
