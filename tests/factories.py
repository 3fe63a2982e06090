import factory

from accounts.models import AuthSession, Role, User
from accounts.tokens import auth_session_start


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("phone",)

    phone = factory.Sequence(lambda n: f"139{n:08d}")
    nickname = factory.Faker("name", locale="zh_CN")
    role = Role.SHOPPER


class AuthSessionFactory(factory.django.DjangoModelFactory):
    """A login session made the way a login makes it (`auth_session_start`). The database keeps only the tokens'
    hashes; the tokens themselves are left on the instance as `issued_access_token` and `issued_refresh_token`
    (send `Authorization: Token <issued_access_token>`)."""

    class Meta:
        model = AuthSession

    user = factory.SubFactory(UserFactory)
    method = AuthSession.Method.SMS_CODE

    @classmethod
    def _create(cls, model_class, *args, user, method, **kwargs):
        pair = auth_session_start(user=user, method=method, client=kwargs.get("client", "tests"))
        session = model_class.objects.get(pk=pair.session_id)
        session.issued_access_token, session.issued_refresh_token = pair.access_token, pair.refresh_token
        return session


# --- supply -----------------------------------------------------------------------------------------------------
from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.utils import timezone  # noqa: E402

from mall.models import Address, CouponTemplate, GroupBuyCampaign, Listing, Store  # noqa: E402
from supply.models import (  # noqa: E402
    SKU,
    Category,
    Product,
    Region,
    ShippingRate,
    ShippingTemplate,
    Stock,
    Supplier,
    hash_api_token,
    new_api_token,
)


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    name = factory.Sequence(lambda n: f"供应商{n}有限公司")
    contact_name = "王经理"
    contact_phone = "13900000000"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """Every supplier gets a working API token. The database keeps only its hash; the token itself is left on
        the instance as `issued_token` for tests that call the supplier API."""
        token = new_api_token()
        kwargs.setdefault("api_token_hash", hash_api_token(token))
        supplier = super()._create(model_class, *args, **kwargs)
        supplier.issued_token = token if supplier.api_token_hash == hash_api_token(token) else None
        return supplier


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("parent", "name")

    name = factory.Sequence(lambda n: f"类目{n}")
    parent = None


class ShippingTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingTemplate

    supplier = factory.SubFactory(SupplierFactory)
    name = "默认运费"


class ShippingRateFactory(factory.django.DjangoModelFactory):
    """Default rate: 10.00 for the first kg, 5.00 per extra kg, free from 99.00."""

    class Meta:
        model = ShippingRate

    template = factory.SubFactory(ShippingTemplateFactory)
    first_weight_grams = 1000
    first_fee = Decimal("10.00")
    extra_weight_grams = 1000
    extra_fee = Decimal("5.00")
    free_threshold = Decimal("99.00")


def _search_fields(product):
    """What supply.services.product_refresh_search stores, for a product being built."""
    from supply.search import search_fields

    return search_fields(title=product.title, source_title=str((product.source or {}).get("title", "")),
                         category_names=(product.category.name, product.category.name_en),
                         description=product.description)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    supplier = factory.SubFactory(SupplierFactory)
    category = factory.SubFactory(CategoryFactory)
    title = factory.Sequence(lambda n: f"白色爱心挂饰 WHITE HANGING HEART {n}")
    description = "一款温馨的家居挂饰"
    source = factory.LazyFunction(dict)
    search_document = factory.LazyAttribute(lambda o: _search_fields(o).document)
    search_vector = factory.LazyAttribute(lambda o: _search_fields(o).vector)


class SKUFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SKU
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"SKU{n:06d}")
    cost_price = Decimal("20.00")
    floor_price = Decimal("30.00")
    suggested_price = Decimal("50.00")
    weight_grams = 500
    stock = factory.RelatedFactory("tests.factories.StockFactory", factory_related_name="sku")


class StockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stock
        django_get_or_create = ("sku",)

    sku = factory.SubFactory(SKUFactory, stock=None)
    available = 100


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    owner = factory.SubFactory(UserFactory, role="merchant_staff")
    name = factory.Sequence(lambda n: f"心意小店{n}")


class ListingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Listing

    store = factory.SubFactory(StoreFactory)
    sku = factory.SubFactory(SKUFactory)
    price = Decimal("50.00")


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    recipient = "张三"
    phone = "13800138000"
    region = factory.LazyFunction(lambda: Region.objects.get(code="310000"))
    city = "上海市"
    district = "浦东新区"
    detail = "世纪大道 100 号"
    is_default = True


class CouponTemplateFactory(factory.django.DjangoModelFactory):
    """满 100 减 20, valid for a week, 100 issued, one per person."""

    class Meta:
        model = CouponTemplate

    store = factory.SubFactory(StoreFactory)
    name = "满100减20"
    kind = CouponTemplate.Kind.THRESHOLD
    amount_off = Decimal("20.00")
    threshold = Decimal("100.00")
    total_quantity = 100
    validity = CouponTemplate.Validity.FIXED
    valid_from = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    valid_to = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class GroupBuyCampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupBuyCampaign

    listing = factory.SubFactory(ListingFactory)
    team_price = Decimal("35.00")
    team_size = 3
    window_hours = 24
    per_user_limit = 2
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=3))
