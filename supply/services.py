"""Supply writes: stock changes (guarded conditional UPDATEs, each with a movement row), inventory sync from
suppliers' systems, catalogue search documents. Pure pricing and shipping rules live in supply/rules.py."""
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, Conflict, NotAuthenticated, NotFound, ValidationFailed
from core.money import ZERO, to_money
from supply.models import (
    SKU,
    InventorySyncBatch,
    Product,
    SearchWord,
    Stock,
    StockMovement,
    Supplier,
    hash_api_token,
    new_api_token,
)
from supply.search import SearchFields, search_fields, stem

INVENTORY_SYNC_MAX_ROWS = 5000
logger = logging.getLogger(__name__)


class OutOfStock(BusinessRuleViolation):
    code = "out_of_stock"
    message = _("not enough stock")


# --- stock moves -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _MoveKind:
    kind: str
    guard: str  # the column that must hold at least the quantity
    available: int  # sign of the change of each column
    reserved: int
    sold: int


RESERVE = _MoveKind(StockMovement.Kind.RESERVE, "available", -1, 1, 0)
RELEASE = _MoveKind(StockMovement.Kind.RELEASE, "reserved", 1, -1, 0)
CONSUME = _MoveKind(StockMovement.Kind.CONSUME, "reserved", 0, -1, 1)
RESTOCK = _MoveKind(StockMovement.Kind.RESTOCK, "sold", 1, 0, -1)


def _move_many(move: _MoveKind, items: Iterable[tuple[int, int]], reference: str) -> set[int]:
    """Apply one kind of guarded change to several SKUs in one statement; returns the SKU ids that did NOT change
    (their guard failed). The statement first locks the stock rows in ascending SKU id (the mall's lock order), then
    updates each row whose guard holds, then writes a movement row per change."""
    wanted: dict[int, int] = {}
    for sku_id, quantity in items:
        wanted[sku_id] = wanted.get(sku_id, 0) + quantity
    if not wanted:
        return set()
    stock, movement = Stock._meta.db_table, StockMovement._meta.db_table
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(wanted))
    sql = (
        f"WITH wanted (sku_id, quantity) AS (VALUES {values}), "  # noqa: S608 (our tables, fixed columns)
        f"locked AS (SELECT s.sku_id FROM {stock} s WHERE s.sku_id IN (SELECT sku_id FROM wanted) "
        f"ORDER BY s.sku_id FOR UPDATE), "
        f"changed AS (UPDATE {stock} s SET available = s.available + %s * w.quantity, "
        f"reserved = s.reserved + %s * w.quantity, sold = s.sold + %s * w.quantity "
        f"FROM wanted w WHERE s.sku_id = w.sku_id AND s.sku_id IN (SELECT sku_id FROM locked) "
        f"AND s.{move.guard} >= w.quantity RETURNING s.sku_id, w.quantity) "
        f"INSERT INTO {movement} (sku_id, kind, available_delta, reserved_delta, sold_delta, reference, created_at) "
        f"SELECT sku_id, %s, %s * quantity, %s * quantity, %s * quantity, %s, now() FROM changed RETURNING sku_id"
    )
    params = [value for pair in sorted(wanted.items()) for value in pair]
    params += [move.available, move.reserved, move.sold, move.kind, move.available, move.reserved, move.sold,
               reference[:64]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        changed = {row[0] for row in cursor.fetchall()}
    return set(wanted) - changed


def stock_reserve_many(*, items: Iterable[tuple[int, int]], reference: str) -> None:
    """available -> reserved for (sku id, quantity) pairs, all or nothing (the caller's transaction rolls back).
    Two buyers racing for the last units: only one UPDATE finds enough left."""
    short = _move_many(RESERVE, items, reference)
    if short:
        raise OutOfStock(detail={"sku_ids": sorted(short)})


def _inconsistent(message: str, short: set[int]) -> BusinessRuleViolation:
    return BusinessRuleViolation(message, code="stock_inconsistent", detail={"sku_ids": sorted(short)})


def stock_release_many(*, items: Iterable[tuple[int, int]], reference: str) -> None:
    """reserved -> available (an unpaid order is cancelled)."""
    short = _move_many(RELEASE, items, reference)
    if short:
        raise _inconsistent(_("reserved stock is lower than the release"), short)


def stock_consume_many(*, items: Iterable[tuple[int, int]], reference: str) -> None:
    """reserved -> sold (the order is paid)."""
    short = _move_many(CONSUME, items, reference)
    if short:
        raise _inconsistent(_("reserved stock is lower than the sale"), short)


def stock_restock_many(*, items: Iterable[tuple[int, int]], reference: str) -> None:
    """sold -> available (goods came back, or never left the warehouse before a refund)."""
    short = _move_many(RESTOCK, items, reference)
    if short:
        raise _inconsistent(_("sold count is lower than the return"), short)


def stock_reserve(*, sku_id: int, quantity: int, reference: str) -> None:
    stock_reserve_many(items=[(sku_id, quantity)], reference=reference)


def stock_release(*, sku_id: int, quantity: int, reference: str) -> None:
    stock_release_many(items=[(sku_id, quantity)], reference=reference)


def stock_consume(*, sku_id: int, quantity: int, reference: str) -> None:
    stock_consume_many(items=[(sku_id, quantity)], reference=reference)


def stock_restock(*, sku_id: int, quantity: int, reference: str) -> None:
    stock_restock_many(items=[(sku_id, quantity)], reference=reference)


@dataclass(frozen=True)
class SyncRow:
    sku_code: str
    quantity: int
    as_of: datetime


@dataclass(frozen=True)
class SyncOutcome:
    result: dict
    replayed: bool


def inventory_sync(*, supplier: Supplier, batch_id: str, rows: Iterable[SyncRow]) -> SyncOutcome:
    """Apply a batch of stock counts from a supplier's system. Idempotent per batch id, monotonic per SKU.

    `quantity` is the supplier's sellable on-hand count; units reserved by unpaid orders are still on hand, so the
    new available count is max(quantity - reserved, 0). A row older than (or as old as) the last applied one for
    its SKU is ignored and reported as stale. Unknown SKU codes (or other suppliers' SKUs) are reported, not applied.

    Batches of one supplier run one at a time: the supplier's row is locked first, and only then is the batch id
    looked up, so copies of one batch sent at once all wait for the first and then answer what it stored.
    """
    rows = list(rows)
    if len(rows) > INVENTORY_SYNC_MAX_ROWS:
        limit = INVENTORY_SYNC_MAX_ROWS
        raise ValidationFailed(_("at most %(limit)s rows a batch") % {"limit": limit}, code="batch_too_large",
                               detail={"rows": len(rows)})
    with transaction.atomic():
        Supplier.objects.select_for_update().filter(pk=supplier.pk).first()
        previous = InventorySyncBatch.objects.filter(supplier=supplier, batch_id=batch_id).first()
        if previous is not None:
            return SyncOutcome(result=previous.result, replayed=True)
        sku_ids = dict(SKU.objects.filter(product__supplier=supplier, code__in={row.sku_code for row in rows})
                       .values_list("code", "id"))
        latest: dict[str, SyncRow] = {}
        for row in rows:  # within one batch the newest row of a SKU wins
            if row.sku_code not in latest or row.as_of > latest[row.sku_code].as_of:
                latest[row.sku_code] = row
        stocks = {stock.sku_id: stock for stock in
                  Stock.objects.select_for_update().filter(sku_id__in=sku_ids.values()).order_by("sku_id")}
        missing = [Stock(sku_id=sku_id) for sku_id in sku_ids.values() if sku_id not in stocks]
        for stock in Stock.objects.bulk_create(missing):
            stocks[stock.sku_id] = stock
        stale, unknown = [], []
        updates: list[tuple[int, int, datetime]] = []
        movements = []
        for code, row in latest.items():
            sku_id = sku_ids.get(code)
            if sku_id is None:
                unknown.append(code)
                continue
            stock = stocks[sku_id]
            if stock.synced_as_of is not None and row.as_of <= stock.synced_as_of:
                stale.append(code)
                continue
            new_available = max(row.quantity - stock.reserved, 0)
            updates.append((sku_id, new_available, row.as_of))
            movements.append(StockMovement(sku_id=sku_id, kind=StockMovement.Kind.SYNC,
                                           available_delta=new_available - stock.available,
                                           reference=f"sync:{batch_id}"))
        # Under the row locks taken above, so these writes cannot lose a concurrent reservation.
        _stock_set_available(updates)
        StockMovement.objects.bulk_create(movements)
        result = {"batch_id": batch_id, "received": len(rows), "applied": len(updates), "stale": sorted(stale),
                  "unknown": sorted(unknown)}
        InventorySyncBatch.objects.create(supplier=supplier, batch_id=batch_id, row_count=len(rows), result=result)
    return SyncOutcome(result=result, replayed=False)


def _stock_set_available(updates: list[tuple[int, int, datetime]], chunk: int = 1000) -> None:
    """One UPDATE ... FROM (VALUES ...) per chunk instead of one statement per SKU."""
    table = Stock._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(updates), chunk):
            part = updates[start:start + chunk]
            values = ", ".join(["(%s, %s, %s::timestamptz)"] * len(part))
            params = [value for row in part for value in row]
            cursor.execute(
                f"UPDATE {table} AS s SET available = v.available, synced_as_of = v.as_of "  # noqa: S608
                f"FROM (VALUES {values}) AS v(sku_id, available, as_of) WHERE s.sku_id = v.sku_id", params)


def supplier_by_token(*, token: str) -> Supplier:
    """The active supplier whose API token this is. Only tokens' hashes are stored: the presented token is hashed
    and looked up by its hash (a rotated token's hash is gone, so it stops working at once)."""
    supplier = (Supplier.objects.filter(api_token_hash=hash_api_token(token), status=Supplier.Status.ACTIVE).first()
                if token else None)
    if supplier is None:
        raise NotAuthenticated(_("unknown or suspended supplier token"), code="supplier_token_invalid")
    return supplier


def product_search_fields(*, product: Product) -> SearchFields:
    """What the product is found by: its title, the original title of its import record (the English catalogue
    title of a demo product, read with the term dictionary), its category's names and its description."""
    category = product.category
    names = tuple(name for name in (category.name, category.name_en) if name)
    return search_fields(title=product.title, source_title=str((product.source or {}).get("title", "")),
                         category_names=names, description=product.description)


def search_words_remember(*, words) -> None:
    """Add English words to the typo vocabulary (SearchWord); words already there are left alone."""
    SearchWord.objects.bulk_create([SearchWord(word=word[:64], stem=stem(word)[:64]) for word in words],
                                   ignore_conflicts=True, batch_size=2000)


def product_refresh_search(*, product: Product) -> None:
    fields = product_search_fields(product=product)
    Product.objects.filter(pk=product.pk).update(search_document=fields.document, search_vector=fields.vector,
                                                 updated_at=timezone.now())
    search_words_remember(words=fields.words)


def sku_create(*, product: Product, code: str, cost_price, floor_price, suggested_price, spec_values=None,
               weight_grams: int = 0) -> SKU:
    """A supplier adds a SKU to a product, with its stock row (0 available until the supplier's system, or the
    sync API, reports a count) in the same transaction: a SKU without a stock row could be listed but never sold."""
    code = (code or "").strip()
    if not code:
        raise ValidationFailed(_("a SKU needs a code"), code="sku_code_required")
    try:
        cost_price, floor_price, suggested_price = (to_money(value)
                                                    for value in (cost_price, floor_price, suggested_price))
    except (TypeError, ValueError) as error:
        raise ValidationFailed(_("not an amount of money"), code="sku_prices_invalid") from error
    if not ZERO <= cost_price <= floor_price <= suggested_price:
        raise ValidationFailed("须满足 0 ≤ 供货价 ≤ 最低售价 ≤ 建议零售价 (0 <= cost <= floor <= suggested price)",
                               code="sku_prices_invalid", detail={"cost_price": str(cost_price),
                                                                  "floor_price": str(floor_price),
                                                                  "suggested_price": str(suggested_price)})
    if not isinstance(weight_grams, int) or isinstance(weight_grams, bool) or weight_grams < 0:
        raise ValidationFailed(_("weight is whole grams, not negative"), code="sku_weight_invalid")
    try:
        with transaction.atomic():
            sku = SKU.objects.create(product=product, code=code[:64], spec_values=spec_values or {},
                                     cost_price=cost_price, floor_price=floor_price,
                                     suggested_price=suggested_price, weight_grams=weight_grams)
            Stock.objects.create(sku=sku, available=0)
    except IntegrityError as error:
        if SKU.objects.filter(code=code[:64]).exists():
            raise Conflict(_("this SKU code is taken"), code="sku_code_taken") from error
        raise
    return sku


# --- suppliers: onboarding and API tokens -----------------------------------------------------------------------
@dataclass(frozen=True)
class SupplierTokenIssued:
    """A supplier and its new API token. The token exists only here: show it once, then forget it (the database
    keeps its hash)."""

    supplier: Supplier
    token: str

    def __repr__(self) -> str:  # never in a log line or a traceback's locals
        return f"SupplierTokenIssued(supplier={self.supplier.pk})"


def supplier_onboard(*, name: str, actor, contact_name: str = "", contact_phone: str = "",
                     staff: Iterable = ()) -> SupplierTokenIssued:
    """An operator signs up a supplier: the supplier row, its staff (who may use the supplier console) and its
    first API token, in one transaction."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(_("a supplier needs a company name"), code="supplier_name_required")
    if len(name) > Supplier._meta.get_field("name").max_length:
        raise ValidationFailed(_("the company name is too long"), code="supplier_name_too_long")
    token = new_api_token()
    try:
        with transaction.atomic():
            supplier = Supplier.objects.create(name=name, contact_name=(contact_name or "").strip()[:64],
                                               contact_phone=(contact_phone or "").strip()[:32],
                                               api_token_hash=hash_api_token(token))
            supplier.staff.set(staff)
    except IntegrityError as error:
        if Supplier.objects.filter(name=name).exists():
            raise Conflict(_("a supplier of this name exists"), code="supplier_name_taken") from error
        raise
    logger.info("supplier %s onboarded by user %s", supplier.pk, getattr(actor, "pk", None))
    return SupplierTokenIssued(supplier=supplier, token=token)


def supplier_token_rotate(*, supplier_id: int, actor) -> SupplierTokenIssued:
    """Issue a new API token for a supplier. The old one stops working as soon as this commits: one UPDATE
    replaces the only hash a token is checked against (an inventory sync holding the supplier's row lock finishes
    first, with the token it started with)."""
    token = new_api_token()
    with transaction.atomic():
        if not Supplier.objects.filter(pk=supplier_id).update(api_token_hash=hash_api_token(token),
                                                              updated_at=timezone.now()):
            raise NotFound(_("no such supplier"), code="supplier_not_found")
        supplier = Supplier.objects.get(pk=supplier_id)
    logger.info("supplier %s API token rotated by user %s", supplier.pk, getattr(actor, "pk", None))
    return SupplierTokenIssued(supplier=supplier, token=token)


def supplier_status_set(*, supplier_id: int, status: str, actor) -> Supplier:
    """Suspend a supplier (its API token is refused, its products are no longer shown or sold in stores) or take
    it back into business. Setting the status it already has is refused, so an operator learns nothing changed."""
    if status not in Supplier.Status.values:
        raise ValidationFailed(_("unknown supplier status"), code="supplier_status_invalid")
    with transaction.atomic():
        supplier = Supplier.objects.select_for_update(of=("self",)).filter(pk=supplier_id).first()
        if supplier is None:
            raise NotFound(_("no such supplier"), code="supplier_not_found")
        if supplier.status == status:
            raise Conflict(_("the supplier is %(status)s already") % {"status": supplier.get_status_display()},
                           code="supplier_status_unchanged", detail={"status": status})
        supplier.status = status
        supplier.save(update_fields=["status", "updated_at"])
    logger.info("supplier %s set %s by user %s", supplier.pk, status, getattr(actor, "pk", None))
    return supplier
