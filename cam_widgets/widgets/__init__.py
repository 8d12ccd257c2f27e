"""Notebook widgets (anywidget front ends). The only part of the package that imports anywidget,
ipywidgets or plotly."""

from .cam_viewer import CAMViewer

__all__ = ["CAMViewer"]
