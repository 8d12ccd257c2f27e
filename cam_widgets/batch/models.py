"""The model of a data-set run: loaded from a spec (``module:callable`` or a TorchScript file) and fingerprinted."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import torch
from torch import nn

SPEC_FORMS = ("'package.module:callable' (a function or class returning the model, e.g. "
              "cam_widgets.zoo:load_demo_cnn1)", "the path of a TorchScript file (torch.jit.save)")


def load_model(spec: str) -> nn.Module:
    """The model ``spec`` names, in eval mode: ``module:callable`` is imported and called with no arguments
    (load weights inside it with ``torch.load(..., weights_only=True)``); a file path is read with
    ``torch.jit.load``."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"--model must be {' or '.join(SPEC_FORMS)}; got {spec!r}")
    path = Path(spec)
    if path.is_file():
        try:
            model = torch.jit.load(str(path), map_location="cpu")
        except Exception as error:
            raise ValueError(f"{spec} is not a TorchScript file torch.jit.load can read ({error}); --model takes "
                             f"{' or '.join(SPEC_FORMS)}") from error
        return model.eval()
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError(f"--model {spec!r} is neither an existing file nor 'module:callable'; it takes "
                         f"{' or '.join(SPEC_FORMS)}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"--model {spec!r}: cannot import {module_name!r} ({error})") from error
    factory = module
    for part in attribute.split("."):
        if not hasattr(factory, part):
            raise ValueError(f"--model {spec!r}: {module_name} has no attribute {attribute!r}")
        factory = getattr(factory, part)
    model = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if not isinstance(model, nn.Module):
        raise ValueError(f"--model {spec!r} gave a {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 of every parameter's and buffer's name, dtype, shape and bytes (exact; the same on any device)."""
    digest = hashlib.sha256()
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        value = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{value.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()
