"""S side: what suppliers own. Stock numbers change only through `supply.services` guarded updates."""
import hashlib
import secrets

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel

MONEY = {"max_digits": 12, "decimal_places": 2}


def new_api_token() -> str:
    return secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    """What is stored of a supplier's API token: its SHA-256 (hex). The token is 256 random bits, so a plain hash
    cannot be reversed by guessing; a leaked table gives no working token."""
    return hashlib.sha256(token.encode()).hexdigest()


def unknown_api_token_hash() -> str:
    """A supplier created without `supplier_onboard` gets the hash of a token nobody was told: it has no working
    token until an operator issues one (`supplier_token_rotate`)."""
    return hash_api_token(new_api_token())


class Region(models.Model):
    """A province-level region of mainland China with its logistics tier (1 = core, 3 = remote)."""

    code = models.CharField("行政区划代码 code", max_length=6, primary_key=True)
    name = models.CharField("名称 name", max_length=32)
    name_en = models.CharField("英文名 English name", max_length=64)
    tier = models.PositiveSmallIntegerField("区域等级 tier", default=2)

    class Meta:
        verbose_name = "区域 region"
        verbose_name_plural = "区域 regions"
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=Q(tier__gte=1, tier__lte=3), name="region_tier_1_to_3")]

    def __str__(self) -> str:
        return self.name


class Supplier(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "合作中 active"
        SUSPENDED = "suspended", "已暂停 suspended"

    name = models.CharField("公司名称 company", max_length=128, unique=True)
    contact_name = models.CharField("联系人 contact", max_length=64, blank=True, default="")
    contact_phone = models.CharField("联系电话 phone", max_length=32, blank=True, default="")
    status = models.CharField("状态 status", max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Only the hash: the token itself is shown once, when it is issued (supply.services.supplier_token_rotate).
    api_token_hash = models.CharField("接口令牌摘要 API token SHA-256", max_length=64, unique=True,
                                      default=unknown_api_token_hash, editable=False)
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="supplier_memberships",
                                   verbose_name="员工 staff")

    class Meta:
        verbose_name = "供应商 supplier"
        verbose_name_plural = "供应商 suppliers"

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    """The product category tree shared by suppliers' products and the storefront."""

    name = models.CharField("名称 name", max_length=64)
    name_en = models.CharField("英文名 English name", max_length=64, blank=True, default="")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name="上级 parent")
    position = models.PositiveIntegerField("排序 position", default=0)
    # The background of its products' generated pictures; empty = the parent's colour (supply/imaging.py).
    colour = models.CharField("颜色 colour", max_length=7, blank=True, default="",
                              validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "如 #C0392B (e.g. #C0392B)")],
                              help_text="生成的商品示意图的底色，留空则用上级类目的颜色 (background of generated "
                                        "pictures; empty = the parent's)")

    class Meta:
        verbose_name = "商品类目 category"
        verbose_name_plural = "商品类目 categories"
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["parent", "name"], name="category_name_unique_in_parent")]

    def __str__(self) -> str:
        return self.name


class ShippingTemplate(TimeStampedModel):
    """Per-region fees: first weight + fee, each extra weight + fee, free above a threshold."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="shipping_templates",
                                 verbose_name="供应商 supplier")
    name = models.CharField("名称 name", max_length=64)

    class Meta:
        verbose_name = "运费模板 shipping template"
        verbose_name_plural = "运费模板 shipping templates"

    def __str__(self) -> str:
        return f"{self.supplier} · {self.name}"


class ShippingRate(models.Model):
    """One rule of a template. It applies to the listed province codes, else to a tier, else it is the default
    (no provinces, no tier)."""

    template = models.ForeignKey(ShippingTemplate, on_delete=models.CASCADE, related_name="rates",
                                 verbose_name="模板 template")
    region_codes = models.JSONField("省份代码 province codes", default=list, blank=True)
    tier = models.PositiveSmallIntegerField("区域等级 tier", null=True, blank=True)
    first_weight_grams = models.PositiveIntegerField("首重(克) first weight g", default=1000)
    first_fee = models.DecimalField("首重运费 first fee", **MONEY)
    extra_weight_grams = models.PositiveIntegerField("续重单位(克) extra weight step g", default=1000)
    extra_fee = models.DecimalField("续重运费 extra fee", **MONEY)
    free_threshold = models.DecimalField("包邮门槛 free above", null=True, blank=True, **MONEY)

    class Meta:
        verbose_name = "运费规则 shipping rate"
        verbose_name_plural = "运费规则 shipping rates"
        constraints = [
            models.CheckConstraint(condition=Q(first_fee__gte=0, extra_fee__gte=0), name="shipping_fees_not_negative"),
            models.CheckConstraint(condition=Q(extra_weight_grams__gt=0), name="shipping_extra_step_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.template.name}: {self.region_codes or self.tier or '默认'}"


class Product(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "草稿 draft"
        ACTIVE = "active", "在售 active"
        INACTIVE = "inactive", "停售 inactive"

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="products",
                                 verbose_name="供应商 supplier")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products",
                                 verbose_name="类目 category")
    title = models.CharField("标题 title", max_length=200)
    description = models.TextField("描述 description", blank=True, default="")
    attributes = models.JSONField("属性 attributes", default=dict, blank=True,
                                  help_text="展示给顾客的属性 attributes shoppers see (材质, 产地...)")
    # Where the row came from (an import's record: data set, original code, original title...): for operators and
    # suppliers, never sent to shoppers.
    source = models.JSONField("来源记录 source record", default=dict, blank=True, editable=False)
    status = models.CharField("状态 status", max_length=16, choices=Status.choices, default=Status.ACTIVE)
    shipping_template = models.ForeignKey(ShippingTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="products", verbose_name="运费模板 shipping template")
    # What search finds the product by (supply.search): the plain text for trigram similarity and the weighted
    # full-text vector (jieba words, English stems, the term dictionary's synonyms), kept up to date by the
    # services and the demo loader.
    search_document = models.TextField(blank=True, default="", editable=False, verbose_name="搜索文本 search text")
    search_vector = SearchVectorField(null=True, blank=True, editable=False, verbose_name="搜索向量 search vector")

    class Meta:
        verbose_name = "商品 product"
        verbose_name_plural = "商品 products"
        indexes = [GinIndex(fields=["search_document"], name="product_search_trgm", opclasses=["gin_trgm_ops"]),
                   GinIndex(fields=["search_vector"], name="product_search_vector")]

    def __str__(self) -> str:
        return self.title


class SearchWord(models.Model):
    """The English words products are found by, for typo tolerance: a query word no product has ("christmass",
    "candel") is matched to the most similar words here by trigram similarity (pg_trgm), and their stems are
    searched instead. Only grows (a word no product has any more just matches nothing)."""

    word = models.CharField("词 word", max_length=64, primary_key=True)
    stem = models.CharField("词干 stem", max_length=64, db_index=True)

    class Meta:
        verbose_name = "搜索词 search word"
        verbose_name_plural = "搜索词 search words"
        indexes = [GinIndex(fields=["word"], name="search_word_trgm", opclasses=["gin_trgm_ops"])]

    def __str__(self) -> str:
        return self.word


class ProductImage(TimeStampedModel):
    """One picture of a product, in display order (`position`, then id).

    Three kinds: an upload (a supplier's picture, checked and normalised by `supply.imaging`: EXIF orientation
    applied, metadata stripped), a generated picture (`is_generated`: the category's colour with the title drawn on
    it, a placeholder until the supplier uploads one), or an external URL (`external_url`: what the old
    `Product.image_urls` held, moved here by migration 0007; no file, no thumbnails, size unknown). Files go through
    Django's storage API only (`STORAGES["default"]`); every stored name holds a fresh random token, so a name is
    never reused. What shoppers get is `mall.api.serializers.ProductImageOutput`: URLs, size, alt text and the
    generated flag, never a storage name, a hash or the drawn title."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images",
                                verbose_name="商品 product")
    position = models.PositiveIntegerField("排序 position", default=0)
    file = models.FileField("图片 picture", max_length=255, blank=True, default="")
    thumbnail_medium = models.FileField("详情图 detail thumbnail", max_length=255, blank=True, default="")
    thumbnail_small = models.FileField("列表图 list thumbnail", max_length=255, blank=True, default="")
    external_url = models.URLField("外部图片地址 external URL", max_length=500, blank=True, default="")
    width = models.PositiveIntegerField("宽(像素) width px", null=True, blank=True)
    height = models.PositiveIntegerField("高(像素) height px", null=True, blank=True)
    size_bytes = models.PositiveIntegerField("文件大小(字节) bytes", default=0)
    content_type = models.CharField("文件类型 content type", max_length=32, blank=True, default="")
    # SHA-256 (hex) of the file as uploaded (or as generated): the same file twice on one product is one picture.
    content_hash = models.CharField("内容摘要 content SHA-256", max_length=64, blank=True, default="")
    is_generated = models.BooleanField("系统生成 generated", default=False)
    alt_text = models.CharField("图片说明 alt text", max_length=200, blank=True, default="")
    # A generated picture records what it shows, so a changed title or category colour can be redrawn.
    drawn_title = models.CharField("生成时的标题 drawn title", max_length=200, blank=True, default="")
    drawn_colour = models.CharField("生成时的颜色 drawn colour", max_length=7, blank=True, default="")

    class Meta:
        verbose_name = "商品图片 product image"
        verbose_name_plural = "商品图片 product images"
        ordering = ["position", "pk"]
        indexes = [models.Index(fields=["product", "position"], name="product_image_order_idx")]
        constraints = [
            models.UniqueConstraint(fields=["product", "content_hash"], condition=~Q(content_hash=""),
                                    name="product_image_once"),
            models.UniqueConstraint(fields=["product"], condition=Q(is_generated=True),
                                    name="product_one_generated_image"),
            models.CheckConstraint(condition=(~Q(file="") & Q(external_url=""))
                                   | (Q(file="") & ~Q(external_url="") & Q(is_generated=False)),
                                   name="product_image_file_or_external_url"),
        ]

    def __str__(self) -> str:
        return self.alt_text or f"{self.product_id} #{self.position}"


class SKU(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus", verbose_name="商品 product")
    code = models.CharField("规格编码 SKU code", max_length=64, unique=True)
    spec_values = models.JSONField("规格 spec values", default=dict, blank=True)
    cost_price = models.DecimalField("供货价 supplier cost", **MONEY)
    suggested_price = models.DecimalField("建议零售价 suggested retail price", **MONEY)
    floor_price = models.DecimalField("最低售价 lowest resale price", **MONEY)
    weight_grams = models.PositiveIntegerField("重量(克) weight g", default=0)

    class Meta:
        verbose_name = "规格 SKU"
        verbose_name_plural = "规格 SKUs"
        constraints = [
            models.CheckConstraint(condition=Q(cost_price__gte=0), name="sku_cost_not_negative"),
            models.CheckConstraint(condition=Q(floor_price__gte=models.F("cost_price")), name="sku_floor_covers_cost"),
            models.CheckConstraint(condition=Q(suggested_price__gte=models.F("floor_price")),
                                   name="sku_suggested_not_below_floor"),
        ]

    def __str__(self) -> str:
        specs = " / ".join(str(v) for v in self.spec_values.values())
        return f"{self.code} {specs}".strip()


class Stock(models.Model):
    """available + reserved + sold. Changed only by conditional UPDATEs in supply.services (never read-modify-save)."""

    sku = models.OneToOneField(SKU, on_delete=models.CASCADE, related_name="stock", primary_key=True,
                               verbose_name="规格 SKU")
    available = models.IntegerField("可用 available", default=0)
    reserved = models.IntegerField("锁定 reserved", default=0)
    sold = models.IntegerField("已售 sold", default=0)
    synced_as_of = models.DateTimeField("最近同步时间 last sync as of", null=True, blank=True)

    class Meta:
        verbose_name = "库存 stock"
        verbose_name_plural = "库存 stock"
        constraints = [
            models.CheckConstraint(condition=Q(available__gte=0), name="stock_available_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(condition=Q(sold__gte=0), name="stock_sold_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id}: {self.available}/{self.reserved}/{self.sold}"


class StockMovement(models.Model):
    class Kind(models.TextChoices):
        RESERVE = "reserve", "下单锁定 reserve"
        RELEASE = "release", "取消释放 release"
        CONSUME = "consume", "支付扣减 consume"
        SYNC = "sync", "供应商同步 sync"
        RESTOCK = "restock", "退货入库 restock"
        ADJUST = "adjust", "人工调整 adjust"

    sku = models.ForeignKey(SKU, on_delete=models.CASCADE, related_name="stock_movements", verbose_name="规格 SKU")
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name="类型 kind")
    available_delta = models.IntegerField(default=0, verbose_name="可用变化 available change")
    reserved_delta = models.IntegerField(default=0, verbose_name="锁定变化 reserved change")
    sold_delta = models.IntegerField(default=0, verbose_name="已售变化 sold change")
    reference = models.CharField("关联单据 reference", max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name="创建时间 created")

    class Meta:
        verbose_name = "库存流水 stock movement"
        verbose_name_plural = "库存流水 stock movements"
        indexes = [models.Index(fields=["sku", "created_at"], name="stock_movement_sku_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.sku_id} {self.reference}"


class PricingRule(TimeStampedModel):
    """A supplier's regional price: for one SKU (or all of its SKUs), in a province or a tier, a fixed price or a
    multiplier of the listing price, within a validity window. Applied at checkout from the shipping address."""

    class Mode(models.TextChoices):
        PRICE = "price", "固定价 fixed price"
        MULTIPLIER = "multiplier", "倍率 multiplier"

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="pricing_rules",
                                 verbose_name="供应商 supplier")
    sku = models.ForeignKey(SKU, null=True, blank=True, on_delete=models.CASCADE, related_name="pricing_rules",
                            verbose_name="规格 SKU")
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                               verbose_name="区域 region")
    tier = models.PositiveSmallIntegerField("区域等级 tier", null=True, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, verbose_name="方式 mode")
    value = models.DecimalField("价格或倍率 price or multiplier", max_digits=12, decimal_places=4)
    valid_from = models.DateTimeField("生效 from", null=True, blank=True)
    valid_to = models.DateTimeField("失效 to", null=True, blank=True)

    class Meta:
        verbose_name = "区域定价 regional pricing rule"
        verbose_name_plural = "区域定价 regional pricing rules"
        constraints = [
            models.CheckConstraint(condition=Q(region__isnull=False) | Q(tier__isnull=False),
                                   name="pricing_rule_targets_region_or_tier"),
            models.CheckConstraint(condition=Q(value__gt=0), name="pricing_rule_value_positive"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_from__isnull=True)
                                   | Q(valid_to__gt=models.F("valid_from")), name="pricing_rule_window_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.sku or self.supplier} @ {self.region or f'tier {self.tier}'}: {self.mode} {self.value}"


class InventorySyncBatch(models.Model):
    """One call of the inventory sync API, keyed by the supplier's batch id: a retried call returns this result."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="sync_batches",
                                 verbose_name="供应商 supplier")
    batch_id = models.CharField(max_length=64, verbose_name="批次号 batch id")
    received_at = models.DateTimeField(auto_now_add=True, verbose_name="接收时间 received")
    row_count = models.PositiveIntegerField(default=0, verbose_name="行数 rows")
    result = models.JSONField(default=dict, verbose_name="结果 result")

    class Meta:
        verbose_name = "库存同步批次 inventory sync batch"
        verbose_name_plural = "库存同步批次 inventory sync batches"
        constraints = [models.UniqueConstraint(fields=["supplier", "batch_id"], name="sync_batch_once")]

    def __str__(self) -> str:
        return f"{self.supplier} #{self.batch_id}"
