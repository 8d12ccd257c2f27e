"""Helpers the bench scripts' command lines share."""

from __future__ import annotations

import argparse

import torch


def select_devices(parser: argparse.ArgumentParser, choice: str) -> list[torch.device]:
    """``--device {cpu,cuda,auto}``: ``auto`` is the CPU, plus CUDA when ``torch.cuda.is_available()``; ``cuda``
    where it is not available is a usage error (``parser.error``)."""
    if choice == "auto":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    if choice == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False here")
    return [torch.device(choice)]
