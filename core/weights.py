"""Darknet .weights files: header, a streaming reader over a memory map, the byte ledger
(what the cfg needs vs. what the file has) and a writer.

Follows `load_weights_upto` / `save_weights_upto` in Darknet's src/parser.c.
"""

from __future__ import annotations

import io
import os
import stat
import struct
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from darknet_inspector.core.atomic import atomic_write
from darknet_inspector.core.errors import Diagnostic, WeightsError
from darknet_inspector.core.layers import built_layer_type
from darknet_inspector.core.layers.base import Layer, TensorSpec
from darknet_inspector.core.memory import check_weights_memory
from darknet_inspector.core.network import Network

FLOAT = np.dtype("<f4")
DEFAULT_VERSION = (0, 2, 5)
TRANSPOSED_TYPES = frozenset({"connected", "rnn", "lstm", "gru"})
"""Layer types whose matrices `load_weights_upto` transposes when the header says so."""


def _int32(value: int) -> int:
    """Wrap to a C `int32_t`, as Darknet's arithmetic on header fields does."""
    return (value + 2**31) % 2**32 - 2**31


def header_size(major: int, minor: int) -> int:
    """`seen` is a uint64 when major*10+minor >= 2 (int32 arithmetic), else a uint32:
    AlexeyAB's `load_weights_upto` (src/parser.c). pjreddie's Darknet also required
    major and minor < 1000; AlexeyAB (and so this tool) does not."""
    return 20 if _int32(_int32(major * 10) + minor) >= 2 else 16


@dataclass(frozen=True)
class WeightsHeader:
    major: int = DEFAULT_VERSION[0]
    minor: int = DEFAULT_VERSION[1]
    revision: int = DEFAULT_VERSION[2]
    seen: int = 0

    @property
    def size(self) -> int:
        return header_size(self.major, self.minor)

    @property
    def transposed(self) -> bool:
        """`major > 1000 || minor > 1000`: [connected] weights are stored transposed."""
        return self.major > 1000 or self.minor > 1000

    def pack(self) -> bytes:
        seen = struct.pack("<Q" if self.size == 20 else "<I", self.seen)
        return struct.pack("<iii", self.major, self.minor, self.revision) + seen


def refuse_foreign_file(data: bytes, path: str) -> None:
    """Files people pass as weights by mistake: a PyTorch zip or a cfg (text)."""
    if data.startswith(b"PK\x03\x04"):
        raise WeightsError(f"{path}: this is a zip file (a PyTorch .pt?), not Darknet weights; "
                           "use export-weights to turn our .pt back into .weights")
    head = data[:16].removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    text_like = all(32 <= byte < 127 or byte in b"\t\r\n" for byte in head)
    if head[:1] in (b"[", b"#", b";") and text_like:
        raise WeightsError(f"{path}: this is a cfg (text) file, not Darknet weights; pass the "
                           "cfg first and the .weights second")


PLAUSIBLE_VERSION_FIELD = 1_000_000


def implausible_header(header: WeightsHeader) -> list[Diagnostic]:
    """A warning when the version fields are nothing Darknet writes (it writes 0.2.5;
    over 1000 marks transposed [connected] weights): negative or absurdly large values
    mean the file is probably not Darknet weights, or its start is damaged."""
    fields = (header.major, header.minor, header.revision)
    if all(0 <= value < PLAUSIBLE_VERSION_FIELD for value in fields):
        return []
    version = ".".join(str(value) for value in fields)
    return [Diagnostic("warning", f"the header says version {version}, which Darknet never "
                       f"writes (it writes 0.2.5): is this a Darknet weights file, and is its "
                       f"start intact? Read with a {header.size}-byte header")]


def parse_header(data: bytes, path: str = "<weights>") -> WeightsHeader:
    """The 16- or 20-byte header; a file too short for it is a WeightsError."""
    refuse_foreign_file(data, path)
    if len(data) < 12:
        raise WeightsError(f"{path}: the file is {len(data)} bytes, shorter than a Darknet "
                           "weights header (16 or 20 bytes)")
    major, minor, revision = struct.unpack_from("<iii", data, 0)
    size = header_size(major, minor)
    if len(data) < size:
        raise WeightsError(f"{path}: the file is {len(data)} bytes, shorter than its "
                           f"{size}-byte header (version {major}.{minor}.{revision})")
    (seen,) = struct.unpack_from("<Q" if size == 20 else "<I", data, 12)
    return WeightsHeader(major, minor, revision, seen)


def tensor_offsets(network: Network, header_bytes: int) -> dict[TensorKey, int]:
    """Byte offset of every tensor in the weights file, keyed (layer index, tensor name):
    `load_weights_upto` (src/parser.c) reads the layers in order right after the header,
    each layer's tensors in its layout order with nothing between them. Offsets stop at
    the first layer whose shape (and so size) is unknown."""
    offsets: dict[TensorKey, int] = {}
    offset = header_bytes
    for layer in network.layers:
        if not layer.known:
            break
        for spec in layer.weights:
            offsets[(layer.index, spec.name)] = offset
            offset += spec.nbytes
    return offsets


@dataclass
class TensorRecord:
    layer: int
    name: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int
    status: str  # ok | partial | missing
    values: np.ndarray | None = None  # natural shape, read from the file; only when ok


@dataclass
class LayerRecord:
    index: int
    type: str
    line: int
    tensors: list[TensorRecord]

    @property
    def status(self) -> str:
        """ok | partial | missing | none, as in `inspect --json`."""
        if not self.tensors:
            return "none"
        states = {t.status for t in self.tensors}
        if states == {"ok"}:
            return "ok"
        if states == {"missing"}:
            return "missing"
        return "partial"


@dataclass
class Ledger:
    """Bytes the cfg needs against bytes the file holds, and what that means."""

    path: str
    header: WeightsHeader
    expected_bytes: int
    file_bytes: int
    diagnostics: list[Diagnostic] = field(default_factory=list)
    complete: bool = True  # False: cfg errors hide the layout past some layer
    mismatch: Diagnostic | None = None  # the one saying the sizes disagree (short or long)

    @property
    def status(self) -> str:
        """ok | short | long; with an incomplete layout, relative to the checkable part."""
        if self.file_bytes < self.expected_bytes:
            return "short"
        if self.file_bytes > self.expected_bytes:
            return "long"
        return "ok"

    @property
    def warnings(self) -> list[Diagnostic]:
        """What a command that runs the model anyway says about the file (bytes left over,
        an implausible header): its warnings, read once with the weights."""
        return [d for d in self.diagnostics if d.severity == "warning"]

    def to_dict(self) -> dict:
        return {"path": self.path, "major": self.header.major, "minor": self.header.minor,
                "revision": self.header.revision, "seen": self.header.seen,
                "header_bytes": self.header.size, "expected_bytes": self.expected_bytes,
                "file_bytes": self.file_bytes, "status": self.status}


def changed_while_read(path: str, offset: int) -> str:
    """The one line for a file that shrank while it was read (a training run rewriting it)."""
    return (f"{path} changed while it was read: it ended at byte {offset:,}, before the size "
            "it had when it was opened; read it again when nothing is writing it")


class FileSlices:
    """Read-only `data[a:b]` over an open file with plain reads (os.pread): what a memory
    map offers a reader of scattered pieces, without dying of SIGBUS when the file
    shrinks; a piece the file no longer holds is a WeightsError (`changed_while_read`)."""

    def __init__(self, handle: IO[bytes], path: str, size: int):
        self._fd, self.path, self.size = handle.fileno(), path, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, span: slice) -> bytes:
        start, stop, step = span.indices(self.size)
        if step != 1:
            raise ValueError("FileSlices reads contiguous slices only")
        want = max(0, stop - start)
        data = os.pread(self._fd, want, start)
        while len(data) < want:
            more = os.pread(self._fd, want - len(data), start + len(data))
            if not more:
                raise WeightsError(changed_while_read(self.path, start + len(data)))
            data += more
        return data


def _open_file(path: str) -> tuple[io.FileIO, int]:
    try:
        if os.path.isdir(path):
            raise WeightsError(f"{path}: is a folder, not a weights file")
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block, a device never end
            raise WeightsError(f"{path}: cannot read weights: not a regular file (a device "
                               "or pipe)")
        handle = io.FileIO(path, "rb")
        size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read weights: {exc.strerror or exc}") from None
    if size == 0:
        handle.close()
        raise WeightsError(f"{path}: the weights file is empty")
    return handle, size


class WeightsReader:
    """Stream a weights file layer by layer against a network's layout.

    `records()` yields one LayerRecord per layer as it is read; when it is exhausted,
    `ledger` holds the verdict. Each tensor is read with plain I/O straight into its own
    new writable array (a model adopts it without copying again). Never a memory map: a
    mapped file that shrinks under it (Darknet rewrites `*_last.weights` while training)
    kills the process with SIGBUS; a read that comes up short is a WeightsError saying
    the file changed. Only what the cfg needs is read, however large the file.
    `copy=True` (loading a whole model) first checks the model fits the memory limit.
    `values=False` reads no tensor at all (records without values): the ledger alone,
    which needs only the header and the file's size.
    """

    def __init__(self, network: Network, path: str | os.PathLike, copy: bool = False,
                 values: bool = True):
        self.network = network
        self.path = os.fspath(path)
        self.copy = copy
        self.read_values = values
        if copy:
            check_weights_memory(network)
        self._file, self.file_bytes = _open_file(self.path)
        try:
            self.header = parse_header(self._file.read(20), self.path)
        except WeightsError:
            self._file.close()
            raise
        self.ledger: Ledger | None = None

    def _values(self, spec: TensorSpec, offset: int) -> np.ndarray:
        """One fully present tensor, in its natural shape (stored order)."""
        values = np.empty(spec.shape, FLOAT)
        view = values.data.cast("B")  # the array's own buffer, as bytes
        self._file.seek(offset)
        done = 0
        while done < spec.nbytes:
            got = self._file.readinto(view[done:])
            if not got:
                raise WeightsError(changed_while_read(self.path, offset + done))
            done += got
        return values

    def records(self) -> Generator[LayerRecord, None, None]:
        try:
            yield from self._records()
        finally:  # also when the caller stops early
            self._file.close()

    def _records(self) -> Iterator[LayerRecord]:
        offsets = tensor_offsets(self.network, self.header.size)
        offset = self.header.size
        diagnostics: list[Diagnostic] = []
        short_reported = False
        self._size_diagnostics: list[Diagnostic] = []
        unknown_from: Layer | None = None
        self._last_complete: Layer | None = None
        for layer in self.network.layers:
            if not layer.known:
                unknown_from = layer
                break
            tensors = []
            for spec in layer.weights:
                offset = offsets[(layer.index, spec.name)]
                end = offset + spec.nbytes
                if end <= self.file_bytes:
                    values = self._values(spec, offset) if self.read_values else None
                    tensors.append(TensorRecord(layer.index, spec.name, spec.shape, offset,
                                                spec.nbytes, "ok", values))
                else:
                    status = "partial" if offset < self.file_bytes else "missing"
                    if not short_reported:
                        diagnostics.append(self._short_diagnostic(layer, spec.name, offset))
                        self._size_diagnostics.append(diagnostics[-1])
                        short_reported = True
                    tensors.append(TensorRecord(layer.index, spec.name, spec.shape, offset,
                                                spec.nbytes, status))
                offset = end
            if layer.weights and offset <= self.file_bytes:
                self._last_complete = layer
            yield LayerRecord(layer.index, layer.type, layer.line, tensors)
        if unknown_from is not None:
            diagnostics.append(Diagnostic(
                "warning", f"the weights cannot be checked past layer {unknown_from.index} "
                f"([{unknown_from.section.name}], cfg line {unknown_from.line}): its shape is "
                "unknown because of the cfg errors above", unknown_from.index, unknown_from.line))
        elif self.file_bytes > offset:
            diagnostics.append(self._long_diagnostic(offset))
            self._size_diagnostics.append(diagnostics[-1])
        diagnostics.extend(implausible_header(self.header))
        if self.header.transposed and any(
                layer.type in TRANSPOSED_TYPES and layer.weights for layer in self.network.layers):
            diagnostics.append(Diagnostic(
                "warning", f"header version {self.header.major}.{self.header.minor} (> 1000) "
                "means [connected] weights are stored transposed; they are transposed back"))
        mismatch = next((d for d in diagnostics if d in self._size_diagnostics), None)
        self.ledger = Ledger(self.path, self.header, offset, self.file_bytes, diagnostics,
                             complete=unknown_from is None, mismatch=mismatch)

    def read_all(self) -> list[LayerRecord]:
        return list(self.records())

    def _short_diagnostic(self, layer: Layer, tensor: str, offset: int) -> Diagnostic:
        """Where the file ends: inside a tensor, between two tensors of a layer, at a layer
        boundary (a file saved with a cutoff), or right after the header."""
        needed = self.network.weight_bytes() + self.header.size if self.network.complete else None
        early = f"{needed - self.file_bytes:,} bytes early" if needed else "early"
        sizes = f"file {self.file_bytes:,} bytes" + (f", cfg needs {needed:,}" if needed else "")
        where = f"layer {layer.index} ([{layer.section.name}], cfg line {layer.line})"
        spec = next(t for t in layer.weights if t.name == tensor)
        if offset < self.file_bytes:
            place = (f"inside {where}, in its {tensor} tensor {list(spec.shape)} at byte "
                     f"{offset:,}: only {self.file_bytes - offset:,} of its {spec.nbytes:,} "
                     "bytes are there")
        elif tensor != layer.weights[0].name:
            place = f"inside {where}, before its {tensor} tensor at byte {offset:,}"
        elif self._last_complete is None:
            place = (f"right after the {self.header.size}-byte header, before {where} and its "
                     f"{tensor} tensor: it holds no weights at all")
        else:
            done = self._last_complete.index
            held = "layer 0" if done == 0 else f"layers 0..{done}"
            place = (f"at the start of {where}, before its {tensor} tensor at byte {offset:,}; "
                     f"it holds {held} complete, as a file saved with a cutoff (e.g. `darknet "
                     "partial`) does")
        return Diagnostic("error", f"the weights file ends {early} ({sizes}), {place}"
                          f"{self._cfg_errors_hint()}", layer.index, layer.line)

    def _cfg_errors_hint(self) -> str:
        """Cfg errors that hide the layout do change what the file must hold; others (a
        head's classes/filters mismatch) may, depending on how they are fixed."""
        if not self.network.complete:
            return ("; the cfg has errors (above) that change what the file must hold: fix "
                    "them first")
        if self.network.errors:
            return "; the cfg also has errors (above): fixing them may change what it must hold"
        return ""

    def _long_diagnostic(self, expected: int) -> Diagnostic:
        extra = self.file_bytes - expected
        count = extra // 4
        floats = (f"{count:,} float{'s' if count != 1 else ''}" if extra % 4 == 0
                  else f"{extra:,} bytes, not a whole number of floats")
        return Diagnostic(
            "warning", f"the weights file has {extra:,} bytes left over after the last layer "
            f"(file {self.file_bytes:,} bytes, cfg needs {expected:,}; {floats} more than the "
            "cfg describes); Darknet ignores bytes after the last layer, so the model loads "
            f"and runs{self._header_hint(extra)}{self._cfg_errors_hint()}")

    def _header_hint(self, extra: int) -> str:
        """4 bytes over behind a 16-byte header: the writer may have used a 20-byte one
        (an 8-byte `seen`), which shifts every tensor by one float."""
        h = self.header
        if extra != 4 or h.size != 16:
            return ""
        return (f"; or the header is the cause: version {h.major}.{h.minor}.{h.revision} "
                "means a 16-byte header (4-byte seen), but a writer that used 20 bytes "
                "(8-byte seen) leaves exactly these 4 bytes and shifts every tensor by one "
                "float; `inspect` shows whether the batch-norm values read plausibly")


def read_weights(network: Network, path: str | os.PathLike, copy: bool = False
                 ) -> tuple[list[LayerRecord], Ledger]:
    reader = WeightsReader(network, path, copy)
    records = reader.read_all()
    assert reader.ledger is not None
    return records, reader.ledger


TensorKey = tuple[int, str]


def serialize_weights(network: Network, tensors: Mapping[TensorKey, np.ndarray],
                      header: WeightsHeader) -> Iterator[bytes]:
    """Header, then every layer's tensors in file order (`save_weights_upto`)."""
    yield header.pack()
    for layer in network.layers:
        for spec in layer.weights:
            if (layer.index, spec.name) not in tensors:
                raise WeightsError(f"layer {layer.index} ({layer.type}, cfg line {layer.line}): "
                                   f"no values for its {spec.name} tensor")
            values = np.asarray(tensors[(layer.index, spec.name)], dtype=FLOAT)
            if values.size != spec.count:
                raise WeightsError(
                    f"layer {layer.index} ({layer.type}, cfg line {layer.line}) tensor "
                    f"{spec.name}: expected {spec.count} values {spec.shape}, got {values.size}")
            values = built_layer_type(layer.type).natural_to_stored(
                layer, spec.name, values.reshape(spec.shape), header.transposed)
            yield np.ascontiguousarray(values, dtype=FLOAT).tobytes()


def write_weights(path: str | os.PathLike, network: Network,
                  tensors: Mapping[TensorKey, np.ndarray],
                  header: WeightsHeader | None = None) -> None:
    """Write a Darknet weights file atomically."""
    if not network.complete:
        raise WeightsError("cannot write weights for a network whose shapes are not all known")
    with atomic_write(path) as out:
        for chunk in serialize_weights(network, tensors, header or WeightsHeader()):
            out.write(chunk)


def random_weights(network: Network, seed: int = 0, scale: float = 0.1
                   ) -> dict[TensorKey, np.ndarray]:
    """Plausible random tensors for tests and benchmarks (BN variance kept positive)."""
    rng = np.random.default_rng(seed)
    tensors: dict[TensorKey, np.ndarray] = {}
    for layer in network.layers:
        for spec in layer.weights:
            if spec.name.endswith("rolling_variance"):
                values = rng.uniform(0.5, 1.5, spec.shape)
            elif spec.name.endswith("scales"):
                values = rng.uniform(0.5, 1.5, spec.shape)
            elif spec.name.endswith("weights") and len(spec.shape) == 4:
                fan_in = max(1, int(np.prod(spec.shape[1:])))
                values = rng.normal(0.0, 1.0 / np.sqrt(fan_in), spec.shape)
            else:
                values = rng.normal(0.0, scale, spec.shape)
            tensors[(layer.index, spec.name)] = values.astype(FLOAT)
    return tensors
