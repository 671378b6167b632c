"""The inspection report: one object that both `inspect --json` and the table print."""

from __future__ import annotations

from dataclasses import dataclass, field

from darknet_inspector.core.diagnosis import Finding
from darknet_inspector.core.diagnosis.training import training_state
from darknet_inspector.core.diagnosis.transfer import TransferPreview, transfer_preview
from darknet_inspector.core.errors import Diagnostic, InspectorError
from darknet_inspector.core.layers.base import Layer
from darknet_inspector.core.network import Network, layer_bflops
from darknet_inspector.core.weights import LayerRecord, Ledger, WeightsHeader, WeightsReader


@dataclass
class Report:
    network: Network
    records: list[LayerRecord] | None = None
    ledger: Ledger | None = None
    problems: list[Diagnostic] = field(default_factory=list)
    flags: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    """(layer, tensor) -> its health flags (core.tensor_stats.HEALTH_FLAGS), when read."""
    diagnosis: list[Finding] = field(default_factory=list)
    """Why cfg and weights disagree, most likely first (core.diagnosis)."""
    transfer: TransferPreview | None = None
    """The layers that load exactly and the cut for `partial`, when the diagnosis places it."""

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def make_report(network: Network, records: list[LayerRecord] | None = None,
                ledger: Ledger | None = None,
                flags: dict[tuple[int, str], list[str]] | None = None,
                diagnosis: list[Finding] | None = None) -> Report:
    problems = list(network.diagnostics) + (list(ledger.diagnostics) if ledger else [])
    diagnosis = list(diagnosis or [])
    return Report(network, records, ledger, agreeing_problems(problems, ledger, diagnosis),
                  dict(flags or {}), diagnosis,
                  transfer_preview(network, diagnosis) if diagnosis else None)


class ModelHasErrors(InspectorError):
    """cfg or weights have problems of severity error; `report` holds all of them."""

    def __init__(self, report: Report):
        first = next(p for p in report.problems if p.severity == "error")
        super().__init__(f"the model has errors, fix them first: {first.message}")
        self.report = report


def checked_records(network: Network, weights_path: str, records: list[LayerRecord] | None
                    = None, header: WeightsHeader | None = None, ledger: Ledger | None = None
                    ) -> tuple[list[LayerRecord], WeightsHeader | None]:
    """Read the weights (or take records already read) and refuse a model with errors
    (ModelHasErrors): what a model is loaded from, by either engine."""
    if records is None:
        reader = WeightsReader(network, weights_path, copy=True)
        records = reader.read_all()
        header, ledger = reader.header, reader.ledger
    report = make_report(network, records, ledger)
    if report.has_errors:
        raise ModelHasErrors(report)
    return records, header


def agreeing_problems(problems: list[Diagnostic], ledger: Ledger | None,
                      diagnosis: list[Finding]) -> list[Diagnostic]:
    """The problems list, worded as the diagnosis found: a cfg error a finding explains
    (a head's classes/filters, a layout hidden by a missing layer) gives way to that
    finding, and the 'file ends early / bytes left over' error to the top cause when
    the file is neither truncated nor merely longer."""
    replaced: dict[int, Finding] = {}
    for cause in diagnosis:
        if cause.verified or cause.cause == "classes":
            for layer in cause.supersedes:
                replaced.setdefault(layer, cause)
    size_cause = any(f.cause in ("truncated", "trailing_bytes") for f in diagnosis[:1]) or (
        not any(f.verified for f in diagnosis)
        and any(f.cause in ("truncated", "trailing_bytes") for f in diagnosis))
    result, said = [], set()
    for problem in problems:
        finding = replaced.get(problem.layer) if problem.severity == "error" and \
            problem.layer is not None else None
        if finding is None and diagnosis and not size_cause and ledger is not None and \
                problem is ledger.mismatch:
            finding = diagnosis[0]
        if finding is None:
            result.append(problem)
        elif id(finding) not in said:
            said.add(id(finding))
            fix = f"; fix: {finding.fix}" if finding.fix else ""
            result.append(Diagnostic("error", f"{finding.message}{fix}", finding.layer,
                                     finding.line))
    return result


def layer_status(report: Report, index: int) -> str:
    layer = report.network.layers[index]
    if not layer.weights:
        return "none"
    if report.records is None or index >= len(report.records):
        return "missing"
    return report.records[index].status


def report_to_dict(report: Report) -> dict:
    """The `inspect --json` object, exactly as DESIGN.md specifies it. A tensor's `offset`
    is its byte offset in the weights file, null when the file does not reach it."""
    network = report.network
    layers = []
    for layer in network.layers:
        record = (report.records[layer.index]
                  if report.records is not None and layer.index < len(report.records) else None)
        offsets = ({t.name: t.offset for t in record.tensors if t.status != "missing"}
                   if record else {})
        layers.append({
            "index": layer.index,
            "type": layer.type,
            "line": layer.line,
            "input_shape": list(layer.input_shape) if layer.input_shape else None,
            "output_shape": list(layer.output_shape) if layer.output_shape else None,
            "params": [{"name": t.name, "shape": list(t.shape), "offset": offsets.get(t.name),
                        "flags": report.flags.get((layer.index, t.name), [])}
                       for t in layer.weights],
            "param_count": layer.param_count,
            "bflops": layer_bflops(layer),
            "status": layer_status(report, layer.index),
        })
    return {
        "cfg": network.path,
        "input": list(network.input_shape),
        "bflops": network.bflops,
        "layers": layers,
        "weights": report.ledger.to_dict() if report.ledger else None,
        "diagnosis": [finding.to_dict() for finding in report.diagnosis],
        "transfer": _transfer(report, lambda t, cfg, weights: t.to_dict(cfg, weights)),
        "problems": [p.to_dict() for p in report.problems],
    }


def _shape(shape) -> str:
    return "?" if shape is None else "x".join(str(d) for d in shape)


def _flag_rows(report: Report, layer: Layer) -> list[str]:
    """One line under a layer's row per tensor that raises health flags."""
    return [f"{'':>4}  ! {t.name}: {', '.join(report.flags[(layer.index, t.name)])}"
            for t in layer.weights if report.flags.get((layer.index, t.name))]


def diagnosis_rows(diagnosis: list[Finding]) -> list[str]:
    """The diagnosis, most likely first, each with its evidence and fix."""
    if not diagnosis:
        return []
    rows = [f"diagnosis ({len(diagnosis)} cause{'s' if len(diagnosis) > 1 else ''}, most "
            "likely first):"]
    for number, finding in enumerate(diagnosis, start=1):
        rows.extend(f"  {number}. {line}" if i == 0 else f"  {line}"
                    for i, line in enumerate(str(finding).split("\n")))
    return rows


def _transfer(report: Report, show):
    """`show(transfer, cfg, weights)`, or None without a transfer preview."""
    if report.transfer is None or report.ledger is None:
        return None
    return show(report.transfer, report.network.path or "CFG", report.ledger.path)


def _seen(report: Report) -> str:
    """`seen` as images and as iterations of batch*subdivisions images."""
    assert report.ledger is not None
    state = training_state(report.network, report.ledger.header.seen)
    text = (f"{state.seen:,} images = {state.iterations:,} iterations of "
            f"{state.images_per_iteration}")
    if state.finished:
        return text + (f" (warning: >= max_batches={state.max_batches:,}, `darknet detector "
                       "train` would stop at once; `header --reset-seen` or train with -clear)")
    return text + (f" (max_batches {state.max_batches:,})" if state.max_batches else "")


def inspection_text(report: Report) -> str:
    """A readable table: one row per layer, then the weights verdict and the problems."""
    network = report.network
    rows = [f"{network.path}: {len(network.layers)} layers, input {_shape(network.input_shape)}"
            f", {network.param_count:,} parameters, {network.bflops:.3f} BFLOPS"]
    rows.extend(diagnosis_rows(report.diagnosis))
    transfer = _transfer(report, lambda t, cfg, weights: t.text(cfg, weights))
    if transfer:
        rows.append(transfer)
    rows.append(f"{'#':>4}  {'type':<14} {'line':>5}  {'input':>14} -> {'output':<14} "
                f"{'params':>10} {'BFLOPS':>8}  {'weights':<8} details")
    for layer in network.layers:
        rows.append(
            f"{layer.index:>4}  {layer.type:<14} {layer.line:>5}  {_shape(layer.input_shape):>14}"
            f" -> {_shape(layer.output_shape):<14} {layer.param_count:>10,} "
            f"{layer_bflops(layer):>8.3f}  "
            f"{layer_status(report, layer.index):<8} {layer.summary}")
        rows.extend(_flag_rows(report, layer))
    if report.ledger:
        ledger = report.ledger
        expected = f"{ledger.expected_bytes:,}"
        if not ledger.complete:
            expected += "+ (layout incomplete)"
        rows.append(f"weights: {ledger.path} version {ledger.header.major}.{ledger.header.minor}"
                    f".{ledger.header.revision}, seen {_seen(report)}; file "
                    f"{ledger.file_bytes:,} bytes, cfg needs {expected}: {ledger.status}")
    errors = sum(p.severity == "error" for p in report.problems)
    warnings = len(report.problems) - errors
    rows.append(f"problems: {errors} error(s), {warnings} warning(s)")
    rows.extend(f"  {p}" for p in report.problems)
    return "\n".join(rows)
