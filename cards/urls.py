from django.urls import path

import core.urls  # noqa: F401  (registers the <id:...> converter)
from cards import api

urlpatterns = [
    path("cards/mine", api.MyCardListApi.as_view()),
    path("cards/mine/<id:card_id>", api.MyCardApi.as_view()),
    path("cards/mine/<id:card_id>/publish", api.MyCardPublishApi.as_view()),
    path("cards/<id:card_id>", api.CardDetailApi.as_view()),
    path("cards/<id:card_id>/messages", api.CardMessagesApi.as_view()),
    path("cards/shares", api.ShareCreateApi.as_view()),
    path("cards/shares/<slug:share_id>", api.ShareOpenApi.as_view()),
    path("cards/track", api.TrackApi.as_view()),
    path("cards/identify", api.VisitorIdentifyApi.as_view()),
    path("leads", api.LeadListApi.as_view()),
    path("leads/<id:lead_id>", api.LeadApi.as_view()),
    path("leads/<id:lead_id>/messages", api.LeadMessagesApi.as_view()),
    path("customers/reassign", api.CustomerReassignApi.as_view()),
    path("commission", api.CommissionAccountApi.as_view()),
    path("commission/entries", api.CommissionEntryListApi.as_view()),
    path("commission/withdrawals", api.WithdrawalListApi.as_view()),
    # the H5 card page's contact card, and the rep's radar
    path("cards/<id:card_id>/vcard", api.CardVcardApi.as_view()),
    path("radar", api.RadarPollApi.as_view()),
    path("radar/stream", api.RadarStreamApi.as_view()),
    # share-graph analytics
    path("cards/<id:card_id>/analytics/tree", api.CardTreeApi.as_view()),
    path("cards/<id:card_id>/analytics/levels", api.CardLevelsApi.as_view()),
    path("cards/<id:card_id>/analytics/spreaders", api.CardSpreadersApi.as_view()),
    path("leads/<id:lead_id>/chain", api.LeadChainApi.as_view()),
    path("cards/analytics/orders/<id:order_id>/attribution", api.OrderAttributionApi.as_view()),
]
