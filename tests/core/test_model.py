"""DarknetModel: loading adopts the reader's arrays (one copy from disk), channels_last
on CPU changes nothing but speed, small cases against hand-written numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.model import DarknetModel
from darknet_inspector.core.torch_layers.activations import ACTIVATIONS
from darknet_inspector.core.weights import WeightsReader
from tests.core.test_cli import CFG, line_of
from tests.helpers import net_from_text, write_random_weights

BN_EPSILON = 1e-5


def loaded(text: str, path, copy: bool = True, seed: int = 0):
    network = net_from_text(text)
    tensors = write_random_weights(network, path, seed=seed)
    model = DarknetModel(network).eval()
    reader = WeightsReader(network, path, copy=copy)
    records = list(reader.records())
    count = model.load_records(records, reader.header.transposed)
    return model, tensors, records, count


def test_loading_adopts_the_readers_arrays_without_copying(tmp_path):
    model, tensors, records, count = loaded(CFG, tmp_path / "w.weights")
    assert count == len(tensors)
    for record in records:
        for tensor in record.tensors:
            target = model.layers[record.index].darknet_tensor(tensor.name)
            assert target.data_ptr() == tensor.values.ctypes.data
            assert isinstance(target, torch.nn.Parameter) and not target.requires_grad
            np.testing.assert_array_equal(target.numpy(), tensors[(record.index, tensor.name)])


def test_reader_values_are_own_arrays_never_views_on_the_file(tmp_path):
    """No memory map anywhere (a file rewritten during training must not crash a reader):
    even the inspecting reader (copy=False) hands out arrays that own their memory, and a
    model adopts them as they are."""
    model, tensors, records, _ = loaded(CFG, tmp_path / "w.weights", copy=False)
    for record in records:
        for tensor in record.tensors:
            assert tensor.values.flags.owndata and tensor.values.flags.writeable
            target = model.layers[record.index].darknet_tensor(tensor.name)
            np.testing.assert_array_equal(target.numpy(), tensors[(record.index, tensor.name)])


SHARED = """[net]
width=8
height=8
channels=3

[convolutional]
filters=3
size=1
activation=linear

[convolutional]
filters=3
size=1
share_index=-1
activation=linear
"""


def test_share_index_layer_sees_the_adopted_tensors(tmp_path):
    model, tensors, _, _ = loaded(SHARED, tmp_path / "w.weights")
    assert model.network.layers[1].weights == ()
    w = tensors[(0, "weights")].reshape(3, 3)
    b = tensors[(0, "biases")]
    x = np.random.default_rng(0).random((3, 8, 8), dtype=np.float32)
    once = np.einsum("oc,chw->ohw", w, x) + b[:, None, None]
    twice = np.einsum("oc,chw->ohw", w, once) + b[:, None, None]
    with torch.no_grad():
        (out,) = model(torch.from_numpy(x)[None])
    np.testing.assert_allclose(out[0].numpy(), twice, rtol=1e-5, atol=1e-6)


BN_CONV = """[net]
width=5
height=4
channels=2

[convolutional]
batch_normalize=1
filters=3
size=1
activation=leaky
"""


def test_bn_conv_leaky_matches_darknet_formula_by_hand(tmp_path):
    model, t, _, _ = loaded(BN_CONV, tmp_path / "w.weights", seed=4)
    x = np.random.default_rng(1).normal(size=(2, 4, 5)).astype(np.float32)
    conv = np.einsum("oc,chw->ohw", t[(0, "weights")].reshape(3, 2), x)
    norm = (conv - t[(0, "rolling_mean")][:, None, None]) / np.sqrt(
        t[(0, "rolling_variance")][:, None, None] + BN_EPSILON)
    y = norm * t[(0, "scales")][:, None, None] + t[(0, "biases")][:, None, None]
    expected = np.where(y > 0, y, 0.1 * y)
    with torch.no_grad():
        (out,) = model(torch.from_numpy(x)[None])
        (fused,) = model.fuse()(torch.from_numpy(x)[None])
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused[0].numpy(), expected, rtol=1e-5, atol=1e-5)


def test_mish_matches_darknets_thresholded_softplus():
    x = torch.cat([torch.linspace(-100, 100, 20001), torch.tensor([-20.0, 20.0, 89.0, -89.0])])
    d = x.double()
    softplus = torch.where(d > 20, d, torch.where(d < -20, torch.exp(d), torch.log1p(torch.exp(d))))
    expected = d * torch.tanh(softplus)
    got = ACTIVATIONS["mish"](x).double()
    assert torch.allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fuse", [False, True])
def test_channels_last_and_nchw_agree_and_outputs_are_contiguous(tmp_path, fuse):
    model, _, _, _ = loaded(CFG, tmp_path / "w.weights")
    if fuse:
        model.fuse()
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        model.channels_last = True
        fast = model(x)
        every = model(x, all_outputs=True)
        model.channels_last = False
        plain = model(x)
    assert all(t.is_contiguous() for t in fast + every)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
    assert [torch.equal(every[i], out) for i, out in zip(model.heads, fast)] == [True, True]


def test_modules_that_do_not_keep_layout_get_contiguous_nchw_inputs(tmp_path, monkeypatch):
    model, _, _, _ = loaded(CFG, tmp_path / "w.weights")
    seen = []
    yolo = type(model.layers[6])
    original = yolo.forward

    def spy(self, x):
        seen.append(x.is_contiguous())
        return original(self, x)

    monkeypatch.setattr(yolo, "forward", spy)
    assert not yolo.keeps_layout and type(model.layers[0]).keeps_layout
    with torch.no_grad():
        model(torch.rand(1, 3, 64, 64))
    assert seen == [True, True]


def test_model_of_a_network_with_cfg_errors_is_refused_naming_the_layer():
    text = CFG.replace("[upsample]", "[upsampel]")
    line = line_of(text, "[upsampel]")
    with pytest.raises(InspectorError, match=rf"layer 8 \(\[upsampel\], cfg line {line}\)"):
        DarknetModel(net_from_text(text))


PLAIN_CONVS = """[net]
width=12
height=10
channels=4

[convolutional]
filters=6
size=3
stride=2
pad=1
activation=leaky

[convolutional]
filters=6
size=3
groups=2
pad=1
activation=mish

[convolutional]
filters=5
size=1
activation=logistic
"""


def _conv_outputs(model, x, packed: bool):
    for module in model.layers:
        module.packed.broken = not packed
    with torch.no_grad():
        return model(x, all_outputs=True)


@pytest.mark.parametrize("channels_last", [True, False])
def test_packed_conv_agrees_with_f_conv2d(tmp_path, channels_last):
    model, _, _, _ = loaded(PLAIN_CONVS, tmp_path / "w.weights")
    model.channels_last = channels_last
    x = torch.rand(2, 4, 10, 12, generator=torch.Generator().manual_seed(5))
    fast = _conv_outputs(model, x, packed=True)
    assert all(module.packed.key is not None for module in model.layers)
    plain = _conv_outputs(model, x, packed=False)
    for a, b in zip(fast, plain):
        assert a.is_contiguous()
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_packed_weights_follow_changed_weights_and_skip_autograd(tmp_path):
    model, _, _, _ = loaded(PLAIN_CONVS, tmp_path / "w.weights")
    conv = model.layers[2]
    x = torch.rand(1, 4, 10, 12)
    before = _conv_outputs(model, x, packed=True)[2]
    with torch.no_grad():
        conv.weights.mul_(2.0)
    after = _conv_outputs(model, x, packed=True)[2]
    expected = _conv_outputs(model, x, packed=False)[2]
    np.testing.assert_allclose(after.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(before, after)
    fresh, _, _, _ = loaded(PLAIN_CONVS, tmp_path / "v.weights")
    fresh(x)  # grad mode: the plain path, nothing packed
    assert all(module.packed.key is None for module in fresh.layers)


def test_a_model_run_once_never_packs_and_agrees_with_f_conv2d(tmp_path):
    """`never_pack` (`detect` on the command line runs the network once): oneDNN takes
    the plain weights, nothing is packed, and every run gives the same numbers."""
    from darknet_inspector.core.torch_layers.fastconv import never_pack

    model, _, _, _ = loaded(PLAIN_CONVS, tmp_path / "w.weights")
    never_pack(model)
    x = torch.rand(1, 4, 10, 12, generator=torch.Generator().manual_seed(2))
    first = _conv_outputs(model, x, packed=True)
    second = _conv_outputs(model, x, packed=True)
    assert all(m.packed.packed is None and not m.packed.broken for m in model.layers)
    for a, b, c in zip(first, second, _conv_outputs(model, x, packed=False)):
        assert torch.equal(a, b)
        np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-5, atol=1e-6)


def test_packed_conv_falls_back_when_onednn_refuses(tmp_path, monkeypatch):
    from darknet_inspector.core.torch_layers import fastconv

    def refuse(*args):
        raise RuntimeError("not in this build")

    monkeypatch.setattr(fastconv, "_OPERATORS", (refuse, refuse))
    model, _, _, _ = loaded(PLAIN_CONVS, tmp_path / "w.weights")
    x = torch.rand(1, 4, 10, 12)
    got = _conv_outputs(model, x, packed=True)
    assert all(module.packed.broken for module in model.layers)
    for a, b in zip(got, _conv_outputs(model, x, packed=False)):
        assert torch.equal(a, b)
