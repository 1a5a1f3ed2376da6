"""The merge both memories share: of K+1 weighted points, the pair whose merge least increases the
weighted sum of squares (Ward's criterion w_i w_j / (w_i + w_j) |x_i - x_j|^2), the exact optimum of
weighted k-means for K+1 points into K. Distances come from a Gram matrix; indices stay on the device."""

from __future__ import annotations

import math

import torch


def cheapest_pair(gram: torch.Tensor, weight: torch.Tensor, lower: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(i, j), each a [1] index tensor on the device with i < j: the pair to merge. `lower` masks the
    pairs (i, j) with i >= j."""
    n = gram.shape[0]
    sq = gram.diagonal()
    d2 = (sq[:, None] + sq[None, :] - 2.0 * gram).clamp_min_(0.0)
    cost = (weight[:, None] * weight[None, :] / (weight[:, None] + weight[None, :])) * d2
    cost.masked_fill_(lower, math.inf)
    flat = cost.view(-1).argmin().view(1)
    return flat // n, flat % n
