"""The torch modules of core.layers.recurrent."""

from __future__ import annotations

import math

from torch import Tensor

from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.layers.convolutional import ConvolutionalParams
from darknet_inspector.core.layers.recurrent import (
    ConvLstmParams,
    CrnnParams,
    RecurrentConvGeometry,
    RecurrentParams,
    RnnParams,
    conv_lstm_conv_channels,
    conv_lstm_load_order,
)
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.convolutional import ConvModule
from darknet_inspector.core.torch_layers.held import HeldTensors
from darknet_inspector.core.torch_layers.recurrent_run import (
    ConvLstmModule,
    CrnnModule,
    GruModule,
    LstmModule,
    RnnModule,
    rnn_self_activation,
)
from darknet_inspector.core.torch_layers.registry import module_for


def nested_conv_module(layer: Layer, g: RecurrentConvGeometry, channels: int, filters: int,
                       activation: str) -> ConvModule:
    """One nested [convolutional] as `make_crnn_layer` / `make_conv_lstm_layer` make it:
    the layer's window, stride, dilation, padding, groups, batch norm, xnor and
    activation, over the layer's input height and width."""
    params = ConvolutionalParams(
        filters=filters, size=g.size, stride_x=g.stride, stride_y=g.stride,
        dilation=g.dilation, padding=g.padding, groups=g.groups, activation=activation,
        batch_normalize=g.batch_normalize, share_from=None, xnor=g.xnor, binary=False,
        flipped=False, in_channels=channels)
    inner = Layer(index=layer.index, type="convolutional", line=layer.line,
                  section=layer.section, input_shape=(channels, g.h, g.w),
                  output_shape=(filters, g.out_h, g.out_w), inputs=(), params=params)
    return ConvModule(inner)


class HistoryModule(DarknetModule):
    """`forward_history_layer` with one time step (inference): the whole batch's input is
    copied to the start of the zeroed output buffer, the rest stays zero."""

    def __init__(self, outputs: int, out_shape: tuple[int, ...]):
        super().__init__()
        self.outputs = outputs
        self.out_shape = tuple(out_shape)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(-1)
        buffer = flat.new_zeros(x.shape[0] * self.outputs)
        buffer[: flat.numel()] = flat
        return buffer.view(x.shape[0], *self.out_shape)


@module_for("rnn")
def _rnn_module(layer: Layer) -> DarknetModule:
    """Its nested [connected] layers run `activate_array` (`forward_connected_layer`)."""
    p = layer.params_as(RnnParams)
    own = rnn_self_activation(p.activation, p.logistic)
    return RnnModule(p.inputs, p.hidden, p.output, p.activation, p.zeroes, own,
                     p.zeroes and own == p.activation, p.batch_normalize, p.shortcut)


@module_for("gru")
def _gru_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(RecurrentParams)
    return GruModule(p.inputs, p.output, p.batch_normalize)


@module_for("lstm")
def _lstm_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(RecurrentParams)
    return LstmModule(p.inputs, p.output, p.batch_normalize)


@module_for("crnn")
def _crnn_module(layer: Layer) -> DarknetModule:
    p = layer.params_as(CrnnParams)
    g, act = p.geometry, p.activation
    return CrnnModule(nested_conv_module(layer, g, g.c, p.hidden, act),
                      nested_conv_module(layer, g, p.hidden, p.hidden, act),
                      nested_conv_module(layer, g, p.hidden, p.output, act),
                      (p.hidden, g.out_h, g.out_w), p.shortcut)


@module_for("conv_lstm")
def _conv_lstm_module(layer: Layer) -> DarknetModule:
    """Refused (tensors held, the reason as the message) when Darknet's numbers are
    undefined (`ConvLstmParams.refusal`)."""
    p = layer.params_as(ConvLstmParams)
    if p.refusal is not None:
        held = HeldTensors(layer)
        held.message = p.refusal
        return held
    g = p.geometry
    convs = {name: nested_conv_module(layer, g, conv_lstm_conv_channels(name, g.c, p.output,
                                                                        p.bottleneck),
                                      p.output, p.activation)
             for name in conv_lstm_load_order(p.peephole, p.bottleneck)}
    return ConvLstmModule(convs, (p.output, g.out_h, g.out_w), p.peephole,
                          p.lstm_activation, p.bottleneck, p.shortcut)


@module_for("history")
def _history_module(layer: Layer) -> DarknetModule:
    return HistoryModule(math.prod(layer.built_shape), layer.built_shape)
