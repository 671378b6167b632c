"""core.numpy_layers.rows: how output rows are split over the workers."""

from __future__ import annotations

import pytest

from darknet_inspector.core.numpy_layers.rows import BLOCK_ELEMENTS, RowPool, row_blocks


def test_blocks_cover_every_row_once_in_near_equal_parts():
    blocks = row_blocks(13, 2, 10)
    assert blocks[0][0] == 0 and blocks[-1][1] == 13
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    assert len(blocks) == 4 and {b - a for a, b in blocks} <= {3, 4}


def test_big_rows_get_more_blocks_and_one_thread_one_block():
    assert len(row_blocks(416, 2, BLOCK_ELEMENTS // 8)) == 52
    assert row_blocks(5, 1, 10) == [(0, 5)]
    assert row_blocks(1, 4, 10) == [(0, 1)]


def test_the_pool_runs_every_block_and_raises_a_blocks_error():
    with_rows: list[int] = []
    pool = RowPool(2)
    pool.run(lambda a, b: with_rows.extend(range(a, b)), 9, 1)
    assert sorted(with_rows) == list(range(9))
    assert pool.map(lambda v: v * 2, [3, 1, 2]) == [6, 2, 4]

    def fails(a: int, b: int) -> None:
        raise ValueError("block")

    with pytest.raises(ValueError, match="block"):
        pool.run(fails, 8, 1)
    pool.close()
