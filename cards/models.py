"""AI business cards: cards, shares (the chain), visits, first-touch referrals, customers' reps, leads, distribution
bindings and the commission ledger.

Visitors are keyed by `visitor_key`: "u:<user id>" for a logged-in user, "v:<device id>" for an anonymous one. When
an anonymous visitor logs in, their rows are moved to the user's key (services.visitor_identify), so first touch,
visits and leads follow the person, not the device.
"""
import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.crypto import EncryptedTextField
from core.models import TimeStampedModel
from mall.models import Listing, Order, Store

MONEY = {"max_digits": 12, "decimal_places": 2}
RATE = {"max_digits": 5, "decimal_places": 4}  # 0.1000 = 10 %


def new_share_id() -> str:
    """An opaque, unguessable share id: the only thing a share link carries."""
    return secrets.token_urlsafe(12)  # 16 characters, 96 bits


class BusinessCard(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "草稿 draft"
        PUBLISHED = "published", "已发布 published"
        UNPUBLISHED = "unpublished", "已下线 unpublished"

    class Theme(models.TextChoices):
        CLASSIC = "classic", "经典 classic"
        BUSINESS = "business", "商务 business"
        FRESH = "fresh", "清新 fresh"
        NIGHT = "night", "暗夜 night"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="business_cards",
                              verbose_name="名片主人 owner")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="business_cards",
                              verbose_name="店铺 store")
    name = models.CharField("姓名 name", max_length=64)
    title = models.CharField("职位 title", max_length=64, blank=True, default="")
    company = models.CharField("公司 company", max_length=128, blank=True, default="")
    phone = EncryptedTextField("手机号(加密) phone (encrypted)", blank=True, default="")
    phone_masked = models.CharField("手机号(打码) masked phone", max_length=20, blank=True, default="",
                                    editable=False)
    wechat_id = models.CharField("微信号 WeChat id", max_length=64, blank=True, default="")
    avatar_url = models.URLField("头像 avatar URL", max_length=500, blank=True, default="")
    intro = models.TextField("简介 introduction", max_length=2000, blank=True, default="")
    theme = models.CharField("主题 theme", max_length=16, choices=Theme.choices, default=Theme.CLASSIC)
    status = models.CharField("状态 status", max_length=16, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField("发布时间 published at", null=True, blank=True)
    featured = models.ManyToManyField(Listing, through="CardFeaturedListing", related_name="+", blank=True,
                                      verbose_name="主推商品 featured listings")

    class Meta:
        verbose_name = "智能名片 business card"
        verbose_name_plural = "智能名片 business cards"
        constraints = [models.UniqueConstraint(fields=["owner", "store"], name="card_one_per_owner_and_store")]

    def __str__(self) -> str:
        return f"{self.name} · {self.store_id}"


class CardFeaturedListing(models.Model):
    card = models.ForeignKey(BusinessCard, on_delete=models.CASCADE, related_name="featured_links",
                             verbose_name="名片 card")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="+", verbose_name="商品 listing")
    position = models.PositiveSmallIntegerField("顺序 position", default=0)

    class Meta:
        verbose_name = "主推商品 featured listing"
        verbose_name_plural = "主推商品 featured listings"
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["card", "listing"], name="card_featured_once")]

    def __str__(self) -> str:
        return f"{self.card_id}#{self.position}: {self.listing_id}"


class Share(models.Model):
    """One forward of a card. The link carries only `id`; depth = the parent's depth + 1 (1 without a parent)."""

    class Channel(models.TextChoices):
        FRIEND = "friend", "好友 friend"
        GROUP = "group", "群聊 group chat"
        MOMENTS = "moments", "朋友圈 moments"
        POSTER = "poster", "海报 poster"
        QR = "qr", "二维码 QR code"

    id = models.CharField("分享编号 share id", max_length=24, primary_key=True, default=new_share_id,
                          editable=False)
    card = models.ForeignKey(BusinessCard, on_delete=models.CASCADE, related_name="shares", verbose_name="名片 card")
    sharer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", verbose_name="分享人 sharer")
    sharer_key = models.CharField("分享人标识 sharer key", max_length=80)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name="上级分享 parent share")
    channel = models.CharField("渠道 channel", max_length=16, choices=Channel.choices, default=Channel.FRIEND)
    depth = models.PositiveSmallIntegerField("层级 depth")
    created_at = models.DateTimeField("时间 created", auto_now_add=True)

    class Meta:
        verbose_name = "分享 share"
        verbose_name_plural = "分享 shares"
        indexes = [models.Index(fields=["card", "created_at"], name="share_card_time_idx"),
                   models.Index(fields=["sharer_key", "card"], name="share_sharer_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(depth__gte=1), name="share_depth_positive"),
            models.CheckConstraint(condition=Q(parent__isnull=True, depth=1) | Q(parent__isnull=False, depth__gt=1),
                                   name="share_depth_follows_parent"),
        ]

    def __str__(self) -> str:
        return self.id


class VisitorIdentity(models.Model):
    """An anonymous device that logged in: its visitor key ("v:<device id>") now means this user."""

    visitor_id = models.CharField("设备标识 device id", max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name="用户 user")
    identified_at = models.DateTimeField("识别时间 identified at")

    class Meta:
        verbose_name = "访客身份 visitor identity"
        verbose_name_plural = "访客身份 visitor identities"

    def __str__(self) -> str:
        return f"v:{self.visitor_id} = u:{self.user_id}"


class CardVisit(models.Model):
    """One opening of a card page (one `visit_key`, made by the page), with what the visitor did there. Built from
    the tracking events by a batch consumer (cards/events.py); never written by the tracking request itself."""

    visit_key = models.CharField("访问编号 visit id", max_length=64, unique=True)
    card = models.ForeignKey(BusinessCard, on_delete=models.CASCADE, related_name="visits", verbose_name="名片 card")
    visitor_key = models.CharField("访客标识 visitor key", max_length=80)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name="用户 user")
    share = models.ForeignKey(Share, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits",
                              verbose_name="来源分享 via share")
    started_at = models.DateTimeField("开始 started")
    last_seen_at = models.DateTimeField("最后活动 last seen")
    dwell_seconds = models.PositiveIntegerField("停留秒数 dwell seconds", default=0)
    actions = models.JSONField("行为次数 action counts", default=dict, blank=True)
    products = models.JSONField("看过的商品 listings viewed", default=list, blank=True)

    class Meta:
        verbose_name = "名片访问 card visit"
        verbose_name_plural = "名片访问 card visits"
        indexes = [models.Index(fields=["card", "visitor_key", "started_at"], name="visit_card_visitor_idx"),
                   models.Index(fields=["visitor_key", "started_at"], name="visit_visitor_idx")]

    def __str__(self) -> str:
        return self.visit_key


class CardMessage(models.Model):
    """A chat message on a card (在线咨询): a visitor to the card's rep, or the rep back. Text is stored encrypted."""

    class Direction(models.TextChoices):
        FROM_VISITOR = "in", "访客发送 from the visitor"
        FROM_REP = "out", "导购回复 from the rep"

    card = models.ForeignKey(BusinessCard, on_delete=models.CASCADE, related_name="messages", verbose_name="名片 card")
    visitor_key = models.CharField("访客标识 visitor key", max_length=80)
    direction = models.CharField("方向 direction", max_length=3, choices=Direction.choices)
    text = EncryptedTextField("内容 text")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", verbose_name="发送人 author")
    client_key = models.CharField("客户端消息号 client message id", max_length=64)
    created_at = models.DateTimeField("时间 time", auto_now_add=True)

    class Meta:
        verbose_name = "名片咨询 card message"
        verbose_name_plural = "名片咨询 card messages"
        indexes = [models.Index(fields=["card", "visitor_key", "created_at"], name="card_message_thread_idx")]
        constraints = [models.UniqueConstraint(fields=["card", "visitor_key", "client_key"],
                                               name="card_message_idempotent")]

    def __str__(self) -> str:
        return f"{self.card_id} {self.visitor_key} {self.direction}"


class Referral(models.Model):
    """First touch: which share brought a visitor to a card (CARDS_ATTRIBUTION: permanent, N days or last click)."""

    card = models.ForeignKey(BusinessCard, on_delete=models.CASCADE, related_name="referrals",
                             verbose_name="名片 card")
    visitor_key = models.CharField("访客标识 visitor key", max_length=80)
    share = models.ForeignKey(Share, on_delete=models.PROTECT, related_name="referrals", verbose_name="分享 share")
    first_at = models.DateTimeField("首次到达 first arrived")
    bound_at = models.DateTimeField("归属时间 bound at")

    class Meta:
        verbose_name = "来源归属 referral"
        verbose_name_plural = "来源归属 referrals"
        constraints = [models.UniqueConstraint(fields=["card", "visitor_key"], name="referral_one_per_card_visitor")]

    def __str__(self) -> str:
        return f"{self.card_id}: {self.visitor_key} <- {self.share_id}"


class CustomerAssignment(TimeStampedModel):
    """The rep a customer belongs to in a store (one per store when CARDS_ONE_REP_PER_STORE)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+", verbose_name="店铺 store")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                 verbose_name="客户 customer")
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assigned_customers",
                            verbose_name="归属导购 rep")
    source = models.CharField("来源 source", max_length=16, default="first_touch")

    class Meta:
        verbose_name = "客户归属 customer assignment"
        verbose_name_plural = "客户归属 customer assignments"
        constraints = [models.UniqueConstraint(fields=["store", "customer"], name="customer_one_rep_per_store")]

    def __str__(self) -> str:
        return f"客户 customer {self.customer_id} @ {self.store_id}"


class CustomerAssignmentChange(models.Model):
    """Audit of a reassignment: who moved which customer from whom to whom, and why."""

    assignment = models.ForeignKey(CustomerAssignment, on_delete=models.CASCADE, related_name="changes",
                                   verbose_name="归属 assignment")
    from_rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name="原导购 from rep")
    to_rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name="新导购 to rep")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                                   verbose_name="操作人 changed by")
    reason = models.CharField("原因 reason", max_length=200)
    created_at = models.DateTimeField("时间 time", auto_now_add=True)

    class Meta:
        verbose_name = "客户改派记录 reassignment"
        verbose_name_plural = "客户改派记录 reassignments"

    def __str__(self) -> str:
        return f"{self.from_rep_id} -> {self.to_rep_id}"


class Lead(TimeStampedModel):
    """A sales lead: one per (card owner, visitor). Stages move by the rep; counters by the visit consumer."""

    class Stage(models.TextChoices):
        NEW = "new", "新线索 new"
        INTERESTED = "interested", "有意向 interested"
        CONTACTED = "contacted", "已联系 contacted"
        NEGOTIATING = "negotiating", "洽谈中 negotiating"
        WON = "won", "已成交 won"
        LOST = "lost", "已流失 lost"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leads",
                              verbose_name="导购 owner")
    card = models.ForeignKey(BusinessCard, on_delete=models.CASCADE, related_name="leads", verbose_name="名片 card")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+", verbose_name="店铺 store")
    visitor_key = models.CharField("访客标识 visitor key", max_length=80)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name="客户 customer")
    stage = models.CharField("阶段 stage", max_length=16, choices=Stage.choices, default=Stage.NEW)
    visits = models.PositiveIntegerField("访问次数 visits", default=0)
    dwell_seconds = models.PositiveIntegerField("累计停留 dwell seconds", default=0)
    actions = models.JSONField("行为次数 action counts", default=dict, blank=True)
    first_seen_at = models.DateTimeField("首次访问 first seen")
    last_seen_at = models.DateTimeField("最近访问 last seen")
    next_action_at = models.DateTimeField("下次跟进 next action", null=True, blank=True)
    tags = models.JSONField("兴趣标签 interest tags", default=list, blank=True)
    intent_score = models.DecimalField("意向度 intent score", max_digits=4, decimal_places=3, null=True, blank=True)
    intent_reasons = models.JSONField("意向依据 why this score", default=list, blank=True)
    intent_model = models.CharField("评分模型 scored by", max_length=64, blank=True, default="")
    converted_at = models.DateTimeField("成交时间 converted at", null=True, blank=True)

    class Meta:
        verbose_name = "线索 lead"
        verbose_name_plural = "线索 leads"
        constraints = [models.UniqueConstraint(fields=["owner", "visitor_key"], name="lead_one_per_owner_visitor")]
        indexes = [models.Index(fields=["owner", "-last_seen_at"], name="lead_owner_recent_idx"),
                   models.Index(fields=["store", "-last_seen_at"], name="lead_store_recent_idx")]

    def __str__(self) -> str:
        return f"线索 lead #{self.pk}"


class LeadNote(models.Model):
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="notes", verbose_name="线索 lead")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name="记录人 author")
    text = models.TextField("跟进记录 note", max_length=2000)
    stage_from = models.CharField("原阶段 from stage", max_length=16, blank=True, default="")
    stage_to = models.CharField("新阶段 to stage", max_length=16, blank=True, default="")
    created_at = models.DateTimeField("时间 time", auto_now_add=True)

    class Meta:
        verbose_name = "跟进记录 lead note"
        verbose_name_plural = "跟进记录 lead notes"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.text[:40]


class DistributionPlan(TimeStampedModel):
    """A store's two-level rebate rates (分销). Two levels at most: WeChat platforms forbid deeper schemes."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="distribution_plan",
                                 verbose_name="店铺 store")
    enabled = models.BooleanField("启用 enabled", default=True)
    level1_rate = models.DecimalField("一级佣金比例 level-1 rate", **RATE)
    level2_rate = models.DecimalField("二级佣金比例 level-2 rate", **RATE, default=0)

    class Meta:
        verbose_name = "分销方案 distribution plan"
        verbose_name_plural = "分销方案 distribution plans"
        constraints = [
            models.CheckConstraint(condition=Q(level1_rate__gte=0, level1_rate__lte="0.5", level2_rate__gte=0,
                                               level2_rate__lte="0.5"), name="distribution_rates_sane"),
        ]


class DistributionBinding(models.Model):
    """Who earns on a buyer's orders in a store: fixed from the first-touch share chain, two levels at most."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+", verbose_name="店铺 store")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                              verbose_name="买家 buyer")
    share = models.ForeignKey(Share, on_delete=models.PROTECT, related_name="+", verbose_name="来源分享 share")
    level1 = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name="一级分销 level 1")
    level2 = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name="二级分销 level 2")
    bound_at = models.DateTimeField("绑定时间 bound at")

    class Meta:
        verbose_name = "分销绑定 referral binding"
        verbose_name_plural = "分销绑定 referral bindings"
        constraints = [
            models.UniqueConstraint(fields=["store", "buyer"], name="binding_one_per_store_buyer"),
            models.CheckConstraint(condition=~Q(level1=F("buyer")), name="binding_not_self"),
            models.CheckConstraint(condition=Q(level2__isnull=True) | ~Q(level2=F("level1")),
                                   name="binding_levels_differ"),
        ]

    def __str__(self) -> str:
        return f"{self.buyer_id} @ {self.store_id}: {self.level1_id}, {self.level2_id}"


class CommissionAccount(TimeStampedModel):
    """A beneficiary's commission balances. Every change is a CommissionEntry; the balances are guarded sums:
    `withdrawable` never goes below zero (a claw-back beyond it becomes `debt`, paid off by later earnings)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="commission_account", verbose_name="用户 user")
    pending = models.DecimalField("待结算 pending", **MONEY, default=0)
    frozen = models.DecimalField("冻结中 frozen", **MONEY, default=0)
    withdrawable = models.DecimalField("可提现 withdrawable", **MONEY, default=0)
    withdrawing = models.DecimalField("提现中 withdrawing", **MONEY, default=0)
    withdrawn = models.DecimalField("已提现 withdrawn", **MONEY, default=0)
    debt = models.DecimalField("待抵扣 debt", **MONEY, default=0)

    class Meta:
        verbose_name = "佣金账户 commission account"
        verbose_name_plural = "佣金账户 commission accounts"
        constraints = [
            models.CheckConstraint(condition=Q(pending__gte=0, frozen__gte=0, withdrawable__gte=0,
                                               withdrawing__gte=0, withdrawn__gte=0, debt__gte=0),
                                   name="commission_balances_not_negative"),
        ]

    def __str__(self) -> str:
        return f"佣金账户 account of {self.user_id}"


class CommissionEntry(models.Model):
    """One line of the commission ledger. Earnings move pending -> frozen (order delivered) -> withdrawable (after-
    sale window closed, nothing open); a refund writes a negative `reversal` entry, whatever state the earning is in.
    Rates are snapshotted here when the order is paid."""

    class Kind(models.TextChoices):
        EARNING = "earning", "佣金 earning"
        REVERSAL = "reversal", "冲回 reversal"

    class Status(models.TextChoices):
        PENDING = "pending", "待结算 pending"
        FROZEN = "frozen", "冻结中 frozen"
        WITHDRAWABLE = "withdrawable", "可提现 withdrawable"
        REVERSED = "reversed", "已冲回 reversed"

    account = models.ForeignKey(CommissionAccount, on_delete=models.PROTECT, related_name="entries",
                                verbose_name="账户 account")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+", verbose_name="订单 order")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+", verbose_name="店铺 store")
    level = models.PositiveSmallIntegerField("层级 level")
    kind = models.CharField("类型 kind", max_length=16, choices=Kind.choices, default=Kind.EARNING)
    status = models.CharField("状态 status", max_length=16, choices=Status.choices, default=Status.PENDING)
    base_amount = models.DecimalField("计佣金额 base amount", **MONEY)
    rate = models.DecimalField("比例 rate", **RATE)
    amount = models.DecimalField("金额 amount", **MONEY)
    reference = models.CharField("来源 reference", max_length=64)
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals",
                                 verbose_name="冲回对象 reverses")
    created_at = models.DateTimeField("时间 time", auto_now_add=True)
    settled_at = models.DateTimeField("可提现时间 withdrawable since", null=True, blank=True)

    class Meta:
        verbose_name = "佣金明细 commission entry"
        verbose_name_plural = "佣金明细 commission entries"
        indexes = [models.Index(fields=["order"], name="commission_order_idx"),
                   models.Index(fields=["account", "-created_at"], name="commission_account_recent_idx")]
        constraints = [
            models.UniqueConstraint(fields=["account", "order", "level", "reference"],
                                    name="commission_entry_once"),
            models.CheckConstraint(condition=Q(level__in=[1, 2]), name="commission_two_levels_at_most"),
            models.CheckConstraint(condition=Q(kind="earning", amount__gte=0) | Q(kind="reversal", amount__lte=0),
                                   name="commission_sign_follows_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} (level {self.level})"


class Withdrawal(TimeStampedModel):
    class Status(models.TextChoices):
        REQUESTED = "requested", "待审核 requested"
        APPROVED = "approved", "已打款 paid"
        REJECTED = "rejected", "已驳回 rejected"

    account = models.ForeignKey(CommissionAccount, on_delete=models.PROTECT, related_name="withdrawals",
                                verbose_name="账户 account")
    amount = models.DecimalField("申请金额 amount", **MONEY)
    fee = models.DecimalField("手续费 fee", **MONEY)
    net_amount = models.DecimalField("实付金额 net amount", **MONEY)
    status = models.CharField("状态 status", max_length=16, choices=Status.choices, default=Status.REQUESTED)
    idempotency_key = models.CharField("幂等键 idempotency key", max_length=64)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name="审核人 decided by")
    decided_at = models.DateTimeField("审核时间 decided at", null=True, blank=True)
    note = models.CharField("备注 note", max_length=200, blank=True, default="")

    class Meta:
        verbose_name = "提现申请 withdrawal"
        verbose_name_plural = "提现申请 withdrawals"
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="withdrawal_idempotent"),
            models.CheckConstraint(condition=Q(amount__gt=0, fee__gte=0, net_amount__gt=0), name="withdrawal_positive"),
        ]

    def __str__(self) -> str:
        return f"提现 withdrawal #{self.pk}"


class CardAnalytics(BusinessCard):
    """The merchant console's share-analytics pages (cards/console_analytics.py) list cards: a view of BusinessCard,
    no table of its own."""

    class Meta:
        proxy = True
        verbose_name = "分享分析 share analytics"
        verbose_name_plural = "分享分析 share analytics"
