"""The torch side of the layer types (core.layers has the torch-free side: shapes, weight
layouts, diagnostics): each family's modules and head decoders, registered by layer type
name. Importing this package imports torch and registers them all; `inspect`, the byte
ledger and the diagnosis never import it."""

from darknet_inspector.core.torch_layers import (  # noqa: F401  (imported to register)
    activation,
    attention,
    batchnorm,
    connected,
    contrastive,
    convolutional,
    cost,
    crop,
    detection,
    dropout,
    empty,
    gaussian_yolo,
    implicit,
    local,
    normalization,
    pooling,
    recurrent,
    region,
    reorg,
    route,
    shortcut,
    softmax,
    upsample,
    yolo,
)
from darknet_inspector.core.torch_layers.registry import (
    build_module,
    decoded_types,
    head_decoder,
    module_types,
)

__all__ = ["build_module", "decoded_types", "head_decoder", "module_types"]
