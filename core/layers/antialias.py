"""`antialiasing=` on [convolutional] and [maxpool]: `make_convolutional_layer`
(src/convolutional_layer.c) and `make_maxpool_layer` (src/maxpool_layer.c) run the host
layer at stride 1 and follow it with a fixed depthwise blur at the layer's stride
(`l.input_layer`, a linear conv with groups = channels and zero biases), whose output is
what the next layer reads (`parse_network_cfg_custom`, src/parser.c)."""

from __future__ import annotations


def darknet_blur_size_and_pad(antialiasing: int) -> tuple[int, int]:
    """The blur's kernel size and padding: 2x2 without padding for `antialiasing=2`,
    3x3 padded by 1 for any other non-zero value."""
    return (2, 0) if antialiasing == 2 else (3, 1)
