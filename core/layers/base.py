"""What every layer type provides, and the records a built network is made of.

A layer type turns one cfg section into a `Built` (output shape, weight layout, inputs).
No torch here: `inspect`, the byte ledger and the diagnosis need only this; the torch
module each built layer runs as is registered by layer type in core.torch_layers.
"""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import numpy as np

from darknet_inspector.core.cfg import Section
from darknet_inspector.core.darknet_tree import DarknetTree
from darknet_inspector.core.errors import Diagnostic

Shape = tuple[int, ...]

COMMON_KEYS = frozenset({
    "clip", "onlyforward", "dont_update", "burnin_update", "stopbackward", "train_only_bn",
    "dontload", "dontloadscales", "learning_rate", "stream", "wait_stream",
})


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of the weights file: its name and natural shape (C order on disk)."""

    name: str
    shape: Shape

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return 4 * self.count


@dataclass
class NetOptions:
    """The `[net]` section as inference needs it (Darknet's `parse_net_options`)."""

    width: int
    height: int
    channels: int
    inputs: int
    batch: int = 1
    letter_box: bool = False
    section: Section | None = None

    @property
    def input_shape(self) -> Shape:
        if self.width and self.height and self.channels:
            return (self.channels, self.height, self.width)
        return (self.inputs,)


@dataclass(frozen=True)
class LayerParams:
    """What one layer type parsed from its section: each type subclasses this with a
    small frozen dataclass (`ConvolutionalParams`, `YoloParams`, ...) built once by its
    `build` and read as attributes; a type with nothing to keep uses `NoParams`."""


@dataclass(frozen=True)
class NoParams(LayerParams):
    """The facts of a layer type that keeps none (and of a layer that failed to build)."""


P = TypeVar("P", bound=LayerParams)


@dataclass
class Built:
    """What a layer type's `build` returns."""

    output_shape: Shape
    params: LayerParams = field(default_factory=NoParams)
    weights: list[TensorSpec] = field(default_factory=list)
    inputs: tuple[int, ...] | None = None
    runnable: bool = True
    summary: str = ""
    refusal: str | None = None
    """Why a layer that is not runnable is not run, when its type can say more than
    "not runnable in this tool" (e.g. which file the user must give)."""


@dataclass
class Layer:
    """One built layer: where it came from, its shapes and its weight layout."""

    index: int
    type: str
    line: int
    section: Section
    input_shape: Shape | None
    output_shape: Shape | None
    inputs: tuple[int, ...]
    params: LayerParams = field(default_factory=NoParams)
    weights: tuple[TensorSpec, ...] = ()
    runnable: bool = True
    summary: str = ""
    refusal: str | None = None

    def params_as(self, kind: builtins.type[P]) -> P:
        """This layer's facts as the dataclass its type builds (checked: a TypeError
        names the layer when they are another type's, e.g. a layer that failed to build)."""
        if not isinstance(self.params, kind):
            raise TypeError(f"layer {self.index} [{self.type}] has {type(self.params).__name__}"
                            f", not {kind.__name__}")
        return self.params

    @property
    def known(self) -> bool:
        return self.output_shape is not None

    @property
    def built_shape(self) -> Shape:
        """The output shape of a layer that was built (every layer of a model, a module,
        a dump); a ValueError naming the layer for one that failed to build."""
        if self.output_shape is None:
            raise ValueError(f"layer {self.index} [{self.type}] (cfg line {self.line}) "
                             "has no output shape: it failed to build")
        return self.output_shape

    @property
    def param_count(self) -> int:
        return sum(t.count for t in self.weights)

    @property
    def weight_bytes(self) -> int:
        return 4 * self.param_count


class LayerProblem(Exception):
    """A user-fixable problem that stops one layer from being built."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


class UnknownInput(Exception):
    """The layer's input comes from a layer that could not be built: say nothing more."""


class BuildContext:
    """What a layer type may look at while building layer `index`."""

    def __init__(self, index: int, section: Section, net: NetOptions, layers: list[Layer],
                 diagnostics: list[Diagnostic], tree: DarknetTree | None = None):
        self.index = index
        self.section = section
        self.net = net
        self.layers = layers
        self.diagnostics = diagnostics
        self.tree = tree  # the tree file the user gave for `tree=` layers (YOLO9000)

    @property
    def input_shape(self) -> Shape | None:
        """Output of the previous layer (the network input for layer 0)."""
        if self.index == 0:
            return self.net.input_shape
        return self.layers[self.index - 1].output_shape

    def require_input(self) -> Shape:
        shape = self.input_shape
        if shape is None:
            raise UnknownInput()
        return shape

    def require_chw(self) -> tuple[int, int, int]:
        """Input as (C, H, W); flat inputs count as (N, 1, 1), as in Darknet."""
        return as_chw(self.require_input())

    def warn(self, message: str, line: int | None = None) -> None:
        self.diagnostics.append(
            Diagnostic("warning", message, self.index, line or self.section.line))

    def error(self, message: str, line: int | None = None) -> None:
        self.diagnostics.append(
            Diagnostic("error", message, self.index, line or self.section.line))

    def resolve_layer(self, value: int, key: str) -> int:
        """A `layers=`/`from=` entry -> absolute index: negative is relative, as in
        `parse_route`/`parse_shortcut` (src/parser.c); must name an earlier layer."""
        absolute = self.index + value if value < 0 else value
        line = self.section.line_of(key)
        if absolute < 0 or absolute >= self.index:
            what = "before the first layer" if absolute < 0 else (
                "this layer itself" if absolute == self.index else "a later layer")
            raise LayerProblem(
                f"[{self.section.name}] {key}={value} points to layer {absolute}, which is "
                f"{what}; it must name one of layers 0..{self.index - 1}", line)
        return absolute

    def output_of(self, index: int) -> Shape:
        shape = self.layers[index].output_shape
        if shape is None:
            raise UnknownInput()
        return shape


def as_chw(shape: Shape) -> tuple[int, int, int]:
    if len(shape) == 3:
        return shape
    return (math.prod(shape), 1, 1)


def positive(section: Section, key: str, value: int | None) -> int:
    """A size-like option must be >= 1; say which line otherwise."""
    if value is None or value < 1:
        raise LayerProblem(
            f"[{section.name}] {key}={value} must be a positive integer", section.line_of(key))
    return value


class LayerType:
    """A Darknet layer type: cfg options -> `Built` (its torch module: core.torch_layers).
    Detection heads subclass `core.layers.head.HeadType`, which answers the head questions."""

    name: ClassVar[str] = ""
    known_keys: ClassVar[frozenset[str]] = frozenset()
    is_head: ClassVar[bool] = False

    def build(self, ctx: BuildContext) -> Built:
        raise NotImplementedError

    def stored_to_natural(self, layer: Layer, name: str, values: np.ndarray,
                          transposed: bool) -> np.ndarray:
        """Turn a tensor as stored in the file into its natural shape (default: as is)."""
        return values

    def natural_to_stored(self, layer: Layer, name: str, values: np.ndarray,
                          transposed: bool) -> np.ndarray:
        return values

    def workspace_bytes(self, layer: Layer) -> int:
        """Memory one forward pass of the layer needs besides its output (e.g. a padded
        copy of its input), batch 1; counted against the memory limit (core.limits)."""
        return 0

    def bflops(self, layer: Layer) -> float:
        """Darknet's `l.bflops` for this layer (core.layers.flops): 0 unless the type
        counts it, as in Darknet."""
        return 0.0

    def darknet_output(self, layer: Layer, output: np.ndarray) -> np.ndarray:
        """One sample's output laid out as Darknet's `l.output` holds it (for `dump`)."""
        return output.reshape(layer.output_shape)
