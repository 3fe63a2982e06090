"""The demo mall built from the real UCI "Online Retail" data set (../shared/data/online_retail, see its PROVENANCE).

Nothing here is random: every supplier, product, price, customer, order and refund follows from the CSV by the fixed
rules below, so two loads give the same demo. docs/demo-data.md explains the rules for people; the docstrings and
tables here are the same rules for the code.

Two halves:
- `demo_plan_build` is pure: CSV rows in, a `DemoPlan` out (no ORM), so the mapping is testable on its own.
- `demo_load` writes the plan in phases, one transaction each. Each phase first looks at what is already stored and
  writes only what is missing, so a second run writes nothing and an interrupted run resumes at the phase it lost.

Speed: the CSV is read once and everything is matched in dicts. The small tables go in with `bulk_create`; the big
ones (users, addresses, orders, payments, shipments, order lines, behaviour events, after-sales, refunds) with
PostgreSQL COPY, streamed while the rows are being made and with their real dates written directly. Orders and
shipments take their ids from their sequences in one query each, so rows can point at each other without a round trip
per row. Sums that differ per row (stock sold, refunded amounts) go in with one UPDATE per table.
"""
import bisect
import csv
import gc
import gzip
import json
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
from django.db.models import F, Q
from django.utils import timezone
from psycopg2.extras import execute_values
from tqdm import tqdm

from accounts.models import Role, User
from core.db.bulk import analyze as _analyze
from core.db.bulk import copy_rows as _copy_rows
from core.db.bulk import ids_reserve as _ids_reserve
from core.db.bulk import update_from_values as _update_from_values
from core.models import BehaviourEvent
from core.money import to_money
from mall.models import Address, AfterSale, Listing, Order, OrderLine, Payment, Refund, Shipment, Store, StoreStaff
from supply.models import (
    SKU,
    Category,
    PricingRule,
    Product,
    SearchWord,
    ShippingRate,
    ShippingTemplate,
    Stock,
    Supplier,
)
from supply.search import SearchFields, search_fields, stem
from supply.terms import terms_version
from supply.terms.compose import title_translate

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

# What a complete load of the full file stores (checked against the plan by tests/mall/test_demo_loader.py).
FULL_DEMO_COUNTS = {"suppliers": 5, "products": 3790, "listings": 7580, "customers": 4372, "orders": 18402,
                    "order_lines": 386393, "refund_lines": 7481}
WRITTEN_KEYS = ("products", "listings", "customers", "orders", "refund_lines")
DATA_SET = "UCI Online Retail"

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
# The background of each top category's generated product pictures (its subcategories inherit it).
CATEGORY_COLOURS = {"home": "#B5651D", "kitchen": "#2E86AB", "seasonal": "#C0392B", "stationery": "#7D3C98",
                    "bags": "#D35400", "kids": "#F4B400", "garden": "#2E8B57", "other": "#5D6D7E"}

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


def catalogue_titles(*, path: Path) -> dict[str, str]:
    """Stock code -> the English catalogue title of every demo product (the titles `demo_plan_build` picks)."""
    plan = demo_plan_build(rows=csv_rows_read(path=path), limit_invoices=0)
    return {code: product.title for code, product in plan.products.items()}


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
            categories_ensure()  # cheap, and gives a demo loaded before categories had colours its colours
            titles = product_titles_ensure()
            say(f"中文标题 Chinese titles: {titles} products translated" if titles else
                "演示数据已完整 the full demo is already loaded: nothing to do")
            return {"stored": stored, "written": {**dict.fromkeys(WRITTEN_KEYS, 0), "titles": titles},
                    "csv_read": False}
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
    written["titles"] = product_titles_ensure()
    clock.done(f"中文标题 Chinese titles: {written['titles']} products of an earlier load translated")
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
                                                    defaults={"name_en": spec.name_en, "position": top_position,
                                                              "colour": CATEGORY_COLOURS[spec.key]})
            if not top.colour:  # a demo loaded before categories had colours
                top.colour = CATEGORY_COLOURS[spec.key]
                top.save(update_fields=["colour"])
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
        words: set[str] = set()
        for planned in missing:
            category = categories[planned.category_key]
            supplier = suppliers[planned.supplier_index]
            title = title_translate(planned.title)[:200]
            fields = _search_fields_of(title=title, source_title=planned.title, category=category)
            words.update(fields.words)
            products.append(Product(
                supplier=supplier, category=category, title=title, status=Product.Status.ACTIVE,
                shipping_template_id=templates[supplier.pk],
                source={"data_set": DATA_SET, "stock_code": planned.code, "title": planned.title,
                        "gbp_modal_price": str(planned.modal_price_gbp), "terms_version": terms_version()},
                search_document=fields.document, search_vector=fields.vector))
        Product.objects.bulk_create(products, batch_size=BATCH_SIZE)
        _search_words_add(words)
        skus = [SKU(product_id=product.pk, code=planned.code, spec_values={}, cost_price=planned.cost_price,
                    suggested_price=planned.suggested_price, floor_price=planned.floor_price,
                    weight_grams=planned.weight_grams) for product, planned in zip(products, missing, strict=True)]
        SKU.objects.bulk_create(skus, batch_size=BATCH_SIZE)
        Stock.objects.bulk_create([Stock(sku_id=sku.pk, available=planned.available, reserved=0, sold=0)
                                   for sku, planned in zip(skus, missing, strict=True)], batch_size=BATCH_SIZE)
        _analyze(Product, SKU, Stock)
        return len(missing)


def _search_fields_of(*, title: str, source_title: str, category: Category) -> SearchFields:
    """What `supply.services.product_search_fields` makes of a product, from the values at hand (no query)."""
    return search_fields(title=title, source_title=source_title,
                         category_names=tuple(name for name in (category.name, category.name_en) if name))


def _search_words_add(words) -> None:
    SearchWord.objects.bulk_create([SearchWord(word=word[:64], stem=stem(word)[:64]) for word in sorted(words)],
                                   ignore_conflicts=True, batch_size=BATCH_SIZE)


def product_titles_ensure() -> int:
    """Demo products whose Chinese title was not made with the current term dictionary (supply/terms/terms.tsv):
    loaded before titles were translated (the English title moves into source["title"]) or translated with an
    earlier version of the dictionary (source["terms_version"]). Their titles are made again, their search fields
    rebuilt, and the demo order lines that show the product's previous title (English or Chinese) show the new
    one. Also indexes any product without a search vector (saved before search vectors existed). Returns how many
    titles were made again; with nothing to do it costs two queries."""
    demo = Product.objects.filter(supplier__name__in=[spec.name for spec in SUPPLIERS], source__data_set=DATA_SET)
    # (a missing key makes the comparison NULL, which exclude() alone would take for "not stale")
    stale = demo.filter(~Q(source__has_key="terms_version") | ~Q(source__terms_version=terms_version()))
    if not stale.exists() and not Product.objects.filter(search_vector__isnull=True).exists():
        return 0
    with transaction.atomic():
        retitled = []  # (id, new title, new source, previous title)
        for product_id, title, source in stale.values_list("pk", "title", "source"):
            english = str(source.get("title") or title)
            retitled.append((product_id, title_translate(english)[:200],
                             {**source, "title": english, "terms_version": terms_version()}, title))
        _update_from_values(model=Product, columns=("title", "source"),
                            assignments="title = v.title, source = v.source::jsonb",
                            rows=[(pk, title, json.dumps(source, ensure_ascii=False))
                                  for pk, title, source, _previous in retitled])
        rows, words = [], set()
        for product in (Product.objects.filter(Q(pk__in=[row[0] for row in retitled]) | Q(search_vector__isnull=True))
                        .select_related("category")):
            fields = _search_fields_of(title=product.title, source_title=str(product.source.get("title", "")),
                                       category=product.category)
            rows.append((product.pk, fields.document, fields.vector))
            words.update(fields.words)
        _update_from_values(model=Product, columns=("document", "vector"),
                            assignments="search_document = v.document, search_vector = v.vector::tsvector", rows=rows)
        _search_words_add(words)
        changed = [(pk, previous) for pk, title, _source, previous in retitled if title != previous]
        if changed:
            lines = connection.ops.quote_name(OrderLine._meta.db_table)
            skus = connection.ops.quote_name(SKU._meta.db_table)
            products = connection.ops.quote_name(Product._meta.db_table)
            with connection.cursor() as cursor:
                execute_values(
                    cursor.cursor,
                    f"UPDATE {lines} SET title = p.title FROM {skus} s JOIN {products} p ON p.id = s.product_id, "  # noqa: S608
                    f"(VALUES %s) AS v(product_id, previous) WHERE p.id = v.product_id AND {lines}.sku_id = s.id "
                    f"AND {lines}.title IN (v.previous, p.source->>'title')", changed, page_size=len(changed))
        _analyze(Product)
        return len(retitled)


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
        # tables of a few rows never reach autovacuum's analyze threshold: give the planner their statistics
        _analyze(Store, StoreStaff, Supplier, Category)
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
        users = [(phone, customer.nickname, Role.SHOPPER.value, UNUSABLE_PASSWORD, customer.joined_at)
                 for phone, customer in phones.items() if phone not in existing]
        _copy_rows(model=User, columns=("phone", "nickname", "role", "password", "date_joined"), rows=users)
        user_ids = dict(User.objects.filter(phone__startswith=CUSTOMER_PHONE_PREFIX).values_list("phone", "id"))
        with_address = set(Address.objects.filter(user__phone__startswith=CUSTOMER_PHONE_PREFIX, is_default=True)
                           .values_list("user_id", flat=True))
        now = timezone.now()
        addresses = []
        for phone, customer in phones.items():
            user_id = user_ids[phone]
            if user_id in with_address:
                continue
            addresses.append((
                user_id, customer.nickname, phone, customer.region_code, PROVINCE_CITIES[customer.region_code], "",
                f"演示路 {customer.customer_id % 200 + 1} 号 (demo address; UCI country: {customer.country})", True,
                now, now))
        _copy_rows(model=Address, columns=("user_id", "recipient", "phone", "region_id", "city", "district", "detail",
                                           "is_default", "created_at", "updated_at"), rows=addresses)
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


class _SkuFacts(NamedTuple):
    """What an order line snapshots from its SKU and product, and the weight its shipment adds up."""

    sku_id: int
    supplier_id: int
    category_id: int
    title: str
    cost_price: Decimal
    weight_grams: int


ZERO_MONEY = Decimal("0.00")
# The COPY column lists, in the order of the row tuples below. Columns not named get their defaults (`_copy_rows`).
ORDER_COLUMNS = ("id", "number", "buyer_id", "store_id", "kind", "idempotency_key", "status", "payment_status",
                 "shipping_status", "after_sale_status", "subtotal", "discount_total", "shipping_fee", "total",
                 "refunded_total", "region_id", "address", "note", "pay_deadline", "paid_at", "shipped_at",
                 "delivered_at", "completed_at", "created_at", "updated_at")
PAYMENT_COLUMNS = ("order_id", "provider", "provider_transaction_id", "amount", "status", "payload", "created_at",
                   "updated_at")
SHIPMENT_COLUMNS = ("id", "order_id", "supplier_id", "status", "shipping_fee", "weight_grams", "carrier",
                    "tracking_number", "shipped_at", "delivered_at", "created_at", "updated_at")
EVENT_COLUMNS = ("kind", "actor_id", "object_type", "object_id", "payload", "created_at")
ORDER_LINE_COLUMNS = ("order_id", "shipment_id", "listing_id", "sku_id", "supplier_id", "title", "sku_code",
                      "spec_values", "category_id", "quantity", "list_price", "unit_price", "cost_price",
                      "line_subtotal", "discount_share", "paid_amount", "refunded_quantity", "refunded_amount")


class _OrderToWrite(NamedTuple):
    """A planned order with everything its rows need: its id, buyer, store and shipments taken in advance."""

    planned: PlannedOrder
    order_id: int
    buyer_id: int
    store_id: int
    shipments: dict[int, tuple[int, int]]  # supplier id -> (shipment id, weight in grams), in supplier order


def orders_ensure(*, plan: DemoPlan, stores: list[Store], suppliers: list[Supplier], progress: bool = False) -> int:
    """Every planned invoice without an order (number D<invoice>) becomes a completed, paid, delivered order with
    one succeeded payment, one delivered shipment per supplier, its lines and one "order_paid" event (history: no
    delivery rows, so no handler reacts to it); the stock of its SKUs counts its units as sold. Refunds come in the
    next phase.

    Orders and shipments take their ids from their sequences in one query each, so every row can be written with
    COPY before the rows it points to exist (the foreign keys are checked at commit)."""
    with transaction.atomic():
        existing = set(Order.objects.filter(idempotency_key__startswith=ORDER_KEY_PREFIX)
                       .values_list("number", flat=True))
        missing = [order for order in plan.orders if order.number not in existing]
        if not missing:
            return 0
        skus = {code: _SkuFacts(sku_id, supplier_id, category_id, title, cost_price, weight)
                for code, sku_id, supplier_id, category_id, title, cost_price, weight in
                SKU.objects.values_list("code", "id", "product__supplier_id", "product__category_id",
                                        "product__title", "cost_price", "weight_grams")}
        listings = {(store_id, sku_id): listing_id for store_id, sku_id, listing_id in
                    Listing.objects.filter(store__in=stores).values_list("store_id", "sku_id", "id")}
        user_ids = dict(User.objects.filter(phone__startswith=CUSTOMER_PHONE_PREFIX).values_list("phone", "id"))

        # Which suppliers ship what weight, per order, in the suppliers' order (shipment numbers follow it).
        supplier_position = {supplier.pk: position for position, supplier in enumerate(suppliers)}
        weights_by_order = []
        for planned in missing:
            weights: dict[int, int] = defaultdict(int)
            for line in planned.lines:
                facts = skus[line.code]
                weights[facts.supplier_id] += facts.weight_grams * line.quantity
            weights_by_order.append(sorted(weights.items(), key=lambda item: supplier_position[item[0]]))
        order_ids = _ids_reserve(model=Order, count=len(missing))
        shipment_ids = iter(_ids_reserve(model=Shipment, count=sum(map(len, weights_by_order))))
        orders = [_OrderToWrite(planned=planned, order_id=order_id,
                                buyer_id=user_ids[plan.customers[planned.customer_id].phone],
                                store_id=stores[planned.store_index].pk,
                                shipments={supplier_id: (next(shipment_ids), grams) for supplier_id, grams in weights})
                  for planned, order_id, weights in zip(missing, order_ids, weights_by_order, strict=True)]

        _copy_rows(model=Order, columns=ORDER_COLUMNS, rows=_order_rows(orders=orders, snapshots=_address_snapshots()))
        _copy_rows(model=Payment, columns=PAYMENT_COLUMNS, rows=_payment_rows(orders=orders))
        _copy_rows(model=Shipment, columns=SHIPMENT_COLUMNS,
                   rows=_shipment_rows(orders=orders, supplier_position=supplier_position))
        _copy_rows(model=BehaviourEvent, columns=EVENT_COLUMNS, rows=_event_rows(orders=orders))
        bar = tqdm(total=len(orders), desc="订单 orders", unit="order", disable=not progress, mininterval=0.5)
        _copy_rows(model=OrderLine, columns=ORDER_LINE_COLUMNS,
                   rows=_order_line_rows(orders=orders, skus=skus, listings=listings, bar=bar))
        bar.close()

        _analyze(Order, Payment, Shipment, OrderLine, BehaviourEvent)
        _stock_sold_add(order_ids=order_ids)
        return len(missing)


def _order_rows(*, orders: list[_OrderToWrite], snapshots: dict) -> Iterator[tuple]:
    for order in orders:
        planned = order.planned
        region_code, snapshot = snapshots[order.buyer_id]
        subtotal = planned.subtotal
        created = planned.created_at
        yield (order.order_id, planned.number, order.buyer_id, order.store_id, Order.Kind.NORMAL.value,
               f"{ORDER_KEY_PREFIX}{planned.invoice}", Order.Status.COMPLETED.value, Order.PaymentStatus.PAID.value,
               Order.ShippingStatus.DELIVERED.value, Order.AfterSaleStatus.NONE.value, subtotal, ZERO_MONEY,
               ZERO_MONEY, subtotal, ZERO_MONEY, region_code, snapshot, f"UCI Online Retail invoice {planned.invoice}",
               created + PAY_WINDOW, created, created + SHIPPED_AFTER, created + DELIVERED_AFTER,
               created + COMPLETED_AFTER, created,
               created + COMPLETED_AFTER)


def _payment_rows(*, orders: list[_OrderToWrite]) -> Iterator[tuple]:
    for order in orders:
        planned = order.planned
        total = planned.subtotal
        yield (order.order_id, PAYMENT_PROVIDER, f"{PAYMENT_PROVIDER}-{planned.invoice}", total,
               Payment.Status.SUCCEEDED.value,
               {"order_number": planned.number, "amount": str(total), "source": "UCI Online Retail"},
               planned.created_at, planned.created_at)


def _shipment_rows(*, orders: list[_OrderToWrite], supplier_position: dict[int, int]) -> Iterator[tuple]:
    for order in orders:
        planned = order.planned
        shipped, delivered = planned.created_at + SHIPPED_AFTER, planned.created_at + DELIVERED_AFTER
        for supplier_id, (shipment_id, grams) in order.shipments.items():
            yield (shipment_id, order.order_id, supplier_id, Shipment.Status.DELIVERED.value, ZERO_MONEY, grams,
                   "演示快递 demo carrier", f"DEMO{planned.invoice}-{supplier_position[supplier_id] + 1}", shipped,
                   delivered, planned.created_at, delivered)


def _event_rows(*, orders: list[_OrderToWrite]) -> Iterator[tuple]:
    for order in orders:
        planned = order.planned
        payload = {"total": str(planned.subtotal), "store_id": order.store_id, "kind": Order.Kind.NORMAL.value,
                   "lines": [[line.code, line.quantity] for line in planned.lines]}
        yield "order_paid", order.buyer_id, "mall.order", str(order.order_id), payload, planned.created_at


def _order_line_rows(*, orders: list[_OrderToWrite], skus: dict[str, _SkuFacts], listings: dict,
                     bar: tqdm) -> Iterator[tuple]:
    for count, order in enumerate(orders, 1):
        for line in order.planned.lines:
            facts = skus[line.code]
            subtotal = line.line_subtotal
            yield (order.order_id, order.shipments[facts.supplier_id][0], listings[(order.store_id, facts.sku_id)],
                   facts.sku_id, facts.supplier_id, facts.title, line.code, {}, facts.category_id, line.quantity,
                   line.unit_price, line.unit_price, facts.cost_price, subtotal, ZERO_MONEY, subtotal, 0, ZERO_MONEY)
        if count % 500 == 0 or count == len(orders):
            bar.update(count - bar.n)


def _stock_sold_add(*, order_ids: list[int]) -> None:
    """The stock of every SKU counts the units of these orders' lines as sold: one UPDATE ... FROM (SELECT SUM)."""
    stock = connection.ops.quote_name(Stock._meta.db_table)
    lines = connection.ops.quote_name(OrderLine._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {stock} SET sold = {stock}.sold + sums.units "  # noqa: S608 (table names from the models)
            f"FROM (SELECT sku_id, SUM(quantity) AS units FROM {lines} WHERE order_id = ANY(%s) GROUP BY sku_id) "
            f"AS sums WHERE {stock}.sku_id = sums.sku_id", [order_ids])


AFTER_SALE_COLUMNS = ("order_id", "line_id", "requester_id", "kind", "quantity", "reason", "status", "refund_amount",
                      "merchant_note", "decided_at", "refunded_at", "created_at", "updated_at")
REFUND_COLUMNS = ("order_id", "payment_id", "amount", "reason", "reference", "status", "provider_refund_id",
                  "succeeded_at", "created_at", "updated_at")


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
            after_sales.append((
                order_id, line_id, buyer_id, AfterSale.Kind.REFUND_ONLY.value, planned.quantity, REFUND_REASON,
                AfterSale.Status.REFUNDED.value, planned.amount, f"UCI cancellation {planned.cancellation_invoice}",
                planned.refunded_at, planned.refunded_at, planned.refunded_at, planned.refunded_at))
            refunds.append((
                order_id, payments[order_id], planned.amount, REFUND_REASON, planned.reference,
                Refund.Status.SUCCEEDED.value, planned.reference, planned.refunded_at, planned.refunded_at,
                planned.refunded_at))

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

        _copy_rows(model=AfterSale, columns=AFTER_SALE_COLUMNS, rows=after_sales)
        _copy_rows(model=Refund, columns=REFUND_COLUMNS, rows=refunds)
        _analyze(AfterSale, Refund)
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
