"""Our own .pt file (tensors + cfg text + metadata): save, load, and write back to .weights."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeGuard

import numpy as np
import torch

from darknet_inspector.core.atomic import atomic_write
from darknet_inspector.core.cfg import parse_cfg
from darknet_inspector.core.darknet_tree import DarknetTree, parse_tree
from darknet_inspector.core.errors import Diagnostic, InspectorError, UsageError
from darknet_inspector.core.model import DarknetModel
from darknet_inspector.core.network import Network, build_network, load_network
from darknet_inspector.core.weights import TensorKey, WeightsHeader, write_weights

PT_FORMAT = "darknet-inspector/pt"
PT_VERSION = 1


def model_payload(model: DarknetModel) -> dict:
    """Everything needed to rebuild the model without the cfg file: plain types only,
    so that `torch.load(..., weights_only=True)` reads it."""
    network = model.network
    header = model.header or WeightsHeader()
    fused = any(getattr(m, "fused", False) for m in model.layers)
    return {
        "format": PT_FORMAT,
        "version": PT_VERSION,
        "cfg_path": os.path.basename(network.path),
        "cfg_text": network.cfg.text,
        "width": network.net.width,
        "height": network.net.height,
        "header": {"major": header.major, "minor": header.minor,
                   "revision": header.revision, "seen": header.seen},
        "fused": fused,
        "heads": list(network.heads),
        **_tree_fields(network.tree),
        "tensors": {f"{index}.{name}": _compact(tensor)
                    for (index, name), tensor in model.darknet_tensors().items()},
    }


def _tree_fields(tree: DarknetTree | None) -> dict:
    """The tree file given for a `tree=` layer (YOLO9000), embedded as text: the .pt runs
    without it, as without the cfg."""
    if tree is None:
        return {}
    return {"tree_path": os.path.basename(tree.path), "tree_text": tree.text()}


def embedded_tree(payload: dict, path: str | os.PathLike) -> DarknetTree | None:
    """The tree embedded by `_tree_fields`, read back (a damaged one: a UsageError)."""
    text = payload.get("tree_text")
    if text is None:
        return None
    name = payload.get("tree_path")
    if not isinstance(text, str) or not isinstance(name, str):
        raise UsageError(f"{path}: a damaged darknet-inspector model (tree_text/tree_path "
                         "are not text)")
    return parse_tree(text, f"{path} (embedded {name})")


def _compact(tensor: torch.Tensor) -> torch.Tensor:
    """A CPU tensor whose storage holds exactly its values (torch.save writes a view's
    whole storage); a copy only when the tensor is a view into something larger."""
    tensor = tensor.detach().cpu().contiguous()
    if tensor.storage_offset() == 0 and tensor.untyped_storage().nbytes() == tensor.nbytes:
        return tensor
    return tensor.clone()


def save_pt(model: DarknetModel, path: str | os.PathLike,
            check: Callable[[str], object] | None = None) -> None:
    """Write our .pt atomically; `check` reads the finished temp file back before it is
    renamed into place, while it is flushed to disk (`atomic_write`)."""
    payload = model_payload(model)
    with atomic_write(path, check=check) as out:
        torch_save(payload, out)


def torch_save(payload: object, out) -> None:
    """`torch.save` onto an open file. A failing write (disk full) surfaces as that
    OSError, not as the RuntimeError torch's zip writer raises while unwinding."""
    try:
        torch.save(payload, out)
    except RuntimeError as exc:
        if isinstance(exc.__context__, OSError):
            raise exc.__context__ from None
        raise


PT_KEYS = ("cfg_text", "width", "height", "header", "tensors")


def read_pt(path: str | os.PathLike, mmap: bool = False) -> dict:
    """Our .pt payload (read with weights_only=True); anything else is a UsageError."""
    payload = read_torch_file(path, mmap)
    if not isinstance(payload, dict) or payload.get("format") != PT_FORMAT:
        raise UsageError(f"{path}: not a model written by darknet-inspector convert")
    check_payload(payload, path)
    return payload


def check_payload(payload: dict, path: str | os.PathLike) -> None:
    """Every field our .pt needs, of the type it needs (a damaged or hand-made file must be
    one UsageError, not a TypeError deep inside the builder)."""
    missing = [key for key in PT_KEYS if key not in payload]
    if missing:
        raise UsageError(f"{path}: an incomplete darknet-inspector model (no "
                         f"{', '.join(missing)})")
    header, tensors = payload["header"], payload["tensors"]
    problems = [
        (not isinstance(payload["cfg_text"], str), "cfg_text is not text"),
        (not isinstance(payload.get("cfg_path", ""), str), "cfg_path is not text"),
        (not all(_is_size(payload[key]) for key in ("width", "height")),
         "width/height are not whole numbers"),
        (not isinstance(header, dict) or not all(
            _is_int(header.get(key), lo, hi) for key, lo, hi in HEADER_FIELDS),
         "header is not major/minor/revision/seen as Darknet stores them"),
        (not isinstance(tensors, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()),
         "tensors is not a dict of name -> tensor"),
    ]
    for bad, what in problems:
        if bad:
            raise UsageError(f"{path}: a damaged darknet-inspector model ({what})")


HEADER_FIELDS = (("major", -2**31, 2**31 - 1), ("minor", -2**31, 2**31 - 1),
                 ("revision", -2**31, 2**31 - 1), ("seen", 0, 2**64 - 1))


def _is_int(value: object, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _is_size(value: object) -> bool:
    return value is None or _is_int(value, 0, 2**31 - 1)


def load_pt(path: str | os.PathLike, adopt: bool = False, mapped: bool = False
            ) -> DarknetModel:
    """Rebuild a DarknetModel from our .pt file (no cfg file needed). `adopt`: the model
    takes the tensors just read instead of copying them into its own (half the memory
    and no copy; convert's self-check, which compares them bit for bit). `mapped`: the
    tensors map the file instead of being read (no copy at all), only for a file nobody
    else knows: convert's own temp file before it is renamed into place."""
    # read, not mapped, by default: a .pt rewritten while a map of it is read dies of SIGBUS
    payload = read_pt(path, mapped)
    cfg = parse_cfg(payload["cfg_text"], payload.get("cfg_path", "<embedded cfg>"))
    network = build_network(cfg, payload["width"], payload["height"],
                            embedded_tree(payload, path))
    model = DarknetModel(network).eval()
    if payload.get("fused"):
        model.fuse()
    stored = payload["tensors"]
    for (index, name), target in model.darknet_tensors().items():
        key = f"{index}.{name}"
        values = stored.get(key)
        if not isinstance(values, torch.Tensor):
            raise UsageError(f"{path}: tensor {key} is missing")
        if values.numel() != target.numel():
            raise UsageError(f"{path}: tensor {key} has {values.numel()} values, layer {index} "
                             f"needs {target.numel()} {list(target.shape)}")
        with torch.no_grad():
            if adopt and values.dtype == target.dtype:
                target.data = values.reshape(target.shape)
            else:
                target.copy_(values.reshape(target.shape))
    h = payload["header"]
    model.header = WeightsHeader(h["major"], h["minor"], h["revision"], h["seen"])
    return model


# ---------------------------------------------------------------- back to .weights

STATE_DICT_PREFIX = "layers."
"""`DarknetModel.state_dict()` keys are `layers.<layer>.<tensor>`; ours drop the prefix."""


@dataclass
class WeightsSource:
    """What `export-weights` writes: a network, its tensors keyed (layer, name), the
    header, and the problems found matching them up (errors mean nothing is written)."""

    network: Network
    tensors: dict[TensorKey, np.ndarray]
    header: WeightsHeader
    origin: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def read_torch_file(path: str | os.PathLike, mmap: bool = False) -> object:
    """`torch.load` with weights_only=True (never runs code from the file); a foreign or
    missing file is a UsageError with one line. `mmap`: tensors map the file instead of
    being read into memory (for a caller that copies them out at once)."""
    try:
        with warnings.catch_warnings():  # torch warns (many lines) about foreign pickles
            warnings.simplefilter("ignore")
            return torch.load(os.fspath(path), map_location="cpu", weights_only=True,
                              mmap=mmap)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except Exception as exc:  # torch raises many kinds for a foreign file
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise UsageError(f"{path}: not a loadable PyTorch file ({type(exc).__name__}: "
                         f"{first})") from None


def weights_source(path: str | os.PathLike, cfg_path: str | os.PathLike | None = None
                   ) -> WeightsSource:
    """Our .pt (cfg embedded) or a plain state_dict keyed `<layer>.<tensor>` (optionally
    `layers.`-prefixed, as `DarknetModel.state_dict()` writes) plus its cfg."""
    payload = read_torch_file(path)
    if isinstance(payload, dict) and payload.get("format") == PT_FORMAT:
        check_payload(payload, path)
        if payload.get("fused"):
            raise UsageError(f"{path}: was converted with --fuse; batch norm is folded, so it "
                             "cannot be written back as Darknet weights")
        cfg = parse_cfg(payload["cfg_text"], payload.get("cfg_path", "<embedded cfg>"))
        network = build_network(cfg, payload["width"], payload["height"],
                                embedded_tree(payload, path))
        h = payload["header"]
        header = WeightsHeader(h["major"], h["minor"], h["revision"], h["seen"])
        source = WeightsSource(network, {}, header, "darknet-inspector .pt")
        _match_state_dict(source, payload["tensors"])
        return source
    if not _is_state_dict(payload):
        raise UsageError(f"{path}: neither a model written by darknet-inspector convert nor a "
                         "state_dict (a dict of tensor name -> tensor)")
    if cfg_path is None:
        raise UsageError(f"{path}: a plain state_dict holds no cfg; pass the cfg it was made "
                         "for with --cfg CFG")
    network = load_network(cfg_path)
    source = WeightsSource(network, {}, WeightsHeader(), "state_dict",
                           list(network.errors))
    if not network.complete:
        return source
    _match_state_dict(source, payload)
    return source


def _is_state_dict(payload: object) -> TypeGuard[dict[str, torch.Tensor]]:
    return isinstance(payload, dict) and bool(payload) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload.items())


def _match_state_dict(source: WeightsSource, state: dict[str, torch.Tensor]) -> None:
    """Every tensor the cfg stores must be in `state` with its size; keys naming no tensor
    of the cfg mean the wrong cfg (or a foreign naming scheme)."""
    by_key = {_state_key(k): v for k, v in state.items()}
    wanted = {f"{layer.index}.{spec.name}": (layer, spec)
              for layer in source.network.layers for spec in layer.weights}
    missing = [key for key in wanted if key not in by_key]
    for key in missing[:1]:
        layer, spec = wanted[key]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        source.diagnostics.append(Diagnostic(
            "error", f"no tensor '{key}' for layer {layer.index} ([{layer.section.name}]) "
            f"{spec.name} {list(spec.shape)}{more}: is this the cfg the model was made from?",
            layer.index, layer.line))
    for key, (layer, spec) in wanted.items():
        values = by_key.get(key)
        if values is None:
            continue
        if values.numel() != spec.count:
            source.diagnostics.append(Diagnostic(
                "error", f"tensor '{key}' has shape {list(values.shape)} ({values.numel()} "
                f"values); layer {layer.index} ([{layer.section.name}]) needs {spec.name} "
                f"{list(spec.shape)} ({spec.count} values)", layer.index, layer.line))
            continue
        refused = unwritable_tensor(values)
        if refused is not None:
            source.diagnostics.append(Diagnostic(
                "error", f"tensor '{key}' {refused}; Darknet weights are dense real float32 "
                "values", layer.index, layer.line))
            continue
        array = values.detach().cpu().contiguous().float().numpy()  # bfloat16: exact
        source.tensors[(layer.index, spec.name)] = array.reshape(spec.shape)
    extra = sorted(set(by_key) - set(wanted))
    if extra:
        shown = ", ".join(repr(k) for k in extra[:5]) + (" ..." if len(extra) > 5 else "")
        source.diagnostics.append(Diagnostic(
            "error", f"{len(extra)} tensors name nothing this cfg stores ({shown}); keys must "
            "be '<layer index>.<tensor name>' as in `inspect` (e.g. '0.weights')"))


def unwritable_tensor(values: torch.Tensor) -> str | None:
    """Why a tensor cannot become Darknet float32 values (None: it can; any real dtype,
    bfloat16 included, converts): no data (meta), not dense, complex or quantized."""
    if values.is_meta:
        return "is a meta tensor (a shape without data)"
    if values.layout != torch.strided:
        return f"is stored {str(values.layout).removeprefix('torch.')} (save it with .to_dense())"
    if values.is_complex():
        return f"holds complex values ({str(values.dtype).removeprefix('torch.')})"
    if values.is_quantized:
        return "is quantized (dequantize it first)"
    return None


def _state_key(key: str) -> str:
    return key[len(STATE_DICT_PREFIX):] if key.startswith(STATE_DICT_PREFIX) else key


def export_weights(source: WeightsSource, path: str | os.PathLike) -> None:
    """Write the source as a Darknet .weights file (atomically); refuses one with errors."""
    if source.errors:
        raise InspectorError(f"cannot write {path}: {source.errors[0].message}")
    write_weights(path, source.network, source.tensors, source.header)
