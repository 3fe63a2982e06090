"""B and C side: stores, listings, carts, orders with four status axes, payments, coupons, group-buys, bargains,
after-sales. Every status change goes through `mall.services.orders.order_transition` (orders) or a conditional
UPDATE in the owning service (teams, sessions, coupons)."""
from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import TimeStampedModel
from supply.models import MONEY, SKU, Category, Region, Supplier


class Store(TimeStampedModel):
    class Status(models.TextChoices):
        OPEN = "open", "营业中 open"
        CLOSED = "closed", "已关闭 closed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_stores",
                              verbose_name="店主 owner")
    name = models.CharField("店铺名称 name", max_length=128)
    description = models.TextField("简介 description", blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, verbose_name="状态 status")
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, through="StoreStaff", related_name="stores",
                                   verbose_name="员工 staff")

    class Meta:
        verbose_name = "店铺 store"
        verbose_name_plural = "店铺 stores"

    def __str__(self) -> str:
        return self.name


class StoreStaff(models.Model):
    class Role(models.TextChoices):
        MANAGER = "manager", "店长 manager"
        SALES_REP = "sales_rep", "导购 sales rep"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="memberships", verbose_name="店铺 store")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_memberships",
                             verbose_name="用户 user")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.SALES_REP, verbose_name="角色 role")

    class Meta:
        verbose_name = "店铺员工 store staff"
        verbose_name_plural = "店铺员工 store staff"
        constraints = [models.UniqueConstraint(fields=["store", "user"], name="store_staff_once")]

    def __str__(self) -> str:
        return f"{self.store} · {self.user}"


class Listing(TimeStampedModel):
    """A store's offer of one supplier SKU at its own price (never below the SKU's floor: checked by the service)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "在售 active"
        INACTIVE = "inactive", "下架 inactive"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="listings", verbose_name="店铺 store")
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="listings", verbose_name="规格 SKU")
    price = models.DecimalField("售价 price", **MONEY)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name="状态 status")
    # 销量 of this store's offer: units of its paid orders, counted by the batch consumer mall.listing_sales (off
    # the checkout path, exactly once per order_paid event); the SKU's stock counts what every store sold.
    sold_count = models.PositiveIntegerField("销量 units sold", default=0, editable=False)

    class Meta:
        verbose_name = "上架商品 listing"
        verbose_name_plural = "上架商品 listings"
        constraints = [
            models.UniqueConstraint(fields=["store", "sku"], name="listing_once_per_store"),
            models.CheckConstraint(condition=Q(price__gt=0), name="listing_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.store} · {self.sku.product.title}"


class Address(TimeStampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses",
                             verbose_name="用户 user")
    recipient = models.CharField("收件人 recipient", max_length=64)
    phone = models.CharField("电话 phone", max_length=20)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name="省份 province")
    city = models.CharField("城市 city", max_length=64)
    district = models.CharField("区县 district", max_length=64, blank=True, default="")
    detail = models.CharField("详细地址 detail", max_length=255)
    is_default = models.BooleanField("默认 default", default=False)

    class Meta:
        verbose_name = "收货地址 address"
        verbose_name_plural = "收货地址 addresses"
        constraints = [models.UniqueConstraint(fields=["user"], condition=Q(is_default=True),
                                               name="one_default_address_per_user")]

    def __str__(self) -> str:
        return f"{self.recipient} {self.region} {self.city} {self.detail}"


class CartItem(TimeStampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cart_items",
                             verbose_name="用户 user")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="+", verbose_name="上架商品 listing")
    quantity = models.PositiveIntegerField(verbose_name="数量 quantity")

    class Meta:
        verbose_name = "购物车 cart item"
        verbose_name_plural = "购物车 cart items"
        constraints = [
            models.UniqueConstraint(fields=["user", "listing"], name="cart_item_once"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cart_quantity_positive"),
        ]


# --- coupons ----------------------------------------------------------------------------------------------------
class CouponTemplate(TimeStampedModel):
    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "满减 amount off above a threshold"
        PERCENTAGE = "percentage", "折扣 percentage off with a cap"
        NO_THRESHOLD = "no_threshold", "无门槛 amount off"

    class Scope(models.TextChoices):
        ALL = "all", "全店 everything"
        CATEGORY = "category", "指定类目 categories"
        LISTINGS = "listings", "指定商品 listings"

    class Validity(models.TextChoices):
        FIXED = "fixed", "固定时间段 fixed window"
        RELATIVE = "relative", "领取后 N 天 N days from claim"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="coupon_templates",
                              verbose_name="店铺 store")
    name = models.CharField("名称 name", max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name="类型 kind")
    amount_off = models.DecimalField("减免金额 amount off", null=True, blank=True, **MONEY)
    threshold = models.DecimalField("使用门槛 threshold", default=0, **MONEY)
    percent_off = models.PositiveSmallIntegerField("折扣百分比 percent off", null=True, blank=True)
    max_discount = models.DecimalField("最高优惠 cap", null=True, blank=True, **MONEY)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL, verbose_name="适用范围 scope")
    categories = models.ManyToManyField(Category, blank=True, related_name="+", verbose_name="适用类目 categories")
    listings = models.ManyToManyField(Listing, blank=True, related_name="+", verbose_name="适用商品 listings")
    per_user_limit = models.PositiveSmallIntegerField("每人限领 per user", default=1)
    total_quantity = models.PositiveIntegerField("发放总量 total")
    claimed_count = models.PositiveIntegerField("已领取 claimed", default=0)
    validity = models.CharField(max_length=16, choices=Validity.choices, default=Validity.FIXED,
                                verbose_name="有效期方式 validity")
    valid_from = models.DateTimeField(null=True, blank=True, verbose_name="生效时间 valid from")
    valid_to = models.DateTimeField(null=True, blank=True, verbose_name="失效时间 valid to")
    valid_days = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name="有效天数 valid days")
    is_active = models.BooleanField(default=True, verbose_name="启用 active")

    class Meta:
        verbose_name = "优惠券模板 coupon template"
        verbose_name_plural = "优惠券模板 coupon templates"
        constraints = [
            models.CheckConstraint(condition=Q(claimed_count__lte=F("total_quantity")), name="coupon_not_over_issued"),
            models.CheckConstraint(
                condition=(Q(kind="percentage", percent_off__gte=1, percent_off__lte=99)
                           | (Q(kind__in=["threshold", "no_threshold"]) & Q(amount_off__gt=0))),
                name="coupon_kind_has_its_value"),
            models.CheckConstraint(
                condition=(Q(validity="fixed", valid_from__isnull=False, valid_to__isnull=False)
                           | Q(validity="relative", valid_days__gte=1)),
                name="coupon_validity_complete"),
        ]

    def __str__(self) -> str:
        return self.name


class UserCoupon(TimeStampedModel):
    class Status(models.TextChoices):
        AVAILABLE = "available", "可用 available"
        LOCKED = "locked", "已锁定 locked by an unpaid order"
        USED = "used", "已使用 used"

    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="issued",
                                 verbose_name="模板 template")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coupons",
                             verbose_name="用户 user")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE,
                              verbose_name="状态 status")
    valid_from = models.DateTimeField(verbose_name="生效时间 valid from")
    valid_to = models.DateTimeField(verbose_name="失效时间 valid to")
    order = models.ForeignKey("Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name="订单 order")
    used_at = models.DateTimeField(null=True, blank=True, verbose_name="使用时间 used at")

    class Meta:
        verbose_name = "用户优惠券 claimed coupon"
        verbose_name_plural = "用户优惠券 claimed coupons"
        indexes = [models.Index(fields=["user", "status"], name="user_coupon_status_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(status="available", order__isnull=True)
                                   | Q(status__in=["locked", "used"], order__isnull=False),
                                   name="coupon_order_matches_status"),
        ]

    def __str__(self) -> str:
        return f"{self.template} → {self.user}"


# --- orders -----------------------------------------------------------------------------------------------------
class Order(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "待支付 awaiting payment"
        GROUPING = "grouping", "拼团中 waiting for the team"
        PAID = "paid", "待发货 paid"
        SHIPPED = "shipped", "已发货 shipped"
        DELIVERED = "delivered", "已签收 delivered"
        COMPLETED = "completed", "已完成 completed"
        CANCELLED = "cancelled", "已取消 cancelled"
        CLOSED = "closed", "已关闭(全额退款) closed after full refund"

    class PaymentStatus(models.TextChoices):
        UNPAID = "unpaid", "未支付 unpaid"
        PAID = "paid", "已支付 paid"
        PARTIALLY_REFUNDED = "partially_refunded", "部分退款 partially refunded"
        REFUNDED = "refunded", "已退款 refunded"

    class ShippingStatus(models.TextChoices):
        NOT_SHIPPED = "not_shipped", "未发货 not shipped"
        PARTIALLY_SHIPPED = "partially_shipped", "部分发货 partially shipped"
        SHIPPED = "shipped", "已发货 shipped"
        DELIVERED = "delivered", "已签收 delivered"

    class AfterSaleStatus(models.TextChoices):
        NONE = "none", "无 none"
        IN_PROGRESS = "in_progress", "售后中 in progress"
        PARTIALLY_REFUNDED = "partially_refunded", "部分退款 partially refunded"
        REFUNDED = "refunded", "全额退款 refunded"

    class Kind(models.TextChoices):
        NORMAL = "normal", "普通 normal"
        GROUP_BUY = "group_buy", "拼团 group-buy"
        BARGAIN = "bargain", "砍价 bargain"

    number = models.CharField("订单号 number", max_length=32, unique=True)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders",
                              verbose_name="买家 buyer")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="orders", verbose_name="店铺 store")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NORMAL, verbose_name="类型 kind")
    idempotency_key = models.CharField(max_length=64, verbose_name="幂等键 idempotency key")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT,
                              verbose_name="状态 status")
    payment_status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID,
                                      verbose_name="支付状态 payment")
    shipping_status = models.CharField(max_length=20, choices=ShippingStatus.choices,
                                       default=ShippingStatus.NOT_SHIPPED, verbose_name="物流状态 shipping")
    after_sale_status = models.CharField(max_length=20, choices=AfterSaleStatus.choices,
                                         default=AfterSaleStatus.NONE, verbose_name="售后状态 after-sale")
    currency = models.CharField(max_length=3, default="CNY", verbose_name="币种 currency")
    subtotal = models.DecimalField("商品金额 subtotal", **MONEY)
    discount_total = models.DecimalField("优惠 discount", default=0, **MONEY)
    shipping_fee = models.DecimalField("运费 shipping", default=0, **MONEY)
    total = models.DecimalField("应付 total payable", **MONEY)
    refunded_total = models.DecimalField("已退款 refunded", default=0, **MONEY)
    coupon = models.ForeignKey(UserCoupon, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name="优惠券 coupon")
    # Snapshot of the checkout adjustments other apps applied (member privileges, points), each {source, label,
    # goods_off, shipping_off, data}: their amounts are in discount_total and the lines' discount_share already.
    adjustments = models.JSONField("其他优惠明细 adjustments (member privileges, points)", default=list, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name="区域 region")
    address = models.JSONField("收货地址快照 address snapshot")
    note = models.CharField("备注 note", max_length=200, blank=True, default="")
    pay_deadline = models.DateTimeField("支付截止 pay by")
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name="支付时间 paid at")
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name="取消时间 cancelled at")
    shipped_at = models.DateTimeField("发货完成 shipped", null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name="签收时间 delivered at")
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name="完成时间 completed at")

    class Meta:
        verbose_name = "订单 order"
        verbose_name_plural = "订单 orders"
        indexes = [
            models.Index(fields=["buyer", "-created_at"], name="order_buyer_time_idx"),
            models.Index(fields=["store", "-created_at"], name="order_store_time_idx"),
            models.Index(fields=["pay_deadline"], name="order_unpaid_deadline_idx",
                         condition=Q(status="pending_payment")),
            models.Index(fields=["delivered_at"], name="order_delivered_idx", condition=Q(status="delivered")),
            models.Index(fields=["shipped_at"], name="order_awaiting_receipt_idx",
                         condition=Q(status__in=["shipped", "delivered"])),
            # The dashboards' periods: orders paid between two instants (mall/dashboards.py).
            models.Index(fields=["paid_at"], name="order_paid_at_idx", condition=Q(paid_at__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["buyer", "idempotency_key"], name="order_submit_once"),
            models.CheckConstraint(condition=Q(total__gte=0, subtotal__gte=0, discount_total__gte=0,
                                               shipping_fee__gte=0), name="order_amounts_not_negative"),
            models.CheckConstraint(condition=Q(total=F("subtotal") - F("discount_total") + F("shipping_fee")),
                                   name="order_total_adds_up"),
            models.CheckConstraint(condition=Q(refunded_total__gte=0, refunded_total__lte=F("total")),
                                   name="order_refund_within_paid"),
        ]

    def __str__(self) -> str:
        return self.number


class Shipment(TimeStampedModel):
    """The part of an order one supplier ships (拆单: one shipment per supplier)."""

    class Status(models.TextChoices):
        PENDING = "pending", "待发货 pending"
        SHIPPED = "shipped", "已发货 shipped"
        DELIVERED = "delivered", "已签收 delivered"
        CANCELLED = "cancelled", "无需发货(已退款) nothing left to ship: refunded"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments", verbose_name="订单 order")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="shipments",
                                 verbose_name="供应商 supplier")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name="状态 status")
    shipping_fee = models.DecimalField(default=0, **MONEY, verbose_name="运费 shipping fee")
    weight_grams = models.PositiveIntegerField(default=0, verbose_name="重量(克) weight (g)")
    carrier = models.CharField("快递公司 carrier", max_length=64, blank=True, default="")
    tracking_number = models.CharField("运单号 tracking number", max_length=64, blank=True, default="")
    shipped_at = models.DateTimeField(null=True, blank=True, verbose_name="发货时间 shipped at")
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name="签收时间 delivered at")
    tracking_state = models.CharField("物流状态 carrier state", max_length=32, blank=True, default="")
    tracking_context = models.CharField("最新物流信息 latest carrier message", max_length=255, blank=True, default="")
    tracking_updated_at = models.DateTimeField("物流更新 carrier update time", null=True, blank=True)

    class Meta:
        verbose_name = "发货单 shipment"
        verbose_name_plural = "发货单 shipments"
        constraints = [models.UniqueConstraint(fields=["order", "supplier"], name="shipment_per_supplier")]
        indexes = [models.Index(fields=["tracking_number"], name="shipment_tracking_number_idx",
                                condition=~Q(tracking_number=""))]

    def __str__(self) -> str:
        return f"{self.order_id} · {self.supplier}"


class OrderLine(models.Model):
    """Everything priced is snapshotted here at submission; later price changes do not touch placed orders."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name="订单 order")
    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="lines",
                                 verbose_name="发货单 shipment")
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="+", verbose_name="上架商品 listing")
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="+", verbose_name="规格 SKU")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="order_lines",
                                 verbose_name="供应商 supplier")
    title = models.CharField(max_length=200, verbose_name="标题 title")
    sku_code = models.CharField(max_length=64, verbose_name="规格编码 SKU code")
    spec_values = models.JSONField(default=dict, verbose_name="规格 spec values")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+", verbose_name="类目 category")
    quantity = models.PositiveIntegerField(verbose_name="数量 quantity")
    list_price = models.DecimalField("标价 listing price", **MONEY)
    unit_price = models.DecimalField("成交单价 unit price (regional)", **MONEY)
    cost_price = models.DecimalField("供货价 supplier cost", **MONEY)
    line_subtotal = models.DecimalField(**MONEY, verbose_name="小计 subtotal")
    discount_share = models.DecimalField("分摊优惠 coupon share", default=0, **MONEY)
    paid_amount = models.DecimalField("实付 paid", **MONEY)
    refunded_quantity = models.PositiveIntegerField(default=0, verbose_name="已退数量 refunded units")
    refunded_amount = models.DecimalField(default=0, **MONEY, verbose_name="已退金额 refunded amount")

    class Meta:
        verbose_name = "订单明细 order line"
        verbose_name_plural = "订单明细 order lines"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive"),
            models.CheckConstraint(condition=Q(paid_amount=F("line_subtotal") - F("discount_share")),
                                   name="order_line_paid_adds_up"),
            models.CheckConstraint(condition=Q(refunded_quantity__lte=F("quantity")),
                                   name="order_line_refund_quantity_within"),
            models.CheckConstraint(condition=Q(refunded_amount__gte=0), name="order_line_refund_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.title} × {self.quantity}"


class OrderEvent(models.Model):
    """Every status change of an order, on whichever axis: the audit trail written by order_transition."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name="订单 order")
    axis = models.CharField(max_length=20, verbose_name="维度 axis")
    from_state = models.CharField(max_length=20, verbose_name="原状态 from")
    to_state = models.CharField(max_length=20, verbose_name="新状态 to")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name="操作人 actor")
    reason = models.CharField(max_length=200, blank=True, default="", verbose_name="原因 reason")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name="创建时间 created")

    class Meta:
        verbose_name = "订单事件 order event"
        verbose_name_plural = "订单事件 order events"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.axis}: {self.from_state} → {self.to_state}"


class Payment(TimeStampedModel):
    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "成功 succeeded"
        RETURNED = "returned", "已退回(迟到或重复) late or duplicate: sent back"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments", verbose_name="订单 order")
    provider = models.CharField(max_length=32, verbose_name="支付渠道 provider")
    provider_transaction_id = models.CharField(max_length=64, verbose_name="渠道交易号 provider transaction id")
    amount = models.DecimalField(**MONEY, verbose_name="金额 amount")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUCCEEDED,
                              verbose_name="状态 status")
    payload = models.JSONField(default=dict, verbose_name="内容 payload")

    class Meta:
        verbose_name = "支付 payment"
        verbose_name_plural = "支付 payments"
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_transaction_id"], name="payment_callback_once"),
            models.UniqueConstraint(fields=["order"], condition=Q(status="succeeded"), name="order_paid_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_transaction_id}"


class Refund(TimeStampedModel):
    """Money going back through the provider that took it. Written `pending` in the transaction that books it;
    `mall.services.refunds.refund_send` (a task after commit, and a sweep) calls the provider outside any
    transaction and records `succeeded` or `failed`; an operator may retry a failed one."""

    class Status(models.TextChoices):
        PENDING = "pending", "处理中 pending"
        SUCCEEDED = "succeeded", "成功 succeeded"
        FAILED = "failed", "失败(待人工处理) failed: needs an operator"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name="订单 order")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name="支付 payment")
    amount = models.DecimalField(**MONEY, verbose_name="金额 amount")
    reason = models.CharField(max_length=200, verbose_name="原因 reason")
    reference = models.CharField("幂等键 idempotency reference", max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name="状态 status")
    provider_refund_id = models.CharField(max_length=64, blank=True, default="",
                                          verbose_name="渠道退款号 provider refund id")
    attempts = models.PositiveSmallIntegerField("尝试次数 attempts", default=0)
    attempted_at = models.DateTimeField("最近尝试 last attempt", null=True, blank=True)
    last_error = models.TextField("最近错误 last error", blank=True, default="")
    succeeded_at = models.DateTimeField("退款成功 succeeded", null=True, blank=True)

    class Meta:
        verbose_name = "退款 refund"
        verbose_name_plural = "退款 refunds"
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]
        indexes = [models.Index(fields=["created_at"], name="refund_pending_idx", condition=Q(status="pending"))]

    def __str__(self) -> str:
        return f"{self.order} −{self.amount}"


# --- group-buy (拼团) --------------------------------------------------------------------------------------------
class GroupBuyCampaign(TimeStampedModel):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="group_buy_campaigns",
                                verbose_name="上架商品 listing")
    team_price = models.DecimalField("拼团价 team price", **MONEY)
    team_size = models.PositiveSmallIntegerField("成团人数 team size")
    window_hours = models.PositiveSmallIntegerField("成团时限(小时) hours to fill", default=24)
    per_user_limit = models.PositiveSmallIntegerField("每人限购件数 units per person", default=1)
    starts_at = models.DateTimeField(verbose_name="开始时间 starts at")
    ends_at = models.DateTimeField(verbose_name="结束时间 ends at")
    is_active = models.BooleanField(default=True, verbose_name="启用 active")
    earns_commission = models.BooleanField("参与分销佣金 earns distribution commission", default=False,
                                           help_text="拼团价订单默认不计分销佣金 team-price orders earn no rebate "
                                                     "unless this is set")

    class Meta:
        verbose_name = "拼团活动 group-buy campaign"
        verbose_name_plural = "拼团活动 group-buy campaigns"
        constraints = [
            models.CheckConstraint(condition=Q(team_size__gte=2), name="group_buy_team_of_two_or_more"),
            models.CheckConstraint(condition=Q(team_price__gt=0), name="group_buy_price_positive"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="group_buy_window_ordered"),
            models.CheckConstraint(condition=Q(window_hours__gte=1), name="group_buy_window_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.listing} · {self.team_size}人团"


class GroupBuyTeam(TimeStampedModel):
    """A team. `seats_taken` counts members holding a seat (paid or within their pay window); a conditional
    UPDATE keeps it <= team size, so concurrent joins never overfill the team."""

    class Status(models.TextChoices):
        OPENING = "opening", "待开团 leader has not paid"
        OPEN = "open", "拼团中 open"
        SUCCEEDED = "succeeded", "拼团成功 succeeded"
        FAILED = "failed", "拼团失败 failed"

    campaign = models.ForeignKey(GroupBuyCampaign, on_delete=models.PROTECT, related_name="teams",
                                 verbose_name="活动 campaign")
    leader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name="团长 leader")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPENING, verbose_name="状态 status")
    team_size = models.PositiveSmallIntegerField(verbose_name="成团人数 team size")
    seats_taken = models.PositiveSmallIntegerField(default=0, verbose_name="已占名额 seats taken")
    paid_members = models.PositiveSmallIntegerField(default=0, verbose_name="已付成员 paid members")
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name="过期时间 expires at")
    succeeded_at = models.DateTimeField(null=True, blank=True, verbose_name="成功时间 succeeded at")

    class Meta:
        verbose_name = "拼团队伍 group-buy team"
        verbose_name_plural = "拼团队伍 group-buy teams"
        constraints = [
            models.CheckConstraint(condition=Q(seats_taken__lte=F("team_size")), name="team_never_overfilled"),
            models.CheckConstraint(condition=Q(paid_members__lte=F("seats_taken")), name="team_paid_within_seats"),
        ]

    def __str__(self) -> str:
        return f"team {self.pk} ({self.seats_taken}/{self.team_size})"


class GroupBuyMember(TimeStampedModel):
    class Status(models.TextChoices):
        HOLDING = "holding", "待支付 seat held"
        PAID = "paid", "已支付 paid"
        RELEASED = "released", "已释放 released"

    team = models.ForeignKey(GroupBuyTeam, on_delete=models.CASCADE, related_name="members", verbose_name="队伍 team")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                             verbose_name="用户 user")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="group_buy_member",
                                 verbose_name="订单 order")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HOLDING, verbose_name="状态 status")

    class Meta:
        verbose_name = "拼团成员 team member"
        verbose_name_plural = "拼团成员 team members"
        constraints = [models.UniqueConstraint(fields=["team", "user"], condition=~Q(status="released"),
                                               name="team_member_once")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team_id}"


# --- bargain (砍价) ----------------------------------------------------------------------------------------------
class BargainCampaign(TimeStampedModel):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="bargain_campaigns",
                                verbose_name="上架商品 listing")
    floor_price = models.DecimalField("底价 floor price", **MONEY)
    helpers_needed = models.PositiveSmallIntegerField("需要助力人数 helpers to reach the floor")
    min_cut_ratio = models.DecimalField("单次最少砍比例 min cut share", max_digits=4, decimal_places=3, default="0.200")
    max_cut_ratio = models.DecimalField("单次最多砍比例 max cut share", max_digits=4, decimal_places=3,
                                        default="1.800")
    window_hours = models.PositiveSmallIntegerField("砍价时限(小时) hours", default=24)
    allow_buy_at_current_price = models.BooleanField("允许未砍到底价购买 buy before the floor", default=False)
    starts_at = models.DateTimeField(verbose_name="开始时间 starts at")
    ends_at = models.DateTimeField(verbose_name="结束时间 ends at")
    is_active = models.BooleanField(default=True, verbose_name="启用 active")
    earns_commission = models.BooleanField("参与分销佣金 earns distribution commission", default=False,
                                           help_text="砍价订单默认不计分销佣金 bargained orders earn no rebate "
                                                     "unless this is set")

    class Meta:
        verbose_name = "砍价活动 bargain campaign"
        verbose_name_plural = "砍价活动 bargain campaigns"
        constraints = [
            models.CheckConstraint(condition=Q(helpers_needed__gte=1), name="bargain_needs_a_helper"),
            models.CheckConstraint(condition=Q(floor_price__gt=0), name="bargain_floor_positive"),
            models.CheckConstraint(condition=Q(min_cut_ratio__gt=0, max_cut_ratio__gte=F("min_cut_ratio")),
                                   name="bargain_cut_range_ordered"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="bargain_window_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.listing} → {self.floor_price}"


class BargainSession(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "砍价中 active"
        FLOOR_REACHED = "floor_reached", "已砍到底价 floor reached"
        PURCHASED = "purchased", "已下单 ordered"
        EXPIRED = "expired", "已过期 expired"

    campaign = models.ForeignKey(BargainCampaign, on_delete=models.PROTECT, related_name="sessions",
                                 verbose_name="活动 campaign")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              verbose_name="店主 owner")
    start_price = models.DecimalField(**MONEY, verbose_name="起始价 start price")
    floor_price = models.DecimalField(**MONEY, verbose_name="底价 floor price")
    current_price = models.DecimalField(**MONEY, verbose_name="当前价 current price")
    helpers_needed = models.PositiveSmallIntegerField(verbose_name="所需助力 helpers needed")
    helper_count = models.PositiveSmallIntegerField(default=0, verbose_name="助力人数 helpers")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name="状态 status")
    expires_at = models.DateTimeField(verbose_name="过期时间 expires at")
    order = models.OneToOneField(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 verbose_name="订单 order")

    class Meta:
        verbose_name = "砍价 bargain session"
        verbose_name_plural = "砍价 bargain sessions"
        constraints = [
            models.CheckConstraint(condition=Q(current_price__gte=F("floor_price")), name="bargain_never_below_floor"),
            models.CheckConstraint(condition=Q(helper_count__lte=F("helpers_needed")), name="bargain_helpers_bounded"),
            models.UniqueConstraint(fields=["campaign", "owner"], condition=Q(status__in=["active", "floor_reached"]),
                                    name="bargain_one_live_session"),
        ]

    def __str__(self) -> str:
        return f"bargain {self.pk}: {self.current_price}"


class BargainHelp(models.Model):
    session = models.ForeignKey(BargainSession, on_delete=models.CASCADE, related_name="helps",
                                verbose_name="砍价 session")
    helper = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name="助力人 helper")
    cut_amount = models.DecimalField(**MONEY, verbose_name="砍掉金额 cut")
    price_after = models.DecimalField(**MONEY, verbose_name="砍后价格 price after")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name="创建时间 created")

    class Meta:
        verbose_name = "砍价助力 bargain help"
        verbose_name_plural = "砍价助力 bargain helps"
        constraints = [
            models.UniqueConstraint(fields=["session", "helper"], name="bargain_help_once"),
            models.CheckConstraint(condition=Q(cut_amount__gt=0), name="bargain_cut_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.helper} −{self.cut_amount}"


# --- after-sales (售后) ------------------------------------------------------------------------------------------
class AfterSale(TimeStampedModel):
    class Kind(models.TextChoices):
        REFUND_ONLY = "refund_only", "仅退款 refund only"
        RETURN_REFUND = "return_refund", "退货退款 return and refund"

    class Status(models.TextChoices):
        REQUESTED = "requested", "待审核 requested"
        AWAITING_RETURN = "awaiting_return", "待退货 awaiting the return"
        RETURN_SHIPPED = "return_shipped", "退货中 return on its way"
        REFUNDED = "refunded", "已退款 refunded"
        REFUSED = "refused", "已拒绝 refused"
        WITHDRAWN = "withdrawn", "已撤销 withdrawn"

    # Still the merchant's or the shopper's to act on (售后中): the rest are settled.
    OPEN_STATUSES = (Status.REQUESTED, Status.AWAITING_RETURN, Status.RETURN_SHIPPED)

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="after_sales", verbose_name="订单 order")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="after_sales",
                             verbose_name="订单明细 order line")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name="申请人 requester")
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name="类型 kind")
    quantity = models.PositiveIntegerField(verbose_name="数量 quantity")
    reason = models.CharField("原因 reason", max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED,
                              verbose_name="状态 status")
    refund_amount = models.DecimalField("退款金额 refund amount", **MONEY)
    return_carrier = models.CharField(max_length=64, blank=True, default="", verbose_name="退货快递 return carrier")
    return_tracking_number = models.CharField(max_length=64, blank=True, default="",
                                              verbose_name="退货运单号 return tracking number")
    merchant_note = models.CharField(max_length=200, blank=True, default="", verbose_name="商家备注 merchant note")
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name="处理时间 decided at")
    refunded_at = models.DateTimeField(null=True, blank=True, verbose_name="退款时间 refunded at")

    class Meta:
        verbose_name = "售后 after-sale"
        verbose_name_plural = "售后 after-sales"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="after_sale_quantity_positive"),
            models.CheckConstraint(condition=Q(refund_amount__gte=0), name="after_sale_amount_not_negative"),
            models.UniqueConstraint(fields=["line"], condition=Q(status__in=["requested", "awaiting_return",
                                                                            "return_shipped"]),
                                    name="one_open_after_sale_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.line}"
