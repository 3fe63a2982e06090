from decimal import Decimal

import pytest

from core.money import allocate, to_money


def test_to_money_rounds_half_up_to_cents_and_refuses_floats():
    assert to_money("2.345") == Decimal("2.35")
    assert to_money(Decimal("2.344")) == Decimal("2.34")
    assert to_money(3) == Decimal("3.00")
    with pytest.raises(TypeError):
        to_money(0.1)
    with pytest.raises(ValueError):
        to_money("abc")


def test_allocate_splits_to_the_cent_and_adds_up_exactly():
    parts = allocate(Decimal("10.00"), [Decimal("1"), Decimal("1"), Decimal("1")])
    assert parts == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    assert sum(parts) == Decimal("10.00")
    parts = allocate(Decimal("5.00"), [Decimal("99.90"), Decimal("0.10")])
    assert sum(parts) == Decimal("5.00") and parts[0] > parts[1]
    assert allocate(Decimal("1.00"), []) == []
