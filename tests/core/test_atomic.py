"""Nothing lost: every output is written beside its target and renamed into place only when
complete. A failure mid-write (disk full), at the rename, or Ctrl+C leaves no partial file
and never touches an existing one; outputs never overwrite the command's inputs."""

from __future__ import annotations

import ast
import errno
import os
import stat
from pathlib import Path

import pytest

from darknet_inspector.core import atomic
from darknet_inspector.core.atomic import atomic_write, current_umask
from darknet_inspector.core.cli import main
from tests.bad_inputs.audit import recording
from tests.bad_inputs.corpus import BASE_CFG, DETECT_CFG, base_weights, detect_weights, jpeg
from tests.conftest import ROOT

OLD = b"the user's existing file\n"


class WrappedFile:
    """A stand-in for an open file that passes everything on to the real one; subclasses
    change `write` (to fail, or to interrupt) as a test needs."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._real.__exit__(*exc)


class DiskFull(WrappedFile):
    """A file whose writes fail with ENOSPC once `budget` bytes went through, like a disk
    filling up mid-write (everything before that point really is written)."""

    def __init__(self, real, budget: int):
        super().__init__(real)
        self._budget = budget

    def write(self, data) -> int:
        data = bytes(data) if not isinstance(data, str) else data
        if len(data) > self._budget:
            self._real.write(data[: self._budget])
            self._budget = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._budget -= len(data)
        return self._real.write(data)


@pytest.fixture
def disk_fills_up(monkeypatch):
    """Every atomic write fails after its first 100 bytes (Pillow writes JPEGs straight to
    the file descriptor, so its save is made to fail the same way)."""
    from PIL import Image

    real_fdopen = os.fdopen

    def fdopen(fd, *args, **kwargs):
        return DiskFull(real_fdopen(fd, *args, **kwargs), 100)

    def save(image, fp, *args, **kwargs):
        DiskFull(fp, 100).write(b"\xff" * 1000)

    monkeypatch.setattr(atomic.os, "fdopen", fdopen)
    monkeypatch.setattr(Image.Image, "save", save)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


# ------------------------------------------------------------------ atomic_write itself

def test_complete_write_replaces_the_target_in_one_step(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(OLD)
    with atomic_write(target) as out:
        out.write(b"new contents")
        assert target.read_bytes() == OLD  # not touched until the block ends
    assert target.read_bytes() == b"new contents"
    assert leftovers(tmp_path) == []


def test_failure_mid_write_leaves_no_partial_file(tmp_path, disk_fills_up):
    target = tmp_path / "out.bin"
    with pytest.raises(OSError, match="No space"), atomic_write(target) as out:
        out.write(b"x" * 1000)
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_failure_mid_write_keeps_the_existing_file_untouched(tmp_path, disk_fills_up):
    target = tmp_path / "out.bin"
    target.write_bytes(OLD)
    with pytest.raises(OSError), atomic_write(target) as out:
        out.write(b"x" * 1000)
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path) == []


def test_failure_at_the_rename_keeps_the_existing_file(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(OLD)

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", dst)

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError), atomic_write(target) as out:
        out.write(b"complete")
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path) == []


def test_ctrl_c_mid_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as out:
        out.write(b"half")
        raise KeyboardInterrupt
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_the_temp_file_reaches_the_disk_before_the_rename(tmp_path, monkeypatch):
    """The fsync stays (module docstring): after a power loss the output is the old file
    or the whole new one, never an empty file under the final name."""
    events = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: events.append("fsync"))
    real_replace = os.replace
    monkeypatch.setattr(atomic.os, "replace",
                        lambda a, b: (events.append("replace"), real_replace(a, b)))
    with atomic_write(tmp_path / "out.bin") as out:
        out.write(b"x")
    assert events == ["fsync", "replace"]


def test_a_check_reads_the_finished_temp_file_while_it_is_synced(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(OLD)
    synced = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: synced.append(fd))
    seen = []

    def check(written: str) -> None:
        seen.append((os.path.basename(written), Path(written).read_bytes(),
                     target.read_bytes()))

    with atomic_write(target, check=check) as out:
        out.write(b"new contents")
    ((name, contents, at_target),) = seen
    assert name.startswith(".tmp-") and contents == b"new contents"
    assert at_target == OLD  # checked before the rename
    assert target.read_bytes() == b"new contents" and len(synced) == 1
    assert leftovers(tmp_path) == []


def test_a_failing_check_keeps_the_existing_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(OLD)

    def check(written: str) -> None:
        raise ValueError("the reloaded file differs")

    with pytest.raises(ValueError, match="differs"), atomic_write(target, check=check) as out:
        out.write(b"new contents")
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path) == []


def test_a_failing_fsync_beside_a_check_names_the_output(tmp_path, monkeypatch):
    def fail(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic.os, "fsync", fail)
    target = tmp_path / "out.bin"
    with pytest.raises(OSError) as caught, atomic_write(target, check=lambda _: None) as out:
        out.write(b"x")
    assert caught.value.filename == str(target)
    assert not target.exists() and leftovers(tmp_path) == []


def test_text_mode_writes_text(tmp_path):
    with atomic_write(tmp_path / "a.json", "w") as out:
        out.write('{"a": 1}')
    assert (tmp_path / "a.json").read_text() == '{"a": 1}'


def test_a_new_file_gets_the_permissions_open_would_give(tmp_path):
    with atomic_write(tmp_path / "new.bin") as out:
        out.write(b"x")
    mode = stat.S_IMODE((tmp_path / "new.bin").stat().st_mode)
    assert mode == 0o666 & ~current_umask()  # not the temp file's 0600


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "old.bin"
    target.write_bytes(OLD)
    target.chmod(0o640)
    with atomic_write(target) as out:
        out.write(b"x")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_current_umask_matches_the_process_umask():
    umask = os.umask(0o022)
    os.umask(umask)
    assert current_umask() == umask


# ------------------------------------------------------------------ every writer, failing

@pytest.fixture
def model_files(tmp_path) -> dict[str, str]:
    folder = tmp_path / "in"
    folder.mkdir()
    files = {"cfg": folder / "model.cfg", "weights": folder / "model.weights",
             "dcfg": folder / "detect.cfg", "dweights": folder / "detect.weights",
             "image": folder / "photo.jpg"}
    files["cfg"].write_text(BASE_CFG)
    files["weights"].write_bytes(base_weights())
    files["dcfg"].write_text(DETECT_CFG)
    files["dweights"].write_bytes(detect_weights())
    files["image"].write_bytes(jpeg((64, 40)))
    return {key: str(path) for key, path in files.items()}


def write_input_npy(path: Path) -> str:
    import numpy as np

    np.save(path, np.random.default_rng(0).random((3, 32, 32), dtype=np.float32))
    return str(path)


def cli_writers(files: dict[str, str], out: Path) -> dict[str, list[str]]:
    """Every CLI command that writes a file, aimed at `out`."""
    return {
        "convert-pt": ["convert", files["cfg"], files["weights"], "-o", str(out)],
        "convert-pt2": ["convert", files["cfg"], files["weights"], "-o", str(out),
                        "--format", "pt2"],
        "convert-onnx": ["convert", files["cfg"], files["weights"], "-o", str(out),
                         "--format", "onnx"],
        "dump": ["dump", files["cfg"], files["weights"], "--input",
                 write_input_npy(out.parent / "x.npy"), "-o", str(out)],
        "detect-json": ["detect", files["dcfg"], files["dweights"], files["image"],
                        "--json", str(out)],
        "detect-save": ["detect", files["dcfg"], files["dweights"], files["image"],
                        "--save", str(out.with_suffix(".jpg"))],
    }


WRITERS = ["convert-pt", "convert-pt2", "convert-onnx", "dump", "detect-json", "detect-save"]


@pytest.mark.parametrize("writer", WRITERS)
def test_cli_output_failing_mid_write_keeps_the_existing_file(writer, model_files, tmp_path,
                                                              disk_fills_up, capsys):
    if writer == "convert-onnx":
        pytest.importorskip("onnx")
    folder = tmp_path / "out"
    folder.mkdir()
    argv = cli_writers(model_files, folder / "result.out")[writer]
    target = Path(argv[argv.index("--save") + 1] if "--save" in argv else folder / "result.out")
    target.write_bytes(OLD)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert target.read_bytes() == OLD
    assert leftovers(folder) == []


def test_export_weights_failing_mid_write_keeps_the_existing_file(model_files, tmp_path,
                                                                  monkeypatch, capsys):
    pt = tmp_path / "model.pt"
    assert main(["convert", model_files["cfg"], model_files["weights"], "-o", str(pt)]) == 0
    target = tmp_path / "back.weights"
    target.write_bytes(OLD)
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen",
                        lambda fd, *a, **k: DiskFull(real_fdopen(fd, *a, **k), 100))
    assert main(["export-weights", str(pt), "-o", str(target)]) == 2
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path) == []


def test_tensor_export_failing_mid_write_leaves_nothing(tmp_path, disk_fills_up):
    import numpy as np

    from darknet_inspector.core.jobs.save import save_array

    target = tmp_path / "tensor.npy"
    with pytest.raises(OSError):
        list(save_array(np.ones(1000, dtype=np.float32), str(target)))
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_a_weights_writer_failing_after_the_header_leaves_nothing(tmp_path):
    """A real failure mid-stream: the tensors run out after the header was written."""
    from darknet_inspector.core.errors import WeightsError
    from darknet_inspector.core.weights import write_weights
    from tests.helpers import net_from_text

    target = tmp_path / "out.weights"
    target.write_bytes(OLD)
    with pytest.raises(WeightsError, match="no values"):
        write_weights(target, net_from_text(BASE_CFG), {})
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------ inputs stay inputs

@pytest.mark.parametrize("writer", WRITERS)
def test_successful_writes_never_open_an_input_for_writing(writer, model_files, tmp_path,
                                                           capsys):
    if writer == "convert-onnx":
        pytest.importorskip("onnx")
    folder = tmp_path / "out"
    folder.mkdir()
    argv = cli_writers(model_files, folder / "result.out")[writer]
    inputs = {os.path.realpath(p) for p in model_files.values()}
    with recording() as opened:
        assert main(argv) == 0, capsys.readouterr().err
    assert not [o for o in opened if o.path in inputs and o.writes]
    written = {Path(o.path).parent for o in opened if o.writes}
    assert written <= {folder.resolve()}  # only beside the chosen output
    assert leftovers(folder) == []


@pytest.mark.parametrize("which", ["cfg", "weights"])
def test_convert_refuses_to_write_over_its_own_input(which, model_files, capsys):
    before = Path(model_files[which]).read_bytes()
    assert main(["convert", model_files["cfg"], model_files["weights"], "-o",
                 model_files[which]]) == 2
    err = capsys.readouterr().err
    assert "is also an input" in err and len(err.strip().splitlines()) == 1
    assert Path(model_files[which]).read_bytes() == before


def test_detect_refuses_to_draw_over_the_photo(model_files, capsys):
    before = Path(model_files["image"]).read_bytes()
    assert main(["detect", model_files["dcfg"], model_files["dweights"], model_files["image"],
                 "--save", model_files["image"]]) == 2
    assert "is also an input" in capsys.readouterr().err
    assert Path(model_files["image"]).read_bytes() == before


def test_export_weights_refuses_to_write_over_its_model(model_files, tmp_path, capsys):
    pt = tmp_path / "model.pt"
    assert main(["convert", model_files["cfg"], model_files["weights"], "-o", str(pt)]) == 0
    before = pt.read_bytes()
    assert main(["export-weights", str(pt), "-o", str(pt)]) == 2
    assert "is also an input" in capsys.readouterr().err
    assert pt.read_bytes() == before


def test_an_existing_output_the_user_named_is_replaced(model_files, tmp_path):
    """Naming an output is choosing to overwrite it (as cp and every converter do)."""
    target = tmp_path / "out.pt"
    target.write_bytes(OLD)
    assert main(["convert", model_files["cfg"], model_files["weights"], "-o",
                 str(target)]) == 0
    assert target.read_bytes() != OLD


# ------------------------------------------------------------------ no writer bypasses it

WRITE_CALLS = {"save", "savez", "savez_compressed", "export", "dump", "write_text",
               "write_bytes", "tofile"}


def _write_calls_outside_atomic(source: str) -> list[int]:
    """Lines of write-like calls whose target is not a name bound by `with atomic_write(...)
    as NAME` or an in-memory buffer, and of `open(..., "w"/"a"/"x"/"+")`."""
    tree = ast.parse(source)
    safe: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "atomic_write"
                        and isinstance(item.optional_vars, ast.Name)):
                    safe.add(item.optional_vars.id)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if getattr(func, "attr", getattr(func, "id", "")) == "BytesIO":
                safe.update(t.id for t in node.targets if isinstance(t, ast.Name))
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name == "open" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            if any(c in str(node.args[1].value) for c in "wax+"):
                bad.append(node.lineno)
        elif name in WRITE_CALLS and not _traces_only(node.func):
            names = {a.id for a in node.args if isinstance(a, ast.Name)}
            if name in ("write_text", "write_bytes", "tofile") or not names & safe:
                bad.append(node.lineno)
    return bad


def _traces_only(func: ast.expr) -> bool:
    """`torch.export.export(...)` builds a program in memory; it writes nothing."""
    return (isinstance(func, ast.Attribute) and func.attr == "export"
            and isinstance(func.value, ast.Attribute) and func.value.attr == "export")


@pytest.mark.parametrize("package", ["core", "gui"])
def test_every_file_the_app_writes_goes_through_atomic_write(package):
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        lines = _write_calls_outside_atomic(path.read_text(encoding="utf-8"))
        if lines:
            offenders[str(path.relative_to(ROOT))] = lines
    assert offenders == {}
