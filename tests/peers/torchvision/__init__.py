"""A stand-in for the few torchvision names that pytorch-grad-cam 1.5.5 imports, for the oracle tests only.

pytorch-grad-cam imports ``torchvision`` at import time: ``utils/model_targets.py`` does ``import
torchvision`` and calls ``torchvision.ops.box_iou`` in ``FasterRCNNBoxScoreTarget`` (a target for
object detectors), and ``utils/image.py`` does ``from torchvision.transforms import Compose,
Normalize, ToTensor`` for ``preprocess_image`` (turning an RGB array into a normalised input).
Nothing else in the package uses torchvision (``grep -rn torchvision pytorch_grad_cam``).

Why results obtained with this stand-in are trustworthy: the CAM methods compared in
``tests/test_oracles_table1*.py`` (ScoreCAM, AblationCAM, EigenCAM, EigenGradCAM, FullGrad, through
``BaseCAM``, ``ActivationsAndGradients``, ``AblationLayer``, ``get_2d_projection`` and
``scale_cam_image``) never call any of these names: the tests build their own tensors and their own
targets (``ClassifierOutputTarget``, ``ClassifierOutputSoftmaxTarget`` or plain callables). The
stand-in exists only so that the import succeeds; its functions are nonetheless small, correct
versions of torchvision's (same signatures and semantics for the cases pytorch-grad-cam uses), so a
stray call would not silently compute something else. It is put on ``sys.path`` only while
``tests.peers.load_pytorch_grad_cam`` imports pytorch-grad-cam, and only when no real torchvision loads.
"""

from . import ops, transforms

__version__ = "0.0.0+cam-widgets-test-stand-in"
__all__ = ["ops", "transforms"]
