"""The bad-input corpus: broken cfgs, weights files, images and .pt files, each with the
command that meets it and what the user must be told.

Every case writes its files into a folder at test time (the large ones are generated
there, never stored), returns the `darknet-inspector` arguments, and says: the exit code
(1: the model has problems, the report is printed; 2: unusable input, one line on
stderr), text the message must contain, and the file, cfg line and layer it must name.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from darknet_inspector.core.weights import WeightsHeader, random_weights, serialize_weights
from tests.helpers import net_from_text

EXIT_OK, EXIT_PROBLEMS, EXIT_UNUSABLE = 0, 1, 2

BASE_CFG = """[net]
width=32
height=32
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=4
size=1
stride=1
pad=1
activation=linear
"""
"""Lines: [net] 1, width 2, height 3; layer 0 [convolutional] 6 (filters 8, size 9,
stride 10); layer 1 [maxpool] 14; layer 2 [convolutional] 18 (filters 19). A section
appended with `APPEND` starts on line 25 as layer 3, its first option on line 26."""

APPEND = "\n"
LAYER0_BYTES = 4 * (4 * 8 + 8 * 3 * 3 * 3)  # biases, scales, mean, variance, weights
LAYER2_BYTES = 4 * (4 + 4 * 8)
HEADER = 20
BASE_WEIGHTS_BYTES = HEADER + LAYER0_BYTES + LAYER2_BYTES


@dataclass(frozen=True)
class Case:
    """One bad input. `make(folder)` writes the files and returns the CLI arguments."""

    id: str
    make: Callable[[Path], list[str]]
    code: int
    says: tuple[str, ...]
    file: str | None = None  # the file name the message must name
    line: int | None = None  # the cfg line it must name
    layer: int | None = None  # the layer it must name
    gui: bool = False  # part of the representative subset opened in the desktop app


def edited(*pairs: tuple[str, str], append: str = "") -> str:
    """BASE_CFG with each (old, new) replaced once, plus sections appended."""
    text = BASE_CFG
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text + (APPEND + append if append else "")


def base_weights() -> bytes:
    network = net_from_text(BASE_CFG)
    return b"".join(serialize_weights(network, random_weights(network), WeightsHeader()))


def write(folder: Path, name: str, data: str | bytes) -> str:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def inspect_cfg(text: str | bytes, name: str = "bad.cfg", *extra: str
                ) -> Callable[[Path], list[str]]:
    return lambda folder: ["inspect", write(folder, name, text), *extra]


def convert_cfg(text: str) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        return ["convert", write(folder, "bad.cfg", text),
                write(folder, "model.weights", base_weights()), "-o", str(folder / "out.pt")]
    return make


def inspect_weights(data: Callable[[], bytes] | bytes, cfg: str = BASE_CFG,
                    command: str = "inspect") -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        blob = data() if callable(data) else data
        args = [command, write(folder, "model.cfg", cfg), write(folder, "bad.weights", blob)]
        return args + (["-o", str(folder / "out.pt")] if command == "convert" else [])
    return make


def detect_image(data: Callable[[], bytes] | bytes, name: str = "bad.jpg"
                 ) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        blob = data() if callable(data) else data
        return ["detect", write(folder, "model.cfg", DETECT_CFG),
                write(folder, "model.weights", detect_weights()), write(folder, name, blob)]
    return make


DETECT_CFG = edited(("filters=4", "filters=18"), append=(
    "[yolo]\nmask=0,1,2\nanchors=4,6, 8,10, 12,14\nclasses=1\nnum=3\n"))


def detect_cfg(cfg: str, *extra: str) -> Callable[[Path], list[str]]:
    """`detect` of a model (its weights random) on a small JPEG."""
    def make(folder: Path) -> list[str]:
        network = net_from_text(cfg)
        blob = b"".join(serialize_weights(network, random_weights(network), WeightsHeader()))
        return ["detect", write(folder, "bad.cfg", cfg), write(folder, "model.weights", blob),
                write(folder, "photo.jpg", jpeg()), *extra]
    return make


def detect_weights() -> bytes:
    network = net_from_text(DETECT_CFG)
    return b"".join(serialize_weights(network, random_weights(network), WeightsHeader()))


def jpeg(size: tuple[int, int] = (48, 32)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 40, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb's calling card)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def with_header(major: int, minor: int, revision: int) -> Callable[[], bytes]:
    return lambda: struct.pack("<iii", major, minor, revision) + base_weights()[12:]


def big_cfg_file(folder: Path) -> list[str]:
    """A cfg past the 16 MB a cfg may have, written at test time."""
    path = folder / "bad.cfg"
    with open(path, "w", encoding="utf-8") as out:
        out.write(BASE_CFG)
        line = "#" + "x" * 1023 + "\n"
        for _ in range(17 * 1024):
            out.write(line)
    return ["inspect", str(path)]


def big_weights_cut(folder: Path) -> list[str]:
    """A 24 MB model whose weights stop inside its last layer (generated at test time)."""
    text = ("[net]\nwidth=32\nheight=32\nchannels=256\n\n"
            + "[convolutional]\nfilters=256\nsize=3\npad=1\nactivation=leaky\n\n" * 10)
    network = net_from_text(text)
    cfg = write(folder, "big.cfg", text)
    path = folder / "bad.weights"
    with open(path, "wb") as out:
        for chunk in serialize_weights(network, random_weights(network), WeightsHeader()):
            out.write(chunk)
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.truncate(size - 1000)
    return ["inspect", cfg, str(path)]


def malicious_pt(folder: Path) -> list[str]:
    """A pickle that would create `pwned` if unpickled without weights_only."""
    marker = folder / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    import torch

    path = folder / "bad.pt"
    torch.save({"format": "darknet-inspector/pt", "x": Exploit()}, path)
    return ["export-weights", str(path), "-o", str(folder / "out.weights")]


def damaged_pt(**changes) -> Callable[[Path], list[str]]:
    """Our .pt format with fields of the wrong type (a damaged or hand-made file)."""
    def make(folder: Path) -> list[str]:
        import torch

        payload = {"format": "darknet-inspector/pt", "version": 1, "cfg_text": BASE_CFG,
                   "width": 32, "height": 32, "tensors": {},
                   "header": {"major": 0, "minor": 2, "revision": 5, "seen": 0}}
        payload.update(changes)
        path = folder / "bad.pt"
        torch.save(payload, path)
        return ["export-weights", str(path), "-o", str(folder / "out.weights")]
    return make


def pickled_npy(folder: Path) -> list[str]:
    import numpy as np

    return dump_input(lambda out: np.save(out, np.array([{"a": 1}], dtype=object),
                                          allow_pickle=True))(folder)


def dump_input(save: Callable) -> Callable[[Path], list[str]]:
    """`dump` on the base model with an input.npy written by `save(file)`."""
    def make(folder: Path) -> list[str]:
        args = inspect_weights(base_weights, command="dump")(folder)
        path = folder / "input.npy"
        with open(path, "wb") as out:
            save(out)
        return args + ["--input", str(path), "-o", str(folder / "out.npz")]
    return make


def _np():
    import numpy as np

    return np


CFG_CASES = [
    Case("cfg-unknown-section", inspect_cfg(edited(append="[foo]\nbar=1\n")), EXIT_PROBLEMS,
         ("unknown section [foo]",), "bad.cfg", 25, 3, gui=True),
    Case("cfg-misspelled-section", inspect_cfg(edited(append="[convolutonal]\nfilters=2\n")),
         EXIT_PROBLEMS, ("did you mean [convolutional]",), "bad.cfg", 25, 3),
    Case("cfg-missing-net", inspect_cfg(BASE_CFG.split("\n", 5)[5]), EXIT_UNUSABLE,
         ("first section must be [net]", "found [convolutional]"), "bad.cfg", 1, gui=True),
    Case("cfg-second-net", inspect_cfg(edited(append="[net]\nwidth=3\n")), EXIT_PROBLEMS,
         ("may only be the first section",), "bad.cfg", 25, 3),
    Case("cfg-non-numeric-filters", inspect_cfg(edited(("filters=8", "filters=abc"))),
         EXIT_PROBLEMS, ("filters", "'abc'"), "bad.cfg", 8, 0, gui=True),
    Case("cfg-non-numeric-net-width", inspect_cfg(edited(("width=32", "width=wide"))),
         EXIT_UNUSABLE, ("width", "'wide'"), "bad.cfg", 2),
    Case("cfg-negative-filters", inspect_cfg(edited(("filters=8", "filters=-3"))),
         EXIT_PROBLEMS, ("filters=-3", "positive"), "bad.cfg", 8, 0),
    Case("cfg-negative-net-width", inspect_cfg(edited(("width=32", "width=-5"))),
         EXIT_UNUSABLE, ("width=-5", "negative"), "bad.cfg", 2),
    Case("cfg-zero-filters", inspect_cfg(edited(("filters=8", "filters=0"))), EXIT_PROBLEMS,
         ("filters=0",), "bad.cfg", 8, 0),
    Case("cfg-zero-size", inspect_cfg(edited(("size=3", "size=0"))), EXIT_PROBLEMS,
         ("size=0",), "bad.cfg", 9, 0),
    Case("cfg-zero-stride", inspect_cfg(edited(("stride=1", "stride=0"))), EXIT_PROBLEMS,
         ("stride=0",), "bad.cfg", 10, 0),
    Case("cfg-no-input-size", inspect_cfg(edited(("width=32\nheight=32\n", ""))),
         EXIT_UNUSABLE, ("no input size", "width="), "bad.cfg", 1),
    Case("cfg-width-beyond-int32", inspect_cfg(edited(("width=32", "width=1e308"))),
         EXIT_UNUSABLE, ("'1e308'", "32-bit int"), "bad.cfg", 2),
    Case("cfg-huge-number", inspect_cfg(edited(("filters=8", "filters=" + "9" * 5000))),
         EXIT_PROBLEMS, ("filters", "5,000 characters"), "bad.cfg", 8, 0),
    Case("cfg-absurd-width-inspect", inspect_cfg(edited(
        ("width=32", "width=100000"), ("height=32", "height=100000"))), EXIT_OK,
         ("more than the 16,384 MB limit", "can be inspected", "--max-memory-mb",
          "layer 0 ([convolutional], cfg line 6)"), gui=True),
    Case("cfg-absurd-width-convert", convert_cfg(edited(
        ("width=32", "width=100000"), ("height=32", "height=100000"))), EXIT_UNUSABLE,
         ("refused before allocating", "--max-memory-mb", "DARKNET_INSPECTOR_MAX_MEMORY_MB",
          "layer 0 ([convolutional], cfg line 6)"), "bad.cfg"),
    *(Case(f"cfg-absurd-width-detect-{engine}", detect_cfg(DETECT_CFG.replace(
        "width=32", "width=100000", 1).replace("height=32", "height=100000", 1),
        "--engine", engine), EXIT_UNUSABLE,
        ("refused before allocating", "--max-memory-mb", "layer 0 ([convolutional], cfg line 6)"),
        "bad.cfg") for engine in ("numpy", "torch")),
    Case("cfg-absurd-filters-inspect", inspect_cfg(edited(("filters=8", "filters=1000000000"))),
         EXIT_OK, ("more than the 16,384 MB limit", "--max-memory-mb")),
    Case("cfg-absurd-filters-convert", convert_cfg(edited(("filters=8", "filters=1000000000"))),
         EXIT_UNUSABLE, ("its weights would take", "refused before allocating",
                         "--max-memory-mb"), "bad.cfg"),
    Case("cfg-memory-limit-option", lambda folder: [
        *convert_cfg(edited(("width=32", "width=256"), ("height=32", "height=256")))(folder),
        "--max-memory-mb", "1"], EXIT_UNUSABLE,
         ("more than the 1 MB limit", "refused before allocating"), "bad.cfg"),
    Case("cfg-route-before-first-layer", inspect_cfg(edited(append="[route]\nlayers=-10\n")),
         EXIT_PROBLEMS, ("layers=-10", "before the first layer"), "bad.cfg", 26, 3, gui=True),
    Case("cfg-route-forward", inspect_cfg(edited(append="[route]\nlayers=7\n")),
         EXIT_PROBLEMS, ("layers=7", "a later layer"), "bad.cfg", 26, 3),
    Case("cfg-route-itself", inspect_cfg(edited(append="[route]\nlayers=3\n")),
         EXIT_PROBLEMS, ("layers=3", "this layer itself"), "bad.cfg", 26, 3),
    Case("cfg-shortcut-before-first-layer",
         inspect_cfg(edited(append="[shortcut]\nfrom=-10\n")), EXIT_PROBLEMS,
         ("from=-10", "before the first layer"), "bad.cfg", 26, 3),
    Case("cfg-shortcut-forward", inspect_cfg(edited(append="[shortcut]\nfrom=5\n")),
         EXIT_PROBLEMS, ("from=5", "a later layer"), "bad.cfg", 26, 3),
    Case("cfg-conv-groups-do-not-divide", inspect_cfg(edited(("filters=4", "filters=4\ngroups=3"))),
         EXIT_PROBLEMS, ("groups=3", "8 input channels"), "bad.cfg", 20, 2),
    Case("cfg-route-groups-do-not-divide",
         inspect_cfg(edited(append="[route]\nlayers=-1\ngroups=3\n")), EXIT_PROBLEMS,
         ("groups=3", "4 channels"), "bad.cfg", 27, 3),
    Case("cfg-pool-window-too-big", inspect_cfg(edited(("size=2\nstride=2",
                                                         "size=40\nstride=2\npadding=0"))),
         EXIT_PROBLEMS, ("40x40 window", "32x32 input"), "bad.cfg", 15, 1),
    Case("cfg-yolo-filters-mismatch", inspect_cfg(edited(append=(
        "[yolo]\nmask=0,1,2\nanchors=4,6, 8,10, 12,14\nclasses=80\nnum=3\n"))),
         EXIT_PROBLEMS, ("set filters=255 on line 19",), "bad.cfg", 25, 3),
    Case("cfg-yolo-absurd-num", inspect_cfg(edited(append="[yolo]\nclasses=1\nnum=1000000000\n")),
         EXIT_PROBLEMS, ("1,000,000,000 anchors", "num="), "bad.cfg", 27, 3),
    Case("cfg-empty", inspect_cfg(""), EXIT_UNUSABLE, ("empty",), "bad.cfg", gui=True),
    Case("cfg-blank-lines", inspect_cfg(" \n\n\t\n"), EXIT_UNUSABLE, ("empty",), "bad.cfg"),
    Case("cfg-comments-only", inspect_cfg("# nothing\n; here\n"), EXIT_UNUSABLE,
         ("no [sections]",), "bad.cfg"),
    Case("cfg-binary-garbage", inspect_cfg(bytes(range(256)) * 8), EXIT_UNUSABLE,
         ("not a text cfg file",), "bad.cfg", gui=True),
    Case("cfg-high-bytes-garbage", inspect_cfg(bytes(range(128, 256)) * 8), EXIT_UNUSABLE,
         ("before any [section]",), "bad.cfg", 1),
    Case("cfg-weights-passed-as-cfg", lambda folder: [
        "inspect", write(folder, "bad.cfg", base_weights())], EXIT_UNUSABLE,
         ("not a text cfg file",), "bad.cfg"),
    Case("cfg-non-utf8-value", inspect_cfg(edited(("activation=leaky", "activation=l\xe9aky"))
                                           .encode("latin-1")),
         EXIT_OK, ("activation=l\xe9aky", "relu"), None, 12, 0),
    Case("cfg-huge-comment-line", inspect_cfg(BASE_CFG + "#" + "x" * 5_000_000 + "\n"),
         EXIT_OK, ("problems: 0 error(s)",)),
    Case("cfg-huge-text-option", inspect_cfg(edited(("activation=leaky",
                                                     "activation=" + "9" * 5000))),
         EXIT_PROBLEMS, ("option activation", "5,000 characters", "too long for a name"),
         "bad.cfg", 12, 0),
    Case("cfg-huge-option-line", inspect_cfg(edited(("pad=1", "pad=1\n" + "y" * 3_000_000))),
         EXIT_OK, ("is not key=value", "3,000,000 characters"), None, 12, None),
    Case("cfg-malformed-header", inspect_cfg(edited(append="[route\nlayers=-1\n")),
         EXIT_UNUSABLE, ("malformed section header",), "bad.cfg", 25),
    Case("cfg-option-before-section", inspect_cfg("width=3\n" + BASE_CFG), EXIT_UNUSABLE,
         ("before any [section]",), "bad.cfg", 1),
    Case("cfg-too-many-sections", inspect_cfg(
        BASE_CFG + "\n[maxpool]\nsize=1\nstride=1\n" * 25_000), EXIT_UNUSABLE,
         ("more than 20,000 sections",), "bad.cfg", 25 + 4 * 19_997),
    Case("cfg-too-large", big_cfg_file, EXIT_UNUSABLE, ("too large for a cfg",), "bad.cfg"),
    Case("cfg-is-a-folder", lambda folder: ["inspect", str(folder)], EXIT_UNUSABLE,
         ("no such cfg file",)),
    Case("cfg-missing", lambda folder: ["inspect", str(folder / "nope.cfg")], EXIT_UNUSABLE,
         ("no such cfg file",), "nope.cfg"),
]

WEIGHTS_CASES = [
    Case("weights-empty", inspect_weights(b""), EXIT_UNUSABLE, ("the weights file is empty",),
         "bad.weights", gui=True),
    Case("weights-shorter-than-header", inspect_weights(lambda: base_weights()[:8]),
         EXIT_UNUSABLE, ("8 bytes", "shorter than a Darknet weights header"), "bad.weights"),
    Case("weights-cut-inside-header", inspect_weights(lambda: base_weights()[:14]),
         EXIT_UNUSABLE, ("14 bytes", "20-byte header"), "bad.weights"),
    Case("weights-header-only", inspect_weights(lambda: base_weights()[:HEADER]),
         EXIT_PROBLEMS, ("holds no weights at all",), None, 6, 0),
    Case("weights-absurd-header", inspect_weights(with_header(-1, -1, -1)), EXIT_OK,
         ("never writes", "version -1.-1.-1", "16-byte header")),
    Case("weights-absurd-huge-version", inspect_weights(with_header(2**31 - 1, 2**31 - 1, 7)),
         EXIT_OK, ("never writes", "version 2147483647.2147483647.7")),
    Case("weights-truncated-mid-tensor", inspect_weights(
        lambda: base_weights()[:HEADER + LAYER0_BYTES + 4 * 4 + 10]), EXIT_PROBLEMS,
         ("inside layer 2 ([convolutional], cfg line 18), in its weights tensor",
          "only 10 of its 128 bytes"), None, 18, 2, gui=True),
    Case("weights-truncated-at-layer-boundary", inspect_weights(
        lambda: base_weights()[:HEADER + LAYER0_BYTES]), EXIT_PROBLEMS,
         ("at the start of layer 2", "layer 0 complete"), None, 18, 2),
    Case("weights-extra-floats", inspect_weights(lambda: base_weights() + bytes(12)),
         EXIT_OK, ("12 bytes left over", "3 floats"), gui=True),
    Case("weights-extra-odd-bytes", inspect_weights(lambda: base_weights() + b"\1\2\3"),
         EXIT_OK, ("3 bytes left over", "not a whole number of floats")),
    Case("weights-from-another-model-bigger", inspect_weights(
        base_weights, edited(("filters=4", "filters=6"))), EXIT_PROBLEMS,
         ("the weights hold filters=4 here, the cfg asks for 6",),
         None, 19, 2),
    Case("weights-from-another-model-smaller", inspect_weights(
        base_weights, edited(("filters=4", "filters=2"))), EXIT_PROBLEMS,
         ("the weights hold filters=4 here, the cfg asks for 2",)),
    Case("weights-with-cfg-errors", inspect_weights(
        base_weights, edited(("filters=4", "filters=4\ngroups=3"))), EXIT_PROBLEMS,
         ("groups=3",), None, 20, 2),
    Case("weights-zip-file", inspect_weights(b"PK\x03\x04" + bytes(60)), EXIT_UNUSABLE,
         ("zip file", "export-weights"), "bad.weights"),
    Case("weights-cfg-passed-as-weights", inspect_weights(BASE_CFG.encode()), EXIT_UNUSABLE,
         ("cfg (text) file",), "bad.weights"),
    Case("weights-is-a-folder", lambda folder: [
        "inspect", write(folder, "model.cfg", BASE_CFG), str(folder)], EXIT_UNUSABLE,
         ("no such weights file",)),
    Case("weights-large-cut-short", big_weights_cut, EXIT_PROBLEMS,
         ("1,000 bytes early", "layer 9"), None, 60, 9),
    Case("weights-convert-truncated", inspect_weights(
        lambda: base_weights()[:-40], command="convert"), EXIT_PROBLEMS,
         ("40 bytes early",), None, 18, 2),
]

OTHER_CASES = [
    Case("image-not-an-image", detect_image(b"hello, this is text"), EXIT_UNUSABLE,
         ("cannot read this image",), "bad.jpg"),
    Case("image-truncated-jpeg", detect_image(lambda: jpeg()[:150]), EXIT_UNUSABLE,
         ("cannot read this image",), "bad.jpg"),
    Case("image-empty", detect_image(b"", "bad.png"), EXIT_UNUSABLE,
         ("cannot read this image",), "bad.png"),
    Case("image-decompression-bomb", detect_image(lambda: png_claiming(60000, 60000),
                                                  "bad.png"), EXIT_UNUSABLE,
         ("cannot read this image",), "bad.png"),
    Case("image-is-a-folder", lambda folder: [
        *detect_image(jpeg)(folder)[:3], str(folder)], EXIT_UNUSABLE, ("no such image file",)),
    Case("pt-random-bytes", lambda folder: [
        "export-weights", write(folder, "bad.pt", os.urandom(200)), "-o",
        str(folder / "out.weights")], EXIT_UNUSABLE, ("not a loadable PyTorch file",), "bad.pt"),
    Case("pt-malicious-pickle", malicious_pt, EXIT_UNUSABLE,
         ("not a loadable PyTorch file",), "bad.pt"),
    Case("pt-cfg-not-text", damaged_pt(cfg_text=5), EXIT_UNUSABLE,
         ("damaged darknet-inspector model", "cfg_text"), "bad.pt"),
    Case("pt-header-without-fields", damaged_pt(header={}), EXIT_UNUSABLE,
         ("damaged darknet-inspector model", "header"), "bad.pt"),
    Case("pt-header-beyond-int32", damaged_pt(header={"major": 2**40, "minor": 2,
                                                      "revision": 5, "seen": 0}),
         EXIT_UNUSABLE, ("damaged darknet-inspector model", "header"), "bad.pt"),
    Case("pt-width-not-a-number", damaged_pt(width="wide"), EXIT_UNUSABLE,
         ("damaged darknet-inspector model", "width"), "bad.pt"),
    Case("pt-tensors-not-a-dict", damaged_pt(tensors=[1, 2]), EXIT_UNUSABLE,
         ("damaged darknet-inspector model", "tensors"), "bad.pt"),
    Case("pt-without-tensors", damaged_pt(), EXIT_PROBLEMS, ("no tensor '0.biases'",)),
    Case("npy-strings", dump_input(lambda out: _np().save(out, _np().full((3, 32, 32), "a"))),
         EXIT_UNUSABLE, ("<U1 values, not real numbers",), "input.npy"),
    Case("npy-an-npz-archive", dump_input(lambda out: _np().savez(out, x=_np().ones(3))),
         EXIT_UNUSABLE, ("an archive of arrays (.npz)",), "input.npy"),
    Case("npy-wrong-shape", dump_input(lambda out: _np().save(out, _np().ones((3, 16, 16)))),
         EXIT_UNUSABLE, ("input shape [3, 16, 16] does not match the network input [3, 32, 32]",),
         "input.npy"),
    Case("npy-pickled-objects", pickled_npy, EXIT_UNUSABLE, ("not a readable .npy array",),
         "input.npy"),
]

CASES = CFG_CASES + WEIGHTS_CASES + OTHER_CASES
GUI_CASES = [case for case in CASES if case.gui]
