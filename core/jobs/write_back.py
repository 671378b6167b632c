"""Our .pt (or a state_dict + its cfg) back to Darknet .weights (`export-weights` on the
command line, File -> Write back in the app)."""

from __future__ import annotations

import os
from collections.abc import Generator

from darknet_inspector.core.errors import InspectorError
from darknet_inspector.core.pt_file import WeightsSource, export_weights, weights_source


class SourceHasErrors(InspectorError):
    """The model file cannot become .weights; `source.diagnostics` say why (the message
    is the first error)."""

    def __init__(self, source: WeightsSource):
        super().__init__(str(source.errors[0]))
        self.source = source


def write_back(model_path: str, output: str, cfg: str | None = None
               ) -> Generator[str, None, WeightsSource]:
    """Read the model file (SourceHasErrors if it does not fit its cfg), write .weights."""
    yield f"reading {os.path.basename(model_path)}"
    source = weights_source(model_path, cfg)
    if source.errors:
        raise SourceHasErrors(source)
    yield f"writing {os.path.basename(output)}"
    export_weights(source, output)
    return source
