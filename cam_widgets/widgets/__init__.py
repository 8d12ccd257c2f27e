"""Notebook widgets (anywidget front ends). The only part of the package that imports anywidget,
ipywidgets or plotly."""

from .cam_viewer import CAMViewer
from .pfv_gallery import PFVGallery
from .pixel_set_picker import PixelSetPicker

__all__ = ["CAMViewer", "PFVGallery", "PixelSetPicker"]
