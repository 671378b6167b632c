"""What OpenCV's Darknet importer (`cv2.dnn.readNetFromDarknet`) computes, keyed by Darknet
layer index, and our head outputs in the layout OpenCV's Region layer writes.

The logic lives in `core.opencv_dnn` and, for each head's layout, in its layer type (the
`verify` command uses them too); this module keeps the names the tests import.
"""

from __future__ import annotations

from darknet_inspector.core.layers.region import region_as_opencv
from darknet_inspector.core.layers.yolo import yolo_as_opencv
from darknet_inspector.core.opencv_dnn import (
    ACTIVATION_KINDS,
    HEAD_SECTIONS,
    OPENCV_COMPUTES_DIFFERENTLY,
    as_opencv,
    compared_entries,
    compensate_bn_epsilon,
    darknet_layer_names,
    first_reason,
    first_unloadable,
    opencv_cfg_text,
    opencv_outputs,
    read_opencv_net,
)

__all__ = [
    "ACTIVATION_KINDS", "HEAD_SECTIONS", "OPENCV_COMPUTES_DIFFERENTLY", "as_opencv",
    "compared_entries", "compensate_bn_epsilon", "darknet_layer_names",
    "first_reason", "first_unloadable", "opencv_cfg_text", "opencv_outputs", "read_opencv_net",
    "region_as_opencv", "yolo_as_opencv",
]
