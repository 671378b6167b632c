"""Converted models on disk: our self-contained .pt (tensors + cfg text + metadata)."""

from __future__ import annotations

import os

import torch

from core.atomic import atomic_write
from core.cfg import parse_cfg
from core.errors import InspectorError, UsageError
from core.model import DarknetModel
from core.network import build_network
from core.weights import WeightsHeader

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
        "tensors": {f"{index}.{name}": tensor.detach().cpu().contiguous().clone()
                    for (index, name), tensor in model.darknet_tensors().items()},
    }


def save_pt(model: DarknetModel, path: str | os.PathLike) -> None:
    payload = model_payload(model)
    with atomic_write(path) as out:
        torch.save(payload, out)


def read_pt(path: str | os.PathLike) -> dict:
    try:
        payload = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except Exception as exc:  # torch raises many kinds for a foreign file
        raise UsageError(f"{path}: not a loadable PyTorch file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(payload, dict) or payload.get("format") != PT_FORMAT:
        raise UsageError(f"{path}: not a model written by darknet-inspector convert")
    return payload


def load_pt(path: str | os.PathLike) -> DarknetModel:
    """Rebuild a DarknetModel from our .pt file (no cfg file needed)."""
    payload = read_pt(path)
    cfg = parse_cfg(payload["cfg_text"], payload.get("cfg_path", "<embedded cfg>"))
    network = build_network(cfg, payload["width"], payload["height"])
    model = DarknetModel(network).eval()
    if payload.get("fused"):
        model.fuse()
    targets = model.darknet_tensors()
    for key, target in targets.items():
        name = f"{key[0]}.{key[1]}"
        if name not in payload["tensors"]:
            raise InspectorError(f"{path}: tensor {name} is missing")
        with torch.no_grad():
            target.copy_(payload["tensors"][name].view(target.shape))
    h = payload["header"]
    model.header = WeightsHeader(h["major"], h["minor"], h["revision"], h["seen"])
    return model
