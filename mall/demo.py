"""The demo mall built from the real UCI "Online Retail" data set (../shared/data/online_retail, see its PROVENANCE).

Nothing here is random: every supplier, product, price, customer, order and refund follows from the CSV by the fixed
rules below, so two loads give the same demo. docs/demo-data.md explains the rules for people; the docstrings and
tables here are the same rules for the code.

Two halves:
- `demo_plan_build` is pure: CSV rows in, a `DemoPlan` out (no ORM), so the mapping is testable on its own.
- `demo_load` writes the plan in phases, one transaction each. Each phase first looks at what is already stored and
  writes only what is missing, so a second run writes nothing and an interrupted run resumes at the phase it lost.

Speed: the CSV is read once, everything is matched in dicts, rows go in with `bulk_create` in batches, the
`auto_now_add` timestamps are corrected afterwards with one UPDATE per batch (history must carry its real dates), and
sums that differ per row (stock sold, refunded amounts) go in with one UPDATE ... FROM (VALUES ...) each.
"""
import bisect
import csv
import gc
import gzip
import re
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from psycopg2.extras import execute_values
from tqdm import tqdm

from accounts.models import Role, User
from core.models import BehaviourEvent
from core.money import to_money
from mall.models import Address, AfterSale, Listing, Order, OrderLine, Payment, Refund, Shipment, Store, StoreStaff
from supply.models import (
    SKU,
    Category,
    PricingRule,
    Product,
    ShippingRate,
    ShippingTemplate,
    Stock,
    Supplier,
)
from supply.search import search_document

CSV_RELATIVE_PATH = Path("online_retail") / "online_retail.csv.gz"
CSV_ROW_COUNT = 541_909  # PROVENANCE.md: only used to size the progress bar

# 2011 average exchange rate, fixed so that prices never move between loads.
GBP_TO_CNY = Decimal("10.36")
FLOOR_SHARE = Decimal("0.85")
COST_SHARE = Decimal("0.60")
MINIMUM_PRICE = Decimal("1.00")

# The UCI dates are naive UK shop times; the demo reads them as Asia/Shanghai wall-clock times (no DST there).
DEMO_TIME_ZONE = ZoneInfo("Asia/Shanghai")
PAY_WINDOW = timedelta(minutes=30)
SHIPPED_AFTER = timedelta(days=1)
DELIVERED_AFTER = timedelta(days=3)
COMPLETED_AFTER = timedelta(days=10)

BATCH_SIZE = 2000
INVOICES_PER_CHUNK = 1000

# What a complete load of the full file stores (checked against the plan by tests/mall/test_demo_loader.py).
FULL_DEMO_COUNTS = {"suppliers": 5, "products": 3790, "listings": 7580, "customers": 4372, "orders": 18402,
                    "order_lines": 386393, "refund_lines": 7481}
WRITTEN_KEYS = ("products", "listings", "customers", "orders", "refund_lines")

ORDER_KEY_PREFIX = "demo:"
REFUND_REFERENCE_PREFIX = "demo:"
PAYMENT_PROVIDER = "demo"
CUSTOMER_PHONE_PREFIX = "199"
REFUND_REASON = "历史退货 historical cancellation"
# Django treats any stored hash starting with "!" as unusable; the bare prefix is bulk-safe (no hashing per row).
UNUSABLE_PASSWORD = UNUSABLE_PASSWORD_PREFIX

# A product StockCode is five digits plus optional letters (85123A). Everything else is a service or bookkeeping code:
# POST, DOT, C2 (postage and carriage), D (discount), M/m (manual), S (samples), B (bad debt), BANK CHARGES,
# AMAZONFEE, CRUK (charity commission), PADS, DCGS* (eBay channel lines) and gift_0001_* (gift vouchers).
PRODUCT_CODE = re.compile(r"\d{5}[A-Z]*")


# --- category tree and keyword table ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CategorySpec:
    key: str
    name: str
    name_en: str
    children: tuple[tuple[str, str, str], ...]  # (key, name, name_en)


CATEGORY_TREE: tuple[CategorySpec, ...] = (
    CategorySpec("home", "家居装饰", "Home decor", (
        ("home.lighting", "蜡烛灯饰", "Candles & lighting"),
        ("home.wall", "相框墙饰", "Frames & wall decor"),
        ("home.textiles", "家纺靠垫", "Cushions & textiles"),
        ("home.storage", "收纳摆件", "Storage & ornaments"),
    )),
    CategorySpec("kitchen", "厨房餐具", "Kitchen & dining", (
        ("kitchen.drinkware", "杯具水杯", "Mugs, cups & glasses"),
        ("kitchen.tableware", "餐桌餐具", "Tableware"),
        ("kitchen.baking", "烘焙厨具", "Baking & kitchen tools"),
        ("kitchen.containers", "餐盒储物罐", "Lunch boxes & jars"),
    )),
    CategorySpec("seasonal", "节日派对", "Seasonal & party", (
        ("seasonal.christmas", "圣诞节", "Christmas"),
        ("seasonal.easter", "复活节", "Easter"),
        ("seasonal.party", "派对用品", "Party supplies"),
    )),
    CategorySpec("stationery", "文具礼品", "Stationery & gifts", (
        ("stationery.cards", "贺卡包装", "Cards & gift wrap"),
        ("stationery.paper", "本册文具", "Notebooks & stationery"),
        ("stationery.gifts", "小礼品", "Small gifts & keepsakes"),
    )),
    CategorySpec("bags", "箱包配饰", "Bags & accessories", (
        ("bags.bags", "包袋钱包", "Bags & purses"),
        ("bags.jewellery", "首饰", "Jewellery"),
        ("bags.fashion", "服饰配件", "Hair & fashion accessories"),
    )),
    CategorySpec("kids", "儿童玩具", "Kids & toys", (
        ("kids.toys", "玩具游戏", "Toys & games"),
        ("kids.children", "儿童用品", "Children's tableware & room"),
    )),
    CategorySpec("garden", "花园户外", "Garden", (
        ("garden.gardening", "园艺用品", "Gardening"),
        ("garden.outdoor", "户外野餐", "Outdoor & picnic"),
    )),
    CategorySpec("other", "其他", "Other", (
        ("other.misc", "其他商品", "Miscellaneous"),
    )),
)
FALLBACK_CATEGORY = "other.misc"

# Ordered: the first rule with a keyword in the description wins. A keyword matches whole words of the upper-cased
# description (letters and digits; "T-LIGHT" reads "T LIGHT"), also with a plural "S"/"ES". Seasonal and children's
# words come first because they say more about the product than the object does ("CHRISTMAS CANDLE").
CATEGORY_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("seasonal.christmas", ("CHRISTMAS", "XMAS", "ADVENT", "SANTA", "REINDEER", "SNOWFLAKE", "SNOWMAN", "BAUBLE",
                            "NATIVITY", "STOCKING", "TREE DECORATION", "ANGEL", "HOLLY", "MISTLETOE", "NOEL")),
    ("seasonal.easter", ("EASTER", "BUNNY", "CHICK")),
    ("kids.toys", ("TOY", "GAME", "JIGSAW", "PUZZLE", "DOLL", "DOLLS HOUSE", "SOLDIER", "DOMINO", "DOMINOES",
                   "SKITTLES", "PLAYING CARDS", "CRAYON", "COLOURING", "SPINNING TOP", "YO YO", "SKIPPING ROPE",
                   "HELICOPTER", "MARBLES", "TEDDY", "BINGO", "LUDO", "SNAKES AND LADDERS", "KNITTING NANCY",
                   "FLYING DISC", "BUBBLES", "SOFT", "PUPPET", "MAGIC DRAWING", "RATTLE", "ROBOT", "TRAIN",
                   "DINOSAUR", "SNAKES", "LADDERS",
                   "NAUGHTS", "FELTCRAFT", "KIT", "CLAY", "PAINT SET", "BLOCK", "PLAYHOUSE", "FARM ANIMAL")),
    ("kids.children", ("CHILDRENS", "CHILDREN", "CHILDS", "CHILD", "KIDS", "BABY", "SPACEBOY", "DOLLY GIRL",
                       "NURSERY", "BIB", "SCHOOL", "CIRCUS PARADE")),
    ("seasonal.party", ("PARTY", "BUNTING", "BALLOON", "BIRTHDAY", "CONFETTI", "PAPER CHAIN", "VALENTINE",
                        "HALLOWEEN", "WEDDING", "CRACKER", "STREAMER", "GARLAND", "CELEBRATION", "INVITES",
                        "PINATA", "PARTY CONES", "CAKE CANDLE", "FORK CANDLE", "HONEYCOMB", "FLAG", "PAPER CUP",
                        "PAPER PLATE", "PAPER NAPKIN")),
    ("kitchen.tableware", ("EGG CUP", "EGG COSY", "NAPKIN RING", "CAKE STAND", "CAKESTAND", "TEA SET",
                           "TEA COSY", "TOAST RACK", "CRUET", "SALT AND PEPPER", "FRUITBOWL", "EGG WARMER",
                           "FOOD COVER", "CLOCHE", "JAM POT")),
    ("home.textiles", ("HOT WATER BOTTLE", "DOOR MAT", "DOORMAT", "DOORSTOP", "CUSHION", "THROW", "BLANKET",
                       "QUILT", "HAND TOWEL", "BATH TOWEL", "CURTAIN", "RUG", "PATCHWORK", "MAT", "SPONGE",
                       "SHOWER CAP")),
    ("kitchen.baking", ("TEA TOWEL", "OVEN GLOVE", "CAKE CASE", "CAKE CASES", "BAKING", "APRON", "JELLY MOULD",
                        "RECIPE", "CHOPPING BOARD", "MEASURING", "SPATULA", "ROLLING PIN", "COOKIE CUTTER",
                        "BISCUIT CUTTER", "KITCHEN", "PANTRY", "SCALES", "GRINDER", "SIEVE", "COLANDER", "WHISK",
                        "PAN", "TIMER", "ICING", "CAKE TIN", "PASTRY", "MOULD", "CAKE", "SCOOP", "FUNNEL",
                        "CUPCAKE")),
    ("kitchen.containers", ("LUNCH BOX", "LUNCH BAG", "LUNCHBOX", "WATER BOTTLE", "FLASK", "JAR", "JARS",
                            "BISCUIT TIN", "SNACK BOX", "BREAD BIN", "FOOD CONTAINER", "BOTTLE", "CANISTER",
                            "STORAGE TIN", "TIN", "TINS", "CONTAINER")),
    ("stationery.gifts", ("KEY RING", "KEYRING", "KEY FOB", "FRIDGE MAGNET", "MAGNET", "TRINKET", "MONEY BOX",
                          "GIFT SET", "POCKET MIRROR", "COMPACT MIRROR", "INCENSE", "BADGE", "SNOW GLOBE",
                          "SNOWGLOBE", "PIN", "MATCHES", "ASHTRAY", "LIP GLOSS", "BATH SALTS", "SOAP", "FAN",
                          "PHONE", "LUGGAGE TAG", "PASSPORT COVER", "MEMO BOARD", "MEMOBOARD", "PIGGY BANK",
                          "KEY CHAIN", "TATTOO", "PAPERWEIGHT")),
    ("stationery.cards", ("GIFT BAG", "GIFT WRAP", "WRAP", "WRAPPING", "GIFT TAG", "TAG", "RIBBON", "TISSUE PAPER",
                          "CARD", "GREETING", "ENVELOPE", "INVITATION", "POSTCARD", "GIFT BOX", "TISSUES")),
    ("stationery.paper", ("NOTEBOOK", "NOTE BOOK", "PEN", "PENCIL", "ERASER", "RUBBER", "RULER", "STICKER",
                          "STATIONERY", "JOURNAL", "CALENDAR", "DIARY", "ADDRESS BOOK", "BOOK", "BOOKMARK",
                          "SCRAP BOOK", "MEMO", "NOTEPAD", "NOTE PAD", "PAD", "SHARPENER", "TAPE", "STAMP",
                          "CLIPBOARD", "ORGANISER", "PHOTO ALBUM", "ALBUM", "BOOKCOVER", "SCISSOR",
                          "GLUE", "CHALK", "LETTER", "HOLE PUNCH")),
    ("bags.jewellery", ("NECKLACE", "NECKLAC", "BRACELET", "EARRINGS", "EARRING", "RING", "BANGLE", "BROOCH",
                        "PENDANT", "CHARM", "JEWELLERY", "JEWEL", "DIAMANTE", "BEAD", "CHOKER", "ANKLET", "LARIAT",
                        "JEWELLED", "PEARL", "CRYSTAL", "AMETHYST", "CUFF")),
    ("bags.fashion", ("HAIR", "SCARF", "UMBRELLA", "GLOVES", "HAND WARMER", "SOCKS", "PONCHO", "HAT", "SUNGLASSES",
                      "COMB", "PARASOL", "SLIPPERS", "BELT", "HEADBAND", "HAIRBAND", "TIARA", "BOW", "SHOE",
                      "WELLIES", "PATCH")),
    ("bags.bags", ("BAG", "SHOPPER", "TOTE", "HANDBAG", "PURSE", "WALLET", "BACKPACK", "RUCKSACK", "HOLDALL",
                   "CASE", "SATCHEL", "COIN", "WASHBAG", "VANITY")),
    ("kitchen.drinkware", ("MUG", "CUP", "TEACUP", "SAUCER", "BEAKER", "CHAMPAGNE", "WINE GLASS", "TUMBLER",
                           "GOBLET", "DRINKING", "TEA", "COFFEE", "MILK", "STRAW")),
    ("kitchen.tableware", ("PLATE", "BOWL", "DISH", "NAPKIN", "COASTER", "PLACEMAT", "PLACE MAT", "CUTLERY",
                           "SPOON", "FORK", "KNIFE", "TRAY", "TEAPOT", "TEA POT", "JUG", "BUTTER", "DOILY",
                           "DOILIES", "SERVING", "TABLECLOTH", "TABLE CLOTH", "CHOPSTICKS", "DINNER", "PLATTER",
                           "SUGAR", "PICNIC BOX")),
    ("garden.gardening", ("GARDEN", "GARDENERS", "PLANT", "PLANTER", "FLOWER POT", "PLANT POT", "SEED",
                          "WATERING CAN", "BIRD HOUSE", "BIRDHOUSE", "BIRD FEEDER", "BIRD TABLE", "TROWEL",
                          "GNOME", "HERB", "KNEELING PAD", "WINDMILL", "WINDSOCK", "WIND CHIME", "CHIME", "SPADE",
                          "TOPIARY", "GREENHOUSE", "POTTING", "THERMOMETER", "SHED", "BIRD BATH", "HOSE",
                          "WINDCHIME")),
    ("garden.outdoor", ("PICNIC", "OUTDOOR", "HAMMOCK", "BEACH", "CAMPING", "DECKCHAIR", "TORCH", "WINDBREAK",
                        "BICYCLE", "CAMPHOR", "SUNSHADE", "DECK CHAIR", "BBQ", "BARBECUE", "LAWN")),
    ("home.lighting", ("T LIGHT", "TLIGHT", "TEALIGHT", "TEA LIGHT", "CANDLE", "CANDLEHOLDER", "CANDLESTICK", "LANTERN",
                       "LAMP", "LAMPSHADE", "LIGHT", "CHANDELIER", "NIGHT LIGHT", "BULB", "VOTIVE", "OIL BURNER",
                       "LED", "STRING LIGHTS", "CANDLEPOT")),
    ("home.wall", ("FRAME", "PHOTO FRAME", "WALL ART", "WALL", "SIGN", "PLAQUE", "MIRROR", "CLOCK", "TILE",
                   "PICTURE", "POSTER", "PRINT", "CHALKBOARD", "BLACKBOARD", "WREATH", "CANVAS", "MIRRORED",
                   "DOOR HANGER", "DOORSIGN", "HANGING", "DECORATION")),
    ("home.storage", ("BOX", "STORAGE", "BASKET", "HOOK", "HANGER", "DRAWER", "KNOB", "COAT RACK", "RACK", "VASE",
                      "ORNAMENT", "CABINET", "SHELF", "CRATE", "TRUNK", "PEG", "LAUNDRY", "BATHROOM", "TOILET",
                      "TOOTHBRUSH", "CHEST", "BUCKET", "TIDY", "HOLDER", "BIN", "STAND", "STOOL", "CHAIR",
                      "TABLE", "BOTTLE OPENER", "DOORKNOB", "PLANTERS", "FLOWER", "FLOWERS", "HEART", "STAR",
                      "BIRD", "BUTTERFLY", "FEATHER", "ROSE", "SCULPTURE", "FIGURE", "FRUIT BOWL", "PHOTO",
                      "DRAWERKNOB")),
)


def _keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(word) for word in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<![A-Z0-9])(?:{alternatives})(?:S|ES)?(?![A-Z0-9])")


_CATEGORY_MATCHERS = tuple((key, _keyword_pattern(keywords)) for key, keywords in CATEGORY_RULES)
_WORD = re.compile(r"[A-Z0-9]+")


def category_key_for(*, description: str) -> str:
    """The leaf category of a product: the first rule of CATEGORY_RULES with a keyword in the description,
    else "other.misc". Words are the upper-cased letter/digit runs of the description joined by one space."""
    words = " ".join(_WORD.findall(description.upper()))
    for key, matcher in _CATEGORY_MATCHERS:
        if matcher.search(words):
            return key
    return FALLBACK_CATEGORY


# --- suppliers, stores, regions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SupplierSpec:
    name: str
    name_en: str
    contact_name: str
    staff_phone: str
    categories: tuple[str, ...]  # top-level category keys whose products this supplier owns
    remote_region_code: str | None  # an extra per-province price rule (None: only the tier rule)


SUPPLIERS: tuple[SupplierSpec, ...] = (
    SupplierSpec("义乌市心意家居用品有限公司", "Yiwu Xinyi Home Products Co., Ltd.", "王心怡", "17700000001",
                 ("home",), "650000"),
    SupplierSpec("潮州市瓷韵餐具有限公司", "Chaozhou Ciyun Tableware Co., Ltd.", "陈瓷", "17700000002",
                 ("kitchen",), None),
    SupplierSpec("金华市欢庆节日用品有限公司", "Jinhua Huanqing Festive Goods Co., Ltd.", "李欢", "17700000003",
                 ("seasonal", "garden"), "540000"),
    SupplierSpec("温州市墨香文具礼品有限公司", "Wenzhou Moxiang Stationery & Gifts Co., Ltd.", "赵墨", "17700000004",
                 ("stationery", "other"), None),
    SupplierSpec("广州市童趣箱包玩具有限公司", "Guangzhou Tongqu Bags & Toys Co., Ltd.", "刘童", "17700000005",
                 ("bags", "kids"), "630000"),
)
SHIPPING_TEMPLATE_NAME = "标准快递 standard delivery"
# (tier, first fee, extra fee, free above): the default rate and a dearer one for tier-3 (remote) provinces.
SHIPPING_RATES: tuple[tuple[int | None, str, str, str], ...] = (
    (None, "8.00", "4.00", "99.00"),
    (3, "18.00", "10.00", "199.00"),
)
TIER3_MULTIPLIER = Decimal("1.0500")
REMOTE_REGION_MULTIPLIER = Decimal("1.1000")


@dataclass(frozen=True)
class StoreSpec:
    name: str
    description: str
    owner_phone: str
    owner_nickname: str
    rep_phone: str
    rep_nickname: str
    price_factor: Decimal
    sku_half: int | None  # None: every SKU; 0 / 1: the SKUs with stable_hash(code) % 2 == sku_half


STORES: tuple[StoreSpec, ...] = (
    StoreSpec("心意生活馆", "全品类演示店铺 (every demo product)", "16600000001", "心意店主", "16600000011",
              "心意导购小林", Decimal("1.00"), None),
    StoreSpec("悦家好物优选", "精选一半商品，价格上浮 5% (half the catalogue, +5%)", "16600000002", "悦家店主",
              "16600000012", "悦家导购小周", Decimal("1.05"), 0),
    StoreSpec("乐享礼品小铺", "另一半商品，九八折 (the other half, -2%)", "16600000003", "乐享店主", "16600000013",
              "乐享导购小吴", Decimal("0.98"), 1),
)

# United Kingdom customers (most of them) are spread over ten provinces by customer id % 10.
UK_PROVINCES: tuple[str, ...] = ("110000", "310000", "440000", "330000", "320000", "510000", "420000", "370000",
                                 "350000", "430000")
# Every other country of the data set lives in one fixed province (tier-3 remote provinces included on purpose).
COUNTRY_PROVINCES: dict[str, str] = {
    "EIRE": "210000", "Germany": "320000", "France": "310000", "Spain": "440000", "Netherlands": "330000",
    "Belgium": "120000", "Switzerland": "530000", "Portugal": "350000", "Australia": "460000", "Norway": "230000",
    "Italy": "610000", "Channel Islands": "370000", "Finland": "220000", "Cyprus": "450000", "Sweden": "150000",
    "Austria": "510000", "Denmark": "130000", "Japan": "500000", "Poland": "410000", "USA": "420000",
    "Israel": "620000", "Unspecified": "110000", "Singapore": "360000", "Iceland": "650000", "Canada": "640000",
    "Greece": "340000", "Malta": "520000", "United Arab Emirates": "630000", "European Community": "140000",
    "RSA": "540000", "Lebanon": "430000", "Lithuania": "230000", "Brazil": "450000", "Czech Republic": "140000",
    "Bahrain": "630000", "Saudi Arabia": "650000",
}
FALLBACK_PROVINCE = "110000"
PROVINCE_CITIES: dict[str, str] = {
    "110000": "北京市", "120000": "天津市", "130000": "石家庄市", "140000": "太原市", "150000": "呼和浩特市",
    "210000": "沈阳市", "220000": "长春市", "230000": "哈尔滨市", "310000": "上海市", "320000": "南京市",
    "330000": "杭州市", "340000": "合肥市", "350000": "福州市", "360000": "南昌市", "370000": "济南市",
    "410000": "郑州市", "420000": "武汉市", "430000": "长沙市", "440000": "广州市", "450000": "南宁市",
    "460000": "海口市", "500000": "重庆市", "510000": "成都市", "520000": "贵阳市", "530000": "昆明市",
    "540000": "拉萨市", "610000": "西安市", "620000": "兰州市", "630000": "西宁市", "640000": "银川市",
    "650000": "乌鲁木齐市",
}


@lru_cache(maxsize=65536)
def stable_hash(text: str) -> int:
    """CRC-32 of the UTF-8 text: the same on every machine and run (Python's hash() is salted per process)."""
    return zlib.crc32(text.encode("utf-8"))


def province_for(*, customer_id: int, country: str) -> str:
    """United Kingdom -> UK_PROVINCES[customer_id % 10]; any other country -> COUNTRY_PROVINCES (else Beijing)."""
    if country == "United Kingdom":
        return UK_PROVINCES[customer_id % len(UK_PROVINCES)]
    return COUNTRY_PROVINCES.get(country, FALLBACK_PROVINCE)


def supplier_index_for(*, category_key: str) -> int:
    """The supplier owning a product: the one whose SupplierSpec.categories holds the top-level category."""
    top = category_key.split(".", 1)[0]
    for index, spec in enumerate(SUPPLIERS):
        if top in spec.categories:
            return index
    raise ValueError(f"no supplier owns category {category_key}")


def store_lists(*, store_index: int, sku_code: str) -> bool:
    """Store 1 lists every SKU; stores 2 and 3 split the catalogue by stable_hash(code) % 2 (0 -> store 2)."""
    half = STORES[store_index].sku_half
    return half is None or stable_hash(sku_code) % 2 == half


def store_for_invoice(*, invoice_number: str, sku_codes: Iterable[str]) -> int:
    """stable_hash(invoice number) % 3 picks a store; if that store does not list every SKU of the invoice the order
    goes to store 1, which lists everything."""
    candidate = stable_hash(invoice_number) % len(STORES)
    if all(store_lists(store_index=candidate, sku_code=code) for code in sku_codes):
        return candidate
    return 0


def prices_for(*, modal_price_gbp: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(suggested, floor, cost) in CNY: suggested = modal GBP price x 10.36 to the cent (at least 1.00), floor = 85 %
    and cost = 60 % of it, each to the cent half up, so cost <= floor <= suggested always holds."""
    suggested = max(to_money(modal_price_gbp * GBP_TO_CNY), MINIMUM_PRICE)
    return suggested, to_money(suggested * FLOOR_SHARE), to_money(suggested * COST_SHARE)


def listing_price_for(*, store_index: int, suggested: Decimal, floor: Decimal) -> Decimal:
    """The store's price: suggested x its factor, to the cent, never below the SKU's floor price."""
    return max(to_money(suggested * STORES[store_index].price_factor), floor)


def weight_grams_for(*, sku_code: str) -> int:
    return 200 + stable_hash(sku_code) % 800


def available_for(*, sku_code: str) -> int:
    """Stock on hand, 50..500, from a hash of the code (the data set has no stock levels)."""
    return 50 + stable_hash(f"stock:{sku_code}") % 451


# --- the plan (pure) --------------------------------------------------------------------------------------------
class RetailRow(NamedTuple):
    row_number: int  # 1-based data row of the CSV (header excluded)
    invoice: str
    stock_code: str  # stripped and upper-cased: 85049a and 85049A are the same product
    description: str
    quantity: int
    invoice_date: datetime  # aware, DEMO_TIME_ZONE
    unit_price: Decimal  # GBP
    customer_id: int | None
    country: str


@dataclass(slots=True)
class PlannedProduct:
    code: str
    title: str
    category_key: str
    supplier_index: int
    modal_price_gbp: Decimal
    suggested_price: Decimal
    floor_price: Decimal
    cost_price: Decimal
    weight_grams: int
    available: int


@dataclass(slots=True)
class PlannedCustomer:
    customer_id: int
    country: str
    region_code: str
    joined_at: datetime

    @property
    def phone(self) -> str:
        return f"{CUSTOMER_PHONE_PREFIX}{self.customer_id:08d}"

    @property
    def nickname(self) -> str:
        return f"顾客{self.customer_id}"


@dataclass(slots=True)
class PlannedLine:
    code: str
    quantity: int
    unit_price: Decimal  # CNY
    refunded_quantity: int = 0

    @property
    def line_subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(slots=True)
class PlannedOrder:
    invoice: str
    customer_id: int
    created_at: datetime
    store_index: int
    lines: list[PlannedLine]

    @property
    def number(self) -> str:
        return f"D{self.invoice}"

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_subtotal for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True, slots=True)
class PlannedRefund:
    """Units of one cancellation row refunded on one order line."""

    reference: str
    cancellation_invoice: str
    order_number: str
    line_index: int
    sku_code: str
    quantity: int
    amount: Decimal
    refunded_at: datetime


@dataclass
class DemoPlan:
    products: dict[str, PlannedProduct]
    customers: dict[int, PlannedCustomer]
    orders: list[PlannedOrder]
    refunds: list[PlannedRefund]
    cancellation_rows: int = 0
    cancellations_matched: int = 0
    cancellations_unmatched: int = 0
    cancelled_units_not_refunded: int = 0  # units above what the matched line still held
    skipped: Counter = field(default_factory=Counter)


def csv_rows_read(*, path: Path, progress: bool = False) -> Iterator[RetailRow]:
    """The rows of online_retail.csv.gz, typed. Dates become aware datetimes in DEMO_TIME_ZONE, StockCodes are
    stripped and upper-cased. Repeated texts (dates, prices, codes) are converted once."""
    dates: dict[str, datetime] = {}
    prices: dict[str, Decimal] = {}
    codes: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        expected = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
                    "Country"]
        if header != expected:
            raise ValueError(f"{path}: unexpected header {header}")
        bar = tqdm(total=CSV_ROW_COUNT, desc="读取 CSV read", unit="row", disable=not progress, mininterval=0.5)
        number = 0
        for number, (invoice, code, description, quantity, date_text, price, customer, country) in enumerate(reader, 1):
            if number % 20_000 == 0:  # a bar update per row would cost more than the row
                bar.update(20_000)
            when = dates.get(date_text)
            if when is None:
                when = dates[date_text] = datetime.fromisoformat(date_text).replace(tzinfo=DEMO_TIME_ZONE)
            unit_price = prices.get(price)
            if unit_price is None:
                unit_price = prices[price] = Decimal(price)
            stock_code = codes.get(code)
            if stock_code is None:
                stock_code = codes[code] = code.strip().upper()
            yield RetailRow(number, invoice, stock_code, description, int(quantity), when, unit_price,
                            int(customer) if customer else None, country)
        bar.update(number - bar.n)
        bar.close()


def _most_common(counter: Counter) -> object:
    """The most frequent key; ties go to the smallest key, so the choice never depends on row order."""
    return min(counter.items(), key=lambda item: (-item[1], item[0]))[0]


def demo_plan_build(*, rows: Iterable[RetailRow], limit_invoices: int | None = None) -> DemoPlan:
    """Turn the CSV rows into the demo, deterministically.

    - Products: one per product StockCode (PRODUCT_CODE, upper-cased so 85049a and 85049A are one product) with at
      least one sale row (quantity > 0, price > 0). Title: its most common stripped description on sale rows.
      Price: its most common UnitPrice on sale rows (ties: the lower price), converted by `prices_for`.
    - Customers: every CustomerID; country and joined date from the customer's first row.
    - Orders: every invoice with a CustomerID whose number does not start with "C" and that keeps at least one
      product sale row. Rows of the same code and unit price are merged into one line. Its date is the invoice's
      earliest InvoiceDate.
    - Refunds: see `_refunds_match`.
    `limit_invoices` keeps only the first N invoices with a CustomerID (sales and cancellations alike) ordered by
    (date, invoice number); the catalogue and the customers stay complete.
    """
    descriptions: dict[str, Counter] = defaultdict(Counter)
    unit_prices: dict[str, Counter] = defaultdict(Counter)
    first_seen: dict[int, tuple[datetime, str]] = {}  # the first row wins a tie in time
    invoice_dates: dict[str, datetime] = {}
    invoice_customers: dict[str, int] = {}
    sale_rows: dict[str, list[RetailRow]] = defaultdict(list)
    cancellation_rows: list[RetailRow] = []
    skipped: Counter = Counter()

    product_codes: dict[str, bool] = {}
    previous = (None, None)
    for row in rows:
        _number, invoice, code, description, quantity, invoice_date, unit_price, customer_id, country = row
        # An invoice's rows are (almost always) consecutive and share date and customer: look at them once.
        if customer_id is not None and (invoice, invoice_date) != previous:
            previous = (invoice, invoice_date)
            seen = first_seen.get(customer_id)
            if seen is None or invoice_date < seen[0]:
                first_seen[customer_id] = (invoice_date, country)
            invoice_customers[invoice] = customer_id
            known = invoice_dates.get(invoice)
            if known is None or invoice_date < known:
                invoice_dates[invoice] = invoice_date
        is_product = product_codes.get(code)
        if is_product is None:
            is_product = product_codes[code] = PRODUCT_CODE.fullmatch(code) is not None
        if invoice.startswith("C"):
            if customer_id is not None and is_product and quantity < 0:
                cancellation_rows.append(row)
            continue
        if not is_product:
            skipped["non_product_rows"] += 1
            continue
        if quantity <= 0 or unit_price <= 0:
            skipped["not_a_sale_rows"] += 1
            continue
        description = description.strip()
        if description:
            descriptions[code][description] += 1
        unit_prices[code][unit_price] += 1
        if customer_id is None:
            skipped["sale_rows_without_customer"] += 1
        else:
            sale_rows[invoice].append(row)

    products: dict[str, PlannedProduct] = {}
    for code in sorted(unit_prices):
        title = str(_most_common(descriptions[code])) if descriptions[code] else code
        if "VOUCHER" in title.upper():  # 22016 is a gift voucher sold under a product-like code
            skipped["voucher_codes"] += 1
            continue
        category_key = category_key_for(description=title)
        modal = Decimal(_most_common(unit_prices[code]))
        suggested, floor, cost = prices_for(modal_price_gbp=modal)
        products[code] = PlannedProduct(
            code=code, title=title[:200], category_key=category_key,
            supplier_index=supplier_index_for(category_key=category_key), modal_price_gbp=modal,
            suggested_price=suggested, floor_price=floor, cost_price=cost,
            weight_grams=weight_grams_for(sku_code=code), available=available_for(sku_code=code))

    customers = {
        customer_id: PlannedCustomer(customer_id=customer_id, country=country, joined_at=joined_at,
                                     region_code=province_for(customer_id=customer_id, country=country))
        for customer_id, (joined_at, country) in sorted(first_seen.items())
    }

    window = sorted(invoice_customers, key=lambda number: (invoice_dates[number], number))
    if limit_invoices is not None:
        window = window[:limit_invoices]
    orders: list[PlannedOrder] = []
    cny_prices: dict[Decimal, Decimal] = {}
    for invoice in window:
        if invoice.startswith("C"):
            continue
        merged: dict[tuple[str, Decimal], PlannedLine] = {}
        for row in sale_rows.get(invoice, ()):
            code = row.stock_code
            if code not in products:
                skipped["non_product_rows"] += 1
                continue
            unit_price = cny_prices.get(row.unit_price)
            if unit_price is None:
                unit_price = cny_prices[row.unit_price] = to_money(row.unit_price * GBP_TO_CNY)
            if unit_price <= 0:  # a price below half a fen rounds to nothing: not a sale worth keeping
                skipped["zero_cny_price_rows"] += 1
                continue
            line = merged.get((code, unit_price))
            if line is None:
                merged[(code, unit_price)] = PlannedLine(code=code, quantity=row.quantity, unit_price=unit_price)
            else:
                line.quantity += row.quantity
        if not merged:
            skipped["empty_invoices"] += 1
            continue
        lines = list(merged.values())
        store_index = store_for_invoice(invoice_number=invoice, sku_codes=[line.code for line in lines])
        orders.append(PlannedOrder(invoice=invoice, customer_id=invoice_customers[invoice],
                                   created_at=invoice_dates[invoice], store_index=store_index, lines=lines))

    window_set = set(window)
    cancellations = [row for row in cancellation_rows if row.invoice in window_set]
    plan = DemoPlan(products=products, customers=customers, orders=orders, refunds=[], skipped=skipped)
    _refunds_match(plan=plan, cancellations=cancellations)
    return plan


def _refunds_match(*, plan: DemoPlan, cancellations: list[RetailRow]) -> None:
    """Cancellation rows ("C" invoices) become refunds, in (date, invoice, row) order.

    A row refunds its units on the customer's most recent order placed strictly before the cancellation that holds
    the same StockCode with units not yet refunded (ties in time: the higher invoice number). Its lines of that code
    are refunded in line order, each capped at its own quantity; units beyond that are counted, never moved to
    another order. A row with no such order is counted as unmatched. Amount = the line's unit price x units.
    """
    by_customer_code: dict[tuple[int, str], list[tuple[datetime, str, PlannedOrder]]] = defaultdict(list)
    for order in plan.orders:
        for code in {line.code for line in order.lines}:
            by_customer_code[(order.customer_id, code)].append((order.created_at, order.invoice, order))
    for candidates in by_customer_code.values():
        candidates.sort(key=lambda item: (item[0], item[1]))

    plan.cancellation_rows = len(cancellations)
    for row in sorted(cancellations, key=lambda item: (item.invoice_date, item.invoice, item.row_number)):
        code = row.stock_code
        candidates = by_customer_code.get((row.customer_id, code), [])
        position = bisect.bisect_left(candidates, row.invoice_date, key=lambda item: item[0])
        wanted = -row.quantity
        target = None
        for _created, _invoice, order in reversed(candidates[:position]):
            if any(line.code == code and line.refunded_quantity < line.quantity for line in order.lines):
                target = order
                break
        if target is None:
            plan.cancellations_unmatched += 1
            continue
        plan.cancellations_matched += 1
        for index, line in enumerate(target.lines):
            if wanted == 0:
                break
            if line.code != code or line.refunded_quantity >= line.quantity:
                continue
            units = min(wanted, line.quantity - line.refunded_quantity)
            line.refunded_quantity += units
            wanted -= units
            plan.refunds.append(PlannedRefund(
                reference=f"{REFUND_REFERENCE_PREFIX}{row.invoice}:{row.row_number}:{index}",
                cancellation_invoice=row.invoice, order_number=target.number, line_index=index, sku_code=code,
                quantity=units,
                amount=line.unit_price * units, refunded_at=row.invoice_date))
        plan.cancelled_units_not_refunded += wanted


# --- writing the plan -------------------------------------------------------------------------------------------
Say = Callable[[str], None]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The plan holds about a million small objects and the ORM makes millions more: the cyclic collector would
    walk them again and again although the loader forms no cycles worth collecting. Pausing it saves about a third
    of the time; reference counting still frees memory as usual and the collector resumes afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def demo_load(*, data_dir: Path, limit_invoices: int | None = None, progress: bool = True,
              say: Say | None = None) -> dict:
    """Build (or complete) the demo from `data_dir`/online_retail/online_retail.csv.gz and report what it did.

    Phases, each in its own transaction and each writing only what is missing: categories, suppliers (staff,
    shipping, pricing), catalogue (products, SKUs, stock), stores (staff, listings), customers (users, addresses),
    orders (payments, shipments, lines, stock sold, behaviour events), refunds (after-sales, refunds, order amounts).
    When the database already holds exactly FULL_DEMO_COUNTS and no limit is asked for, the CSV is not even read.
    """
    say = say or (lambda _message: None)
    path = Path(data_dir) / CSV_RELATIVE_PATH
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: set --data or SHARED_DATA_DIR to the shared data folder")
    if limit_invoices is None:
        stored = demo_counts_stored()
        if stored == FULL_DEMO_COUNTS:
            say("演示数据已完整 the full demo is already loaded: nothing to do")
            return {"stored": stored, "written": dict.fromkeys(WRITTEN_KEYS, 0), "csv_read": False}
    with _cyclic_gc_paused():
        report = _demo_load(path=path, limit_invoices=limit_invoices, progress=progress, say=say)
    if limit_invoices is None and report["planned"] != FULL_DEMO_COUNTS:
        say(f"注意 note: the full plan {report['planned']} differs from FULL_DEMO_COUNTS; update the constant so "
            "that a second run can skip reading the CSV")
    return report


def demo_counts_stored() -> dict[str, int]:
    """How much of the demo the database holds (the same keys as FULL_DEMO_COUNTS)."""
    demo_orders = Order.objects.filter(idempotency_key__startswith=ORDER_KEY_PREFIX)
    return {
        "suppliers": Supplier.objects.filter(name__in=[spec.name for spec in SUPPLIERS]).count(),
        "products": SKU.objects.filter(product__supplier__name__in=[spec.name for spec in SUPPLIERS]).count(),
        "listings": Listing.objects.filter(store__owner__phone__in=[spec.owner_phone for spec in STORES]).count(),
        "customers": User.objects.filter(phone__startswith=CUSTOMER_PHONE_PREFIX, role=Role.SHOPPER).count(),
        "orders": demo_orders.count(),
        "order_lines": OrderLine.objects.filter(order__in=demo_orders).count(),
        "refund_lines": Refund.objects.filter(reference__startswith=REFUND_REFERENCE_PREFIX,
                                              order__in=demo_orders).count(),
    }


def demo_counts_planned(*, plan: DemoPlan) -> dict[str, int]:
    """What the plan puts in the database (the same keys as FULL_DEMO_COUNTS)."""
    return {
        "suppliers": len(SUPPLIERS),
        "products": len(plan.products),
        "listings": sum(store_lists(store_index=index, sku_code=code)
                        for index in range(len(STORES)) for code in plan.products),
        "customers": len(plan.customers),
        "orders": len(plan.orders),
        "order_lines": sum(len(order.lines) for order in plan.orders),
        "refund_lines": len(plan.refunds),
    }


def _demo_load(*, path: Path, limit_invoices: int | None, progress: bool, say: Say) -> dict:
    clock = _PhaseClock(say)
    plan = demo_plan_build(rows=csv_rows_read(path=path, progress=progress), limit_invoices=limit_invoices)
    clock.done(f"计划 plan: {len(plan.products)} products, {len(plan.customers)} customers, {len(plan.orders)} "
               f"orders, {len(plan.refunds)} refund lines")

    written = dict.fromkeys(WRITTEN_KEYS, 0)
    categories = categories_ensure()
    suppliers = suppliers_ensure()
    written["products"] = catalogue_ensure(plan=plan, categories=categories, suppliers=suppliers)
    clock.done(f"商品 catalogue: {written['products']} products created")
    stores = stores_ensure()
    written["listings"] = listings_ensure(plan=plan, stores=stores)
    clock.done(f"上架 listings: {written['listings']} created")
    written["customers"] = customers_ensure(plan=plan)
    clock.done(f"顾客 customers: {written['customers']} created")
    written["orders"] = orders_ensure(plan=plan, stores=stores, suppliers=suppliers, progress=progress)
    clock.done(f"订单 orders: {written['orders']} created")
    written["refund_lines"] = refunds_ensure(plan=plan)
    clock.done(f"退款 refunds: {written['refund_lines']} refund lines written")
    return {
        "planned": demo_counts_planned(plan=plan),
        "stored": demo_counts_stored(),
        "written": written,
        "cancellations": {"rows": plan.cancellation_rows, "matched": plan.cancellations_matched,
                          "unmatched": plan.cancellations_unmatched,
                          "units_not_refunded": plan.cancelled_units_not_refunded},
        "csv_read": True,
    }


class _PhaseClock:
    """Says what a phase did and how long it took."""

    def __init__(self, say: Say):
        self.say = say
        self.last = time.monotonic()

    def done(self, message: str) -> None:
        now = time.monotonic()
        self.say(f"{message} ({now - self.last:.1f} s)")
        self.last = now


def categories_ensure() -> dict[str, Category]:
    """The two-level tree of CATEGORY_TREE, by (parent, name). Returns leaf and top categories by key."""
    with transaction.atomic():
        found: dict[str, Category] = {}
        for top_position, spec in enumerate(CATEGORY_TREE, 1):
            top, _ = Category.objects.get_or_create(parent=None, name=spec.name,
                                                    defaults={"name_en": spec.name_en, "position": top_position})
            found[spec.key] = top
            for position, (key, name, name_en) in enumerate(spec.children, 1):
                found[key], _ = Category.objects.get_or_create(parent=top, name=name,
                                                               defaults={"name_en": name_en, "position": position})
        return found


def _user_ensure(*, phone: str, nickname: str, role: str) -> User:
    user, _ = User.objects.get_or_create(phone=phone, defaults={"nickname": nickname, "role": role,
                                                                "password": UNUSABLE_PASSWORD})
    return user


def suppliers_ensure() -> list[Supplier]:
    """SUPPLIERS by name, each with its staff user, one shipping template with SHIPPING_RATES, and pricing rules:
    tier 3 x 1.05 for all, and x 1.10 in the supplier's `remote_region_code` province where it has one."""
    with transaction.atomic():
        suppliers = []
        for spec in SUPPLIERS:
            staff = _user_ensure(phone=spec.staff_phone, nickname=spec.contact_name, role=Role.SUPPLIER_STAFF)
            supplier, _ = Supplier.objects.get_or_create(
                name=spec.name, defaults={"contact_name": spec.contact_name, "contact_phone": spec.staff_phone})
            supplier.staff.add(staff)
            template, created = ShippingTemplate.objects.get_or_create(supplier=supplier, name=SHIPPING_TEMPLATE_NAME)
            if created or not template.rates.exists():
                ShippingRate.objects.bulk_create([
                    ShippingRate(template=template, tier=tier, first_weight_grams=1000, first_fee=Decimal(first),
                                 extra_weight_grams=1000, extra_fee=Decimal(extra), free_threshold=Decimal(free))
                    for tier, first, extra, free in SHIPPING_RATES])
            if not supplier.pricing_rules.exists():
                rules = [PricingRule(supplier=supplier, tier=3, mode=PricingRule.Mode.MULTIPLIER,
                                     value=TIER3_MULTIPLIER)]
                if spec.remote_region_code:
                    rules.append(PricingRule(supplier=supplier, region_id=spec.remote_region_code,
                                             mode=PricingRule.Mode.MULTIPLIER, value=REMOTE_REGION_MULTIPLIER))
                PricingRule.objects.bulk_create(rules)
            suppliers.append(supplier)
        return suppliers


def catalogue_ensure(*, plan: DemoPlan, categories: dict[str, Category], suppliers: list[Supplier]) -> int:
    """Products, SKUs (code = StockCode) and stock rows for every planned code that has no SKU yet."""
    with transaction.atomic():
        existing = set(SKU.objects.values_list("code", flat=True))
        missing = [product for code, product in plan.products.items() if code not in existing]
        if not missing:
            return 0
        templates = dict(ShippingTemplate.objects.filter(supplier__in=suppliers, name=SHIPPING_TEMPLATE_NAME)
                         .values_list("supplier_id", "id"))
        products = []
        for planned in missing:
            category = categories[planned.category_key]
            supplier = suppliers[planned.supplier_index]
            products.append(Product(
                supplier=supplier, category=category, title=planned.title, status=Product.Status.ACTIVE,
                shipping_template_id=templates[supplier.pk],
                attributes={"source": "UCI Online Retail", "stock_code": planned.code,
                            "gbp_modal_price": str(planned.modal_price_gbp)},
                search_document=search_document(planned.title, category.name)))
        Product.objects.bulk_create(products, batch_size=BATCH_SIZE)
        skus = [SKU(product_id=product.pk, code=planned.code, spec_values={}, cost_price=planned.cost_price,
                    suggested_price=planned.suggested_price, floor_price=planned.floor_price,
                    weight_grams=planned.weight_grams) for product, planned in zip(products, missing, strict=True)]
        SKU.objects.bulk_create(skus, batch_size=BATCH_SIZE)
        Stock.objects.bulk_create([Stock(sku_id=sku.pk, available=planned.available, reserved=0, sold=0)
                                   for sku, planned in zip(skus, missing, strict=True)], batch_size=BATCH_SIZE)
        _analyze(Product, SKU, Stock)
        return len(missing)


def stores_ensure() -> list[Store]:
    """STORES, found by (owner phone, name), each with its owner (manager) and one sales rep as StoreStaff."""
    with transaction.atomic():
        stores = []
        for spec in STORES:
            owner = _user_ensure(phone=spec.owner_phone, nickname=spec.owner_nickname, role=Role.MERCHANT_STAFF)
            rep = _user_ensure(phone=spec.rep_phone, nickname=spec.rep_nickname, role=Role.MERCHANT_STAFF)
            store, _ = Store.objects.get_or_create(owner=owner, name=spec.name,
                                                   defaults={"description": spec.description})
            StoreStaff.objects.get_or_create(store=store, user=owner, defaults={"role": StoreStaff.Role.MANAGER})
            StoreStaff.objects.get_or_create(store=store, user=rep, defaults={"role": StoreStaff.Role.SALES_REP})
            stores.append(store)
        return stores


def listings_ensure(*, plan: DemoPlan, stores: list[Store]) -> int:
    """Each store lists its SKUs (`store_lists`) at `listing_price_for`; existing listings are left as they are."""
    with transaction.atomic():
        sku_ids = dict(SKU.objects.values_list("code", "id"))
        existing = set(Listing.objects.filter(store__in=stores).values_list("store_id", "sku_id"))
        listings = []
        for index, store in enumerate(stores):
            for code, planned in plan.products.items():
                if (store.pk, sku_ids[code]) in existing or not store_lists(store_index=index, sku_code=code):
                    continue
                listings.append(Listing(store=store, sku_id=sku_ids[code], price=listing_price_for(
                    store_index=index, suggested=planned.suggested_price, floor=planned.floor_price)))
        Listing.objects.bulk_create(listings, batch_size=BATCH_SIZE)
        if listings:
            _analyze(Listing)
        return len(listings)


def customers_ensure(*, plan: DemoPlan) -> int:
    """One shopper per CustomerID (phone 199 + id in 8 digits, unusable password, joined at the first invoice) and
    one default address in its province; users or addresses that already exist are kept."""
    with transaction.atomic():
        phones = {customer.phone: customer for customer in plan.customers.values()}
        existing = set(User.objects.filter(phone__startswith=CUSTOMER_PHONE_PREFIX).values_list("phone", flat=True))
        users = [User(phone=phone, nickname=customer.nickname, role=Role.SHOPPER, password=UNUSABLE_PASSWORD,
                      date_joined=customer.joined_at)
                 for phone, customer in phones.items() if phone not in existing]
        User.objects.bulk_create(users, batch_size=BATCH_SIZE)
        user_ids = dict(User.objects.filter(phone__startswith=CUSTOMER_PHONE_PREFIX).values_list("phone", "id"))
        with_address = set(Address.objects.filter(user__phone__startswith=CUSTOMER_PHONE_PREFIX, is_default=True)
                           .values_list("user_id", flat=True))
        addresses = []
        for phone, customer in phones.items():
            user_id = user_ids[phone]
            if user_id in with_address:
                continue
            addresses.append(Address(
                user_id=user_id, recipient=customer.nickname, phone=phone, region_id=customer.region_code,
                city=PROVINCE_CITIES[customer.region_code], district="",
                detail=f"演示路 {customer.customer_id % 200 + 1} 号 (demo address; UCI country: {customer.country})",
                is_default=True))
        Address.objects.bulk_create(addresses, batch_size=BATCH_SIZE)
        if users or addresses:
            _analyze(User, Address)
        return len(users)


def _address_snapshots() -> dict[int, tuple[str, dict]]:
    """Demo customer's user id -> (region code, the order's address snapshot in the shape `order_submit` stores)."""
    snapshots = {}
    for address in (Address.objects.filter(user__phone__startswith=CUSTOMER_PHONE_PREFIX, is_default=True)
                    .select_related("region")):
        snapshots[address.user_id] = (address.region_id, {
            "recipient": address.recipient, "phone": address.phone, "region_code": address.region_id,
            "province": address.region.name, "city": address.city, "district": address.district,
            "detail": address.detail})
    return snapshots


def orders_ensure(*, plan: DemoPlan, stores: list[Store], suppliers: list[Supplier], progress: bool = False) -> int:
    """Every planned invoice without an order (number D<invoice>) becomes a completed, paid, delivered order with
    one succeeded payment, one delivered shipment per supplier, its lines and one handled "order_paid" event; the
    stock of its SKUs counts its units as sold. Refunds come in the next phase."""
    with transaction.atomic():
        existing = set(Order.objects.filter(idempotency_key__startswith=ORDER_KEY_PREFIX)
                       .values_list("number", flat=True))
        missing = [order for order in plan.orders if order.number not in existing]
        if not missing:
            return 0
        skus = {code: (sku_id, supplier_id, category_id, title, cost_price, weight)
                for code, sku_id, supplier_id, category_id, title, cost_price, weight in
                SKU.objects.values_list("code", "id", "product__supplier_id", "product__category_id",
                                        "product__title", "cost_price", "weight_grams")}
        listings = {(store_id, sku_id): listing_id for store_id, sku_id, listing_id in
                    Listing.objects.filter(store__in=stores).values_list("store_id", "sku_id", "id")}
        user_ids = dict(User.objects.filter(phone__startswith=CUSTOMER_PHONE_PREFIX).values_list("phone", "id"))
        snapshots = _address_snapshots()
        supplier_ids = [supplier.pk for supplier in suppliers]

        bar = tqdm(total=len(missing), desc="订单 orders", unit="order", disable=not progress, mininterval=0.5)
        for chunk in _chunks(missing, INVOICES_PER_CHUNK):
            _orders_write(chunk=chunk, plan=plan, stores=stores, skus=skus, listings=listings, user_ids=user_ids,
                          snapshots=snapshots, supplier_ids=supplier_ids)
            bar.update(len(chunk))
        bar.close()

        units: Counter = Counter()
        for order in missing:
            for line in order.lines:
                units[skus[line.code][0]] += line.quantity
        _update_from_values(
            model=Stock, assignments="sold = {table}.sold + v.units", key="sku_id", columns=("units",),
            rows=sorted(units.items()))
        _analyze(Order, Payment, Shipment, OrderLine, BehaviourEvent)
        return len(missing)


def _analyze(*models) -> None:
    """Refresh the planner statistics of tables that just grew by thousands of rows in this transaction: without
    them PostgreSQL still believes they are empty and picks nested loops that turn the next lookups into seconds."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _update_from_values(*, model, assignments: str, columns: tuple[str, ...], rows: list[tuple],
                        key: str = "id") -> None:
    """UPDATE <table> SET <assignments> FROM (VALUES ...) AS v(key, columns) WHERE <table>.key = v.key: one
    statement for thousands of rows with different values, where bulk_update would build a CASE per row and field.
    Table and column names come from the model, values travel as parameters."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(("key", *columns))
    sql = (f"UPDATE {table} SET {assignments.format(table=table)} FROM (VALUES %s) AS v({names}) "  # noqa: S608
           f"WHERE {table}.{connection.ops.quote_name(key)} = v.key")
    with connection.cursor() as cursor:
        execute_values(cursor.cursor, sql, rows, page_size=BATCH_SIZE)


def _address_snapshots() -> dict[int, tuple[str, dict]]:
    """Demo customer's user id -> (region code, the order's address snapshot in the shape `order_submit` stores)."""
    snapshots = {}
    for address in (Address.objects.filter(user__phone__startswith=CUSTOMER_PHONE_PREFIX, is_default=True)
                    .select_related("region")):
        snapshots[address.user_id] = (address.region_id, {
            "recipient": address.recipient, "phone": address.phone, "region_code": address.region_id,
            "province": address.region.name, "city": address.city, "district": address.district,
            "detail": address.detail})
    return snapshots


def _orders_write(*, chunk: list[PlannedOrder], plan: DemoPlan, stores: list[Store], skus: dict, listings: dict,
                  user_ids: dict, snapshots: dict, supplier_ids: list[int]) -> None:
    buyers = [user_ids[plan.customers[planned.customer_id].phone] for planned in chunk]
    orders = []
    for planned, buyer_id in zip(chunk, buyers, strict=True):
        region_code, snapshot = snapshots[buyer_id]
        subtotal = planned.subtotal
        created = planned.created_at
        orders.append(Order(
            number=planned.number, buyer_id=buyer_id, store_id=stores[planned.store_index].pk, kind=Order.Kind.NORMAL,
            idempotency_key=f"{ORDER_KEY_PREFIX}{planned.invoice}", status=Order.Status.COMPLETED,
            payment_status=Order.PaymentStatus.PAID, shipping_status=Order.ShippingStatus.DELIVERED,
            after_sale_status=Order.AfterSaleStatus.NONE, subtotal=subtotal, discount_total=Decimal("0.00"),
            shipping_fee=Decimal("0.00"), total=subtotal, refunded_total=Decimal("0.00"), region_id=region_code,
            address=snapshot, note=f"UCI Online Retail invoice {planned.invoice}", pay_deadline=created + PAY_WINDOW,
            paid_at=created, delivered_at=created + DELIVERED_AFTER, completed_at=created + COMPLETED_AFTER))
    Order.objects.bulk_create(orders, batch_size=BATCH_SIZE)
    order_ids = [order.pk for order in orders]
    # auto_now_add stamped "now" on insert: history keeps the invoice date instead.
    Order.objects.filter(pk__in=order_ids).update(created_at=F("paid_at"), updated_at=F("completed_at"))
    order_paid_at = Subquery(Order.objects.filter(pk=OuterRef("order_id")).values("paid_at")[:1])

    payments = [Payment(order_id=order.pk, provider=PAYMENT_PROVIDER,
                        provider_transaction_id=f"{PAYMENT_PROVIDER}-{planned.invoice}", amount=order.total,
                        status=Payment.Status.SUCCEEDED,
                        payload={"order_number": order.number, "amount": str(order.total),
                                 "source": "UCI Online Retail"})
                for order, planned in zip(orders, chunk, strict=True)]
    Payment.objects.bulk_create(payments, batch_size=BATCH_SIZE)
    Payment.objects.filter(pk__in=[payment.pk for payment in payments]).update(created_at=order_paid_at,
                                                                               updated_at=order_paid_at)

    shipments: dict[tuple[int, int], Shipment] = {}
    for order, planned in zip(orders, chunk, strict=True):
        weights: dict[int, int] = defaultdict(int)
        for line in planned.lines:
            weights[skus[line.code][1]] += skus[line.code][5] * line.quantity
        for supplier_id in sorted(weights, key=supplier_ids.index):
            shipments[(order.pk, supplier_id)] = Shipment(
                order_id=order.pk, supplier_id=supplier_id, status=Shipment.Status.DELIVERED,
                shipping_fee=Decimal("0.00"), weight_grams=weights[supplier_id], carrier="演示快递 demo carrier",
                tracking_number=f"DEMO{planned.invoice}-{supplier_ids.index(supplier_id) + 1}",
                shipped_at=planned.created_at + SHIPPED_AFTER, delivered_at=planned.created_at + DELIVERED_AFTER)
    Shipment.objects.bulk_create(list(shipments.values()), batch_size=BATCH_SIZE)
    Shipment.objects.filter(order_id__in=order_ids).update(created_at=order_paid_at, updated_at=F("delivered_at"))

    lines = []
    events = []
    for order, planned, buyer_id in zip(orders, chunk, buyers, strict=True):
        store_id = stores[planned.store_index].pk
        for line in planned.lines:
            sku_id, supplier_id, category_id, title, cost_price, _weight = skus[line.code]
            subtotal = line.line_subtotal
            lines.append(OrderLine(
                order_id=order.pk, shipment_id=shipments[(order.pk, supplier_id)].pk,
                listing_id=listings[(store_id, sku_id)], sku_id=sku_id, supplier_id=supplier_id, title=title,
                sku_code=line.code, spec_values={}, category_id=category_id, quantity=line.quantity,
                list_price=line.unit_price, unit_price=line.unit_price, cost_price=cost_price,
                line_subtotal=subtotal, discount_share=Decimal("0.00"), paid_amount=subtotal))
        events.append(BehaviourEvent(
            actor_id=buyer_id, kind="order_paid", object_type="mall.order", object_id=str(order.pk),
            payload={"total": str(order.total), "store_id": store_id, "kind": Order.Kind.NORMAL.value,
                     "lines": [[line.code, line.quantity] for line in planned.lines]},
            # History gets no delivery rows: no transactional handler reacts to it.
            created_at=planned.created_at))
    OrderLine.objects.bulk_create(lines, batch_size=BATCH_SIZE)
    BehaviourEvent.objects.bulk_create(events, batch_size=BATCH_SIZE)


def refunds_ensure(*, plan: DemoPlan) -> int:
    """Apply every planned refund whose reference is not stored yet (all of them after a fresh orders phase).

    Per refund: the line's refunded_quantity and refunded_amount grow, so does the order's refunded_total; an
    AfterSale (refund_only, refunded) and a succeeded Refund against the order's demo payment are written, dated at
    the cancellation. Then each touched order gets payment_status and after_sale_status partially_refunded, or
    refunded and status closed when everything was refunded (the order machine's completed -> closed move).
    Additive, so it also completes orders loaded earlier with a smaller --limit-invoices.
    """
    with transaction.atomic():
        stored = set(Refund.objects.filter(reference__startswith=REFUND_REFERENCE_PREFIX,
                                           order__idempotency_key__startswith=ORDER_KEY_PREFIX)
                     .values_list("reference", flat=True))
        missing = [refund for refund in plan.refunds if refund.reference not in stored]
        if not missing:
            return 0
        numbers = {refund.order_number for refund in missing}
        orders = {number: (order_id, buyer_id) for number, order_id, buyer_id in
                  Order.objects.filter(idempotency_key__startswith=ORDER_KEY_PREFIX)
                  .values_list("number", "id", "buyer_id") if number in numbers}
        order_ids = [order_id for order_id, _buyer_id in orders.values()]
        payments = dict(Payment.objects.filter(order_id__in=order_ids, provider=PAYMENT_PROVIDER)
                        .values_list("order_id", "id"))
        lines_by_order: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for line_id, order_id, sku_code in (OrderLine.objects.filter(order_id__in=order_ids).order_by("order_id", "id")
                                            .values_list("id", "order_id", "sku_code")):
            lines_by_order[order_id].append((line_id, sku_code))

        line_refunds: dict[int, list] = {}  # line id -> [units, amount]
        order_refunds: dict[int, list] = {}  # order id -> [amount, last refund time]
        after_sales = []
        refunds = []
        for planned in missing:
            order_id, buyer_id = orders[planned.order_number]
            line_id, sku_code = lines_by_order[order_id][planned.line_index]
            if sku_code != planned.sku_code:
                raise RuntimeError(f"order {planned.order_number} does not match the demo plan (line "
                                   f"{planned.line_index} is {sku_code}, expected {planned.sku_code})")
            line_total = line_refunds.setdefault(line_id, [0, Decimal("0.00")])
            line_total[0] += planned.quantity
            line_total[1] += planned.amount
            order_total = order_refunds.setdefault(order_id, [Decimal("0.00"), planned.refunded_at])
            order_total[0] += planned.amount
            order_total[1] = max(order_total[1], planned.refunded_at)
            after_sales.append(AfterSale(
                order_id=order_id, line_id=line_id, requester_id=buyer_id, kind=AfterSale.Kind.REFUND_ONLY,
                quantity=planned.quantity, reason=REFUND_REASON, status=AfterSale.Status.REFUNDED,
                refund_amount=planned.amount, merchant_note=f"UCI cancellation {planned.cancellation_invoice}",
                decided_at=planned.refunded_at, refunded_at=planned.refunded_at))
            refunds.append(Refund(
                order_id=order_id, payment_id=payments[order_id], amount=planned.amount, reason=REFUND_REASON,
                reference=planned.reference, status=Refund.Status.SUCCEEDED, provider_refund_id=planned.reference))

        _update_from_values(
            model=OrderLine, columns=("units", "amount"),
            assignments="refunded_quantity = {table}.refunded_quantity + v.units, "
                        "refunded_amount = {table}.refunded_amount + v.amount",
            rows=[(line_id, units, amount) for line_id, (units, amount) in sorted(line_refunds.items())])
        _update_from_values(
            model=Order, columns=("amount", "refunded_at"),
            assignments="refunded_total = {table}.refunded_total + v.amount, "
                        "updated_at = GREATEST({table}.updated_at, v.refunded_at)",
            rows=[(order_id, amount, when) for order_id, (amount, when) in sorted(order_refunds.items())])
        touched = Order.objects.filter(pk__in=list(order_refunds))
        touched.filter(refunded_total__gte=F("total")).update(
            status=Order.Status.CLOSED, payment_status=Order.PaymentStatus.REFUNDED,
            after_sale_status=Order.AfterSaleStatus.REFUNDED)
        touched.filter(refunded_total__lt=F("total")).update(
            payment_status=Order.PaymentStatus.PARTIALLY_REFUNDED,
            after_sale_status=Order.AfterSaleStatus.PARTIALLY_REFUNDED)

        AfterSale.objects.bulk_create(after_sales, batch_size=BATCH_SIZE)
        AfterSale.objects.filter(pk__in=[after_sale.pk for after_sale in after_sales]).update(
            created_at=F("refunded_at"), updated_at=F("refunded_at"))
        Refund.objects.bulk_create(refunds, batch_size=BATCH_SIZE)
        _update_from_values(
            model=Refund, columns=("refunded_at",),
            assignments="created_at = v.refunded_at, updated_at = v.refunded_at",
            rows=[(refund.pk, planned.refunded_at) for refund, planned in zip(refunds, missing, strict=True)])
        return len(refunds)


def demo_staff_passwords_set(*, password: str) -> list[str]:
    """Give the demo's supplier staff and store staff a password for the consoles (they have none after loading),
    so /supplier/ and /merchant/ can be tried at once. Only demo phones (177..., 166...) without a usable password
    are touched. Returns their phones."""
    from django.contrib.auth.hashers import make_password

    phones = sorted({spec.staff_phone for spec in SUPPLIERS}
                    | {phone for spec in STORES for phone in (spec.owner_phone, spec.rep_phone)})
    users = list(User.objects.filter(phone__in=phones))
    hashed = make_password(password)
    changed = [user for user in users if not user.has_usable_password()]
    for user in changed:
        user.password = hashed
    User.objects.bulk_update(changed, ["password"])
    return [user.phone for user in users]
