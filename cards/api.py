"""The business-card API: reps (my cards, leads, radar, customers), visitors (open a card, share it, track) and
beneficiaries (commission, withdrawals). One class per operation: validate, call one service or selector, render.
"""
import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AccessTokenAuthentication
from cards import selectors
from cards.models import BusinessCard, CommissionEntry, Lead, Share
from cards.services import commission, leads, messages, sharing
from core.api import BeaconNegotiation, PagePagination
from core.errors import ValidationFailed
from core.fields import IdempotencyKeyField, IdField, MoneyField
from core.openapi import errors
from mall.api.serializers import ListingOutput
from mall.api.shop import paginate

VISITOR_HEADER = OpenApiParameter(
    "X-Visitor-Id", str, OpenApiParameter.HEADER, required=False,
    description="匿名访客设备号 an anonymous visitor's device id (8-64 letters, digits, - or _); not needed when "
                "logged in")


def _visitor(request) -> dict:
    """The caller as the services take it: a logged-in user, or an anonymous device."""
    if request.user.is_authenticated:
        return {"user_id": request.user.pk, "visitor_id": ""}
    return {"user_id": None, "visitor_id": request.META.get("HTTP_X_VISITOR_ID", "")}


# --- shapes -----------------------------------------------------------------------------------------------------
class CardOutput(serializers.Serializer):
    """A card as its owner sees it: the phone in full."""

    id = serializers.IntegerField()
    store_id = serializers.IntegerField()
    store_name = serializers.CharField(source="store.name")
    name = serializers.CharField()
    title = serializers.CharField()
    company = serializers.CharField()
    phone = serializers.CharField()
    wechat_id = serializers.CharField()
    avatar_url = serializers.CharField()
    intro = serializers.CharField()
    theme = serializers.ChoiceField(choices=BusinessCard.Theme.choices)
    status = serializers.ChoiceField(choices=BusinessCard.Status.choices)
    published_at = serializers.DateTimeField(allow_null=True)
    featured_listing_ids = serializers.SerializerMethodField()

    def get_featured_listing_ids(self, card) -> list[int]:
        return list(card.featured_links.values_list("listing_id", flat=True))


class PublicCardOutput(serializers.Serializer):
    """A published card as a visitor sees it: the phone masked until the visitor has authorised their own."""

    id = serializers.IntegerField()
    store_id = serializers.IntegerField()
    store_name = serializers.CharField(source="store.name")
    name = serializers.CharField()
    title = serializers.CharField()
    company = serializers.CharField()
    phone = serializers.SerializerMethodField(help_text="完整号码需访客授权手机号后可见 masked until the visitor "
                                                        "authorises their phone number")
    phone_masked = serializers.BooleanField(source="phone_hidden")
    wechat_id = serializers.CharField()
    avatar_url = serializers.CharField()
    intro = serializers.CharField()
    theme = serializers.CharField()
    featured = ListingOutput(source="featured_listings", many=True)

    def get_phone(self, card) -> str:
        return card.phone_masked if card.phone_hidden else card.phone


class CardInput(serializers.Serializer):
    store_id = IdField()
    name = serializers.CharField(max_length=64)
    title = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    company = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    wechat_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    avatar_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    intro = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    theme = serializers.ChoiceField(choices=BusinessCard.Theme.choices, required=False,
                                    default=BusinessCard.Theme.CLASSIC)
    featured_listing_ids = serializers.ListField(child=IdField(), required=False, max_length=sharing.MAX_FEATURED)


class ShareOutput(serializers.Serializer):
    id = serializers.CharField(help_text="分享编号：链接只携带它 the share id, the only thing a link carries")
    card_id = serializers.IntegerField()
    parent_id = serializers.CharField(allow_null=True)
    channel = serializers.CharField()
    depth = serializers.IntegerField()
    path = serializers.SerializerMethodField(help_text="H5 名片页地址 the H5 card page of this share")

    def get_path(self, share) -> str:
        return f"/c/{share.id}"


# --- reps: my cards ---------------------------------------------------------------------------------------------
class MyCardListApi(APIView):
    """我的名片 The rep's cards (one per store they work in)."""

    pagination_class = PagePagination

    @extend_schema(summary="我的名片 List my cards", responses={200: CardOutput(many=True)}, tags=["cards"])
    def get(self, request):
        return paginate(self, selectors.cards_of(owner=request.user), CardOutput)

    @extend_schema(summary="创建或更新名片 Create or update my card for a store", request=CardInput,
                   responses={200: CardOutput, **errors(403)}, tags=["cards"])
    def post(self, request):
        data = CardInput(data=request.data)
        data.is_valid(raise_exception=True)
        card = sharing.card_save(owner=request.user, **data.validated_data)
        return Response(CardOutput(card).data)


class MyCardApi(APIView):
    """我的名片详情 One of my cards."""

    @extend_schema(summary="我的名片详情 Get one of my cards", responses={200: CardOutput}, tags=["cards"])
    def get(self, request, card_id: int):
        return Response(CardOutput(sharing.card_of_owner(owner=request.user, card_id=card_id)).data)


class MyCardPublishApi(APIView):
    """发布/下线名片 Publish or take my card offline."""

    @extend_schema_serializer(component_name="CardPublishInput")
    class Input(serializers.Serializer):
        published = serializers.BooleanField()

    @extend_schema(summary="发布或下线名片 Publish or unpublish my card", request=Input,
                   responses={200: CardOutput, **errors(422)}, tags=["cards"])
    def post(self, request, card_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        card = sharing.card_publish(owner=request.user, card_id=card_id, published=data.validated_data["published"])
        return Response(CardOutput(card).data)


# --- visitors ---------------------------------------------------------------------------------------------------
def _public_card(request, card: BusinessCard) -> dict:
    card = selectors.card_with_featured(card)
    # Shown in full once the visitor is logged in with a phone number (authorised, 授权手机号), never anonymously.
    card.phone_hidden = not (request.user.is_authenticated and request.user.phone and card.phone)
    return PublicCardOutput(card).data


class CardDetailApi(APIView):
    """名片 A published card, as visitors see it."""

    permission_classes = [AllowAny]

    @extend_schema(summary="查看名片 Get a published card", responses={200: PublicCardOutput}, tags=["cards"])
    def get(self, request, card_id: int):
        return Response(_public_card(request, sharing.published_card(card_id=card_id)))


class ShareOpenApi(APIView):
    """通过分享打开名片 Open a card by the share id a link carried."""

    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="ShareOpenOutput")
    class Output(serializers.Serializer):
        share = ShareOutput()
        card = PublicCardOutput()

    @extend_schema(summary="通过分享打开名片 Open a card by its share id", responses={200: Output}, tags=["cards"])
    def get(self, request, share_id: str):
        facts = sharing.share_resolve(share_id=share_id)
        share = Share.objects.get(pk=facts.share_id)
        return Response({"share": ShareOutput(share).data,
                         "card": _public_card(request, sharing.published_card(card_id=facts.card_id))})


class ShareCreateApi(APIView):
    """转发名片 Forward a card: a new share under the one you arrived through."""

    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="ShareCreateInput")
    class Input(serializers.Serializer):
        card_id = IdField(required=False)
        parent_id = serializers.CharField(max_length=24, required=False, allow_blank=True,
                                          help_text="你是通过哪个分享打开的 the share you arrived through")
        channel = serializers.ChoiceField(choices=Share.Channel.choices, default=Share.Channel.FRIEND)

    @extend_schema(summary="转发名片 Share a card", request=Input, parameters=[VISITOR_HEADER],
                   responses={201: ShareOutput, **errors(404)}, tags=["cards"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        share = sharing.share_create(card_id=values.get("card_id"), parent_id=values.get("parent_id") or None,
                                     channel=values["channel"], **_visitor(request))
        return Response(ShareOutput(share).data, status=201)


class TrackApi(APIView):
    """埋点 Record what a visitor did on a card page (built for volume: one event, answered 204)."""

    permission_classes = [AllowAny]
    # A visitor is a device id or a mini-program token, never a console session: the session authentication the
    # other endpoints also accept cost a fifth of this request's CPU (0.82 -> 0.61 ms in-process, bench/cards.py)
    # and would refuse a beacon from a browser that is logged into a console (no CSRF token on it).
    authentication_classes = [AccessTokenAuthentication]
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = BeaconNegotiation

    @extend_schema_serializer(component_name="TrackInput")
    class Input(serializers.Serializer):
        visit_id = serializers.RegexField(r"^[A-Za-z0-9_\-]{8,64}$", help_text="一次打开名片页的编号 the page "
                                                                                "opening's id, made by the page")
        action = serializers.ChoiceField(choices=[(action, action) for action in sharing.Action.ALL])
        share_id = serializers.CharField(max_length=24, required=False, allow_blank=True)
        card_id = IdField(required=False)
        dwell_seconds = serializers.IntegerField(min_value=0, max_value=sharing.MAX_DWELL_SECONDS, required=False)
        listing_id = IdField(required=False)

    @extend_schema(summary="名片埋点 Track a visitor's action on a card", request=Input, parameters=[VISITOR_HEADER],
                   responses={204: None, **errors(404)}, tags=["cards"])
    def post(self, request):
        data = _track_input(request.data)
        sharing.card_track(**data, **_visitor(request))
        return Response(status=204)


_TRACK_FIELDS = {"visit_id": str, "action": str, "share_id": str, "card_id": int, "dwell_seconds": int,
                 "listing_id": int}


def _track_input(data) -> dict:
    """The tracking body, checked by hand: this endpoint takes hundreds of events a second, and a DRF serializer
    costs more than the event's own write (bench/cards.py). The service checks every value's range."""
    if not isinstance(data, dict):
        raise ValidationFailed(_("send a JSON object"), code="invalid")
    unknown = sorted(set(data) - set(_TRACK_FIELDS))
    wrong = sorted(name for name, value in data.items() if name in _TRACK_FIELDS and value is not None
                   and not (isinstance(value, _TRACK_FIELDS[name]) and not isinstance(value, bool)))
    if unknown or wrong or "visit_id" not in data or "action" not in data:
        raise ValidationFailed(_("invalid input"), code="invalid",
                               detail={"unknown": unknown, "wrong_type": wrong,
                                       "required": [n for n in ("visit_id", "action") if n not in data]})
    share_id = data.get("share_id") or None
    if share_id is not None and not re.fullmatch(r"[A-Za-z0-9_\-]{1,24}", share_id):
        raise ValidationFailed(_("this share link is not valid"), code="share_id_invalid")
    for name in ("card_id", "listing_id"):
        if data.get(name) is not None and not 1 <= data[name] < 2**63:
            raise ValidationFailed(_("invalid input"), code="invalid", detail={name: "out of range"})
    return {"visit_id": data["visit_id"], "action": data["action"], "share_id": share_id,
            "card_id": data.get("card_id"), "dwell_seconds": data.get("dwell_seconds"),
            "listing_id": data.get("listing_id")}


class VisitorIdentifyApi(APIView):
    """关联匿名访问 After login: my visits made before logging in (X-Visitor-Id) become mine."""

    @extend_schema(summary="关联匿名访问 Link my anonymous visits to my account", request=None,
                   parameters=[VISITOR_HEADER], responses={204: None}, tags=["cards"])
    def post(self, request):
        sharing.visitor_identify(user=request.user, visitor_id=request.META.get("HTTP_X_VISITOR_ID", ""))
        return Response(status=204)


# --- reps: leads and customers ----------------------------------------------------------------------------------
class LeadOutput(serializers.Serializer):
    id = serializers.IntegerField()
    card_id = serializers.IntegerField()
    store_id = serializers.IntegerField()
    owner_id = serializers.IntegerField()
    visitor = serializers.SerializerMethodField(help_text="客户昵称，或匿名访客 the customer, or an anonymous visitor")
    customer_id = serializers.IntegerField(source="user_id", allow_null=True)
    stage = serializers.ChoiceField(choices=Lead.Stage.choices)
    visits = serializers.IntegerField()
    dwell_seconds = serializers.IntegerField()
    actions = serializers.DictField(child=serializers.IntegerField())
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    next_action_at = serializers.DateTimeField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    intent_score = serializers.DecimalField(max_digits=4, decimal_places=3, allow_null=True)
    intent_reasons = serializers.ListField(child=serializers.CharField())
    converted_at = serializers.DateTimeField(allow_null=True)

    def get_visitor(self, lead) -> str:
        if lead.user_id:
            return str(lead.user)
        return "访客" + lead.visitor_key[-4:]


class LeadNoteOutput(serializers.Serializer):
    id = serializers.IntegerField()
    author_id = serializers.IntegerField()
    text = serializers.CharField()
    stage_from = serializers.CharField()
    stage_to = serializers.CharField()
    created_at = serializers.DateTimeField()


class LeadDetailOutput(LeadOutput):
    notes = LeadNoteOutput(many=True)


class LeadListApi(APIView):
    """我的线索 My leads (a store manager: the store's, with `store`)."""

    pagination_class = PagePagination

    @extend_schema_serializer(component_name="LeadFilter")
    class Filter(serializers.Serializer):
        store = IdField(required=False)
        stage = serializers.ChoiceField(choices=Lead.Stage.choices, required=False)
        q = serializers.CharField(max_length=64, required=False, allow_blank=True)

    @extend_schema(summary="线索列表 List my leads", parameters=[Filter], responses={200: LeadOutput(many=True)},
                   tags=["leads"])
    def get(self, request):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return paginate(self, selectors.leads_visible_to(user=request.user, store_id=data.get("store"),
                                                         stage=data.get("stage"), query=data.get("q", "")),
                        LeadOutput)


class LeadApi(APIView):
    """线索详情与跟进 One lead: read it, move its stage, add a follow-up note, set the next action."""

    @extend_schema_serializer(component_name="LeadUpdateInput")
    class Input(serializers.Serializer):
        stage = serializers.ChoiceField(choices=Lead.Stage.choices, required=False)
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        next_action_at = serializers.DateTimeField(required=False, allow_null=True)

    @extend_schema(summary="线索详情 Get a lead", responses={200: LeadDetailOutput}, tags=["leads"])
    def get(self, request, lead_id: int):
        lead = leads.lead_visible(user=request.user, lead_id=lead_id)
        return Response(LeadDetailOutput(selectors.lead_notes(lead)).data)

    @extend_schema(summary="跟进线索 Follow up a lead", request=Input,
                   responses={200: LeadDetailOutput, **errors(403)}, tags=["leads"])
    def patch(self, request, lead_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        lead = leads.lead_update(user=request.user, lead_id=lead_id, stage=values.get("stage"), note=values["note"],
                                 next_action_at=values.get("next_action_at"),
                                 clear_next_action="next_action_at" in values and values["next_action_at"] is None)
        return Response(LeadDetailOutput(selectors.lead_notes(lead)).data)


class CustomerReassignApi(APIView):
    """客户改派 A store manager gives a customer to another rep (audited)."""

    @extend_schema_serializer(component_name="CustomerReassignInput")
    class Input(serializers.Serializer):
        store_id = IdField()
        customer_id = IdField()
        to_rep_id = IdField()
        reason = serializers.CharField(max_length=200)

    @extend_schema_serializer(component_name="CustomerAssignmentOutput")
    class Output(serializers.Serializer):
        store_id = serializers.IntegerField()
        customer_id = serializers.IntegerField()
        rep_id = serializers.IntegerField()
        source = serializers.CharField()

    @extend_schema(summary="客户改派 Reassign a customer to another rep", request=Input,
                   responses={200: Output, **errors(403, 404)}, tags=["leads"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = leads.customer_reassign(manager=request.user, **data.validated_data)
        return Response(self.Output(assignment).data)


# --- commission -------------------------------------------------------------------------------------------------
class CommissionAccountOutput(serializers.Serializer):
    pending = MoneyField(help_text="待结算：订单已付款未收货 paid, not delivered yet")
    frozen = MoneyField(help_text="冻结中：售后期内 delivered, in the after-sale window")
    withdrawable = MoneyField(help_text="可提现 withdrawable")
    withdrawing = MoneyField(help_text="提现中 requested, not paid yet")
    withdrawn = MoneyField(help_text="已提现 paid out")
    debt = MoneyField(help_text="待抵扣：退款冲回超出余额的部分 taken back by refunds beyond the balance, paid "
                                "off by later earnings")


class CommissionEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    order_number = serializers.CharField(source="order.number")
    store_name = serializers.CharField(source="store.name")
    level = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=CommissionEntry.Kind.choices)
    status = serializers.ChoiceField(choices=CommissionEntry.Status.choices)
    base_amount = MoneyField()
    rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    amount = MoneyField()
    created_at = serializers.DateTimeField()


class WithdrawalOutput(serializers.Serializer):
    id = serializers.IntegerField()
    amount = MoneyField()
    fee = MoneyField()
    net_amount = MoneyField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField()


class CommissionAccountApi(APIView):
    """佣金账户 My commission balances."""

    @extend_schema(summary="佣金账户 Get my commission balances", responses={200: CommissionAccountOutput},
                   tags=["commission"])
    def get(self, request):
        return Response(CommissionAccountOutput(selectors.commission_account_of(user=request.user)).data)


class CommissionEntryListApi(APIView):
    """佣金明细 My commission ledger."""

    pagination_class = PagePagination

    @extend_schema_serializer(component_name="CommissionEntryFilter")
    class Filter(serializers.Serializer):
        status = serializers.ChoiceField(choices=CommissionEntry.Status.choices, required=False)

    @extend_schema(summary="佣金明细 List my commission entries", parameters=[Filter],
                   responses={200: CommissionEntryOutput(many=True)}, tags=["commission"])
    def get(self, request):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginate(self, selectors.commission_entries_of(user=request.user,
                                                              status=filters.validated_data.get("status")),
                        CommissionEntryOutput)


class WithdrawalListApi(APIView):
    """提现 My withdrawals, and asking for one."""

    pagination_class = PagePagination

    @extend_schema_serializer(component_name="WithdrawalInput")
    class Input(serializers.Serializer):
        amount = MoneyField(min_value=settings.COMMISSION_WITHDRAWAL_MINIMUM)
        idempotency_key = IdempotencyKeyField()

    @extend_schema(summary="提现记录 List my withdrawals", responses={200: WithdrawalOutput(many=True)},
                   tags=["commission"])
    def get(self, request):
        return paginate(self, selectors.withdrawals_of(user=request.user), WithdrawalOutput)

    @extend_schema(summary="申请提现 Ask to withdraw commission", request=Input,
                   responses={201: WithdrawalOutput, **errors(422)}, tags=["commission"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = commission.withdrawal_request(user=request.user, **data.validated_data)
        return Response(WithdrawalOutput(withdrawal).data, status=201)


# --- chat on a card ---------------------------------------------------------------------------------------------
class MessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=[("in", "from the visitor"), ("out", "from the rep")])
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class MessageInput(serializers.Serializer):
    text = serializers.CharField(max_length=messages.MAX_MESSAGE)
    client_key = IdempotencyKeyField(help_text="客户端消息号，重发不重复 client message id: a resend is one message")


class CardMessagesApi(APIView):
    """名片咨询 A visitor's chat with the card's rep."""

    permission_classes = [AllowAny]

    @extend_schema(summary="咨询记录 My chat with the card's rep", parameters=[VISITOR_HEADER],
                   responses={200: MessageOutput(many=True)}, tags=["cards"])
    def get(self, request, card_id: int):
        visitor = _visitor(request)
        key = sharing.canonical_key(sharing.visitor_key(**visitor))
        sharing.published_card(card_id=card_id)
        return Response(MessageOutput(messages.thread_of(card_id=card_id, key=key), many=True).data)

    @extend_schema(summary="发起咨询 Write to the card's rep", request=MessageInput, parameters=[VISITOR_HEADER],
                   responses={201: MessageOutput}, tags=["cards"])
    def post(self, request, card_id: int):
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = messages.message_from_visitor(card_id=card_id, **data.validated_data, **_visitor(request))
        return Response(MessageOutput(message).data, status=201)


class LeadMessagesApi(APIView):
    """线索咨询 The rep's chat with a lead."""

    @extend_schema(summary="线索咨询记录 The chat with a lead", responses={200: MessageOutput(many=True)},
                   tags=["leads"])
    def get(self, request, lead_id: int):
        lead = leads.lead_visible(user=request.user, lead_id=lead_id)
        return Response(MessageOutput(messages.thread_of(card_id=lead.card_id, key=lead.visitor_key), many=True).data)

    @extend_schema(summary="回复线索 Answer a lead", request=MessageInput, responses={201: MessageOutput},
                   tags=["leads"])
    def post(self, request, lead_id: int):
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = messages.message_from_rep(rep=request.user, lead_id=lead_id, **data.validated_data)
        return Response(MessageOutput(message).data, status=201)
