"""Notebook widgets (anywidget front ends). The only part of the package that imports anywidget,
ipywidgets or plotly."""

# the modules the widgets import that the core does not, by the name pip installs them under
_WIDGET_PACKAGES = {
    "anywidget": "anywidget", "ipywidgets": "ipywidgets", "plotly": "plotly", "PIL": "pillow",
    "traitlets": "traitlets", "IPython": "ipython",
}

try:
    from .cam_viewer import CAMViewer
    from .dataset_browser import DatasetBrowser
    from .pfv_gallery import PFVGallery
    from .pixel_set_picker import PixelSetPicker
except ModuleNotFoundError as error:
    missing = (error.name or "").partition(".")[0]
    if missing not in _WIDGET_PACKAGES:
        raise
    raise ImportError(
        f"cam_widgets' notebook widgets need the package {_WIDGET_PACKAGES[missing]!r}, which is not installed: "
        f"`pip install {_WIDGET_PACKAGES[missing]}` (`pip install cam_widgets` brings all the widgets' packages: "
        f"anywidget, ipywidgets, plotly, pillow). The core (CAMExplainer, PFVExplainer, metrics, datasets, zoo) "
        f"runs without them.",
        name=missing,
    ) from error

__all__ = ["CAMViewer", "DatasetBrowser", "PFVGallery", "PixelSetPicker"]
