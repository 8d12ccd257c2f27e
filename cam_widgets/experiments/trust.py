"""Which map should I trust? Issue 15's three reproductions on the demo models and our generated data.

1. ``segmentation_methods_on_unet``: Seg-HiRes-Grad-CAM (HiResCAM with a ``PixelSet``) against Seg-Grad-CAM
   (Grad-CAM with a ``PixelSet``) and every other segmentation method on the demo U-Net, for every object of
   the test scenes: deletion AUC of the pixel-set score, relevance mass inside the object, segmentation
   faithfulness. The Seg-HiRes-Grad-CAM paper's claim (more faithful, from pictures), measured.
2. ``subtomogram_methods``: every method on CNN-1 / CNN-2 (SNR infinite and 0.1) at ``maxpool2``: deletion,
   insertion, ROAD, localisation against the particle's mask, and the sanity checks: where Respond-CAM stands.
3. ``sanity_checks``: cascading randomisation on CNN-1, the mean Spearman correlation after each step, and
   which methods fail it (their maps stay close to the trained model's).

    python -m cam_widgets.experiments.trust                  # all three at their default sizes (CPU: about 2 h)
    python -m cam_widgets.experiments.trust --only 1 --scenes 20 --methods gradcam hirescam   # a quick look
    python -m cam_widgets.experiments.trust --device cuda    # the same on a GPU

The cost is the metrics' forward passes: per sample and method, 37 for deletion / insertion (20 steps), 18 for
ROAD (plus the imputer), 4 for segmentation faithfulness; one U-Net pass on a 64x64 scene is ~10 ms on 2 CPU cores.

Data: the zoo's test split generators (``make_scenes(size=64, seed=2)``, ``make_subtomograms(size=24,
seed=2)``, see ``cam_widgets.zoo.train``); the test split itself at its size (200 scenes, 500 volumes), the
same generator's first samples below it. Everything goes through ``cam_widgets.evaluation.compare_methods``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .. import evaluation as ev
from ..datasets import make_scenes, make_subtomograms
from ..evaluation.report import BETTER
from ..explainer import CAMExplainer
from ..methods import METHODS, get_method
from ..targets import PixelSet
from ..zoo import EVALUATION_LAYER, load_demo_cnn1, load_demo_cnn2, load_demo_unet
from ..zoo.demos import SCENE_SIZE, SUBTOMOGRAM_SIZE
from ..zoo.train import TEST_SEED

GRADIENT_METHODS: tuple[str, ...] = tuple(ev.DEFAULT_METHODS)
"""The methods of one layer's activations and one backward pass (``compare_methods``' default)."""
SEGMENTATION_LAYER = "bottleneck"
"""The U-Net's default CAM layer (``DEMOS["unet_scenes"].layer``, the usual one for segmentation CAMs)."""
SEGMENTATION_METRICS = ("deletion_insertion", "localisation", "segmentation_faithfulness")
SUBTOMOGRAM_METRICS = ("deletion_insertion", "road", "localisation", "randomisation", "random_logit")
SANITY_METRICS = ("randomisation", "random_logit")
FAILS_ABOVE = 0.5
"""Our threshold (Adebayo et al. judge by eye): a method fails cascading randomisation when its maps of the fully
randomised model still have a mean Spearman correlation of at least this with the trained model's maps."""


@dataclass
class Reproduction:
    """A reproduction's ``comparison`` (``ev.compare_methods``'s result; None when no method ran), the methods
    that do not apply (``unavailable``: label -> why), what was run (``setting``) and the wall time."""

    title: str
    comparison: object | None
    setting: dict
    unavailable: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def values(self, method: str, column: str) -> Tensor:
        """``(N,)`` per-sample values of ``column`` (``"metric: value"``, as in ``comparison.rows()``) for a
        method (its name or label), e.g. ``values("hirescam", "deletion_insertion: deletion_auc")``."""
        metric, name = column.split(": ", 1)
        (got,) = [g for (label, _), g in self.comparison.results.items() if label == _label(method)]
        return got[metric].table()[name]

    def means(self, column: str) -> dict[str, float]:
        """``{method label: mean}`` of a column (NaNs left out), in the table's order."""
        return {row["method"]: row[column][0] for row in self.comparison.rows() if column in row}

    def best(self, column: str) -> str:
        """The label of the method with the best mean in ``column`` (by ``ev``'s better-direction)."""
        metric, name = column.split(": ", 1)
        return self.comparison.best((metric, name))[0]

    def rank(self, method: str, column: str) -> int:
        """1 + how many methods have a better mean in ``column`` by more than 1e-9 (ties share a rank: 1, 1, 3)."""
        metric, name = column.split(": ", 1)
        means = self.means(column)
        sign = 1.0 if _better(metric, name) == "lower" else -1.0
        mine = sign * means[_label(method)]
        return 1 + sum(sign * value < mine - 1e-9 for value in means.values())

    def figure(self):
        """The Plotly curves of the comparison (``Comparison.figure()``)."""
        return self.comparison.figure()

    def to_markdown(self) -> str:
        setting = ", ".join(f"{k} {v}" for k, v in self.setting.items())
        lines = [f"### {self.title}", "", f"{setting}; {self.seconds:.0f} s.", ""]
        if self.comparison is not None:
            lines.append(self.comparison.to_markdown())
        lines += [f"\n{label}: n/a ({why})" for label, why in self.unavailable.items()]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def _label(method: object) -> str:
    """A method's row label in the comparison (``"hirescam"`` -> ``"HiResCAM"``); a label stays itself."""
    try:
        return get_method(method).label
    except ValueError:
        return str(method)


def _better(metric: str, name: str) -> str | None:
    return BETTER.get((metric, name))


def _usable(explainer: CAMExplainer, x: Tensor, target: object, methods: Sequence[str], layer: str
            ) -> tuple[list[str], dict[str, str]]:
    """The methods that explain this model at ``layer`` (tried on one sample) and why the others do not."""
    usable, unavailable = [], {}
    one = target if not isinstance(target, PixelSet) else PixelSet(target.classes[:1], target.mask[:1])
    for name in methods:
        method = get_method(name)
        if isinstance(target, PixelSet) and not method.segmentation:
            unavailable[method.label] = "defined for class scores only"
            continue
        try:
            explainer.explain(x[:1], one, name, layer, progress=False)
        except (ValueError, TypeError, ImportError) as problem:
            unavailable[method.label] = str(problem).split(";")[0].split(", so")[0]   # the reason, not the advice
            continue
        usable.append(name)
    return usable, unavailable


def _compare(title: str, explainer: CAMExplainer, batches: list, methods: Sequence[str], layer: str,
             metrics: Sequence[str], setting: dict, progress: bool, **kwargs) -> Reproduction:
    started = time.perf_counter()
    x, target = batches[0][0], batches[0][1]
    usable, unavailable = _usable(explainer, x, target, methods, layer)
    comparison = ev.compare_methods(explainer, batches, methods=usable, layers=[layer], metrics=list(metrics),
                                    progress=progress, **kwargs) if usable else None
    return Reproduction(title, comparison, setting, unavailable, time.perf_counter() - started)


# ------------------------------------------------------------------ 1. segmentation methods on the U-Net


def scene_objects(n_scenes: int = 200, seed: int = TEST_SEED, model: torch.nn.Module | None = None,
                  min_pixels: int = 1) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Every object of ``n_scenes`` test scenes as one sample: ``x`` ``(N, 1, 64, 64)`` (its scene),
    ``classes`` ``(N,)``, ``pixel_sets`` ``(N, 64, 64)`` (the object's pixels the U-Net predicts as its class:
    what a user picks and a Seg-CAM explains), ``objects`` ``(N, 64, 64)`` (the object's visible pixels, the
    ground truth for localisation) and ``scene`` ``(N,)`` (which scene). Objects hidden by later ones, and
    objects with fewer than ``min_pixels`` pixels predicted as their class, are left out."""
    model = load_demo_unet() if model is None else model
    images, labels, instances = make_scenes(n_scenes, size=SCENE_SIZE, seed=seed, return_instances=True)
    images, labels, instances = map(torch.from_numpy, (images, labels, instances))
    with torch.no_grad():
        predicted = torch.cat([model(images[i:i + 50]).argmax(1) for i in range(0, n_scenes, 50)])
    ids = torch.arange(1, int(instances.max()) + 1)
    objects = instances[:, None] == ids[:, None, None]                      # (n, K, H, W)
    classes = torch.where(objects, labels[:, None], 0).flatten(2).amax(2)   # one class per visible object
    pixel_sets = objects & (predicted[:, None] == classes[..., None, None])
    keep = objects.flatten(2).any(2) & (pixel_sets.flatten(2).sum(2) >= min_pixels)
    scene = torch.arange(n_scenes)[:, None].expand_as(keep)[keep]
    return images[scene], classes[keep], pixel_sets[keep], objects[keep], scene


def segmentation_methods_on_unet(n_scenes: int = 200, methods: Sequence[str] | None = None,
                                 layer: str = SEGMENTATION_LAYER, seed: int = TEST_SEED, batch: int = 32,
                                 steps: int = 20, device: str | torch.device = "cpu",
                                 progress: bool = True) -> Reproduction:
    """Reproduction 1: every segmentation-capable method (``methods=None``: each ``METHODS`` entry whose
    ``segmentation`` is True) on the demo U-Net at ``layer``, one sample per object of ``n_scenes`` test scenes
    (``scene_objects``): target ``PixelSet(c, M)`` with ``M`` the object's pixels predicted as its class ``c``,
    localisation against the object's visible pixels. Metrics: deletion / insertion of the pixel-set score
    (``steps``), localisation, segmentation faithfulness. Everything runs on ``device``."""
    model = load_demo_unet()
    x, classes, pixel_sets, objects, _ = scene_objects(n_scenes, seed, model)
    model.to(device)
    methods = [m for m, spec in METHODS.items() if spec.segmentation] if methods is None else list(methods)
    batches = [(x[i:i + batch], PixelSet(classes[i:i + batch], pixel_sets[i:i + batch]), objects[i:i + batch])
               for i in range(0, len(x), batch)]
    setting = {"scenes": n_scenes, "objects": len(x), "layer": f"`{layer}`", "deletion steps": steps}
    return _compare("Segmentation CAMs on the demo U-Net, one pixel set per object", CAMExplainer(model, [layer]),
                    batches, methods, layer, SEGMENTATION_METRICS, setting, progress,
                    options={"deletion_insertion": {"steps": steps}})


def headline(result: Reproduction, a: str = "hirescam", b: str = "gradcam",
             column: str = "deletion_insertion: deletion_auc") -> dict:
    """Paired comparison of methods ``a`` and ``b`` on the same samples: both means, the share of samples where
    ``a`` is better (lower for a lower-is-better column; ties count half) and the two-sided Wilcoxon
    signed-rank p-value (NaN pairs left out)."""
    from scipy.stats import wilcoxon

    va, vb = result.values(a, column).numpy(), result.values(b, column).numpy()
    kept = ~(np.isnan(va) | np.isnan(vb))
    va, vb = va[kept], vb[kept]
    sign = -1.0 if _better(*column.split(": ", 1)) == "lower" else 1.0
    diff = sign * (va - vb)
    p = float(wilcoxon(va, vb).pvalue) if np.any(diff != 0) else 1.0
    return {"a": _label(a), "b": _label(b), "column": column, "n": int(kept.sum()), "mean_a": float(va.mean()),
            "mean_b": float(vb.mean()), "a_better_share": float(((diff > 0) + 0.5 * (diff == 0)).mean()), "p": p}


# ------------------------------------------------------------------ 2. every method on the subtomogram CNNs


def _cnn(arch: str, snr: float | None) -> torch.nn.Module:
    if arch not in ("cnn1", "cnn2"):
        raise ValueError(f"arch must be 'cnn1' or 'cnn2', got {arch!r}")
    return load_demo_cnn1(snr) if arch == "cnn1" else load_demo_cnn2(snr)


def _volumes(n: int, snr: float | None, seed: int, batch: int) -> list:
    volumes, _, masks = make_subtomograms(n, size=SUBTOMOGRAM_SIZE, snr=snr, seed=seed, return_masks=True)
    volumes, masks = torch.from_numpy(volumes), torch.from_numpy(masks)
    return [(volumes[i:i + batch], None, masks[i:i + batch]) for i in range(0, n, batch)]


def subtomogram_methods(snr: float | None = None, arch: str = "cnn1", n: int = 50, methods: Sequence[str] | None = None,
                        seed: int = TEST_SEED, batch: int = 25, metrics: Sequence[str] = SUBTOMOGRAM_METRICS,
                        device: str | torch.device = "cpu", progress: bool = True) -> Reproduction:
    """Reproduction 2: every method (``methods=None``: all of ``METHODS``; those the model refuses are listed as
    n/a) on the demo CNN-1 / CNN-2 trained at ``snr``, at ``maxpool2``, for the predicted class of ``n`` test
    volumes at the same SNR: deletion / insertion, ROAD, localisation against the particle's mask (within 2 sigma
    of its primitives, ``make_subtomograms(return_masks=True)``), cascading randomisation and random logit."""
    explainer = CAMExplainer(_cnn(arch, snr).to(device), [EVALUATION_LAYER])
    label = {"cnn1": "CNN-1", "cnn2": "CNN-2"}[arch]
    setting = {"volumes": n, "SNR": "inf" if snr is None else f"{snr:g}", "layer": f"`{EVALUATION_LAYER}`"}
    return _compare(f"Every method on {label}, SNR {setting['SNR']}", explainer, _volumes(n, snr, seed, batch),
                    list(METHODS) if methods is None else list(methods), EVALUATION_LAYER, metrics, setting, progress)


def standing(result: Reproduction, method: str = "respondcam") -> dict[str, str]:
    """Where ``method`` stands in each ranked column of a reproduction: ``{column: "k of m"}``."""
    columns = [f"{metric}: {name}" for metric, name in result.comparison.columns() if _better(metric, name)]
    total = len(result.comparison.results)
    return {column: f"{result.rank(method, column)} of {total}" for column in columns}


# ------------------------------------------------------------------ 3. sanity checks


@dataclass
class SanityTable:
    """Cascading randomisation: ``steps`` (the module randomised at each step, top down), ``correlation``
    (method label -> mean Spearman correlation after each step), ``random_logit`` (label -> mean correlation
    with another class's map), ``verdict`` (label -> "fails" when the last step's correlation is >= ``FAILS_ABOVE``,
    "passes" below it, "undefined" when every map there was constant, so no correlation exists)."""

    reproduction: Reproduction
    steps: list[str]
    correlation: dict[str, list[float]]
    random_logit: dict[str, float]
    verdict: dict[str, str]

    @property
    def failing(self) -> list[str]:
        """The labels of the methods that fail, in the table's order."""
        return [label for label, verdict in self.verdict.items() if verdict == "fails"]

    def to_markdown(self, digits: int = 2) -> str:
        r = self.reproduction
        header = ["method", *[f"→ `{s}`" for s in self.steps], "random logit", "verdict"]
        lines = [f"### {r.title}", "", ", ".join(f"{k} {v}" for k, v in r.setting.items()) + f"; {r.seconds:.0f} s. "
                 f"Mean Spearman correlation with the trained model's maps after randomising each module, top down "
                 f"(cumulative); a method fails when it is still >= {FAILS_ABOVE} with every module randomised.", "",
                 "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for label, values in self.correlation.items():
            cells = [f"{v:.{digits}f}" if not math.isnan(v) else "n/a" for v in values]
            verdict = "**fails**" if self.verdict[label] == "fails" else self.verdict[label]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {self.random_logit[label]:.{digits}f} | {verdict} |")
        lines += [f"\n{label}: n/a ({why})" for label, why in r.unavailable.items()]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def sanity_checks(arch: str = "cnn1", snr: float | None = None, n: int = 50, methods: Sequence[str] | None = None,
                  seed: int = TEST_SEED, batch: int = 25, device: str | torch.device = "cpu",
                  progress: bool = True) -> SanityTable:
    """Reproduction 3: cascading randomisation (and random logit) for every method on the demo CNN-1, the mean
    correlation per randomised step and the verdict per method (``FAILS_ABOVE``)."""
    explainer = CAMExplainer(_cnn(arch, snr).to(device), [EVALUATION_LAYER])
    setting = {"model": arch.upper().replace("CNN", "CNN-"), "volumes": n, "SNR": "inf" if snr is None else f"{snr:g}",
               "layer": f"`{EVALUATION_LAYER}`"}
    return sanity_table(_compare("Sanity checks: cascading randomisation", explainer, _volumes(n, snr, seed, batch),
                                 list(METHODS) if methods is None else list(methods), EVALUATION_LAYER,
                                 SANITY_METRICS, setting, progress))


def sanity_table(result: Reproduction) -> SanityTable:
    """The per-step means and verdicts of a comparison that ran ``randomisation`` and ``random_logit``."""
    correlation, logit, steps = {}, {}, []
    for (label, _), got in result.comparison.results.items():
        randomised = got["randomisation"]
        steps = list(randomised.layers)
        correlation[label] = torch.as_tensor(randomised.correlation).double().nanmean(0).tolist()
        logit[label] = float(torch.as_tensor(got["random_logit"].correlation).double().nanmean())
    verdict = {label: "undefined" if math.isnan(values[-1]) else "fails" if values[-1] >= FAILS_ABOVE else "passes"
               for label, values in correlation.items()}
    return SanityTable(result, steps, correlation, logit, verdict)


# ------------------------------------------------------------------ the script


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", type=int, nargs="+", choices=(1, 2, 3), default=(1, 2, 3), help="which reproductions")
    parser.add_argument("--scenes", type=int, default=200, help="test scenes for 1 (default 200)")
    parser.add_argument("--volumes", type=int, default=50, help="test volumes per model for 2 and 3 (default 50)")
    parser.add_argument("--methods", nargs="+", help="methods (default: every one that applies)")
    parser.add_argument("--device", default="cpu", help="where the models run (default cpu)")
    args = parser.parse_args(argv)
    chosen = set(args.methods or METHODS)
    if 1 in args.only:
        result = segmentation_methods_on_unet(args.scenes, args.methods, device=args.device)
        print(result.to_markdown(), flush=True)
        if {"hirescam", "gradcam"} <= chosen:
            for column in ("deletion_insertion: deletion_auc", "localisation: mass"):
                h = headline(result, column=column)
                print(f"\nSeg-HiRes-Grad-CAM vs Seg-Grad-CAM, {column.split(': ')[1]}: {h['mean_a']:.4f} vs "
                      f"{h['mean_b']:.4f}; better for {100 * h['a_better_share']:.1f} % of {h['n']} objects "
                      f"(Wilcoxon p = {h['p']:.2g})", flush=True)
    if 2 in args.only:
        for arch in ("cnn1", "cnn2"):
            for snr in (None, 0.1):
                result = subtomogram_methods(snr, arch, args.volumes, args.methods, device=args.device)
                print("\n" + result.to_markdown(), flush=True)
                if "respondcam" in chosen:
                    print("\nRespond-CAM's rank: " + "; ".join(f"{c.split(': ')[1]} {s}" for c, s in
                                                              standing(result).items()), flush=True)
    if 3 in args.only:
        print("\n" + sanity_checks(n=args.volumes, methods=args.methods, device=args.device).to_markdown(), flush=True)


if __name__ == "__main__":
    main()
