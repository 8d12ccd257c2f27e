"""Data for trying and testing CAM methods: simulated subtomograms, segmentation scenes, loaders.

- :mod:`.subtomograms`: cellular electron cryo-tomography-like 3D volumes of several structural
  classes, with the missing wedge and noise at a chosen SNR (as in the Respond-CAM paper).
- :mod:`.scenes`: 2D (or 3D) scenes of textured objects with per-pixel labels, for segmentation.
- :mod:`.faces`: scikit-image's bundled ``lfw_subset`` photographs, faces vs non-faces.
- :mod:`.loaders`: ``load_volume`` for arrays and ``.npy``, ``.npz``, MRC and NIfTI files.
- :mod:`.folder`: ``VolumeFolder``, a folder of such files as a data set; ``save_subtomogram_folder``.
"""

from .faces import FACE_CLASSES, lfw_faces
from .folder import VolumeFolder, save_subtomogram_folder
from .loaders import SUPPORTED_EXTENSIONS, load_volume
from .scenes import SCENE_CLASSES, SCENE_CLASSES_3D, SceneDataset, make_scenes
from .subtomograms import (
    SUBTOMOGRAM_CLASSES,
    SubtomogramDataset,
    make_subtomograms,
    missing_wedge_mask,
)

__all__ = [
    "FACE_CLASSES",
    "lfw_faces",
    "SCENE_CLASSES",
    "SCENE_CLASSES_3D",
    "SUBTOMOGRAM_CLASSES",
    "SUPPORTED_EXTENSIONS",
    "SceneDataset",
    "SubtomogramDataset",
    "VolumeFolder",
    "load_volume",
    "make_scenes",
    "make_subtomograms",
    "missing_wedge_mask",
    "save_subtomogram_folder",
]
