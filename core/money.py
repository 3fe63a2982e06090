"""Money is Decimal with 2 places in CNY. Never float."""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CURRENCY = "CNY"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: Decimal | int | str) -> Decimal:
    """Round to cents, half up. Refuses floats: they carry binary noise into prices."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass Decimal, int or str")
    try:
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as error:
        raise ValueError(f"not an amount of money: {value!r}") from error


def allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` over `weights` in proportion, to the cent, so the parts add up to `total` exactly.

    Largest-remainder method: every part is rounded down to the cent and the leftover cents go to the parts
    with the largest remainders (ties to the earlier part). Used to prorate discounts over order lines.
    """
    total = to_money(total)
    weight_sum = sum(weights, Decimal(0))
    if not weights:
        return []
    if weight_sum <= 0:
        parts = [ZERO] * len(weights)
        parts[0] = total
        return parts
    raw = [total * w / weight_sum for w in weights]
    floors = [r.quantize(CENT, rounding="ROUND_DOWN") for r in raw]
    leftover_cents = int(((total - sum(floors, Decimal(0))) / CENT).to_integral_value())
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:leftover_cents]:
        floors[i] += CENT
    return floors


def yuan(value: Decimal | int | str | None) -> str:
    """An amount as the consoles show it: "¥1,234.50" (empty for no amount)."""
    if value is None or value == "":
        return ""
    amount = to_money(value)
    return f"-¥{-amount:,.2f}" if amount < 0 else f"¥{amount:,.2f}"
