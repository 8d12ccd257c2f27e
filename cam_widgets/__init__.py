"""cam_widgets: class activation maps and principal features for PyTorch CNNs, 2D and 3D.

    from cam_widgets import CAMExplainer, PixelSet
    result = CAMExplainer(model, layers=["features.8"]).explain(x, target=3, method="respondcam")
"""

from .explainer import CAMExplainer, CAMResult
from .methods import METHODS
from .targets import ClassScore, PixelSet

__all__ = ["CAMExplainer", "CAMResult", "ClassScore", "PixelSet", "METHODS"]
__version__ = "0.1.0"
