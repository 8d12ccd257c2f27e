"""Two run stores compared array by array, as DESIGN.md section 11 defines equality: maps within one float16
ulp (or float32 rounding), scores within 1e-5 relative, everything else exactly; attributes equal but for the
time and command of creation."""

from pathlib import Path

import numpy as np
import zarr

VOLATILE = {"created", "command"}


def arrays(path: Path) -> dict[str, np.ndarray]:
    group = zarr.open_group(str(path), mode="r")
    out = {}

    def visit(node, prefix):
        for name, array in node.arrays():
            out[f"{prefix}{name}"] = np.asarray(array[:])
        for name, sub in node.groups():
            visit(sub, f"{prefix}{name}/")

    visit(group, "")
    return out


def attributes(path: Path) -> dict:
    attrs = dict(zarr.open_group(str(path), mode="r").attrs)
    attrs["provenance"] = {k: v for k, v in attrs["provenance"].items() if k not in VOLATILE}
    return attrs


def assert_same_store(a: Path, b: Path) -> None:
    assert attributes(a) == attributes(b)
    first, second = arrays(a), arrays(b)
    assert sorted(first) == sorted(second)
    for key in first:
        x, y = first[key], second[key]
        assert x.shape == y.shape and x.dtype == y.dtype, key
        if key.startswith(("maps/", "maps_input/")):
            ulp = np.spacing(np.abs(y).astype(x.dtype)).astype(np.float64)
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
            assert np.array_equal(np.isnan(x), np.isnan(y)), key
            assert np.all((diff <= ulp + 1e-5 * np.nanmax(np.abs(y))) | np.isnan(diff)), key
        elif key == "scores":  # float32 noise of the batches' composition: 1e-5 of the logits' scale
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5 * float(np.nanmax(np.abs(y))), err_msg=key)
        elif x.dtype.kind == "f":  # metrics, of order 1 (sum-to-score's L1 cancels logits of order 10-100)
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5, err_msg=key)
        else:
            assert np.array_equal(x, y), key
