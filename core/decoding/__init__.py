"""How `detector test` turns a head's output into candidate boxes, torch-free (numpy): one
`HeadDecoder` per head type, registered by layer type name. The outputs of both engines
(the torch model and core.numpy_engine) decode here, on the CPU."""

from importlib import import_module

from darknet_inspector.core.decoding.base import (
    Decoded,
    HeadDecoder,
    Size,
    decoded_types,
    head_decoder,
)

DECODED_FAMILIES = ("yolo", "gaussian_yolo", "region", "detection")

for _family in DECODED_FAMILIES:  # each registers its decoder
    import_module(f"{__name__}.{_family}")

__all__ = ["Decoded", "HeadDecoder", "Size", "decoded_types", "head_decoder"]
