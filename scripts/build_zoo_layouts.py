"""Build core/diagnosis/zoo_layouts.json.gz: the layouts of the Darknet zoo's networks
that the diagnosis matches weights files against (`other_model`).

    .venv/bin/python scripts/build_zoo_layouts.py [../shared/zoo/cfg]

Each cfg is built by our own code at its own size and class count; cfgs with the same
layout share one entry. Cfgs that do not build are listed and left out.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from darknet_inspector.core.diagnosis.zoo import TABLE, KnownNetwork, known_network
from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.network import load_network

ROOT = Path(__file__).resolve().parent.parent


def main(folder: Path) -> int:
    entries: dict[tuple, KnownNetwork] = {}
    for path in sorted(folder.glob("*.cfg")):
        try:
            network = load_network(path)
        except InspectorError as exc:
            print(f"skipped {path.name}: {exc}")
            continue
        if not network.complete or not any(layer.weights for layer in network.layers):
            print(f"skipped {path.name}: its layout is not known")
            continue
        entry = known_network(path.name, network)
        key = (entry.classes, entry.floats, entry.bn, entry.bn_at, entry.heads)
        if key in entries:
            old = entries[key]
            entry = KnownNetwork(old.cfgs + entry.cfgs, *key[:1], old.index, *key[1:])
        entries[key] = entry
    table = {"source": "Darknet model zoo cfgs, built by scripts/build_zoo_layouts.py",
             "networks": [e.to_dict() for e in entries.values()]}
    target = ROOT / "core" / "diagnosis" / TABLE
    target.write_bytes(gzip.compress(json.dumps(table, separators=(",", ":")).encode(),
                                     mtime=0))
    print(f"wrote {target} ({len(entries)} layouts, {target.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1
                  else ROOT.parent / "shared" / "zoo" / "cfg"))
