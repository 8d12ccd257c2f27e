"""Notebook widgets (anywidget front ends). The only part of the package that imports anywidget,
ipywidgets or plotly."""

from .cam_viewer import CAMViewer
from .pixel_set_picker import PixelSetPicker

__all__ = ["CAMViewer", "PixelSetPicker"]
