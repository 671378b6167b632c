"""What OpenCV's Darknet importer (`cv2.dnn.readNetFromDarknet`) computes, keyed by Darknet
layer index, and our head outputs in the layout OpenCV's Region layer writes.

The logic lives in `core.opencv_dnn` (the `verify` command uses it too); this module keeps
the names the tests import.
"""

from __future__ import annotations

from darknet_inspector.core.opencv_dnn import (
    ACTIVATION_KINDS,
    HEAD_SECTIONS,
    OPENCV_COMPUTES_DIFFERENTLY,
    as_opencv,
    cannot_load_reason,
    compared_entries,
    compensate_bn_epsilon,
    darknet_layer_names,
    first_reason,
    opencv_cfg_text,
    opencv_outputs,
    read_opencv_net,
    region_as_opencv,
    yolo_as_opencv,
)

__all__ = [
    "ACTIVATION_KINDS", "HEAD_SECTIONS", "OPENCV_COMPUTES_DIFFERENTLY", "as_opencv",
    "cannot_load_reason", "compared_entries", "compensate_bn_epsilon", "darknet_layer_names",
    "first_reason", "opencv_cfg_text", "opencv_outputs", "read_opencv_net",
    "region_as_opencv", "yolo_as_opencv",
]
