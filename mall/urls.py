from django.urls import include, path

import core.urls  # noqa: F401  (registers the <id:...> converter)
from mall.api import logistics, shop

urlpatterns = [
    path("categories", shop.CategoryListApi.as_view()),
    path("regions", shop.RegionListApi.as_view()),
    path("listings", shop.ListingListApi.as_view()),
    path("search", shop.ProductSearchApi.as_view()),
    path("listings/<id:listing_id>", shop.ListingDetailApi.as_view()),
    path("cart", shop.CartApi.as_view()),
    path("cart/items", shop.CartItemAddApi.as_view()),
    path("cart/coupons", shop.CartCouponsApi.as_view()),
    path("cart/items/<id:item_id>", shop.CartItemApi.as_view()),
    path("addresses", shop.AddressListApi.as_view()),
    path("addresses/<id:address_id>", shop.AddressApi.as_view()),
    path("checkout/preview", shop.CheckoutPreviewApi.as_view()),
    path("orders", shop.OrderListApi.as_view()),
    path("orders/counts", shop.OrderCountsApi.as_view()),
    path("orders/<id:order_id>", shop.OrderDetailApi.as_view()),
    path("orders/<id:order_id>/cancel", shop.OrderCancelApi.as_view()),
    path("orders/<id:order_id>/confirm-receipt", shop.OrderConfirmReceiptApi.as_view()),
    path("orders/<id:order_id>/pay", shop.OrderPayApi.as_view()),
    path("orders/<id:order_id>/simulated-pay", shop.SimulatedGatewayPayApi.as_view()),
    path("payments/callback/wechatpay", shop.WeChatPayCallbackApi.as_view()),
    path("payments/callback/<slug:provider>", shop.PaymentCallbackApi.as_view()),
    path("logistics/tracking-push/kuaidi100", logistics.Kuaidi100TrackingPushApi.as_view()),
    path("coupons", shop.CouponTemplateListApi.as_view()),
    path("coupons/claim", shop.CouponClaimApi.as_view()),
    path("coupons/mine", shop.MyCouponListApi.as_view()),
    path("group-buys", shop.GroupBuyCampaignListApi.as_view()),
    path("group-buys/<id:campaign_id>/open", shop.GroupBuyOpenApi.as_view()),
    path("group-buy-teams/<id:team_id>", shop.GroupBuyTeamApi.as_view()),
    path("group-buy-teams/<id:team_id>/join", shop.GroupBuyJoinApi.as_view()),
    path("", include("mall.api.bargain_urls")),
    path("", include("mall.api.after_sale_urls")),
]
