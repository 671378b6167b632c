"""Detection preview: head decoding, thresholds, devices, the Detector API and the
`detect` command; on the real Yolo-Fastest model against real Darknet and OpenCV DNN."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from darknet_inspector.core.cli import build_parser, main
from darknet_inspector.core.decoding.gaussian_yolo import decode_gaussian_yolo
from darknet_inspector.core.decoding.region import decode_region
from darknet_inspector.core.decoding.yolo import decode_yolo
from darknet_inspector.core.detect import (
    Decoded,
    Detector,
    Inference,
    correct_boxes,
    read_names,
)
from darknet_inspector.core.errors import UsageError
from darknet_inspector.core.image import darknet_letterbox, image_to_chw
from darknet_inspector.core.layers.gaussian_yolo import GaussianYoloParams
from darknet_inspector.core.layers.region import RegionParams
from darknet_inspector.core.layers.yolo import YoloParams
from darknet_inspector.core.model import load_model
from darknet_inspector.core.network import load_network
from darknet_inspector.core.numpy_engine import NumpyNetwork
from darknet_inspector.core.torch_engine import available_devices, resolve_device
from darknet_inspector.core.torch_layers.yolo import YoloModule
from darknet_inspector.core.weights import WeightsReader
from tests.conftest import zoo_path
from tests.helpers import tree_model_files, write_random_weights

CUDA = torch.cuda.is_available()
PHOTOS = ("dog", "person", "horses", "eagle", "giraffe")


def set_entries(output: torch.Tensor, anchor: int, row: int, col: int, values: list[float],
                entries: int) -> None:
    """Write one anchor's entries at one cell of a (A*E, H, W) head output."""
    for e, value in enumerate(values):
        output[anchor * entries + e, row, col] = value


# ---------------------------------------------------------------- decoding

def test_yolo_box_is_cell_plus_offset_and_exp_anchor_over_input():
    params = YoloParams(classes=2, num=2, mask=(1,), anchors=(10, 14, 20, 30))
    out = torch.zeros(7, 2, 3)
    set_entries(out, 0, 1, 2, [0.25, 0.75, math.log(2), 0.0, 0.8, 0.5, 0.9], 7)
    decoded = decode_yolo(params, out.numpy(), (64, 32))
    index = (1 * 3 + 2) * 1  # Darknet's order: cell row-major, then anchor
    box = decoded.boxes[index].tolist()
    assert box == pytest.approx([(2 + 0.25) / 3, (1 + 0.75) / 2, 2 * 20 / 64, 1 * 30 / 32])
    assert decoded.gate[index].item() == pytest.approx(0.8)
    assert decoded.probs[index].tolist() == pytest.approx([0.8 * 0.5, 0.8 * 0.9])
    assert decoded.boxes.shape == (6, 4) and decoded.probs.shape == (6, 2)


def test_yolo_new_coords_squares_w_h_times_four_anchors():
    params = YoloParams(classes=1, num=1, mask=(0,), anchors=(20, 30), new_coords=True)
    out = torch.zeros(6, 1, 1)
    set_entries(out, 0, 0, 0, [0.5, 0.5, 0.5, 0.25, 0.7, 1.0], 6)
    box = decode_yolo(params, out.numpy(), (64, 32)).boxes[0].tolist()
    assert box == pytest.approx([0.5, 0.5, 0.5 * 0.5 * 4 * 20 / 64, 0.25 * 0.25 * 4 * 30 / 32])


def test_yolo_orders_anchors_within_a_cell_and_uses_the_masked_anchor():
    params = YoloParams(classes=1, num=3, mask=(2, 0), anchors=(4, 4, 8, 8, 16, 16))
    out = torch.zeros(12, 1, 2)
    set_entries(out, 1, 0, 1, [0.5, 0.5, 0.0, 0.0, 0.9, 1.0], 6)
    decoded = decode_yolo(params, out.numpy(), (32, 32))
    index = (0 * 2 + 1) * 2 + 1
    assert decoded.boxes[index].tolist() == pytest.approx([0.75, 0.5, 4 / 32, 4 / 32])
    assert decoded.boxes[index - 1, 2].item() == pytest.approx(16 / 32)


def test_scale_x_y_comes_from_the_layer_and_is_not_applied_twice():
    """The layer maps x to sigmoid(t)*1.2 - 0.1; decoding adds the cell and divides."""
    raw = torch.zeros(1, 7, 1, 2)
    raw[0, 0, 0, 1] = math.log(3)  # sigmoid = 0.75 -> 0.75*1.2 - 0.1 = 0.8
    layer_out = YoloModule(1, 2, 1.2, False)(raw)
    params = YoloParams(classes=2, num=1, mask=(0,), anchors=(8, 8))
    boxes = decode_yolo(params, layer_out[0].numpy(), (32, 32)).boxes
    assert boxes[1, 0].item() == pytest.approx((1 + 0.8) / 2)
    assert boxes[0, 0].item() == pytest.approx((0 + 0.5) / 2)


def test_region_applies_logistic_to_x_y_and_anchors_in_grid_cells():
    params = RegionParams(classes=3, coords=4, num=2, anchors=(1, 2, 3, 4), softmax=True)
    out = torch.zeros(2 * 8, 2, 2)
    classes = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0).tolist()
    set_entries(out, 1, 0, 1, [0.0, math.log(3), math.log(2), 0.0, 0.5, *classes], 8)
    decoded = decode_region(params, out.numpy(), (416, 416))
    index = (0 * 2 + 1) * 2 + 1
    assert decoded.boxes[index].tolist() == pytest.approx(
        [(1 + 0.5) / 2, (0 + 0.75) / 2, 2 * 3 / 2, 1 * 4 / 2])
    assert decoded.probs[index].tolist() == pytest.approx([0.5 * p for p in classes])
    assert decoded.gate[index].item() == math.inf  # Darknet sets objectness 1 for region


def test_gaussian_yolo_lowers_the_score_by_the_mean_uncertainty():
    params = GaussianYoloParams(classes=1, num=1, mask=(0,), anchors=(8, 16), yolo_point="center")
    out = torch.zeros(10, 1, 1)
    set_entries(out, 0, 0, 0, [0.5, 0.2, 0.25, 0.4, math.log(2), 0.6, 0.0, 0.8, 0.9, 0.5], 10)
    decoded = decode_gaussian_yolo(params, out.numpy(), (32, 32))
    assert decoded.boxes[0].tolist() == pytest.approx([0.5, 0.25, 2 * 8 / 32, 16 / 32])
    assert decoded.probs[0, 0].item() == pytest.approx(0.9 * 0.5 * (1 - 0.5))
    assert decoded.gate[0].item() == pytest.approx(0.9)


@pytest.mark.parametrize("point, centre", [("left_top", (0.75, 0.5)),
                                           ("right_bottom", (0.25, 0.0))])
def test_gaussian_yolo_point_moves_the_centre_by_half_the_box(point, centre):
    params = GaussianYoloParams(classes=1, num=1, mask=(0,), anchors=(8, 16), yolo_point=point)
    out = torch.zeros(10, 1, 1)
    set_entries(out, 0, 0, 0, [0.5, 0, 0.25, 0, math.log(2), 0, 0.0, 0, 0.9, 0.5], 10)
    decoded = decode_gaussian_yolo(params, out.numpy(), (32, 32))
    assert decoded.boxes[0, :2].tolist() == pytest.approx(list(centre))


def test_letterboxed_boxes_lose_the_padding_and_the_scale():
    """200x100 image in a 64x64 letterbox: 64x32 content, 16 rows of bars above."""
    boxes = np.array([[0.5, 0.5, 0.5, 0.25], [0.25, 0.3, 0.1, 0.1]], dtype=np.float32)
    got = correct_boxes(boxes, (200, 100), (64, 64), letterbox=True)
    expected = np.array([[0.5, 0.5, 0.5, 0.5], [0.25, 0.1, 0.1, 0.2]], dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert correct_boxes(boxes, (200, 100), (64, 64), letterbox=False) is boxes


# ---------------------------------------------------------------- the Detector on a tiny model

TINY_CFG = """[net]
width=64
height=48
channels=3
{letter_box}

[convolutional]
filters=8
size=3
stride=4
pad=1
activation=leaky

[convolutional]
filters=21
size=1
stride=1
activation=linear

[yolo]
mask=0,1,2
anchors=8,8, 16,24, 40,30
classes=2
num=3
"""


@pytest.fixture
def tiny(tmp_path):
    """A two-class detector with random weights, and a 50x30 photo-like image."""
    cfg = tmp_path / "tiny.cfg"
    cfg.write_text(TINY_CFG.format(letter_box=""))
    weights = tmp_path / "tiny.weights"
    write_random_weights(load_network(cfg), weights, seed=3)
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (30, 50, 3), np.uint8)).save(image)
    return cfg, weights, image


def test_thresholds_change_without_running_the_network_again(tiny):
    cfg, weights, image = tiny
    model, _ = load_model(cfg, weights)
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    detector = Detector(model)
    inference = detector.infer(image)
    low = detector.detections(inference, conf=0.2)
    high = detector.detections(inference, conf=0.5)
    agnostic = detector.detections(inference, conf=0.2, agnostic=True)
    assert len(calls) == 1
    assert low and high == [d for d in low if d.confidence > 0.5]
    assert len(agnostic) <= len(low)
    assert [d.confidence for d in low] == sorted((d.confidence for d in low), reverse=True)
    assert set(inference.timings) >= {"preprocess", "forward", "decode", "nms"}
    assert inference.image_size == (50, 30)


def test_detection_boxes_are_image_pixels_of_the_decoded_boxes(tiny):
    cfg, weights, image = tiny
    detector = Detector(load_model(cfg, weights)[0], names=["cat", "dog"])
    inference = detector.infer(image)
    found = detector.detections(inference, conf=0.3, nms=0)
    decoded = inference.candidates[0]
    expected = []
    for index in range(len(decoded.boxes)):
        x, y, w, h = decoded.boxes[index].tolist()
        for k in range(2):
            prob = decoded.probs[index, k].item()
            if decoded.gate[index] > 0.3 and prob > 0.3:
                expected.append((k, prob, (x - w / 2) * 50, (y - h / 2) * 30,
                                 (x + w / 2) * 50, (y + h / 2) * 30))
    got = [(d.class_id, d.confidence, *d.box) for d in found]
    assert len(got) == len(expected) > 0
    for mine, theirs in zip(sorted(got), sorted(expected)):
        assert mine == pytest.approx(theirs)
    assert {d.name for d in found} <= {"cat", "dog"}


def test_letterbox_comes_from_the_cfg_unless_overridden(tmp_path, tiny):
    cfg, weights, image = tiny
    boxed = tmp_path / "boxed.cfg"
    boxed.write_text(TINY_CFG.format(letter_box="letter_box=1"))
    model = load_model(boxed, weights)[0]
    assert Detector(model).letterbox is True
    assert Detector(model, letterbox=False).letterbox is False
    assert Detector(load_model(cfg, weights)[0]).letterbox is False
    chw, size = Detector(model).preprocess(image)
    expected = darknet_letterbox(image_to_chw(Image.open(image).convert("RGB")), 64, 48)
    assert size == (50, 30) and np.array_equal(chw, expected)


def test_names_missing_a_class_fall_back_to_the_class_number(tiny):
    cfg, weights, image = tiny
    detector = Detector(load_model(cfg, weights)[0], names=["only"])
    assert detector.name_of(0) == "only" and detector.name_of(1) == "1"


def test_read_names_drops_trailing_blank_lines_and_carriage_returns(tmp_path):
    path = tmp_path / "x.names"
    path.write_bytes(b"person\r\nbicycle\r\n\r\n")
    assert read_names(path) == ["person", "bicycle"]
    with pytest.raises(UsageError, match="cannot read names"):
        read_names(tmp_path / "absent.names")


def test_a_classifier_is_refused_with_the_layer_named(tmp_path):
    cfg = tmp_path / "classifier.cfg"
    cfg.write_text("[net]\nwidth=8\nheight=8\nchannels=3\n\n[convolutional]\nfilters=4\n"
                   "size=1\nactivation=linear\n\n[avgpool]\n")
    weights = tmp_path / "c.weights"
    write_random_weights(load_network(cfg), weights)
    with pytest.raises(UsageError, match=r"layer 1 \(\[avgpool\].*not a detection head"):
        Detector(load_model(cfg, weights)[0])


def test_half_precision_falls_back_to_float32_when_heads_are_not_finite(tiny):
    cfg, weights, image = tiny
    detector = Detector(load_model(cfg, weights)[0])
    reference = detector.detections(detector.infer(image))

    class Broken(torch.nn.Module):
        def forward(self, x):
            return [torch.full((1, 21, 12, 16), float("nan"), dtype=torch.float16)]

    detector.engine.half, detector.engine._half_model = True, Broken()
    inference = detector.infer(image)
    assert any("NaN/Inf" in note for note in inference.warnings)
    assert detector.detections(inference) == reference


# ---------------------------------------------------------------- devices

@pytest.mark.skipif(CUDA, reason="checks the message shown where CUDA is absent")
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "CUDA:1"])
def test_cuda_where_absent_is_one_line_naming_what_is_missing(spec):
    with pytest.raises(UsageError) as caught:
        resolve_device(spec)
    message = str(caught.value)
    assert "\n" not in message and "CUDA" in message and spec in message
    assert available_devices()[-1][0] == "cuda" and available_devices()[-1][1]


def test_cpu_and_auto_always_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if CUDA else "cpu")
    assert available_devices()[0] == ("cpu", None)


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "tpu:0"])
def test_unknown_devices_are_usage_errors(spec):
    if spec == "cuda:x" and not CUDA:
        pytest.skip("without CUDA the missing CUDA is reported first")
    with pytest.raises(UsageError):
        resolve_device(spec)


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_finds_what_the_cpu_finds(yolo_fastest):
    image = zoo_path("data", "dog.jpg")
    cpu = Detector(load_model(*yolo_fastest)[0])
    expected = cpu.detections(cpu.infer(image))
    for half, tolerance in ((False, 2e-3), (True, 3e-2)):
        gpu = Detector(load_model(*yolo_fastest)[0], device="cuda", half=half)
        inference = gpu.infer(image)
        assert inference.device.startswith("cuda")
        assert inference.engine == "torch"
        assert_same_detections(gpu.detections(inference), expected, 0.25, tolerance,
                               0.9 if half else 0.99)


# ---------------------------------------------------------------- the real model

def iou_xyxy(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def assert_same_detections(ours, theirs, conf, tolerance, min_iou) -> None:
    """Every detection has a partner of the same class (IoU >= min_iou, confidence within
    tolerance); only ones within tolerance of the threshold may lack one."""
    for mine, others in ((ours, theirs), (theirs, ours)):
        for d in mine:
            partners = [o for o in others if o.class_id == d.class_id
                        and iou_xyxy(o.box, d.box) >= min_iou
                        and abs(o.confidence - d.confidence) <= tolerance]
            assert partners or d.confidence - conf <= tolerance, f"no partner for {d}"


def engine_detector(engine: str, yolo_fastest) -> Detector:
    """Yolo-Fastest on the torch model or on the numpy engine (core.numpy_engine)."""
    if engine == "torch":
        return Detector(load_model(*yolo_fastest)[0])
    network = load_network(str(yolo_fastest[0]))
    reader = WeightsReader(network, yolo_fastest[1], copy=True)
    return Detector(NumpyNetwork(network, reader.read_all(), reader.header.transposed))


def inference_from_darknet_reference(photo: str, detector: Detector
                                     ) -> tuple[Inference, dict]:
    folder = zoo_path("darknet-reference", "yolo-fastest-1.1", photo)
    reference = json.loads((folder / "detections.json").read_text())
    x = np.fromfile(folder / "input.f32", np.float32).reshape(3, 320, 320)
    outputs = detector.engine.forward(x, [])
    candidates = [decode_yolo(layer.params_as(YoloParams), out, (320, 320))
                  for layer, out in zip(detector.heads, outputs)]
    last = detector.heads[-1].params_as(YoloParams)
    inference = Inference((reference["image_w"], reference["image_h"]), (320, 320), False,
                          "cpu", candidates, last.nms_kind, last.beta_nms)
    return inference, reference


@pytest.mark.parametrize("engine", ["torch", "numpy"])
@pytest.mark.parametrize("photo", ["dog", "horses", "person"])
def test_same_detections_as_real_darknet_on_its_own_input(photo, engine, yolo_fastest):
    detector = engine_detector(engine, yolo_fastest)
    inference, reference = inference_from_darknet_reference(photo, detector)
    found = detector.detections(inference, reference["thresh"], reference["nms"])
    width, height = reference["image_w"], reference["image_h"]
    expected = sorted(reference["detections"], key=lambda d: -d["prob"])
    assert len(found) == reference["num_detections"] == len(expected)
    for d, r in zip(found, expected):
        box = ((r["x"] - r["w"] / 2) * width, (r["y"] - r["h"] / 2) * height,
               (r["x"] + r["w"] / 2) * width, (r["y"] + r["h"] / 2) * height)
        assert d.class_id == r["class_id"]
        assert d.confidence == pytest.approx(r["prob"], abs=1e-4)
        assert iou_xyxy(d.box, box) > 0.999


def opencv_inference(cfg, weights, x: np.ndarray, image_size, template: Inference):
    """OpenCV DNN's own network and yolo-layer decoding on the same input tensor; its rows
    are (x, y, w, h, objectness, objectness*class...) in the same order as Darknet's."""
    cv2 = pytest.importorskip("cv2")
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    net.setInput(x[None])
    outputs = net.forward(net.getUnconnectedOutLayersNames())
    candidates = [Decoded(o[:, :4].copy(), o[:, 4].copy(), o[:, 5:].copy()) for o in outputs]
    return Inference(image_size, template.input_size, False, "opencv", candidates,
                     template.nms_kind, template.beta_nms)


@pytest.mark.parametrize("photo", PHOTOS)
def test_same_detections_as_opencv_dnn_on_the_same_input(photo, yolo_fastest):
    detector = Detector(load_model(*yolo_fastest)[0])
    image = zoo_path("data", f"{photo}.jpg")
    inference = detector.infer(image)
    x, size = detector.preprocess(image)
    theirs = opencv_inference(*yolo_fastest, x, size, inference)
    ours = detector.detections(inference)
    assert ours
    assert_same_detections(ours, detector.detections(theirs), 0.25, 0.01, 0.95)


def test_dog_photo_shows_the_dog_the_bicycle_and_the_car(yolo_fastest, tmp_path, capsys):
    out = tmp_path / "dog.json"
    code = main(["detect", *map(str, yolo_fastest), str(zoo_path("data", "dog.jpg")),
                 "--names", str(zoo_path("data", "coco.names")), "--json", str(out)])
    assert code == 0
    names = {d["name"] for d in json.loads(out.read_text())["detections"]}
    assert {"dog", "bicycle"} <= names and names & {"car", "truck"}
    assert "decode+NMS" in capsys.readouterr().out


# ---------------------------------------------------------------- the detect command

def test_detect_json_follows_the_contract(tiny, tmp_path, capsys):
    cfg, weights, image = tiny
    out, drawn = tmp_path / "found.json", tmp_path / "drawn.png"
    code = main(["detect", str(cfg), str(weights), str(image), "--conf", "0.3", "--json",
                 str(out), "--save", str(drawn)])
    assert code == 0
    payload = json.loads(out.read_text())
    assert set(payload) == {"image", "width", "height", "device", "detections"}
    assert (payload["width"], payload["height"], payload["device"]) == (50, 30, "cpu")
    found = payload["detections"]
    assert found and all(set(d) == {"class_id", "name", "confidence", "box"} for d in found)
    assert all(len(d["box"]) == 4 and d["name"] == str(d["class_id"]) for d in found)
    assert [d["confidence"] for d in found] == sorted((d["confidence"] for d in found),
                                                      reverse=True)
    assert Image.open(drawn).size == (50, 30)
    assert "preprocess" in capsys.readouterr().out


def test_detect_json_dash_prints_only_json(tiny, capsys):
    cfg, weights, image = tiny
    assert main(["detect", str(cfg), str(weights), str(image), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["width"] == 50


@pytest.mark.skipif(CUDA, reason="checks the message shown where CUDA is absent")
def test_detect_on_cuda_without_cuda_exits_2_with_one_line(tiny, capsys):
    cfg, weights, image = tiny
    assert main(["detect", str(cfg), str(weights), str(image), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDA" in err


def test_detect_unreadable_image_exits_2_with_one_line(tiny, tmp_path, capsys):
    cfg, weights, _ = tiny
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    assert main(["detect", str(cfg), str(weights), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.jpg" in err


def test_detect_with_short_weights_exits_1_and_prints_the_report(tiny, tmp_path, capsys):
    cfg, weights, image = tiny
    short = tmp_path / "short.weights"
    short.write_bytes(weights.read_bytes()[:-40])
    assert main(["detect", str(cfg), str(short), str(image)]) == 1
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("argv, letterbox", [([], None), (["--letterbox"], True),
                                             (["--resize"], False)])
def test_detect_letterbox_flags(argv, letterbox):
    args = build_parser().parse_args(["detect", "a.cfg", "b.weights", "c.jpg", *argv])
    assert args.letterbox is letterbox and args.conf == 0.25 and args.nms == 0.45


def test_detect_refuses_letterbox_and_resize_together(capsys):
    assert main(["detect", "a.cfg", "b.weights", "c.jpg", "--letterbox", "--resize"]) == 2


def test_nms_input_is_bounded_and_the_cut_is_reported():
    from darknet_inspector.core.detect import Decoded, Detector, Inference

    n = 300
    rng = np.random.default_rng(0)
    boxes = (rng.random((n, 4)) * 0.1 + [0.5, 0.5, 0.2, 0.2]).astype(np.float32)
    candidate = Decoded(boxes=boxes, gate=np.ones(n, np.float32),
                        probs=(rng.random((n, 1)) * 0.5 + 0.5).astype(np.float32))
    inference = Inference(image_size=(100, 100), input_size=(100, 100), letterbox=False,
                          device="cpu", candidates=[candidate])
    detector = Detector.__new__(Detector)
    detector.names = None
    found = detector.detections(inference, conf=0.25, nms=0.45, max_candidates=50)
    assert found and max(d.confidence for d in found) == pytest.approx(
        float(candidate.probs.max()), abs=1e-6)
    assert any("300" in w and "50" in w for w in inference.warnings)


def test_class_thresholds_take_names_or_ids_and_name_a_bad_entry():
    from darknet_inspector.core.detect import parse_class_thresholds

    assert parse_class_thresholds(["dog=0.6", " 3 =0.1"], ["cat", "dog"]) == {1: 0.6, 3: 0.1}
    for bad, said in (("dog", "NAME=THRESHOLD"), ("dog=1.5", "0 < THRESHOLD < 1"),
                      ("emu=0.5", "no class called 'emu'")):
        with pytest.raises(ValueError, match=said):
            parse_class_thresholds([bad], ["cat", "dog"])


# ---------------------------------------------------------------- YOLO9000: [region] tree=

TREE_CFG = """[net]
width=64
height=64
channels=3

[convolutional]
filters=8
size=3
stride=8
pad=1
activation=leaky

[convolutional]
filters=24
size=1
activation=linear

[region]
anchors=1,1, 2,3
classes=7
coords=4
num=2
softmax=1
tree=data/9k.tree
map=data/coco9k.map
"""
TREE = "animal -1\nplant -1\ndog 0\ncat 0\nbird 0\ntree 1\nflower 1\n"


@pytest.fixture
def tree_model(tmp_path):
    """A 7-class YOLO9000-style detector with random weights, its tree file, an image."""
    cfg, weights, tree = tree_model_files(tmp_path, "y9k", TREE_CFG, TREE, 2)
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (40, 60, 3), np.uint8)).save(image)
    return cfg, weights, image, tree


def test_detect_with_the_tree_file_runs_the_tree_head(tree_model, capsys):
    cfg, weights, image, tree = tree_model
    assert main(["detect", str(cfg), str(weights), str(image), "--tree", str(tree),
                 "--conf", "0.3", "--json", "-"]) == 0
    found = json.loads(capsys.readouterr().out)["detections"]
    assert found and all(0.5 < d["confidence"] <= 1 for d in found)  # absolute tree probs


def test_running_a_tree_cfg_without_its_tree_file_names_option_line_and_layer(
        tree_model, tmp_path, capsys):
    cfg, weights, image, _ = tree_model
    runs = [["detect", str(cfg), str(weights), str(image)],
            ["dump", str(cfg), str(weights), "--input", str(image), "-o",
             str(tmp_path / "o.npz")],
            ["convert", str(cfg), str(weights), "-o", str(tmp_path / "o.pt")],
            ["verify", str(cfg), str(weights)],
            ["featuremaps", str(cfg), str(weights), str(image), "--layer", "0", "-o",
             str(tmp_path / "o.png")]]
    for argv in runs:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err == ("darknet-inspector: layer 2 ([region], cfg line 24: tree=data/9k.tree) "
                       "needs its tree file to run: give it with --tree FILE (in the app: Tree "
                       "file\u2026 in the Detection preview tab)\n"), argv
    assert main(["inspect", str(cfg), str(weights)]) == 0


def test_a_bad_tree_file_is_one_line_naming_the_file_and_line(tree_model, tmp_path, capsys):
    cfg, weights, image, tree = tree_model
    tree.write_text(TREE + "rose 9\n")
    assert main(["detect", str(cfg), str(weights), str(image), "--tree", str(tree)]) == 2
    assert capsys.readouterr().err == (
        f"darknet-inspector: {tree}:8: parent index 9 is out of range: the file has 8 lines "
        "(indices 0..7)\n")


def test_a_tree_file_of_another_model_is_a_model_error_naming_it(tree_model, capsys):
    cfg, weights, image, tree = tree_model
    tree.write_text(TREE + "rose 1\n")
    assert main(["detect", str(cfg), str(weights), str(image), "--tree", str(tree)]) == 1
    err = capsys.readouterr().err
    assert f"{tree} has 8 classes (lines) but the layer has classes=7" in err


def generated_tree(path, classes: int, fanout: int = 6) -> None:
    """A structurally valid tree: class j's parent is (j-1)//fanout, one root, so each
    class's children are consecutive lines (one softmax group each), as in 9k.tree."""
    path.write_text("".join(f"n{j:08d} {(j - 1) // fanout if j else -1}\n"
                            for j in range(classes)))


def test_yolo9000_from_the_zoo_detects_with_a_generated_tree(tmp_path):
    """The zoo's yolo9000.cfg (9418 classes, no public weights offline): it builds, and
    with random weights and a generated tree of 9418 lines `detect` runs its tree head
    (at 160x160 instead of 544x544, which changes no weight)."""
    from darknet_inspector.core.darknet_tree import read_tree
    from darknet_inspector.core.jobs import run_job
    from darknet_inspector.core.jobs.detect import DetectorKey, DetectRequest, detect

    cfg = zoo_path("cfg", "yolo9000.cfg")
    assert not load_network(cfg).errors
    tree_path = tmp_path / "9k.tree"
    generated_tree(tree_path, 9418)
    network = load_network(cfg, 160, 160, read_tree(tree_path))
    assert network.runnable and not network.errors
    weights = tmp_path / "yolo9000.weights"
    write_random_weights(network, weights, seed=1)
    key = DetectorKey(str(cfg), str(weights), None, "cpu", None)
    outcome = run_job(detect(DetectRequest(network, key, str(zoo_path("data", "dog.jpg")),
                                           0.25, 0.45)))
    (candidates,) = outcome.inference.candidates
    assert candidates.probs.shape == (5 * 5 * 3, 9418)
    assert all(int((row > 0).sum()) <= 1 for row in candidates.probs)  # one class a box
    assert outcome.detections and all(d.confidence > 0.5 for d in outcome.detections)
