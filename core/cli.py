"""The `darknet-inspector` command line (contract in DESIGN.md).

Exit codes: 0 ok; 1 the model has problems of severity error (the report is still
printed); 2 unusable arguments or unreadable input (one line on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TypeVar

import numpy as np

from darknet_inspector.core import json_safe
from darknet_inspector.core.errors import Diagnostic, InspectorError, UsageError
from darknet_inspector.core.limits import OUT_OF_MEMORY, is_out_of_memory, set_max_memory_mb

EXIT_OK, EXIT_PROBLEMS, EXIT_UNUSABLE = 0, 1, 2
JobResult = TypeVar("JobResult")
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, as the contract says
        raise UsageError(f"{self.prog}: {message}")


def _number_between(kind: type, low: float, high: float, what: str):
    """An argparse type: a `kind` number in [low, high], or a one-line refusal."""
    def parse(value: str):
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not {what}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} must be between {low} and {high}")
        return number

    return parse


_size = _number_between(int, 1, 16384, "an integer")
_unit_interval = _number_between(float, 0, 1, "a number")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="darknet-inspector",
                     description="Open, debug and convert Darknet models.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    gui = sub.add_parser("gui", help="the desktop app (default)")
    gui.add_argument("cfg", nargs="?")
    gui.add_argument("weights", nargs="?")

    inspect = sub.add_parser("inspect", help="layer table, weights ledger and problems")
    inspect.add_argument("cfg")
    inspect.add_argument("weights", nargs="?")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    _add_size(inspect)
    _add_tree(inspect)

    convert = sub.add_parser("convert", help="convert to PyTorch")
    convert.add_argument("cfg")
    convert.add_argument("weights")
    convert.add_argument("-o", "--output", required=True)
    convert.add_argument("--format", default=None, choices=["pt", "pt2", "onnx", "torchscript"],
                         help="pt (ours, back to .weights), pt2 (torch.export), onnx or "
                         "torchscript (default: what -o's extension says, else pt)")
    convert.add_argument("--fuse", action="store_true", help="fold batch norm into convs")
    convert.add_argument("--dynamic-batch", action="store_true",
                         help="pt2/onnx: let the batch size vary (default: fixed at 1)")
    convert.add_argument("--opset", type=int, default=None, help="onnx opset (default 17)")
    _add_size(convert)
    _add_tree(convert)

    dump = sub.add_parser("dump", help="every layer's output for a preprocessed input")
    dump.add_argument("cfg")
    dump.add_argument("weights")
    dump.add_argument("--input", required=True, help=".npy float32, CHW or 1xCHW")
    dump.add_argument("-o", "--output", required=True)
    _add_size(dump)
    _add_tree(dump)

    _add_detect_parser(sub)

    export = sub.add_parser("export-weights", help="our .pt (or a state_dict + its cfg) "
                            "back to Darknet .weights")
    export.add_argument("model")
    export.add_argument("-o", "--output", required=True)
    export.add_argument("--cfg", help="the cfg of a plain state_dict keyed '<layer>.<tensor>'")

    _add_verify_parsers(sub)
    _add_rewrite_parsers(sub)
    _add_featuremaps_parser(sub)
    for subcommand in sub.choices.values():
        subcommand.add_argument("--max-memory-mb", type=_megabytes, default=None,
                                help="refuse models needing more memory than this (default "
                                "$DARKNET_INSPECTOR_MAX_MEMORY_MB or 16384)")
    return parser


def _megabytes(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of MB") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} must be at least 1")
    return number


def _add_size(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=_size, help="override [net] width")
    parser.add_argument("--height", type=_size, help="override [net] height")


def _add_tree(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tree", metavar="FILE", help="the tree file of a cfg's tree= layer "
                        "(YOLO9000's 9k.tree); the path inside the cfg is never opened")


def _read_tree_option(args: argparse.Namespace):
    """The --tree file, read and checked (one line naming file and line when it is bad)."""
    from darknet_inspector.core.darknet_tree import read_tree

    path = getattr(args, "tree", None)
    return read_tree(path) if path else None


def _refuse_without_tree(network) -> None:
    """A `tree=` layer cannot run without its tree file: say so before loading weights
    (the layer's own message names the cfg line, the layer and the option)."""
    if network.tree is not None:
        return
    for layer in network.tree_layers:
        if layer.refusal:
            raise UsageError(layer.refusal)


def _unused_tree_warning(network) -> list[str]:
    if network.tree is None or network.tree_layers:
        return []
    return [f"--tree {network.tree.path}: {network.path} has no tree= layer; the file is "
            "not used"]


def _require_file(path: str, what: str) -> str:
    if not os.path.isfile(path):
        from darknet_inspector.core.atomic import special_file_kind

        kind = special_file_kind(path)
        if kind is not None:  # a FIFO would block, /dev/zero never end
            raise UsageError(f"{path}: is a {kind}, not a {what} file")
        raise UsageError(f"{path}: no such {what} file")
    return path


def _writable_target(path: str, *inputs: str | None) -> str:
    """An output path: its folder exists, it is no folder itself, and it is none of the
    command's inputs (the finished output replaces the file, which would destroy it)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a folder; name the output file")
    for source in inputs:
        if source and os.path.exists(path) and os.path.exists(source) and os.path.samefile(
                path, source):
            raise UsageError(f"{path}: is also an input of this command ({source}); writing "
                             "it would destroy that input, choose another output file")
    return path


@command("inspect")
def run_inspect(args: argparse.Namespace) -> int:
    from darknet_inspector.core.diagnosis.engine import diagnose
    from darknet_inspector.core.jobs.stream import read_streamed
    from darknet_inspector.core.network import load_network
    from darknet_inspector.core.report import inspection_text, make_report, report_to_dict

    network = load_network(_require_file(args.cfg, "cfg"), args.width, args.height,
                           _read_tree_option(args))
    if args.weights:
        read = read_streamed(network, _require_file(args.weights, "weights"))
        report = make_report(network, read.records, read.ledger, read.flags,
                             diagnose(network, args.weights))
    else:
        report = make_report(network)
    if args.json:
        print(json_safe.dumps(report_to_dict(report)))
    else:
        print(inspection_text(report))
    return EXIT_PROBLEMS if report.has_errors else EXIT_OK


def _run_checked(job: Generator[object, None, JobResult]) -> JobResult | None:
    """Run a job (core.jobs) to its end; a model with errors prints its report on stderr
    and gives None (exit 1), as `_load_checked` does."""
    from darknet_inspector.core.jobs import run_job
    from darknet_inspector.core.report import ModelHasErrors, inspection_text

    try:
        return run_job(job)
    except ModelHasErrors as problems:
        print(inspection_text(problems.report), file=sys.stderr)
        return None


MAX_WARNINGS = 10


def _print_warnings(warnings: Sequence[object], limit: int = MAX_WARNINGS) -> None:
    """Warnings about what a command runs anyway (a Diagnostic or text each): one line
    each on stderr, at most `limit`, then how many more."""
    for warning in warnings[:limit]:
        text = " ".join((warning.message if isinstance(warning, Diagnostic)
                         else str(warning)).split())
        print(f"darknet-inspector: warning: {text}", file=sys.stderr)
    if len(warnings) > limit:
        print(f"darknet-inspector: warning: ... and {len(warnings) - limit} more (see "
              "`inspect`)", file=sys.stderr)


def _weights_warnings(network, weights: str) -> list:
    """The weights file's warnings (bytes left over after the last layer, which Darknet
    ignores; an implausible header), from its ledger: header and size, no tensor read
    again (that was a second pass over the whole file, issue 15)."""
    from darknet_inspector.core.weights import WeightsReader

    reader = WeightsReader(network, weights, values=False)
    reader.read_all()
    return reader.ledger.warnings if reader.ledger else []


def cfg_warnings(network) -> list[str]:
    """The cfg's warnings as `cfg:line: message`: a model that runs differently from what
    its cfg seems to say (an unknown activation, a mask past num) never runs silently."""
    from darknet_inspector.core.memory import memory_diagnostics

    refused_anyway = set(memory_diagnostics(network))  # the limit check says it, once
    return [f"{network.path}:{d.line}: {d.message}" if d.line else f"{network.path}: {d.message}"
            for d in network.diagnostics
            if d.severity == "warning" and d not in refused_anyway]


def _load_network(args: argparse.Namespace):
    """The cfg as a Network, its warnings printed (convert, detect, verify run it)."""
    from darknet_inspector.core.network import load_network

    tree = _read_tree_option(args)
    network = load_network(_require_file(args.cfg, "cfg"), args.width, args.height, tree)
    _refuse_without_tree(network)
    _print_warnings(cfg_warnings(network) + _unused_tree_warning(network))
    return network


def _load_checked(args: argparse.Namespace):
    """Load cfg + weights; refuse (exit 1, report printed) a model with errors."""
    from darknet_inspector.core.model import checked_model
    from darknet_inspector.core.report import ModelHasErrors, inspection_text

    network = _load_network(args)
    try:
        return checked_model(network, _require_file(args.weights, "weights"))
    except ModelHasErrors as problems:
        print(inspection_text(problems.report), file=sys.stderr)
        return None


@command("convert")
def run_convert(args: argparse.Namespace) -> int:
    from darknet_inspector.core.format_choice import (
        DEFAULT_OPSET,
        check_opset,
        format_for_path,
        missing_for_format,
    )
    from darknet_inspector.core.read_ahead import ReadAhead

    args.format = format_for_path(args.output, args.format)
    missing = missing_for_format(args.format)
    if missing is not None:
        raise UsageError(missing)
    if args.opset is not None and args.format != "onnx":
        raise UsageError("--opset applies to --format onnx only")
    opset = check_opset(args.opset if args.opset is not None else DEFAULT_OPSET)
    _writable_target(args.output, args.cfg, args.weights, args.tree)
    network = _load_network(args)
    with ReadAhead(network, _require_file(args.weights, "weights")) as ahead:
        # torch is imported here, on this thread, while the weights are read (issue 15)
        from darknet_inspector.core.jobs.convert import ConvertOptions, convert_model

        options = ConvertOptions(args.output, args.fuse, args.format, args.dynamic_batch,
                                 opset)
        result = _run_checked(convert_model(network, args.weights, options, ahead))
    if result is None:
        return EXIT_PROBLEMS
    _print_warnings(_weights_warnings(network, args.weights))
    check = result.check
    print(f"wrote {args.output} ({args.format}, {result.layers} layers, "
          f"{result.parameters:,} parameters{', BN folded' if result.fused else ''}; "
          f"outputs {', '.join(check.outputs)})")
    print(f"check: {check.summary()}")
    for note in check.notes:
        print(f"note: {note}")
    return EXIT_OK


def _npy_shape(path: str) -> tuple[int, ...] | None:
    """The shape a .npy file's header claims, read without loading it (None: not a .npy,
    e.g. an .npz archive, which np.load reports)."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(handle)
            return None if dtype.hasobject else tuple(shape)  # np.load refuses pickles
    except (ValueError, OSError):
        return None


def _read_input(path: str, shape: tuple[int, ...]) -> np.ndarray:
    claimed = _npy_shape(_require_file(path, "input"))
    if claimed is not None and claimed not in (tuple(shape), (1, *shape)):
        # refused before loading: a header claiming (3, 200000, 200000) is no allocation
        raise UsageError(f"{path}: input shape {list(claimed)} does not match the "
                         f"network input {list(shape)} (CHW or 1xCHW)")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UsageError(f"{path}: not a readable .npy array ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise UsageError(f"{path}: an archive of arrays (.npz), not one .npy array")
    if array.dtype.kind not in "fiub":
        raise UsageError(f"{path}: holds {array.dtype} values, not real numbers (float32 "
                         "expected)")
    if array.ndim == len(shape) + 1 and array.shape[0] == 1:
        array = array[0]
    if tuple(array.shape) != tuple(shape):
        raise UsageError(f"{path}: input shape {list(array.shape)} does not match the "
                         f"network input {list(shape)} (CHW or 1xCHW)")
    return np.ascontiguousarray(array, dtype=np.float32)


@command("dump")
def run_dump(args: argparse.Namespace) -> int:
    import torch

    from darknet_inspector.core.atomic import atomic_write
    from darknet_inspector.core.layers import built_layer_type

    _writable_target(args.output, args.cfg, args.weights, args.input, args.tree)
    model = _load_checked(args)
    if model is None:
        return EXIT_PROBLEMS
    _print_warnings(_weights_warnings(model.network, args.weights))
    x = _read_input(args.input, model.network.input_shape)
    with torch.no_grad():
        outputs = model(torch.from_numpy(x)[None], all_outputs=True)
    arrays: dict[str, np.ndarray] = {}
    for layer, output in zip(model.network.layers, outputs):
        kind = built_layer_type(layer.type)
        arrays[f"layer_{layer.index:03d}"] = kind.darknet_output(layer, output[0].numpy())
    with atomic_write(args.output) as out:
        # numpy's stub matches **arrays against savez's `allow_pickle: bool` too; the keys
        # here are all layer_NNN
        np.savez(out, **arrays)  # type: ignore[arg-type]
    print(f"wrote {args.output} ({len(arrays)} layers)")
    return EXIT_OK


def _add_detect_parser(sub) -> None:
    detect = sub.add_parser("detect", help="detections on an image, as Darknet's detector "
                            "test finds them")
    detect.add_argument("cfg")
    detect.add_argument("weights")
    detect.add_argument("image")
    detect.add_argument("--names", help="class names, one per line (coco.names style)")
    detect.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    detect.add_argument("--engine", choices=("auto", "numpy", "torch"), default="auto",
                        help="what runs the network: numpy (CPU, no PyTorch import: the "
                        "fastest start), torch, or auto (default: numpy on the CPU when it "
                        "runs every layer of the model, else torch)")
    detect.add_argument("--conf", type=_unit_interval, default=0.25,
                        help="confidence threshold (default 0.25)")
    detect.add_argument("--nms", type=_unit_interval, default=0.45,
                        help="NMS overlap threshold, 0 = no NMS (default 0.45)")
    resize = detect.add_mutually_exclusive_group()
    resize.add_argument("--letterbox", dest="letterbox", action="store_const", const=True,
                        help="keep the aspect ratio (default: the cfg's letter_box)")
    resize.add_argument("--resize", dest="letterbox", action="store_const", const=False,
                        help="stretch to the network size")
    detect.add_argument("--json", metavar="OUT", help="write the detections as JSON "
                        "('-' prints them instead of the text report)")
    detect.add_argument("--save", metavar="OUT.jpg", help="save the image with boxes drawn")
    detect.add_argument("--half", action="store_true", help="float16 on CUDA")
    detect.add_argument("--agnostic", action="store_true", help="NMS across classes")
    detect.add_argument("--class-conf", nargs="+", action="extend", default=[],
                        metavar="NAME=T", help="a class's own confidence threshold (class "
                        "name from --names, or class id), e.g. person=0.6 3=0.1")
    _add_tree(detect)
    detect.set_defaults(letterbox=None, width=None, height=None)


def _image_format(path: str) -> str:
    from PIL import Image

    extension = os.path.splitext(path)[1].lower()
    fmt = Image.registered_extensions().get(extension)
    if fmt is None:
        raise UsageError(f"{path}: unknown image extension {extension!r}; use .jpg or .png")
    return fmt


def _add_featuremaps_parser(sub) -> None:
    maps = sub.add_parser("featuremaps", help="one layer's channels as a grid (or a heatmap "
                          "over the image) for one image")
    maps.add_argument("cfg")
    maps.add_argument("weights")
    maps.add_argument("image")
    maps.add_argument("--layer", type=int, required=True, help="the layer index")
    maps.add_argument("-o", "--output", required=True, metavar="OUT.png")
    maps.add_argument("--heatmap", action="store_true", help="the activation energy (a "
                      "head: objectness per anchor) over the image instead of the grid")
    maps.add_argument("--sort", choices=("index", "mean", "max"), default="index")
    maps.add_argument("--channels", type=_number_between(int, 1, 4096, "--channels"),
                      default=256, help="at most this many channels in the grid")
    maps.add_argument("--device", default="cpu")
    _add_tree(maps)
    maps.set_defaults(letterbox=None, width=None, height=None)


@command("featuremaps")
def run_featuremaps(args: argparse.Namespace) -> int:
    from darknet_inspector.core.featuremaps import grid_picture, heatmap_picture
    from darknet_inspector.core.jobs.detect import DetectorKey
    from darknet_inspector.core.jobs.featuremaps import FeatureMapsRequest, feature_maps
    from darknet_inspector.core.torch_engine import resolve_device

    image_path = _require_file(args.image, "image")
    _writable_target(args.output, args.cfg, args.weights, args.image, args.tree)
    fmt = _image_format(args.output)
    network = _load_network(args)
    if not 0 <= args.layer < len(network.layers):
        raise UsageError(f"--layer {args.layer}: {args.cfg} has layers 0.."
                         f"{len(network.layers) - 1}")
    key = DetectorKey(args.cfg, _require_file(args.weights, "weights"), None,
                      str(resolve_device(args.device)), None)
    outcome = _run_checked(feature_maps(FeatureMapsRequest(
        image_path, network=network, key=key, full_layers={args.layer})))
    if outcome is None:
        return EXIT_PROBLEMS
    maps = outcome.maps.layers[args.layer]
    picture = (heatmap_picture(maps, outcome.image) if args.heatmap
               else grid_picture(maps, args.sort, args.channels))
    _save_drawn(args.output, fmt, picture)
    dead = int(maps.stats.dead.sum())
    print(f"wrote {args.output} (layer {args.layer} [{network.layers[args.layer].type}], "
          f"{'x'.join(map(str, maps.shape))}, {dead} dead channel(s) on this image)")
    return EXIT_OK


@command("detect")
def run_detect(args: argparse.Namespace) -> int:
    from darknet_inspector.core.read_ahead import ImageAhead, ReadAhead

    image_path = _require_file(args.image, "image")
    for target in (args.json, args.save):
        if target and target != "-":
            _writable_target(target, args.cfg, args.weights, args.image, args.names,
                             args.tree)
    save_format = _image_format(args.save) if args.save else None
    names = _require_file(args.names, "names") if args.names else None
    with contextlib.ExitStack() as reading:
        # the image is decoded and the weights are read on threads while the engine
        # (torch's import, when torch runs it) is loaded here, on this one (issue 15)
        picture = reading.enter_context(ImageAhead(image_path))
        network = _load_network(args)
        ahead = reading.enter_context(ReadAhead(network, _require_file(args.weights,
                                                                       "weights")))
        from darknet_inspector.core.jobs.detect import DetectorKey, DetectRequest, detect

        key = DetectorKey(args.cfg, args.weights, names, _device_name(args.device),
                          args.letterbox, args.half, args.engine)
        class_conf = _class_thresholds(args.class_conf, names)
        outcome = _run_checked(detect(DetectRequest(
            network, key, image_path, args.conf, args.nms, args.agnostic,
            draw=bool(args.save), class_conf=class_conf, ahead=ahead, picture=picture,
            once=True)))
    if outcome is None:
        return EXIT_PROBLEMS
    inference, found = outcome.inference, outcome.detections
    _print_warnings(_weights_warnings(network, args.weights)
                    + _detect_notes(outcome.detector) + outcome.notes)
    if args.json:
        _write_detect_json(args.json, args.image, inference, found)
    if save_format is not None and outcome.drawn is not None:  # drawn when --save
        _save_drawn(args.save, save_format, outcome.drawn.rgb)
        print(f"wrote {args.save}", file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json != "-":
        print(_detect_text(args.image, inference, found))
    return EXIT_OK


def _device_name(spec: str) -> str:
    """The device as the jobs name it ("cpu", "cuda:0"); the CPU without importing torch,
    which the numpy engine does not need."""
    if spec.strip().lower() == "cpu":
        return "cpu"
    from darknet_inspector.core.torch_engine import resolve_device

    return str(resolve_device(spec))


def _class_thresholds(items: list[str], names_path: str | None) -> dict[int, float]:
    """`--class-conf dog=0.6 3=0.1` as class id -> threshold."""
    from darknet_inspector.core.detect import parse_class_thresholds, read_names

    try:
        return parse_class_thresholds(items, read_names(names_path) if names_path else [])
    except ValueError as exc:
        raise UsageError(f"--class-conf {exc}") from None


def _detect_notes(detector) -> list[str]:
    classes, names = detector.classes, detector.names
    if names is not None and len(names) < classes:
        return [f"the names file has {len(names)} names but the model has {classes} "
                "classes; the others are shown by number"]
    return []


def _write_detect_json(target: str, image: str, inference, found) -> None:
    from darknet_inspector.core.atomic import atomic_write

    width, height = inference.image_size
    payload = {"image": image, "width": width, "height": height, "device": inference.device,
               "detections": [d.to_dict() for d in found]}
    if target == "-":
        print(json_safe.dumps(payload))
        return
    with atomic_write(target, "w") as out:
        out.write(json_safe.dumps(payload, indent=1))


def _save_drawn(target: str, fmt: str, rgb: np.ndarray) -> None:
    from PIL import Image

    from darknet_inspector.core.atomic import atomic_write

    drawn = Image.fromarray(rgb)
    options = {"quality": 92} if fmt == "JPEG" else {}
    with atomic_write(target) as out:
        drawn.save(out, format=fmt, **options)


def _detect_text(image: str, inference, found) -> str:
    width, height = inference.image_size
    net_w, net_h = inference.input_size
    how = "letterbox" if inference.letterbox else "stretch"
    lines = [f"{image}: {width}x{height} -> {net_w}x{net_h} ({how}), device "
             f"{inference.device} ({inference.engine}), {len(found)} "
             f"detection{'s' if len(found) != 1 else ''}"]
    name_width = max((len(d.name) for d in found), default=0)
    for d in found:
        x1, y1, x2, y2 = d.box
        lines.append(f"  {d.name:<{name_width}} {d.confidence * 100:5.1f}%  "
                     f"box {x1:7.1f} {y1:7.1f} {x2:7.1f} {y2:7.1f}")
    t = inference.timings
    lines.append(f"time: preprocess {t['preprocess'] * 1e3:.1f} ms, forward "
                 f"{t['forward'] * 1e3:.1f} ms, decode+NMS "
                 f"{(t['decode'] + t.get('nms', 0.0)) * 1e3:.1f} ms")
    return "\n".join(lines)


@command("export-weights")
def run_export_weights(args: argparse.Namespace) -> int:
    from darknet_inspector.core.jobs import run_job
    from darknet_inspector.core.jobs.write_back import SourceHasErrors, write_back

    _writable_target(args.output, args.model, args.cfg)
    cfg = _require_file(args.cfg, "cfg") if args.cfg else None
    try:
        source = run_job(write_back(_require_file(args.model, "model"), args.output, cfg))
    except SourceHasErrors as refused:
        for problem in refused.source.diagnostics:
            print(f"darknet-inspector: {problem}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"wrote {args.output} (from {source.origin}, {len(source.tensors)} tensors, "
          f"seen {source.header.seen})")
    return EXIT_OK


def _add_verify_parsers(sub) -> None:
    verify = sub.add_parser("verify", help="every layer against OpenCV DNN (and CPU against "
                            "CUDA): where a conversion diverges")
    verify.add_argument("cfg")
    verify.add_argument("weights")
    verify.add_argument("image", nargs="?", help="compare on this image (default: a "
                        "reproducible random input)")
    verify.add_argument("--model", help="verify this converted .pt instead of the model "
                        "loaded from CFG + WEIGHTS (the reference still reads WEIGHTS)")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument("--device", default="cpu", help="where our model runs against "
                        "OpenCV: cpu, cuda, cuda:N or auto (CPU vs CUDA is compared "
                        "whenever CUDA is present)")
    verify.add_argument("--tolerance", type=float, default=None,
                        help="relative difference that counts as divergent (default 1e-3)")
    _add_size(verify)
    _add_tree(verify)

    diff = sub.add_parser("diff", help="what changed between two .weights of one cfg")
    diff.add_argument("cfg")
    diff.add_argument("a", metavar="A.weights")
    diff.add_argument("b", metavar="B.weights")
    diff.add_argument("--json", action="store_true", help="print one JSON object")
    diff.add_argument("--all", action="store_true", help="list unchanged tensors too")


@command("verify")
def run_verify(args: argparse.Namespace) -> int:
    from darknet_inspector.core.jobs.verify import VerifyRequest, verify
    from darknet_inspector.core.torch_engine import resolve_device
    from darknet_inspector.core.verify import DEFAULT_TOLERANCE, verify_text

    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    if not tolerance > 0:
        raise UsageError(f"--tolerance {args.tolerance}: must be a positive number")
    device = resolve_device(args.device)
    image = _require_file(args.image, "image") if args.image else None
    converted = _require_file(args.model, "model") if args.model else None
    network = _load_network(args)
    report = _run_checked(verify(VerifyRequest(network, _require_file(args.weights, "weights"),
                                               image, tolerance, device, converted)))
    if report is None:
        return EXIT_PROBLEMS
    if not report.ran:
        notes = "; ".join(c.note for c in report.comparisons)
        raise UsageError(f"nothing to compare against: {notes}")
    print(json_safe.dumps(report.to_dict()) if args.json else verify_text(report))
    return EXIT_PROBLEMS if report.diverges or not report.complete else EXIT_OK


def _version(value: str) -> tuple[int, int, int]:
    parts = value.split(".")
    try:
        numbers = tuple(int(p) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) != 3 or not all(0 <= n < 2**31 for n in numbers):
        raise argparse.ArgumentTypeError(f"{value!r} is not a version M.m.r (e.g. 0.2.5)")
    return numbers


def _add_rewrite_parsers(sub) -> None:
    partial = sub.add_parser("partial", help="the first N layers' weights, as Darknet's "
                             "`partial` writes them (header 0.2.5, seen 0)")
    partial.add_argument("cfg")
    partial.add_argument("weights")
    partial.add_argument("count", type=int, metavar="N", help="layers 0..N-1")
    partial.add_argument("-o", "--output", required=True)

    header = sub.add_parser("header", help="a copy of a weights file with seen reset or "
                            "another version (never in place)")
    header.add_argument("weights")
    header.add_argument("-o", "--output", required=True)
    header.add_argument("--reset-seen", action="store_true", help="set seen to 0")
    header.add_argument("--version", type=_version, help="write this version (M.m.r); "
                        "seen takes 8 bytes when M*10+m >= 2, else 4")
    header.add_argument("--header-bytes", type=int, choices=[16, 20],
                        help="read the input's header as this many bytes (16: a 0.2.x file "
                        "written with a 4-byte seen)")


@command("partial")
def run_partial(args: argparse.Namespace) -> int:
    from darknet_inspector.core.network import load_network
    from darknet_inspector.core.rewrite import write_partial

    _writable_target(args.output, args.cfg, args.weights)
    network = load_network(_require_file(args.cfg, "cfg"))
    if args.count < 1:
        raise UsageError(f"N={args.count}: give the number of layers to keep (at least 1)")
    written = write_partial(network, _require_file(args.weights, "weights"), args.output,
                            args.count)
    print(f"wrote {written.path}: layers 0..{written.layers - 1} ({written.bytes:,} bytes, "
          "header 0.2.5, seen 0)")
    return EXIT_OK


@command("header")
def run_header(args: argparse.Namespace) -> int:
    from darknet_inspector.core.rewrite import write_header

    _writable_target(args.output, args.weights)
    if not (args.reset_seen or args.version or args.header_bytes):
        raise UsageError("nothing to change: give --reset-seen, --version or --header-bytes")
    written = write_header(_require_file(args.weights, "weights"), args.output,
                           args.reset_seen, args.version, args.header_bytes)
    h = written.header
    print(f"wrote {written.path}: version {h.major}.{h.minor}.{h.revision}, seen {h.seen:,} "
          f"({h.size}-byte header, {written.bytes:,} bytes)")
    return EXIT_OK


@command("diff")
def run_diff(args: argparse.Namespace) -> int:
    from darknet_inspector.core.diff import diff_to_text
    from darknet_inspector.core.jobs import run_job
    from darknet_inspector.core.jobs.diff import diff as diff_job
    from darknet_inspector.core.network import load_network

    network = load_network(_require_file(args.cfg, "cfg"))
    if not network.complete:
        from darknet_inspector.core.report import inspection_text, make_report

        print(inspection_text(make_report(network)), file=sys.stderr)
        return EXIT_PROBLEMS
    diff = run_job(diff_job(network, _require_file(args.a, "weights"),
                            _require_file(args.b, "weights")))
    print(json_safe.dumps(diff.to_dict()) if args.json else diff_to_text(diff, args.all))
    return EXIT_PROBLEMS if diff.has_errors else EXIT_OK


AppRunner = Callable[[str | None, str | None], int]
"""Starts the desktop app on a cfg and weights (the launcher hands one to `main`)."""
_app: AppRunner | None = None


@command("gui")
def run_gui(args: argparse.Namespace) -> int:
    if _app is None:
        raise UsageError("the desktop app is not available from this entry point; run "
                         "`darknet-inspector` or `python -m darknet_inspector`")
    return _app(args.cfg, args.weights)


def prefer_passive_openmp() -> None:
    """Let torch's OpenMP threads sleep instead of spin between operations, unless the
    user chose otherwise. It must happen before torch is imported. Spinning threads on a
    machine whose cores are busy with other work made a YOLOv4 forward 4x slower with 2
    threads (bench/README.md); sleeping costs microseconds per operation on an idle one."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: Sequence[str] | None = None, app: AppRunner | None = None) -> int:
    """Run one subcommand; `app` runs the `gui` command (the core never imports the GUI)."""
    global _app
    _app = app
    prefer_passive_openmp()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {*COMMANDS, "-h", "--help"}:
        argv = ["gui", *argv]
    if argv[0] == "gui":  # the app handles its own signals and warnings
        return _run(argv, [])
    with signals_interrupt() as caught, warnings.catch_warnings():
        quiet_library_warnings()
        return _run(argv, caught)


def _say(message: object) -> None:
    """One line on stderr, whatever the message holds (a newline in a file name)."""
    text = str(message).replace("\r", "\\r").replace("\n", "\\n")
    print(f"darknet-inspector: {text}", file=sys.stderr)


def _run(argv: list[str], caught: list[int]) -> int:
    try:
        args = build_parser().parse_args(argv)
        set_max_memory_mb(args.max_memory_mb)
        return COMMANDS[args.command](args)
    except BaseException as exc:
        if caught or isinstance(exc, KeyboardInterrupt):
            # a signal, even one that surfaced inside torch as a RuntimeError
            terminated = caught and caught[0] == signal.SIGTERM
            _say("terminated" if terminated else "interrupted")
            return 128 + (caught[0] if caught else signal.SIGINT)
        if not isinstance(exc, Exception):
            raise  # SystemExit and the like
        return _report_failure(exc)


def _report_failure(exc: Exception) -> int:
    if isinstance(exc, InspectorError):
        _say(exc)
    elif isinstance(exc, OSError):  # writing an output: disk full, permission denied, ...
        where = f"{exc.filename}: " if exc.filename else ""
        _say(f"{where}{exc.strerror or exc}")
    elif is_out_of_memory(exc):  # MemoryError, torch's CPU/CUDA allocation failures
        _say(OUT_OF_MEMORY)
    else:  # a bug of ours: still one line, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        _say(f"internal error ({type(exc).__name__}: {first}); please report it with the "
             "command you ran")
    return EXIT_UNUSABLE


@contextlib.contextmanager
def signals_interrupt() -> Iterator[list[int]]:
    """SIGINT and SIGTERM interrupt the command where it is (KeyboardInterrupt), so that
    an output being written loses its temp file (core.atomic); the list names the signal
    even when a library turned the interruption into its own error (torch's writer)."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def interrupt(signum: int, frame: object) -> None:
        caught.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def quiet_library_warnings() -> None:
    """No library warning text on stderr (the contract is one line per problem): numpy's
    RuntimeWarnings (overflow in a NaN-laden tensor), Pillow's DecompressionBombWarning
    and EXIF warnings. What matters is reported by our own checks."""
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.filterwarnings("ignore", module="PIL")


if __name__ == "__main__":
    sys.exit(main())
