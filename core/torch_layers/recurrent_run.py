"""The recurrent family run as Darknet runs it at inference: `detector test` and the
other inference paths parse the cfg with `time_steps=1` (`parse_network_cfg_custom(cfg,
1, 1)`, src/parser.c), so each forward is one time step, and `state.train=0` neither
resets nor advances the state. The state buffers are `calloc`ed by `make_*_layer`: the
first forward of a freshly loaded network starts from zeros. Darknet keeps `l.state`
(`l.h_cpu`, `l.c_cpu`) across `network_predict` calls; we compute that first call, every
forward (and every sample of a batch) from the zero state.

Sources: `forward_rnn_layer` (src/rnn_layer.c), `forward_crnn_layer` (src/crnn_layer.c),
`forward_gru_layer` (src/gru_layer.c), `forward_lstm_layer` (src/lstm_layer.c),
`forward_conv_lstm_layer` and `forward_conv_lstm_layer_gpu` (src/conv_lstm_layer.c).
"""

from __future__ import annotations

import torch
from torch import Tensor

from darknet_inspector.core.torch_layers.activations import Activate
from darknet_inspector.core.torch_layers.base import DarknetModule
from darknet_inspector.core.torch_layers.connected import ConnectedModule
from darknet_inspector.core.torch_layers.convolutional import ConvModule


def rnn_self_activation(activation: str, logistic: int) -> str:
    """`make_rnn_layer`: the self layer uses loggy with `logistic=2`, logistic with
    `logistic=1`, else the layer's activation."""
    return {1: "logistic", 2: "loggy"}.get(logistic, activation)


def rnn_next_state(state: Tensor, from_input: Tensor, from_self: Tensor,
                   shortcut: bool) -> Tensor:
    """`forward_rnn_layer` / `forward_crnn_layer`: the new state is the input layer's
    plus the self layer's output, plus the old state with `shortcut=1` (at inference the
    state pointer does not move, so the old state is copied onto itself)."""
    new = from_input + from_self
    return new + state if shortcut else new


def nested(owner: DarknetModule, name: str, x: Tensor) -> Tensor:
    """Run the nested layer `name` (registered under its Darknet name) on x."""
    result: Tensor = owner.get_submodule(name)(x)
    return result


def gru_output(state: Tensor, z: Tensor, h: Tensor) -> Tensor:
    """`weighted_sum_cpu(l.state, l.h_cpu, l.z_cpu, ...)` (src/blas.c): z*state + (1-z)*h."""
    return z * state + (1 - z) * h


class RnnModule(DarknetModule):
    """[rnn]: input, self and output [connected] layers, one step from the zero state."""

    def __init__(self, inputs: int, hidden: int, output: int, activation: str, zeroes: bool,
                 self_activation: str, self_zeroes: bool, batch_normalize: bool,
                 shortcut: bool):
        super().__init__()
        self.hidden = hidden
        self.shortcut = shortcut
        self.input_layer = ConnectedModule(inputs, hidden, batch_normalize, activation, zeroes)
        self.self_layer = ConnectedModule(hidden, hidden, batch_normalize, self_activation,
                                          self_zeroes)
        self.output_layer = ConnectedModule(hidden, output, batch_normalize, activation,
                                            zeroes)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        state = flat.new_zeros(flat.shape[0], self.hidden)
        state = rnn_next_state(state, self.input_layer(flat), self.self_layer(state),
                               self.shortcut)
        return self.output_layer(state)


class CrnnModule(DarknetModule):
    """[crnn]: [rnn] with three nested [convolutional] layers over a (hidden, H, W) state."""

    def __init__(self, input_layer: ConvModule, self_layer: ConvModule,
                 output_layer: ConvModule, state_shape: tuple[int, int, int], shortcut: bool):
        super().__init__()
        self.input_layer = input_layer
        self.self_layer = self_layer
        self.output_layer = output_layer
        self.state_shape = state_shape
        self.shortcut = shortcut

    def forward(self, x: Tensor) -> Tensor:
        state = x.new_zeros(x.shape[0], *self.state_shape)
        state = rnn_next_state(state, self.input_layer(x), self.self_layer(state),
                               self.shortcut)
        return self.output_layer(state)


class GruModule(DarknetModule):
    """[gru]: z = logistic(Wz x + Uz s), r = logistic(Wr x + Ur s), candidate
    h = logistic(Wh x + Uh (r*s)) -- logistic, not tanh: `forward_gru_layer` uses tanh only
    `#ifdef USET`, which gru_layer.c never defines --, output z*s + (1-z)*h."""

    def __init__(self, inputs: int, output: int, batch_normalize: bool):
        super().__init__()
        self.output = output
        for name in ("input_z_layer", "input_r_layer", "input_h_layer"):
            self.add_module(name, ConnectedModule(inputs, output, batch_normalize))
        for name in ("state_z_layer", "state_r_layer", "state_h_layer"):
            self.add_module(name, ConnectedModule(output, output, batch_normalize))

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        state = flat.new_zeros(flat.shape[0], self.output)
        z = torch.sigmoid(self.gate("z", flat, state))
        r = torch.sigmoid(self.gate("r", flat, state))
        h = torch.sigmoid(self.gate("h", flat, r * state))
        return gru_output(state, z, h)

    def gate(self, which: str, x: Tensor, state: Tensor) -> Tensor:
        """input_<which>_layer(x) + state_<which>_layer(state)."""
        return (nested(self, f"input_{which}_layer", x)
                + nested(self, f"state_{which}_layer", state))


class LstmModule(DarknetModule):
    """[lstm]: gates f, i, o logistic and g tanh over W (from h) plus U (from the input);
    c = f*c + i*g, output h = o*tanh(c); h and c start at zero."""

    def __init__(self, inputs: int, output: int, batch_normalize: bool):
        super().__init__()
        self.output = output
        for name in ("wf", "wi", "wg", "wo"):
            self.add_module(name, ConnectedModule(output, output, batch_normalize))
        for name in ("uf", "ui", "ug", "uo"):
            self.add_module(name, ConnectedModule(inputs, output, batch_normalize))

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        h = c = flat.new_zeros(flat.shape[0], self.output)
        f = torch.sigmoid(nested(self, "wf", h) + nested(self, "uf", flat))
        i = torch.sigmoid(nested(self, "wi", h) + nested(self, "ui", flat))
        g = torch.tanh(nested(self, "wg", h) + nested(self, "ug", flat))
        o = torch.sigmoid(nested(self, "wo", h) + nested(self, "uo", flat))
        c = f * c + i * g
        return o * torch.tanh(c)


def conv_lstm_bottleneck_input(h: Tensor, x: Tensor) -> Tensor:
    """`forward_conv_lstm_layer_gpu` with bottleneck: `l.bottelneck_hi_gpu` holds
    `l.outputs` floats of h, then as many of the input (the build refuses inputs of
    another size), so wf sees h's channels, then the input's."""
    return torch.cat([h, x], dim=1)


def conv_lstm_partial_residual(output: Tensor, wf_output: Tensor) -> Tensor:
    """`shortcut=1` with bottleneck, the "partial residual connection" of
    `forward_conv_lstm_layer_gpu`: `axpy_ongpu(l.outputs*l.batch/2, 1, wf.output_gpu, ...)`
    adds wf's (activated) output to the first half of the output's floats, rounded
    down. Darknet's batch is 1 at inference; each sample here is such a batch (with a
    larger Darknet batch that half would span samples). Without bottleneck, shortcut
    does nothing."""
    flat = output.reshape(output.shape[0], -1)
    half = flat.shape[1] // 2
    added = flat[:, :half] + wf_output.reshape(flat.shape)[:, :half]
    return torch.cat([added, flat[:, half:]], dim=1).view_as(output)


class ConvLstmModule(DarknetModule):
    """[conv_lstm]: as [lstm] with nested convolutions; with `peephole=1`, vf and vi (from
    the old c) add to f and i, vo (from the new c) to o. g and the output's activation of
    c are `lstm_activation` (tanh by default). The cell clamp (`state_constrain`) acts on
    the kept state after the output is taken, so it does not change one step's output.
    A NaN or Inf in h becomes a "pseudo random" value before Darknet outputs it
    (`fix_nan_and_inf`: 1/i on the CPU, 1/(i+1) on the GPU); here it stays NaN or Inf.

    With `bottleneck=1`, `forward_conv_lstm_layer_gpu` (the only forward that implements
    it; core.layers.recurrent.conv_lstm_bottleneck_gpu_only): wf runs on h beside the
    input, then `lstm_activation`; the gates have no w terms and uf, ui, ug, uo run on
    wf's output instead of the input; `shortcut=1` adds wf's output to half the output."""

    def __init__(self, convs: dict[str, ConvModule], state_shape: tuple[int, int, int],
                 peephole: bool, lstm_activation: str, bottleneck: bool = False,
                 shortcut: bool = False):
        super().__init__()
        for name, conv in convs.items():
            self.add_module(name, conv)
        self.state_shape = state_shape
        self.peephole = peephole
        self.lstm_act = Activate(lstm_activation)
        self.bottleneck = bottleneck
        self.shortcut = shortcut

    def forward(self, x: Tensor) -> Tensor:
        h = c = x.new_zeros(x.shape[0], *self.state_shape)
        if self.bottleneck:
            x = self.lstm_act(nested(self, "wf", conv_lstm_bottleneck_input(h, x)))
        f = self.gate("f", h, x)
        i = self.gate("i", h, x)
        if self.peephole:
            f = f + nested(self, "vf", c)
            i = i + nested(self, "vi", c)
        f, i = torch.sigmoid(f), torch.sigmoid(i)
        g = self.lstm_act(self.gate("g", h, x))
        c = f * c + i * g
        o = self.gate("o", h, x)
        if self.peephole:
            o = o + nested(self, "vo", c)
        output = torch.sigmoid(o) * self.lstm_act(c)
        if self.bottleneck and self.shortcut:
            output = conv_lstm_partial_residual(output, x)
        return output

    def gate(self, which: str, h: Tensor, x: Tensor) -> Tensor:
        """u<which>(x) + w<which>(h); with bottleneck only u<which>, x being wf's output
        (`add_3_arrays_activate` gets NULL for the w term)."""
        from_input = nested(self, f"u{which}", x)
        if self.bottleneck:
            return from_input
        return nested(self, f"w{which}", h) + from_input
