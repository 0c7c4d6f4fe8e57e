"""Orders of many lines: int_meta_capi_orders joins an order's contents by line number, up to 8
lines in its group by per order, larger orders in steps of 8 blocks (8, 64, 512 lines) and the
largest from their 512-line blocks. Whatever the path, the event is the plain one, byte for byte.
"""

from __future__ import annotations

import random

import pytest
from test_event_model import as_dict_then_json, build, item


@pytest.mark.parametrize("line_count", [7, 8, 9, 63, 64, 65, 511, 512, 513, 1100])
def test_an_order_of_any_size_lists_every_line_in_order(tmp_path, line_count):
    rng = random.Random(line_count)
    lines = [
        item(f"sku-{number:05d}", rng.choice([1, 2, 3]), rng.choice([0.5, 9.99, 2.675, 10 / 3]))
        for number in rng.sample(range(100_000), line_count)
    ]
    built = build(tmp_path, *lines)
    assert built.rejected == []
    assert built.events[0]["line_count"] == line_count
    assert built.event["payload"] == as_dict_then_json(sorted(lines, key=lambda line: line["product_id"]))
