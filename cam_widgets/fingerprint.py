"""Notice when the data behind a cached forward pass has changed, including writes that bypass
autograd's version counter (``param.data.copy_(ema)``, ``x.data.mul_(2)``, a NumPy array behind
``torch.from_numpy`` written in place).

* The input is kept as a copy and compared exactly (``torch.equal``): it is small next to the
  activations a session already holds, and the comparison reads it twice.
* The weights (every parameter and buffer) are summarised by a fingerprint that reads each value
  once: for a floating tensor ``t`` flattened and cut into rows of ``L = 4096`` values,

      f(t) = T r,   T = the rows of t (one per row),   r_i = s_i u_i,  s_i = +-1,  u_i in [1, 2)

  (tensors whose size is not a whole number of rows, the small ones included, are concatenated
  first and treated as one; the last partial row is dotted with the first multipliers), with
  ``r`` fixed (seeded) for the process. Every position has its own multiplier, so a change of
  any value, a swap of two filters or a permutation changes ``f`` (up to float rounding: a change
  smaller than about 1e-7 of a row's ``|T r|`` can go unnoticed, which is below what the model's
  own float32 arithmetic resolves). Non-floating tensors (``num_batches_tracked``) are kept as
  copies. Together with each tensor's identity (storage, shape, dtype, device, ``_version``) the
  fingerprint is compared exactly; any difference means "recompute".

This module imports nothing from the package.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import torch
from torch import Tensor, nn

ROW = 4096
_GENERATOR = torch.Generator().manual_seed(20261201)
_MULTIPLIERS = (1 + torch.rand(ROW, generator=_GENERATOR, dtype=torch.float64)) * torch.where(
    torch.rand(ROW, generator=_GENERATOR) < 0.5, -1.0, 1.0
).double()
_CACHE: dict[tuple[torch.dtype, torch.device], Tensor] = {}


def _multipliers(dtype: torch.dtype, device: torch.device) -> Tensor:
    key = (dtype, device)
    if key not in _CACHE:
        _CACHE[key] = _MULTIPLIERS.to(device=device, dtype=dtype)
    return _CACHE[key]


def _rows(flat: Tensor) -> Tensor:
    """``T r`` for a floating tensor of a whole number of rows."""
    return torch.mv(flat.reshape(-1, ROW), _multipliers(flat.dtype, flat.device))


def fingerprints(tensors: Iterable[Tensor]) -> Tensor:
    """``f`` of many tensors as one 1-D float64 tensor, with few operations per tensor (the check
    runs on every call, so dispatch overhead matters as much as memory bandwidth): a float32 / float64
    tensor of whole rows in one ``mv``; the others of each dtype and device (the small ones: biases,
    norm parameters; those of odd sizes) flattened into one buffer in one C++ call and done the same
    way, its last partial row dotted with the first multipliers; non-floating tensors kept as copies."""
    pieces: list[Tensor] = []
    rest: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
    with torch.no_grad():
        for tensor in tensors:
            if tensor.is_complex():
                tensor = torch.view_as_real(tensor)
            if not tensor.is_floating_point():
                pieces.append(tensor.reshape(-1).to(torch.float64, copy=True))
            elif tensor.numel() % ROW == 0 and tensor.dtype in (torch.float32, torch.float64):
                pieces.append(_rows(tensor))
            else:
                rest.setdefault((tensor.dtype, tensor.device), []).append(tensor)
        for group in rest.values():
            joined = torch._utils._flatten_dense_tensors(group)
            joined = joined.float() if joined.dtype in (torch.float16, torch.bfloat16) else joined
            whole = joined.numel() // ROW * ROW
            if whole:
                pieces.append(_rows(joined[:whole]))
            pieces.append((joined[whole:] @ _multipliers(joined.dtype, joined.device)[: joined.numel() - whole])[None])
    if not pieces:
        return torch.zeros(0, dtype=torch.float64)
    if len({p.device for p in pieces}) > 1:
        pieces = [p.cpu() for p in pieces]
    return torch.cat(pieces).double()


def tensor_fingerprint(tensor: Tensor) -> Tensor:
    """``f(t)`` of one tensor (``fingerprints`` of ``[t]``)."""
    return fingerprints([tensor])


def identity(tensor: Tensor) -> tuple:
    """What changes when a tensor is replaced or written through autograd: its storage, layout and
    version (inference tensors have none: their values are still fingerprinted)."""
    try:
        version = tensor._version
    except RuntimeError:
        version = None
    return (tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), tensor.dtype, tensor.device, version)


def model_tensors(model: nn.Module) -> list[Tensor]:
    return list(itertools.chain(model.parameters(), model.buffers()))


class WeightsFingerprint:
    """The state of a model's parameters and buffers. ``==`` is True only when nothing changed
    (``check_values=False`` compares identities only: for users who promise not to write weights
    through ``.data``)."""

    def __init__(self, tensors: Iterable[Tensor], check_values: bool = True):
        tensors = list(tensors)
        self.identities = tuple(identity(t) for t in tensors)
        self.values = fingerprints(tensors) if check_values else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WeightsFingerprint) or self.identities != other.identities:
            return False
        if self.values is None or other.values is None:
            return self.values is None and other.values is None
        return torch.equal(self.values, other.values)

    __hash__ = None  # mutable-content comparison, not a dict key


class InputSnapshot:
    """An exact copy of an input, to tell whether a later tensor holds the same values."""

    def __init__(self, x: Tensor):
        self.copy = x.detach().clone()

    def matches(self, x: Tensor) -> bool:
        c = self.copy
        return x.shape == c.shape and x.dtype == c.dtype and x.device == c.device and torch.equal(x.detach(), c)
