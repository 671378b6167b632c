"""The shipped table of the zoo's layouts: small, complete, and what our own code
computes from ../shared/zoo/cfg today."""

from __future__ import annotations

from importlib import resources

from darknet_inspector.core.diagnosis.zoo import TABLE, known_network, known_networks
from darknet_inspector.core.network import load_network
from tests.conftest import zoo_path


def test_table_is_small_and_names_every_zoo_cfg():
    size = len(resources.files("darknet_inspector.core.diagnosis").joinpath(TABLE)
               .read_bytes())
    assert size < 64 * 1024
    names = {name for known in known_networks() for name in known.cfgs}
    folder = zoo_path("cfg")
    assert names == {path.name for path in folder.glob("*.cfg")}


def test_table_matches_the_layouts_built_now():
    by_name = {name: known for known in known_networks() for name in known.cfgs}
    for name in ("yolov4.cfg", "yolov4-tiny.cfg", "yolov3.cfg", "darknet53.cfg"):
        now = known_network(name, load_network(zoo_path("cfg", name)))
        stored = by_name[name]
        assert (now.classes, now.floats, now.bn, now.bn_at, now.heads) == (
            stored.classes, stored.floats, stored.bn, stored.bn_at, stored.heads)


def test_class_count_is_solved_from_the_file_size():
    known = next(k for k in known_networks() if "yolov4-tiny.cfg" in k.cfgs)
    for classes in (1, 3, 80, 200):
        assert known.classes_for(sum(e.floats for e in known.layout(classes))) == classes
    assert known.classes_for(sum(known.floats) + 1) is None
