"""Layer types, one module per family; importing this package registers them all."""

from darknet_inspector.core.layers import (  # noqa: F401  (imported to register)
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
from darknet_inspector.core.layers.registry import (
    built_layer_type,
    head_type,
    is_head,
    layer_type,
    registered_types,
)

__all__ = ["built_layer_type", "head_type", "is_head", "layer_type", "registered_types"]
