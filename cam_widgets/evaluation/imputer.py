"""ROAD's noisy linear imputer (Rong et al. 2022), for inputs of any dimensionality, solved on the device.

Every removed value ``v_i`` is the weighted mean of its in-bounds neighbours (removed neighbours included):

    s_i v_i - sum_{j in N(i), j removed} w_ij v_j = sum_{j in N(i), j kept} w_ij x_j,    s_i = sum_{j in N(i)} w_ij

with ``N(i)`` the ``3^d - 1`` positions around ``i`` inside the input, ``w_ij = 1 / |i - j|^2`` normalised to sum 1 over
the whole stencil (2D: 1/6 for the edges, 1/12 for the diagonals: pytorch-grad-cam's ``NoisyLinearImputer``), then
``v_i + noise * N(0, 1)``. The channels are the right-hand sides of one system per sample; the system is symmetric
positive definite (diagonally dominant, strictly so next to a kept position) and is solved on x's device in float64
(the systems of disjoint masks, such as ROAD's MoRF at p and LeRF at 100 - p, as one: ``impute_disjoint``):

* 1D and 2D: directly, by nested dissection. The grid is cut recursively by one-position-thick separators and the
  pieces are eliminated from the smallest up, each level's pieces of every sample in one batched Cholesky of their
  dense fronts (a piece's own positions and the frame of positions around it; kept positions are identity rows).
  The tree and its index maps depend on the spatial shape only and are cached.
* 3D and up (where the fronts grow as N^(2/3) and the direct solve as N^2): Jacobi-preconditioned conjugate
  gradients on the removed positions, to a relative residual of 1e-11 per sample and channel.

With every position of a sample removed, no value is known and the system is singular: the imputed values are then
0 (its minimum-norm solution), plus the noise.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

_DIRECT_UP_TO = 2    # spatial dims solved directly (nested dissection); more: conjugate gradients
_LEAF = 32           # pieces of at most this many positions are eliminated whole, at the bottom of the tree
_MEMORY = 1 << 28    # bytes held at once: the systems are solved in chunks under it ...
_CACHE = 1 << 25     # ... and on the CPU in chunks whose direct solve's largest level fits in a cache
_CG_CACHE = 1 << 22  # ... or whose conjugate gradients' vectors do
_TOLERANCE = 1e-11   # conjugate gradients: relative residual


def stencil(ndim: int) -> list[tuple[tuple[int, ...], float]]:
    """``[(offset, w)]`` over the ``3^ndim - 1`` neighbours: ``w = (1 / |offset|^2) / sum(1 / |o|^2)``."""
    offsets = [o for o in itertools.product((-1, 0, 1), repeat=ndim) if any(o)]
    weights = [1.0 / sum(c * c for c in o) for o in offsets]
    total = sum(weights)
    return [(o, w / total) for o, w in zip(offsets, weights)]


def neighbour_sum(u: Tensor, ndim: int, labels: Tensor | None = None, same: bool = True) -> Tensor:
    """``sum_o w_o u[..., i + o]`` over the last ``ndim`` dims, positions outside the input counting 0; with ``labels``
    ``(B, *spatial)`` (``u``: ``(B, C, *spatial)``) only the neighbours of ``i``'s label (``same``) or of another."""
    spatial = u.shape[u.ndim - ndim:]
    padded = F.pad(u, (1, 1) * ndim)
    padded_labels = None if labels is None else F.pad(labels, (1, 1) * ndim)
    out = torch.zeros_like(u)
    for offset, w in stencil(ndim):
        window = (..., *(slice(1 + o, 1 + o + n) for o, n in zip(offset, spatial)))
        if labels is None:
            out.add_(padded[window], alpha=w)
        else:
            out.add_(padded[window] * ((padded_labels[window] == labels) == same)[:, None], alpha=w)
    return out


def noisy_linear_impute(x: Tensor, removed: Tensor, noise: float = 0.01,
                        generator: torch.Generator | None = None) -> Tensor:
    """``x`` ``(B, C, *spatial)`` with the ``removed`` positions ``(B, *spatial)`` (bool) filled by the linear
    imputation above plus ``noise * N(0, 1)``: sample ``b``'s noise is the ``b``-th draw of shape ``(C, *spatial)``
    from ``generator`` (the global generator when None), so it does not depend on how samples are batched.

    >>> filled = noisy_linear_impute(x, maps > maps.flatten(1).quantile(0.9, dim=1).view(-1, 1, 1), noise=0.0)
    """
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.ndim < 3:
        raise TypeError(f"x must be a floating-point tensor (B, C, *spatial), got "
                        f"{type(x).__name__ if not isinstance(x, Tensor) else f'{x.dtype} of shape {tuple(x.shape)}'}")
    if not isinstance(removed, Tensor) or removed.dtype != torch.bool:
        raise TypeError(f"removed must be a bool tensor (B, *spatial), got "
                        f"{removed.dtype if isinstance(removed, Tensor) else type(removed).__name__}")
    if tuple(removed.shape) != (x.shape[0], *x.shape[2:]):
        raise ValueError(f"removed has shape {tuple(removed.shape)}; for x of shape {tuple(x.shape)} it must be "
                         f"{(x.shape[0], *x.shape[2:])}, one mask per sample")
    if not isinstance(noise, (int, float)) or isinstance(noise, bool) or not noise >= 0:
        raise ValueError(f"noise must be a float >= 0 (the standard deviation added), got {noise!r}")
    removed = removed.to(x.device)
    return add_noise(linear_impute(x, removed), removed, noise, generator)


def add_noise(filled: Tensor, removed: Tensor, noise: float, generator: torch.Generator | None) -> Tensor:
    """``filled + noise * N(0, 1)`` at the removed positions: one ``(C, *spatial)`` draw per sample, in batch order."""
    if noise == 0:
        return filled
    draws = torch.stack([torch.randn(filled.shape[1:], generator=generator, dtype=filled.dtype, device=filled.device)
                         for _ in range(filled.shape[0])])
    return filled + noise * draws * removed[:, None]


def linear_impute(x: Tensor, removed: Tensor) -> Tensor:
    """The imputation without noise: ``x`` with each removed value the solution of the system above."""
    return impute_disjoint(x, removed)[0]


def impute_disjoint(x: Tensor, *removed: Tensor) -> list[Tensor]:
    """The noise-free imputations of ``x`` for several disjoint masks ``(B, *spatial)`` in one solve: their systems
    do not share a position, so they are the blocks of one system per sample (ROAD's MoRF at p and LeRF at 100 - p
    cover the input once: one solve of the whole grid instead of two)."""
    labels = torch.zeros(removed[0].shape, dtype=torch.int8, device=x.device)
    for n, mask in enumerate(removed, 1):
        labels += mask.to(device=x.device, dtype=torch.int8) * n
    if sum(int(m.sum()) for m in removed) != int((labels > 0).sum()):
        raise ValueError("impute_disjoint needs masks that remove no position twice")
    filled = _fill(x, labels)
    return [torch.where(mask.to(x.device)[:, None], filled, x) for mask in removed]


def _fill(x: Tensor, labels: Tensor) -> Tensor:
    """``(B, C, *spatial)`` the values at positions of label ``l > 0`` (``labels`` ``(B, *spatial)``): system ``l``'s
    unknowns, every other position known to it; 0 where one label covers the whole input (nothing known)."""
    ndim, batch = x.ndim - 2, x.shape[0]
    flat = labels.flatten(1)
    hopeless = (flat > 0).all(1) & (flat == flat[:, :1]).all(1)
    labels = labels * ~hopeless.view(-1, *[1] * ndim)
    if not bool((labels > 0).any()):
        return torch.zeros_like(x)
    values = x.double()
    rhs = neighbour_sum(values, ndim, labels, same=False) * (labels > 0)[:, None]   # the known neighbours' share
    if ndim <= _DIRECT_UP_TO:
        plan = _plan(tuple(x.shape[2:]), str(x.device))
        chunk = (_CACHE if x.device.type == "cpu" else _MEMORY) // plan.bytes_per_system(x.shape[1])
        solve = functools.partial(_direct, plan)
    else:
        chunk = (_CG_CACHE if x.device.type == "cpu" else _MEMORY) // (80 * values[0].numel())
        solve = _conjugate_gradients
    step = max(1, chunk)
    return torch.cat([solve(labels[s:s + step], rhs[s:s + step]) for s in range(0, batch, step)]).to(x.dtype)


def _conjugate_gradients(labels: Tensor, rhs: Tensor) -> Tensor:
    """Jacobi-preconditioned CG for ``A v = rhs`` on the labelled positions, every sample and channel at once."""
    ndim, dims = labels.ndim - 1, tuple(range(2, rhs.ndim))
    on = (labels > 0)[:, None].double()
    diagonal = neighbour_sum(torch.ones(labels.shape[1:], dtype=torch.float64, device=rhs.device), ndim)
    inverse = on / diagonal
    v, r = torch.zeros_like(rhs), rhs.clone()
    z = inverse * r
    p, rz = z, (r * z).sum(dims, keepdim=True)
    goal = _TOLERANCE ** 2 * rhs.square().sum(dims, keepdim=True)
    blocks = [(labels == n)[:, None] for n in range(1, int(labels.max()) + 1)]
    for _ in range(20 * sum(labels.shape[1:]) + 100):
        going = r.square().sum(dims, keepdim=True) > goal          # each system and channel stops on its own
        if not bool(going.any()):
            return v
        near = neighbour_sum(p, ndim) if len(blocks) == 1 else sum(b * neighbour_sum(p * b, ndim) for b in blocks)
        q = on * (diagonal * p - near)                               # (p is 0 at the known positions)
        pq = (p * q).sum(dims, keepdim=True)
        alpha = torch.where(going & (pq > 0), rz / pq.clamp_min(1e-300), 0)
        v, r = v + alpha * p, r - alpha * q
        z = inverse * r
        rz, previous = (r * z).sum(dims, keepdim=True), rz
        p = z + torch.where(previous > 0, rz / previous.clamp_min(1e-300), 0) * p
    warnings.warn(f"the imputer's conjugate gradients stopped short of a relative residual of {_TOLERANCE:g}",
                  RuntimeWarning, stacklevel=3)
    return v


@dataclass
class _Level:
    """One depth of the dissection tree: ``L`` pieces, each eliminating ``k`` positions with ``f`` in its frame. Its
    fronts lie flat as ``[A_II (L, k, k) | A_IB (L, k, f) | A_BB (L, f, f) | spare]`` (``A_BI`` is ``A_IB^T``), its
    right-hand sides as ``[g_I (L, k) | g_B (L, f) | spare]``. Positions >= N are padding: identity rows (eliminated),
    0 (frame)."""
    elim: Tensor      # (L * k,) flat positions eliminated here (padding: N + slot, each its own)
    frame: Tensor     # (L * f,) flat positions of each piece's frame (padding: N)
    at: Tensor        # (E,) where each stencil entry of A_II and A_IB goes in the flat fronts
    i: Tensor         # (E,) flat positions of its row ...
    j: Tensor         # (E,) ... and column
    w: Tensor         # (E,) and its weight
    diagonal: Tensor  # (L * k,) where the diagonal entries go
    up: Tensor        # (L * f,) where each frame position goes in the parent's flat right-hand sides
    up_slot: Tensor   # (L, f) ... and in the parent's front (its rows: k eliminated, f frame, one spare)
    up_front: Tensor | None   # (L * f * f,) where each Schur complement entry goes in the parent's flat fronts
    shape: tuple[int, int, int]  # L, k, f                (None: too large to keep, made when needed)


@dataclass
class _Plan:
    size: int                # N
    slots: int               # N + the most padding of any level
    s: Tensor                # (slots,) in-bounds weight sum per position (padding: 1)
    levels: list[_Level]     # root first

    def bytes_per_system(self, channels: int) -> int:
        """Bytes of one system's factors and of its largest level's fronts."""
        kept = sum(lv.shape[0] * lv.shape[1] * (lv.shape[1] + lv.shape[2] + channels) for lv in self.levels)
        front = max(lv.shape[0] * (lv.shape[1] + lv.shape[2] + 1) ** 2 for lv in self.levels)
        return 8 * (kept + 3 * front)


def _positions(box: tuple[tuple[int, int], ...], shape: tuple[int, ...], frame: bool = False) -> np.ndarray:
    """Flat positions (C order) of a box, or of its frame: the positions one step outside it, inside the grid."""
    if any(hi <= lo for lo, hi in box):
        return np.empty(0, np.int64)
    ranges = [np.arange(max(lo - frame, 0), min(hi + frame, n)) for (lo, hi), n in zip(box, shape)]
    grids = np.meshgrid(*ranges, indexing="ij")
    inside = np.logical_and.reduce([(g >= lo) & (g < hi) for g, (lo, hi) in zip(grids, box)])
    return np.ravel_multi_index([g[~inside if frame else inside] for g in grids], shape).astype(np.int64)


def _split(box):
    """(separator, child, child): cut the longest side in the middle by a one-position-thick slab."""
    sides = [hi - lo for lo, hi in box]
    axis = int(np.argmax(sides))
    lo, hi = box[axis]
    mid = lo + sides[axis] // 2
    part = lambda a, b: tuple((a, b) if d == axis else r for d, r in enumerate(box))  # noqa: E731
    return part(mid, mid + 1), part(lo, mid), part(mid + 1, hi)


@functools.lru_cache(maxsize=8)
def _plan(shape: tuple[int, ...], device: str) -> _Plan:
    """The dissection tree of a grid (complete binary, to the depth where every piece has <= _LEAF positions)."""
    ndim, size = len(shape), int(np.prod(shape))
    boxes, depths = [tuple((0, n) for n in shape)], []
    while True:
        leaf = max(int(np.prod([hi - lo for lo, hi in b])) for b in boxes) <= _LEAF
        splits = [(b, (), ()) for b in boxes] if leaf else [_split(b) for b in boxes]
        depths.append((boxes, [s for s, _, _ in splits]))
        if leaf:
            break
        boxes = [c for _, first, second in splits for c in (first, second)]
    coords = np.stack(np.unravel_index(np.arange(size), shape), 1)
    levels = []
    for boxes, seps in depths:
        elims = [_positions(s, shape) for s in seps]
        frames = [_positions(b, shape, frame=True) for b in boxes]
        k, f, count = max(1, max(map(len, elims))), max(map(len, frames)), len(elims)
        elim = size + np.arange(count * k).reshape(count, k)
        frame = np.full((count, f), size)
        nodes = np.repeat(np.arange(count), [len(e) for e in elims])
        flat, rows = np.concatenate(elims), np.concatenate([np.arange(len(e)) for e in elims])
        elim[nodes, rows] = flat
        for n, fr in enumerate(frames):
            frame[n, :len(fr)] = fr
        owner, slot = np.full(size, -1), np.zeros(size, np.int64)
        owner[flat], slot[flat] = nodes, rows
        keys = np.concatenate([n * (size + 1) + fr for n, fr in enumerate(frames)] + [[count * (size + 1)]])
        key_slot = np.concatenate([np.arange(len(fr)) for fr in frames] + [[0]])   # (a sentinel above every key)
        at, ii, jj, ww = [], [], [], []
        for offset, w in stencil(ndim):
            near = coords[flat] + np.array(offset)
            ok = np.all((near >= 0) & (near < np.array(shape)), 1)
            src, n, r = flat[ok], nodes[ok], rows[ok]
            dst = np.ravel_multi_index(near[ok].T, shape)
            key = n * (size + 1) + dst
            hit = np.searchsorted(keys, key)
            col = np.where(owner[dst] == n, slot[dst], np.where(keys[hit] == key, k + key_slot[hit], -1))
            kept = col >= 0                           # a neighbour in the same piece or in its frame
            at.append(_front_index(n[kept], r[kept], col[kept], count, k, f))
            ii.append(src[kept]), jj.append(dst[kept]), ww.append(np.full(kept.sum(), w))
        piece, row = np.divmod(np.arange(count * k), k)
        levels.append(dict(elim=elim, frame=frame, at=np.concatenate(at), i=np.concatenate(ii), j=np.concatenate(jj),
                           w=np.concatenate(ww), diagonal=_front_index(piece, row, row, count, k, f),
                           owner=owner, slot=slot, keys=keys, key_slot=key_slot, k=k, f=f, frames=frames))
    built, padding, kept = [], max(lv["elim"].size for lv in levels), 0
    for depth, lv in enumerate(levels):
        pa = levels[max(depth - 1, 0)]
        up = np.full((len(lv["frames"]), lv["f"]), pa["k"] + pa["f"])        # padding: the parent's spare slot
        for c, fr in enumerate(lv["frames"] if depth else []):
            p = c // 2
            hit = np.searchsorted(pa["keys"], p * (size + 1) + fr)
            in_sep = pa["owner"][fr] == p
            assert np.all(in_sep | (pa["keys"][hit] == p * (size + 1) + fr)), "a frame outside the parent's front"
            up[c, :len(fr)] = np.where(in_sep, pa["slot"][fr], pa["k"] + pa["key_slot"][hit])
        count_p, k_p, f_p, parent = len(pa["frames"]), pa["k"], pa["f"], (np.arange(len(up)) // 2)[:, None]
        rhs = np.where(up < k_p, parent * k_p + up,
                       np.where(up < k_p + f_p, count_p * k_p + parent * f_p + up - k_p, count_p * (k_p + f_p)))
        t = functools.partial(torch.as_tensor, device=device)
        level = _Level(t(lv["elim"]).flatten(), t(lv["frame"]).flatten(), t(lv["at"]), t(lv["i"]), t(lv["j"]),
                       t(lv["w"]), t(lv["diagonal"]), t(rhs).flatten(), t(up), None, (len(up), lv["k"], lv["f"]))
        if kept + up.size * lv["f"] <= 1 << 23:              # keep up to 64 MB of them
            level.up_front = _up_front(level, (count_p, k_p, f_p))
            kept += level.up_front.numel()
        built.append(level)
    in_bounds = neighbour_sum(torch.ones(shape, dtype=torch.float64), ndim).flatten()
    s = torch.cat([in_bounds, torch.ones(padding, dtype=torch.float64)]).to(device)
    return _Plan(size, size + padding, s, built)


def _front_index(node, row, col, count: int, k: int, f: int):
    """Where entry ``(row, col)`` of piece ``node``'s front (rows and columns: ``k`` eliminated, ``f`` frame, one
    spare) lies in the level's flat ``[A_II | A_IB | A_BB | spare]``; ``A_BI`` entries and the spare go to the spare.
    NumPy arrays or tensors."""
    where = torch.where if isinstance(row, Tensor) else np.where
    ii = (node * k + row) * k + col
    ib = count * k * k + (node * k + row) * f + col - k
    bb = count * k * (k + f) + (node * f + row - k) * f + col - k
    index = where(row < k, where(col < k, ii, ib), where(col < k, -1, bb))
    return where((index < 0) | (row == k + f) | (col == k + f), count * (k * k + k * f + f * f), index)


def _up_front(level: _Level, parent: tuple[int, int, int]) -> Tensor:
    """``(L * f * f,)`` where each entry of a level's Schur complements goes in its parent level's flat fronts."""
    slot = level.up_slot
    node = (torch.arange(slot.shape[0], device=slot.device) // 2)[:, None, None]
    return _front_index(node, slot[:, :, None], slot[:, None, :], *parent).flatten()


def _direct(plan: _Plan, labels: Tensor, rhs: Tensor) -> Tensor:
    """The solution ``(S, C, *spatial)`` of the systems of ``labels`` ``(S, *spatial)`` and ``rhs`` ``(S, C, *spatial)``
    (0 at known positions), by the nested dissection of ``plan``: fronts assembled leaves first, each level's pieces
    eliminated in one batched Cholesky, then the values substituted back root first."""
    systems, channels, device, spare = labels.shape[0], rhs.shape[1], rhs.device, plan.slots - plan.size
    label = torch.cat([labels.flatten(1), labels.new_zeros(systems, spare)], 1)
    on = (label > 0).double()                                            # 1 where unknown
    diagonal = on * plan.s + (1 - on)
    b = torch.cat([rhs.flatten(2).transpose(1, 2), rhs.new_zeros(systems, spare, channels)], 1)  # (S, slots, C)
    stored, update, update_rhs = [], None, None
    for depth in range(len(plan.levels) - 1, -1, -1):
        lv = plan.levels[depth]
        count, k, f = lv.shape
        ends = np.cumsum([count * k * k, count * k * f, count * f * f])
        front = torch.zeros(systems, ends[-1] + 1, dtype=torch.float64, device=device)
        front.scatter_(1, lv.at.expand(systems, -1), -lv.w * on[:, lv.i] * (label[:, lv.i] == label[:, lv.j]))
        front.scatter_(1, lv.diagonal.expand(systems, -1), diagonal[:, lv.elim])
        g = torch.zeros(systems, count * (k + f) + 1, channels, dtype=torch.float64, device=device)
        g[:, :count * k] = b[:, lv.elim]
        if update is not None:                                        # the children's Schur complements
            child = plan.levels[depth + 1]
            into = child.up_front if child.up_front is not None else _up_front(child, lv.shape)
            front.scatter_add_(1, into.expand(systems, -1), update.reshape(systems, -1))
            g.scatter_add_(1, child.up.view(1, -1, 1).expand(systems, -1, channels), update_rhs.flatten(1, 2))
        a_ii, a_ib, a_bb = (front[:, lo:hi].view(systems, count, *block)
                            for lo, hi, block in zip((0, *ends[:2]), ends, ((k, k), (k, f), (f, f))))
        g_i = g[:, :count * k].view(systems, count, k, channels)
        g_b = g[:, count * k:-1].view(systems, count, f, channels)
        factor = torch.linalg.cholesky(a_ii)
        y = torch.linalg.solve_triangular(factor, a_ib, upper=False)
        z = torch.linalg.solve_triangular(factor, g_i, upper=False)
        flat_y = y.flatten(0, 1)
        update = torch.baddbmm(a_bb.flatten(0, 1), flat_y.mT, flat_y, alpha=-1)
        update_rhs = g_b - y.mT @ z
        stored.append((factor, y, z))
    x = torch.zeros(systems, plan.slots, channels, dtype=torch.float64, device=device)
    for depth, (factor, y, z) in zip(range(len(plan.levels)), reversed(stored)):
        lv = plan.levels[depth]
        count, k, f = lv.shape
        known = x[:, lv.frame].view(systems, count, f, channels)
        x.index_copy_(1, lv.elim, torch.linalg.solve_triangular(factor.mT, z - y @ known, upper=True).flatten(1, 2))
    return x[:, :plan.size].transpose(1, 2).reshape(rhs.shape)
