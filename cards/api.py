"""The business-card API: reps (my cards, leads, radar, customers), visitors (open a card, share it, track) and
beneficiaries (commission, withdrawals). One class per operation: validate, call one service or selector, render.
"""
import re

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AccessTokenAuthentication
from cards import analytics, radar, selectors, vcard
from cards.models import BusinessCard, CommissionEntry, Lead, Share
from cards.services import commission, leads, messages, sharing
from core.api import BeaconNegotiation, PagePagination
from core.errors import PermissionDenied, ValidationFailed
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
class _CardFields(serializers.Serializer):
    id = serializers.IntegerField()
    store_id = serializers.IntegerField()
    store_name = serializers.CharField(source="store.name")
    name = serializers.CharField()
    title = serializers.CharField()
    company = serializers.CharField()
    wechat_id = serializers.CharField()
    avatar_url = serializers.CharField()
    intro = serializers.CharField()
    theme = serializers.ChoiceField(choices=BusinessCard.Theme.choices)


class CardOutput(_CardFields):
    """A card as its owner sees it: the phone in full."""

    phone = serializers.CharField()
    status = serializers.ChoiceField(choices=BusinessCard.Status.choices)
    published_at = serializers.DateTimeField(allow_null=True)
    featured_listing_ids = serializers.SerializerMethodField()

    def get_featured_listing_ids(self, card) -> list[int]:
        return list(card.featured_links.values_list("listing_id", flat=True))


class PublicCardOutput(_CardFields):
    """A published card as a visitor sees it: the phone masked until the visitor has authorised their own."""

    phone = serializers.SerializerMethodField(help_text="完整号码需访客授权手机号后可见 masked until the visitor "
                                                        "authorises their phone number")
    phone_masked = serializers.BooleanField(source="phone_hidden")
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
        visitor_id = serializers.RegexField(
            r"^[A-Za-z0-9_\-]{8,64}$", required=False,
            help_text="匿名访客设备号，供无法设置请求头的 sendBeacon 使用 the anonymous device id, for "
                      "navigator.sendBeacon, which cannot set X-Visitor-Id (the header wins when both are sent)")

    @extend_schema(summary="名片埋点 Track a visitor's action on a card", request=Input, parameters=[VISITOR_HEADER],
                   responses={204: None, **errors(404)}, tags=["cards"])
    def post(self, request):
        data = _track_input(request.data)
        visitor = _visitor(request)
        beacon_visitor = data.pop("visitor_id")
        if visitor["user_id"] is None and not visitor["visitor_id"] and beacon_visitor:
            visitor["visitor_id"] = beacon_visitor
        sharing.card_track(**data, **visitor)
        return Response(status=204)


_TRACK_FIELDS = {"visit_id": str, "action": str, "share_id": str, "card_id": int, "dwell_seconds": int,
                 "listing_id": int, "visitor_id": str}


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
            "listing_id": data.get("listing_id"), "visitor_id": data.get("visitor_id") or ""}


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


# --- the H5 card page's contact card, and the rep's radar --------------------------------------------------------
class CardVcardApi(APIView):
    """保存联系人 The card as a vCard for the visitor's address book: the phone in full only where the card API shows
    it in full (a visitor logged in with a phone number), never to an anonymous visitor."""

    permission_classes = [AllowAny]
    content_negotiation_class = BeaconNegotiation  # the answer is a vCard; an error is JSON, whatever Accept says

    @extend_schema(summary="保存联系人 Download a published card as a vCard",
                   responses={(200, "text/vcard"): OpenApiResponse(OpenApiTypes.STR, description="vCard 3.0")},
                   tags=["cards"])
    def get(self, request, card_id: int):
        card = sharing.published_card(card_id=card_id)
        phone_shown = bool(request.user.is_authenticated and request.user.phone and card.phone)
        page_url = request.build_absolute_uri(f"/card/{card.pk}")
        response = HttpResponse(vcard.card_vcard(card=card, phone_shown=phone_shown, page_url=page_url),
                                content_type="text/vcard; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="card-{card.pk}.vcf"'
        response["Cache-Control"] = "private, no-store"
        return response


RADAR_CURSOR = re.compile(r"\d{1,20}-\d{1,20}")


def _radar_cursor(value: str, *, name: str) -> str:
    if not RADAR_CURSOR.fullmatch(value):
        raise ValidationFailed(_("a radar position is a stream id like 1700000000000-0"), code="radar_cursor_invalid",
                               detail={"field": name})
    return value


def _radar_owner(request) -> int:
    if not selectors.is_rep(user=request.user):
        raise PermissionDenied(_("the radar is for store staff"), code="not_a_rep")
    return request.user.pk


class RadarItemOutput(serializers.Serializer):
    id = serializers.CharField(help_text="流编号，续读位置 the stream id: read on after it")
    at = serializers.DateTimeField(help_text="访客最后动作时间 when the visitor last acted")
    text = serializers.CharField(help_text="雷达句子（中文）the radar sentence, in Chinese")
    action = serializers.CharField(help_text="最能说明意向的动作 the most telling action of the visit")
    card_id = serializers.IntegerField()
    lead_id = serializers.IntegerField(allow_null=True)
    visit_number = serializers.IntegerField(help_text="第几次访问 how many visits this visitor has made")
    new_visit = serializers.BooleanField(help_text="新的一次打开 a new opening of the card page")


class RadarStreamApi(APIView):
    """智能雷达（实时推送）The rep's radar as Server-Sent Events."""

    content_negotiation_class = BeaconNegotiation  # the answer is an event stream; an error is JSON

    @extend_schema_serializer(component_name="RadarStreamFilter")
    class Filter(serializers.Serializer):
        after = serializers.CharField(max_length=41, required=False,
                                      help_text="从此编号之后开始（断线续传用 Last-Event-ID 请求头）start after this "
                                                "stream id (a reconnecting EventSource sends Last-Event-ID instead)")

    @extend_schema(
        summary="雷达实时推送 Stream my radar (Server-Sent Events)", parameters=[Filter],
        responses={(200, "text/event-stream"): OpenApiResponse(
            OpenApiTypes.STR, description="text/event-stream: `retry:` first; one event per radar item (`id:` = "
                                          "stream id, `data:` = a RadarItem as JSON); `: ping` comments while quiet; "
                                          "`event: end` when the stream closes after RADAR_STREAM_SECONDS (the "
                                          "client reconnects with Last-Event-ID), `event: busy` when the server "
                                          "has no stream to spare (reconnect after `retry:`)"),
                   **errors(403, 503)},
        tags=["leads"])
    def get(self, request):
        owner_id = _radar_owner(request)
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        resume = request.META.get("HTTP_LAST_EVENT_ID", "")
        after = (_radar_cursor(resume, name="Last-Event-ID") if resume
                 else _radar_cursor(filters.validated_data["after"], name="after")
                 if "after" in filters.validated_data else None)
        response = StreamingHttpResponse(radar.radar_stream(owner_id=owner_id, after=after),
                                         content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # a proxy in front must pass each event on at once
        return response


class RadarPollApi(APIView):
    """智能雷达（长轮询）The rep's radar as JSON: the latest items, or a long-poll for what comes after `after`."""

    content_negotiation_class = BeaconNegotiation

    @extend_schema_serializer(component_name="RadarPollFilter")
    class Filter(serializers.Serializer):
        after = serializers.CharField(max_length=41, required=False,
                                      help_text="只要此编号之后的 only items after this stream id; without it, the "
                                                "latest items")
        wait = serializers.IntegerField(min_value=0, max_value=settings.RADAR_LONG_POLL_SECONDS, required=False,
                                        default=0, help_text="无新消息时最多等待秒数 seconds to wait when nothing "
                                                             "is new (with `after`)")

    @extend_schema_serializer(component_name="RadarPollOutput")
    class Output(serializers.Serializer):
        items = RadarItemOutput(many=True, help_text="按时间先后 oldest first")
        last_id = serializers.CharField(help_text="下次请求的 after the `after` of the next request")
        retry_after = serializers.IntegerField(help_text="服务器繁忙时，多少秒后再来 seconds to wait before the next "
                                                         "request when the server was too busy to wait (else 0)")

    @extend_schema(summary="雷达动态 Get my radar (long-poll)", parameters=[Filter],
                   responses={200: Output, **errors(403, 503)}, tags=["leads"])
    def get(self, request):
        owner_id = _radar_owner(request)
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        after = _radar_cursor(values["after"], name="after") if "after" in values else None
        page = radar.radar_poll(owner_id=owner_id, after=after, wait_seconds=values["wait"])
        return Response(self.Output(page).data)


# --- share-graph analytics (分享分析) ----------------------------------------------------------------------------
# Each answer is one Cypher query on the share graph (cards/analytics.py). A rep reads their own cards, a store's
# manager or owner every card of the store; another rep's card, lead or order is a 404. People are shown by an
# opaque `ref`, a label and, where they are the rep's lead, its id: never by their device id.
class GraphPersonOutput(serializers.Serializer):
    ref = serializers.CharField(help_text="稳定的匿名编号 a stable, opaque reference to the person")
    label = serializers.CharField(help_text="昵称，或匿名访客 nickname, or an anonymous visitor's label")
    user_id = serializers.IntegerField(allow_null=True)
    lead_id = serializers.IntegerField(allow_null=True, help_text="此人是该导购的线索时 the rep's lead for them")


class GraphLinkOutput(serializers.Serializer):
    share_id = serializers.CharField()
    channel = serializers.CharField()
    depth = serializers.IntegerField(help_text="分享层级 the share's depth in its chain of forwards")
    at = serializers.DateTimeField(help_text="归属时间 when the referral was fixed")


class AnalyticsDepthFilter(serializers.Serializer):
    depth = serializers.IntegerField(min_value=1, max_value=10, required=False, default=3,
                                     help_text="层数，最多 10 levels below the rep, at most 10")


class CardTreeApi(APIView):
    """传播树 The propagation tree under the card's rep."""

    @extend_schema_serializer(component_name="CardTreeFilter")
    class Filter(AnalyticsDepthFilter):
        limit = serializers.IntegerField(min_value=1, max_value=2000, required=False, default=500,
                                         help_text="最多返回节点数 at most this many people, level by level")

    @extend_schema_serializer(component_name="CardTreeOutput")
    class Output(serializers.Serializer):
        class Node(serializers.Serializer):
            person = GraphPersonOutput()
            parent = serializers.CharField(help_text="上级的 ref the ref of who brought them")
            level = serializers.IntegerField()
            share_id = serializers.CharField()
            channel = serializers.CharField()
            at = serializers.DateTimeField()

        card_id = serializers.IntegerField()
        depth = serializers.IntegerField()
        limit = serializers.IntegerField()
        truncated = serializers.BooleanField(help_text="该深度内还有更多人 more people exist within this depth")
        root = GraphPersonOutput()
        nodes = Node(many=True)

    @extend_schema(summary="传播树 Propagation tree of my card", parameters=[Filter],
                   responses={200: Output, **errors(503)}, tags=["analytics"])
    def get(self, request, card_id: int):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return Response(self.Output(analytics.card_tree_for(user=request.user, card_id=card_id,
                                                            **filters.validated_data)).data)


class CardLevelsApi(APIView):
    """各层人数、二次转发率与裂变系数 People per level, the second-level share ratio and the branching factor."""

    @extend_schema_serializer(component_name="CardLevelsFilter")
    class Filter(serializers.Serializer):
        depth = serializers.IntegerField(min_value=1, max_value=10, required=False, default=10)

    @extend_schema_serializer(component_name="CardLevelsOutput")
    class Output(serializers.Serializer):
        class Level(serializers.Serializer):
            level = serializers.IntegerField()
            people = serializers.IntegerField()
            forwarders = serializers.IntegerField(help_text="其中再次转发的人数 of them, people who forwarded it")
            forward_ratio = serializers.FloatField(allow_null=True)
            branching = serializers.FloatField(allow_null=True, help_text="本层人数 / 上层人数 people here per "
                                                                          "person one level up")

        card_id = serializers.IntegerField()
        depth = serializers.IntegerField()
        levels = Level(many=True)
        reached = serializers.IntegerField(help_text="该深度内导购树上的人数 people in the rep's tree within depth")
        referred_total = serializers.IntegerField(help_text="该名片的全部归属人数 every referral of the card")
        outside = serializers.IntegerField(help_text="更深或不在导购树上 deeper, or in chains not under the rep")
        second_level_ratio = serializers.FloatField(allow_null=True, help_text="二次转发率 share of level-1 "
                                                                               "visitors who forwarded again")
        branching_factor = serializers.FloatField(allow_null=True, help_text="平均每人带来的人数 people each "
                                                                             "person brought, on average")

    @extend_schema(summary="各层人数与二次转发率 People per level and second-level share ratio",
                   parameters=[Filter], responses={200: Output, **errors(503)}, tags=["analytics"])
    def get(self, request, card_id: int):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return Response(self.Output(analytics.card_levels_for(user=request.user, card_id=card_id,
                                                              **filters.validated_data)).data)


class CardSpreadersApi(APIView):
    """传播达人 Top spreaders of a card: reach and conversions."""

    @extend_schema_serializer(component_name="CardSpreadersFilter")
    class Filter(AnalyticsDepthFilter):
        limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)

    @extend_schema_serializer(component_name="CardSpreadersOutput")
    class Output(serializers.Serializer):
        class Spreader(serializers.Serializer):
            person = GraphPersonOutput()
            reach = serializers.IntegerField(help_text="该深度内带来的人数 people brought within depth")
            direct = serializers.IntegerField(help_text="直接带来的人数 people brought directly")
            conversions = serializers.IntegerField(help_text="其中成交的人数 of them, people who converted")

        card_id = serializers.IntegerField()
        depth = serializers.IntegerField()
        spreaders = Spreader(many=True)

    @extend_schema(summary="传播达人 Top spreaders of my card", parameters=[Filter],
                   responses={200: Output, **errors(503)}, tags=["analytics"])
    def get(self, request, card_id: int):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return Response(self.Output(analytics.card_spreaders_for(user=request.user, card_id=card_id,
                                                                 **filters.validated_data)).data)


class GraphChainFields(serializers.Serializer):
    people = GraphPersonOutput(many=True, help_text="从第一位分享人到客户 from the first sharer down to the visitor")
    links = GraphLinkOutput(many=True)
    from_rep = serializers.BooleanField(help_text="链路始于导购本人 the chain starts at the card's rep")
    amount = MoneyField(allow_null=True)
    converted_at = serializers.DateTimeField(allow_null=True)


class LeadChainApi(APIView):
    """成交链路 The chain of shares from the rep to a lead."""

    @extend_schema_serializer(component_name="LeadChainOutput")
    class Output(GraphChainFields):
        lead_id = serializers.IntegerField()
        card_id = serializers.IntegerField()
        order_id = serializers.IntegerField(allow_null=True)

    @extend_schema(summary="线索的分享链路 Chain from the rep to a lead", responses={200: Output, **errors(503)},
                   tags=["analytics"])
    def get(self, request, lead_id: int):
        return Response(self.Output(analytics.lead_chain_for(user=request.user, lead_id=lead_id)).data)


class OrderAttributionApi(APIView):
    """订单归因 Attribution of an order to the sharers on its chain."""

    @extend_schema_serializer(component_name="OrderAttributionOutput")
    class Output(serializers.Serializer):
        class Attribution(GraphChainFields):
            class Credit(serializers.Serializer):
                person = GraphPersonOutput()
                amount = MoneyField()

            card_id = serializers.IntegerField()
            lead_id = serializers.IntegerField()
            credits = Credit(many=True, help_text="线性归因：链路上每位分享人均分 linear: an equal part for each "
                                                  "sharer on the chain, the remainder to the direct referrer")

        order_id = serializers.IntegerField()
        buyer = GraphPersonOutput()
        attributions = Attribution(many=True)

    @extend_schema(summary="订单归因 Attribute an order to the sharers on its chain",
                   responses={200: Output, **errors(503)}, tags=["analytics"])
    def get(self, request, order_id: int):
        return Response(self.Output(analytics.order_attribution_for(user=request.user, order_id=order_id)).data)
