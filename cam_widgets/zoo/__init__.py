"""Demo models: the Respond-CAM paper's CNN-1 / CNN-2, a small 2D U-Net, a tiny face classifier,
with trained weights shipped in the package (no download)."""

from .cnn3d import EVALUATION_LAYER, cnn1, cnn2
from .demos import (
    DEMOS,
    demo_metrics,
    load_demo,
    load_demo_cnn1,
    load_demo_cnn2,
    load_demo_faces,
    load_demo_unet,
)
from .faces import FACE_CLASSES, face_classifier
from .unet import UNet2D

__all__ = [
    "DEMOS", "EVALUATION_LAYER", "FACE_CLASSES", "UNet2D", "cnn1", "cnn2", "demo_metrics", "face_classifier",
    "load_demo", "load_demo_cnn1", "load_demo_cnn2", "load_demo_faces", "load_demo_unet",
]
