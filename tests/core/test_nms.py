"""Darknet's greedy NMS: against Darknet's loops written out, and against a plain
greedy loop on random boxes with tied scores, tied overlaps and degenerate boxes."""

from __future__ import annotations

import numpy as np
import pytest

from darknet_inspector.core.nms import NMS_PAIR_LIMIT, greedy_nms, nms_overlap


def darknet_overlap(a, b, kind: str, beta: float) -> float:
    """`box_iou` / `box_diou` / `box_diounms` of src/box.c for two (x, y, w, h) boxes."""
    def overlap_1d(x1, w1, x2, w2):
        return min(x1 + w1 / 2, x2 + w2 / 2) - max(x1 - w1 / 2, x2 - w2 / 2)

    iw, ih = overlap_1d(a[0], a[2], b[0], b[2]), overlap_1d(a[1], a[3], b[1], b[3])
    inter = 0.0 if iw < 0 or ih < 0 else iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    iou = 0.0 if inter == 0 or union == 0 else inter / union
    if kind == "default":
        return iou
    cw = max(a[0] + a[2] / 2, b[0] + b[2] / 2) - min(a[0] - a[2] / 2, b[0] - b[2] / 2)
    ch = max(a[1] + a[3] / 2, b[1] + b[3] / 2) - min(a[1] - a[3] / 2, b[1] - b[3] / 2)
    c = cw * cw + ch * ch
    if c == 0:
        return iou
    d = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
    return iou - (d / c) ** (0.6 if kind == "greedynms" else beta)


def darknet_nms_reference(boxes, probs, thresh, kind, beta, agnostic=False) -> set:
    """Darknet's `do_nms_sort` / `diounms_sort` written as loops: per class, sort by that
    class's prob, each nonzero entry zeroes later overlapping ones. Agnostic: one list
    of (box, class) pairs. Returns the surviving (box, class) pairs."""
    probs = [list(row) for row in probs]
    groups = ([[(i, k) for i in range(len(boxes)) for k in range(len(probs[0]))]]
              if agnostic else
              [[(i, k) for i in range(len(boxes))] for k in range(len(probs[0]))])
    for pairs in groups:
        pairs = sorted(pairs, key=lambda p: -probs[p[0]][p[1]])
        for a, (i, k) in enumerate(pairs):
            if probs[i][k] == 0:
                continue
            for j, m in pairs[a + 1:]:
                if darknet_overlap(boxes[i], boxes[j], kind, beta) > thresh:
                    probs[j][m] = 0
    return {(i, k) for i in range(len(boxes)) for k in range(len(probs[0])) if probs[i][k] > 0}


def random_candidates(seed: int, n: int = 70, classes: int = 3):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.2, 0.8, (n, 2))
    sizes = rng.uniform(0.05, 0.4, (n, 2))
    boxes = np.concatenate([centres, sizes], axis=1)
    probs = rng.uniform(0, 1, (n, classes)) * (rng.uniform(0, 1, (n, classes)) < 0.6)
    return boxes, probs


@pytest.mark.parametrize("kind", ["default", "greedynms", "diounms"])
@pytest.mark.parametrize("agnostic", [False, True])
@pytest.mark.parametrize("pair_limit", [NMS_PAIR_LIMIT, 60, 0])
@pytest.mark.parametrize("rounds", [4, 0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nms_keeps_what_darknets_loops_keep(kind, agnostic, pair_limit, rounds, seed,
                                            monkeypatch):
    monkeypatch.setattr("darknet_inspector.core.nms.NMS_FIXED_POINT_ROUNDS", rounds)
    boxes, probs = random_candidates(seed)
    pair_box, pair_class = np.nonzero(probs > 0)
    kept = greedy_nms(boxes[pair_box], probs[pair_box, pair_class], pair_class, 0.45, kind,
                      0.8, agnostic, pair_limit)
    ours = {(int(pair_box[i]), int(pair_class[i])) for i in kept.tolist()}
    expected = darknet_nms_reference(boxes.tolist(), probs.tolist(), 0.45, kind, 0.8,
                                     agnostic)
    assert ours == expected
    scores = probs[pair_box, pair_class][kept]
    assert (np.diff(scores) <= 0).all()


def test_a_long_suppression_chain_keeps_every_other_box():
    """Each box overlaps only its neighbours and scores fall along the row: box 0 removes
    1, so 2 survives and removes 3, ... (longer than the vectorised rounds resolve)."""
    n = 25
    boxes = np.array([[0.1 + 0.03 * i, 0.5, 0.05, 0.2] for i in range(n)], np.float32)
    scores = np.linspace(0.9, 0.3, n, dtype=np.float32)
    kept = greedy_nms(boxes, scores, np.zeros(n, np.int64), 0.2)
    assert kept.tolist() == list(range(0, n, 2))


def test_greedynms_is_diou_with_exponent_point_six_not_plain_iou():
    """Two same-class boxes with IoU 0.5 whose centres are apart: plain IoU NMS removes
    the weaker one, Darknet's greedynms (DIoU, exponent 0.6) keeps both."""
    boxes = np.array([[0.3, 0.5, 0.4, 0.4], [0.4333333, 0.5, 0.4, 0.4]], np.float64)
    scores, classes = np.array([0.9, 0.8], np.float64), np.array([0, 0])
    assert greedy_nms(boxes, scores, classes, 0.45, "default").tolist() == [0]
    assert greedy_nms(boxes, scores, classes, 0.45, "greedynms").tolist() == [0, 1]


def test_nms_never_suppresses_across_classes_unless_agnostic():
    boxes = np.array([[0.5, 0.5, 0.2, 0.2]] * 2, np.float32)
    scores, classes = np.array([0.9, 0.8], np.float32), np.array([0, 1])
    assert greedy_nms(boxes, scores, classes, 0.45).tolist() == [0, 1]
    assert greedy_nms(boxes, scores, classes, 0.45, agnostic=True).tolist() == [0]


def test_nms_of_nothing_is_nothing():
    empty = np.zeros((0, 4), np.float32)
    assert greedy_nms(empty, np.zeros(0, np.float32), np.zeros(0, np.int64), 0.45).size == 0



def plain_greedy_nms(boxes, scores, classes, thresh, kind, beta, agnostic) -> list[int]:
    """The straightforward greedy loop with the same overlap: by falling score (ties in
    input order), each surviving box removes every later box of its class it overlaps;
    the comparison in float32, as Darknet's `float thresh`."""
    overlap = nms_overlap(kind, beta)
    thresh = np.float32(thresh)
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    alive = [True] * len(order)
    for position, i in enumerate(order):
        if not alive[i]:
            continue
        rest = order[position + 1:]
        if not rest:
            break
        rows = overlap(boxes[i], boxes[rest]).tolist()
        for j, value in zip(rest, rows):
            if (agnostic or classes[j] == classes[i]) and np.float32(value) > thresh:
                alive[j] = False
    return [i for i in order if alive[i]]


def tied_candidates(seed: int, n: int = 200, classes: int = 3):
    """Boxes on a 1/16 grid (duplicates and overlaps exactly at the thresholds), scores
    from eight levels (many ties), a few zero-sized, NaN and infinite boxes."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(2, 15, (n, 2)) / 16
    sizes = rng.integers(1, 7, (n, 2)) / 8
    boxes = np.concatenate([centres, sizes], axis=1).astype(np.float32)
    boxes[rng.choice(n, 5, replace=False), 2] = 0
    boxes[rng.choice(n, 3, replace=False), 0] = np.nan
    boxes[rng.choice(n, 3, replace=False), 3] = np.inf
    scores = (rng.integers(1, 9, n) / 8).astype(np.float32)
    return boxes, scores, rng.integers(0, classes, n)


@pytest.mark.parametrize("kind", ["default", "greedynms", "diounms"])
@pytest.mark.parametrize("thresh", [0.5, 1 / 3, 0.0, -0.1])
@pytest.mark.parametrize("agnostic", [False, True])
def test_fast_nms_equals_the_plain_greedy_loop_with_ties(kind, thresh, agnostic):
    boxes, scores, classes = tied_candidates(seed=int(thresh * 100) % 7)
    expected = plain_greedy_nms(boxes, scores, classes.tolist(), thresh, kind, 0.8, agnostic)
    for pair_limit in (NMS_PAIR_LIMIT, 300, 0):  # touching pairs, some rows, all rows
        kept = greedy_nms(boxes, scores, classes, thresh, kind, 0.8, agnostic, pair_limit)
        assert kept.tolist() == expected, pair_limit


def test_equal_scores_keep_their_input_order_in_the_result():
    boxes = np.array([[0.1 * i + 0.05, 0.5, 0.05, 0.05] for i in range(6)], np.float32)
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.9, 0.5], np.float32)
    classes = np.array([1, 0] * 3)
    assert greedy_nms(boxes, scores, classes, 0.45).tolist() == [1, 4, 0, 2, 3, 5]


def test_crowded_boxes_fall_back_to_rows_with_the_same_result():
    """A pile of near-identical boxes has n^2/2 touching pairs: past the pair limit the
    row-by-row pass runs, and it keeps the same boxes."""
    rng = np.random.default_rng(3)
    boxes = np.column_stack([0.5 + rng.normal(0, 0.01, (500, 2)),
                             rng.uniform(0.3, 0.4, (500, 2))]).astype(np.float32)
    scores = rng.random(500).astype(np.float32)
    classes = np.zeros(500, np.int64)
    fast = greedy_nms(boxes, scores, classes, 0.45)
    rows = greedy_nms(boxes, scores, classes, 0.45, pair_limit=1000)
    assert fast.tolist() == rows.tolist() and len(fast) < 10
