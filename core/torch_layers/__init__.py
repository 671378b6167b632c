"""The torch side of the layer types (core.layers has the torch-free side: shapes, weight
layouts, diagnostics; core.decoding the heads' boxes): each family's modules, registered
by layer type name. Importing this package imports torch and registers them all;
`inspect`, the byte ledger, the diagnosis and the numpy engine never import it."""

from importlib import import_module

from darknet_inspector.core.layers import FAMILIES
from darknet_inspector.core.torch_layers.registry import build_module, module_types

for _family in FAMILIES:  # each family's torch side registers its modules
    import_module(f"{__name__}.{_family}")

__all__ = ["build_module", "module_types"]
