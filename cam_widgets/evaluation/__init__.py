"""Which map should I trust? Faithfulness, localisation and sanity checks for every method (DESIGN.md section 10).

    from cam_widgets import evaluation as ev
    ev.deletion_insertion(explainer, x, method="hirescam").deletion_auc     # (B,)
    ev.compare_methods(explainer, data, methods=["gradcam", "hirescam"]).to_markdown()

Every metric takes a batch ``x`` ``(B, C, *spatial)`` (1D, 2D or 3D) or a data set (an iterable of batches),
runs batched on the model's device, and returns per-sample values with ``summary()`` (mean, std).
All but ``randomisation`` and ``random_logit`` also take ``maps=`` (``(B, *spatial)``) instead of a method.
See ``docs/evaluation.md``.
"""

from .common import DEFAULT_BATCH_SIZE, spearman
from .compare import DEFAULT_METHODS, METRICS, compare_methods
from .deletion import AverageDrop, DeletionInsertion, average_drop, deletion_insertion
from .imputer import noisy_linear_impute
from .localisation import LocalisationResult, localisation
from .report import Comparison
from .results import MetricResult
from .road import RoadResult, road
from .sanity import RandomisationResult, RandomLogitResult, random_logit, randomisation
from .segmentation import SegmentationFaithfulness, random_reference, segmentation_faithfulness

__all__ = [
    "DEFAULT_BATCH_SIZE", "DEFAULT_METHODS", "METRICS", "AverageDrop", "Comparison", "DeletionInsertion",
    "LocalisationResult", "MetricResult", "RandomLogitResult", "RandomisationResult", "RoadResult",
    "SegmentationFaithfulness", "average_drop", "compare_methods", "deletion_insertion", "localisation",
    "noisy_linear_impute", "random_logit", "random_reference", "randomisation", "road", "segmentation_faithfulness",
    "spearman",
]
