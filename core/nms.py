"""Darknet's greedy NMS (`do_nms_sort` / `diounms_sort`, src/box.c), fast on many boxes.

Darknet compares every later (box, class) pair of a class with every earlier surviving
one: O(n^2) overlaps, minutes for the 10^4..10^5 pairs an untrained model puts over the
threshold. Only boxes that intersect can suppress each other (for a threshold >= 0), so
the pairs are found by a sweep along one axis, the overlaps computed for those alone, and
the greedy outcome resolved from the (suppressor, suppressed) pairs. Every overlap is the
same elementwise float computation Darknet's order would make, so the result is the one
the plain loop gives, ties included (equal scores keep their input order).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Overlap = Callable[[np.ndarray, np.ndarray], np.ndarray]
NMS_PAIR_LIMIT = 4_000_000  # candidate pairs one class may hold at once (~100 MB)
NMS_FIXED_POINT_ROUNDS = 4


def _sides(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """left, top, right, bottom of centre-size boxes (last dimension x, y, w, h)."""
    x, y, w, h = (boxes[..., k] for k in range(4))
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of centre-size boxes a and b (broadcast over leading dimensions), as Darknet's
    `box_iou` (src/box.c): 0 when either side of the intersection is negative. NaN and
    infinite boxes give NaN or 0, quietly, as C's float arithmetic does."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        al, at, ar, ab = _sides(a)
        bl, bt, br, bb = _sides(b)
        iw = np.maximum(np.minimum(ar, br) - np.maximum(al, bl), 0)
        ih = np.maximum(np.minimum(ab, bb) - np.maximum(at, bt), 0)
        inter = iw * ih
        union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
        return np.where(inter > 0, inter / union, np.zeros_like(inter))


def box_diou(a: np.ndarray, b: np.ndarray, beta: float) -> np.ndarray:
    """DIoU as Darknet's `box_diounms` (src/box.c): IoU minus (centre distance^2 /
    enclosing diagonal^2) ** beta; plain IoU when the diagonal is 0."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        al, at, ar, ab = _sides(a)
        bl, bt, br, bb = _sides(b)
        cw = np.maximum(ar, br) - np.minimum(al, bl)
        ch = np.maximum(ab, bb) - np.minimum(at, bt)
        diagonal = cw * cw + ch * ch
        dx, dy = a[..., 0] - b[..., 0], a[..., 1] - b[..., 1]
        ratio = (dx * dx + dy * dy) / np.where(diagonal == 0, 1, diagonal)
        term = np.power(ratio, ratio.dtype.type(beta))
        iou = box_iou(a, b)
        return np.where(diagonal == 0, iou, iou - term)


def nms_overlap(kind: str, beta: float) -> Overlap:
    """The overlap Darknet's NMS compares with the threshold, by the head's `nms_kind`
    (`parse_yolo` + `test_detector`, src/parser.c, src/detector.c): `default` (and any
    unknown name) -> `do_nms_sort` with IoU; `greedynms` -> `diounms_sort` with
    `box_diou`, whose exponent is fixed at 0.6; `diounms` -> `box_diounms` with beta_nms."""
    if kind == "greedynms":
        return lambda a, b: box_diou(a, b, 0.6)
    if kind == "diounms":
        return lambda a, b: box_diou(a, b, beta)
    return box_iou


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, thresh: float,
               kind: str = "default", beta: float = 0.6, agnostic: bool = False,
               pair_limit: int = NMS_PAIR_LIMIT) -> np.ndarray:
    """Darknet's greedy NMS (`do_nms_sort` / `diounms_sort`, src/box.c): by falling
    score, each surviving box removes later boxes of its class whose overlap > thresh
    (every class when `agnostic`). Returns the kept indices, highest score first, equal
    scores in input order."""
    order = descending(scores)
    n = order.size
    ranked = boxes[order]
    alive = np.ones(n, dtype=bool)
    overlap = nms_overlap(kind, beta)
    firsts, seconds = [], []
    for group in _class_groups(classes[order], agnostic):
        pairs = _touching_pairs(ranked[group], pair_limit) if thresh >= 0 else None
        if pairs is not None:  # positions in score order: the earlier one suppresses
            firsts.append(group[pairs[0]])
            seconds.append(group[pairs[1]])
            continue
        alive[group] = False
        alive[group[_nms_by_rows(ranked[group], thresh, overlap)]] = True
    if firsts:
        first, second = np.concatenate(firsts), np.concatenate(seconds)
        if overlap is not box_iou:  # DIoU <= IoU: only pairs over it in IoU can pass
            over = box_iou(ranked[first], ranked[second]) > thresh
            first, second = first[over], second[over]
        hit = overlap(ranked[first], ranked[second]) > thresh
        alive &= _greedy_outcome(n, first[hit], second[hit])
    return order[alive]


def descending(scores: np.ndarray) -> np.ndarray:
    """Indices by falling score, equal scores in input order (Darknet's qsort is not
    stable; a stable order makes our results reproducible)."""
    return np.argsort(-scores, kind="stable")


def _class_groups(classes: np.ndarray, agnostic: bool) -> list[np.ndarray]:
    """Positions (ascending) of each class in score order, one group when agnostic:
    classes never suppress each other, so each is its own, smaller problem."""
    if agnostic:
        return [np.arange(len(classes))]
    by_class = np.argsort(classes, kind="stable")
    cuts = np.flatnonzero(np.diff(classes[by_class])) + 1
    return [group for group in np.split(by_class, cuts) if len(group) > 1]


def _touching_pairs(boxes: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Every pair (i < j) of boxes whose extents meet on both axes: a superset of the
    pairs that intersect, the only ones whose overlap can pass a threshold >= 0 (a box
    with no area or a non-finite coordinate intersects nothing: its IoU is 0 or NaN).
    None when there are more than `limit` candidates. Sort-and-sweep along the axis that
    gives fewer candidates."""
    x, y, w, h = boxes.T
    with np.errstate(invalid="ignore", over="ignore"):
        usable = np.flatnonzero(np.isfinite(boxes).all(axis=1) & (w > 0) & (h > 0))
        left, top, right, bottom = x - w / 2, y - h / 2, x + w / 2, y + h / 2
    sides = [(left[usable], right[usable]), (top[usable], bottom[usable])]
    sweeps = [_sweep(low, high) for low, high in sides]
    axis = 0 if sweeps[0][2] <= sweeps[1][2] else 1
    by_low, counts, total = sweeps[axis]
    if total > limit:
        return None
    low, high = (side[by_low] for side in sides[1 - axis])
    ends = np.cumsum(counts)
    # pair k pairs box a (its row in `ends`) with box b = k - (ends[a] - counts[a]) + a + 1
    shift = np.repeat(ends - counts - np.arange(len(counts)) - 1, counts)
    b = np.arange(total) - shift
    low_a, high_a = np.repeat(low, counts), np.repeat(high, counts)
    meet = np.flatnonzero((low[b] <= high_a) & (low_a <= high[b]))
    a = np.searchsorted(ends, meet, side="right")
    i, j = usable[by_low[a]], usable[by_low[b[meet]]]
    return np.minimum(i, j), np.maximum(i, j)


def _sweep(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Boxes sorted by their low edge, for each how many later ones start at or before
    its high edge, and the total."""
    by_low = np.argsort(low, kind="stable")
    ends = np.searchsorted(low[by_low], high[by_low], side="right")
    counts = np.maximum(ends - np.arange(1, len(low) + 1), 0)
    return by_low, counts, int(counts.sum())


def _greedy_outcome(n: int, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Which of n boxes survive, from (suppressor, suppressed) pairs, suppressor earlier:
    a box survives when no surviving earlier box suppresses it."""
    alive = np.ones(n, dtype=bool)
    for _ in range(NMS_FIXED_POINT_ROUNDS):
        # the greedy result is the one fixed point; short suppression chains reach it fast
        dead = np.zeros_like(alive)
        dead[targets[alive[sources]]] = True
        if np.array_equal(~dead, alive):
            return alive
        alive = ~dead
    by_source = np.argsort(sources, kind="stable")
    swept = _greedy_sweep(n, sources[by_source].tolist(), targets[by_source].tolist())
    return np.asarray(swept, dtype=bool)


def _greedy_sweep(n: int, sources: list[int], targets: list[int]) -> list[bool]:
    """The sequential greedy pass over (suppressor, suppressed) pairs sorted by suppressor."""
    alive = [True] * n
    for source, target in zip(sources, targets):
        if alive[source]:
            alive[target] = False
    return alive


def _nms_by_rows(boxes: np.ndarray, thresh: float, overlap: Overlap) -> np.ndarray:
    """One overlap row per kept box (memory O(n)): for a negative threshold, or boxes so
    crowded that their pairs would not fit in memory (and then most are suppressed)."""
    remaining = np.arange(len(boxes))
    kept = []
    while remaining.size:
        first, rest = remaining[0], remaining[1:]
        kept.append(first)
        remaining = rest[~(overlap(boxes[first], boxes[rest]) > thresh)]
    return np.asarray(kept, dtype=np.int64)
