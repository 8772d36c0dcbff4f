"""brainzoo_export: the Python side of brainzoo backbone plugins.

Each plugins/<id>/export.py builds its backbone in plain PyTorch with the official parameter
names, declares a PluginSpec and calls cli.main(). This package holds what they share: the
manifest reader, checkpoint loading (strict for backbone keys), deterministic random init,
ONNX export and validation, fine-tuning, and the reference feature decoder.
"""
from .errors import ExportError
from .plugin import PluginSpec
from .weights import CNN_TINY_INIT, VIT_TINY_INIT, TinyInit

__all__ = ["CNN_TINY_INIT", "ExportError", "PluginSpec", "TinyInit", "VIT_TINY_INIT"]
