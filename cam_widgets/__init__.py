"""cam_widgets: class activation maps and principal features for PyTorch CNNs, 2D and 3D.

    from cam_widgets import CAMExplainer, PixelSet
    result = CAMExplainer(model, layers=["features.8"]).explain(x, target=3, method="respondcam")
"""

from .explainer import CAMExplainer, CAMResult
from .methods import METHODS, AblationCAM, LiftCAM, ScoreCAM, XResCAM
from .pfv import PFVExplainer, PFVResult
from .targets import ClassScore, PixelSet

__all__ = [
    "AblationCAM", "CAMExplainer", "CAMResult", "CAMViewer", "ClassScore", "DatasetBrowser", "LiftCAM", "METHODS",
    "PFVExplainer", "PFVGallery", "PFVResult", "PixelSet", "PixelSetPicker", "ScoreCAM", "XResCAM",
]
_WIDGETS = {"CAMViewer", "DatasetBrowser", "PFVGallery", "PixelSetPicker"}


def __getattr__(name: str):
    """Widget classes are imported on first use, so the core runs without anywidget or plotly."""
    if name in _WIDGETS:
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module 'cam_widgets' has no attribute {name!r}")
__version__ = "0.1.0"
