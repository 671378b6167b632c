"""The `darknet-inspector` command line (contract in DESIGN.md).

Exit codes: 0 ok; 1 the model has problems of severity error (the report is still
printed); 2 unusable arguments or unreadable input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

import numpy as np

from core.errors import InspectorError, UsageError

EXIT_OK, EXIT_PROBLEMS, EXIT_UNUSABLE = 0, 1, 2
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, as the contract says
        raise UsageError(f"{self.prog}: {message}")


def _size(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if not 1 <= number <= 16384:
        raise argparse.ArgumentTypeError(f"{number} must be between 1 and 16384")
    return number


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

    convert = sub.add_parser("convert", help="convert to PyTorch")
    convert.add_argument("cfg")
    convert.add_argument("weights")
    convert.add_argument("-o", "--output", required=True)
    convert.add_argument("--format", default="pt", choices=["pt", "torchscript", "onnx"])
    convert.add_argument("--fuse", action="store_true", help="fold batch norm into convs")
    _add_size(convert)

    dump = sub.add_parser("dump", help="every layer's output for a preprocessed input")
    dump.add_argument("cfg")
    dump.add_argument("weights")
    dump.add_argument("--input", required=True, help=".npy float32, CHW or 1xCHW")
    dump.add_argument("-o", "--output", required=True)
    _add_size(dump)

    export = sub.add_parser("export-weights", help="our .pt back to Darknet .weights")
    export.add_argument("model")
    export.add_argument("-o", "--output", required=True)
    return parser


def _add_size(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=_size, help="override [net] width")
    parser.add_argument("--height", type=_size, help="override [net] height")


def _require_file(path: str, what: str) -> str:
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such {what} file")
    return path


def _writable_target(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{path}: folder {folder} does not exist")
    return path


@command("inspect")
def run_inspect(args: argparse.Namespace) -> int:
    from core.network import load_network
    from core.report import make_report, report_to_dict, report_to_text
    from core.weights import read_weights

    network = load_network(_require_file(args.cfg, "cfg"), args.width, args.height)
    records = ledger = None
    if args.weights:
        records, ledger = read_weights(network, _require_file(args.weights, "weights"))
    report = make_report(network, records, ledger)
    if args.json:
        print(json.dumps(report_to_dict(report)))
    else:
        print(report_to_text(report))
    return EXIT_PROBLEMS if report.has_errors else EXIT_OK


def _load_checked(args: argparse.Namespace):
    """Load cfg + weights; refuse (exit 1, report printed) a model with errors."""
    from core.model import DarknetModel
    from core.network import load_network
    from core.report import make_report, report_to_text
    from core.weights import WeightsReader

    network = load_network(_require_file(args.cfg, "cfg"), args.width, args.height)
    reader = WeightsReader(network, _require_file(args.weights, "weights"))
    records = reader.read_all()
    report = make_report(network, records, reader.ledger)
    if report.has_errors:
        print(report_to_text(report), file=sys.stderr)
        return None
    model = DarknetModel(network).eval()
    model.load_records(records, reader.header.transposed)
    model.header = reader.header
    return model


@command("convert")
def run_convert(args: argparse.Namespace) -> int:
    from core.export import save_pt

    if args.format != "pt":
        raise UsageError(f"--format {args.format} is not available yet; use --format pt")
    _writable_target(args.output)
    model = _load_checked(args)
    if model is None:
        return EXIT_PROBLEMS
    if args.fuse:
        model.fuse()
    save_pt(model, args.output)
    print(f"wrote {args.output} ({len(model.network.layers)} layers, "
          f"{model.network.param_count:,} parameters{', BN folded' if args.fuse else ''})")
    return EXIT_OK


def _read_input(path: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.load(_require_file(path, "input"), allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UsageError(f"{path}: not a readable .npy array ({exc})") from None
    if array.ndim == len(shape) + 1 and array.shape[0] == 1:
        array = array[0]
    if tuple(array.shape) != tuple(shape):
        raise UsageError(f"{path}: input shape {list(array.shape)} does not match the "
                         f"network input {list(shape)} (CHW or 1xCHW)")
    return np.ascontiguousarray(array, dtype=np.float32)


@command("dump")
def run_dump(args: argparse.Namespace) -> int:
    import torch

    from core.atomic import atomic_write
    from core.layers import layer_type

    _writable_target(args.output)
    model = _load_checked(args)
    if model is None:
        return EXIT_PROBLEMS
    x = _read_input(args.input, model.network.input_shape)
    with torch.no_grad():
        outputs = model(torch.from_numpy(x)[None], all_outputs=True)
    arrays = {}
    for layer, output in zip(model.network.layers, outputs):
        kind = layer_type(layer.type)
        arrays[f"layer_{layer.index:03d}"] = kind.darknet_output(layer, output[0].numpy())
    with atomic_write(args.output) as out:
        np.savez(out, **arrays)
    print(f"wrote {args.output} ({len(arrays)} layers)")
    return EXIT_OK


@command("export-weights")
def run_export_weights(args: argparse.Namespace) -> int:
    from core.export import load_pt
    from core.weights import write_weights

    _writable_target(args.output)
    model = load_pt(_require_file(args.model, "model"))
    if any(getattr(m, "fused", False) for m in model.layers):
        raise UsageError(f"{args.model}: was converted with --fuse; batch norm is folded, so "
                         "it cannot be written back as Darknet weights")
    tensors = {key: t.detach().cpu().numpy() for key, t in model.darknet_tensors().items()}
    write_weights(args.output, model.network, tensors, model.header)
    print(f"wrote {args.output}")
    return EXIT_OK


@command("gui")
def run_gui(args: argparse.Namespace) -> int:
    try:
        from gui.app import run_app
    except ImportError as exc:
        raise UsageError(f"the desktop app is not available: {exc}") from None
    return run_app(args.cfg, args.weights)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {*COMMANDS, "-h", "--help"}:
        argv = ["gui", *argv]
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except InspectorError as exc:
        print(f"darknet-inspector: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        print("darknet-inspector: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("darknet-inspector: out of memory (the model or input is too large)",
              file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
