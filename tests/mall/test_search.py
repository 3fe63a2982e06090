"""Ranked search (supply.selectors, supply.search) and the mall-wide product search GET /api/v1/search."""
from decimal import Decimal

import pytest

from mall import selectors
from mall.models import Listing, Store
from supply.models import Product, SearchWord
from supply.services import product_refresh_search
from supply.terms.compose import title_translate
from tests.factories import ListingFactory, ProductFactory, SKUFactory, StoreFactory, SupplierFactory

pytestmark = pytest.mark.django_db


def catalogue_product(english: str, *stores: Store, prices=("50.00",), sold=(0,)) -> Product:
    """A product as the demo loader makes it (Chinese title, the English one in its source), indexed by the
    product service, listed in each store (prices and sold counts per store)."""
    product = ProductFactory(title=title_translate(english), source={"data_set": "test", "title": english},
                             search_document="", search_vector=None)
    product_refresh_search(product=product)
    sku = SKUFactory(product=product)
    for index, store in enumerate(stores):
        ListingFactory(store=store, sku=sku, price=Decimal(prices[index % len(prices)]),
                       sold_count=sold[index % len(sold)])
    product.refresh_from_db()
    return product


@pytest.fixture
def shop(db):
    store = StoreFactory()
    titles = ["WHITE HANGING HEART T-LIGHT HOLDER", "VINTAGE RED MUG", "OFFICE MUG WARMER PINK",
              "CHRISTMAS CRAFT HEART STOCKING", "CROCHET DOG KEYRING", "RETROSPOT CANDLE LARGE",
              "CHOCOLATE HOT WATER BOTTLE", "GLASS STAR FROSTED T-LIGHT HOLDER", "BLUE POLKADOT UMBRELLA",
              "REGENCY CAKESTAND 3 TIER"]
    return store, {english: catalogue_product(english, store) for english in titles}


def first_titles(client, query: str, count: int = 1) -> list[str]:
    response = client.get("/api/v1/search", {"q": query})
    assert response.status_code == 200, response.content
    products = {product.pk: product.source["title"] for product in Product.objects.all()}
    return [products[row["id"]] for row in response.json()["results"][:count]]


@pytest.mark.parametrize(("query", "english"), [
    ("christmass", "CHRISTMAS CRAFT HEART STOCKING"),  # typo
    ("candel", "RETROSPOT CANDLE LARGE"),  # typo
    ("umbrela", "BLUE POLKADOT UMBRELLA"),  # typo
    ("mugs", "VINTAGE RED MUG"),  # plural, and a mug before a mug warmer
    ("mug", "VINTAGE RED MUG"),
    ("keyring", "CROCHET DOG KEYRING"),
    ("key ring", "CROCHET DOG KEYRING"),  # the dictionary's compound
    ("cake stand", "REGENCY CAKESTAND 3 TIER"),
    ("hot water bottle", "CHOCOLATE HOT WATER BOTTLE"),
    ("马克杯", "VINTAGE RED MUG"),  # Chinese title
    ("杯子", "VINTAGE RED MUG"),  # a synonym of the dictionary
    ("热水袋", "CHOCOLATE HOT WATER BOTTLE"),
    ("蛋糕架", "REGENCY CAKESTAND 3 TIER"),
    ("蜡烛", "RETROSPOT CANDLE LARGE"),  # the candle before the candle holders
    ("圣诞", "CHRISTMAS CRAFT HEART STOCKING"),
    ("白色爱心挂式茶蜡烛台", "WHITE HANGING HEART T-LIGHT HOLDER"),
    ("white heart t-light holder", "WHITE HANGING HEART T-LIGHT HOLDER"),
])
def test_queries_reach_the_right_product_first(api_client, shop, query, english):
    assert first_titles(api_client, query) == [english]


def test_typos_are_corrected_through_the_vocabulary_only_when_no_product_has_the_word(shop):
    assert SearchWord.objects.filter(word="christmas", stem="christma").exists()
    from supply.search import query_terms
    from supply.selectors import typo_alternatives

    corrected = typo_alternatives(terms=query_terms("christmass mug"))
    assert "christma" in corrected["christmass"] and "mug" not in corrected


def test_a_chinese_and_an_english_query_find_the_same_product(api_client, shop):
    assert first_titles(api_client, "烛台", 2) == first_titles(api_client, "t-light holder", 2)
    assert set(first_titles(api_client, "烛台", 2)) == {"WHITE HANGING HEART T-LIGHT HOLDER",
                                                        "GLASS STAR FROSTED T-LIGHT HOLDER"}


def test_the_mall_wide_search_lists_a_product_once_with_every_store_selling_it(api_client):
    first, second, closed = StoreFactory(), StoreFactory(), StoreFactory(status=Store.Status.CLOSED)
    mug = catalogue_product("VINTAGE RED MUG", first, second, closed, prices=("52.00", "48.50", "10.00"),
                            sold=(7, 3, 99))
    catalogue_product("CHOCOLATE HOT WATER BOTTLE", first)
    response = api_client.get("/api/v1/search", {"q": "mug"})
    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 1
    (row,) = page["results"]
    assert (row["id"], row["title"], row["sold"], row["lowest_price"]) == (mug.pk, "复古红色马克杯", 10, "48.50")
    listings = {listing.store_id: listing for listing in Listing.objects.filter(sku__product=mug)}
    assert row["stores"] == [  # cheapest first; the closed store is not selling
        {"listing_id": listings[second.pk].pk, "store_id": second.pk, "store_name": second.name,
         "sku_code": mug.skus.get().code, "spec_values": {}, "price": "48.50", "sold": 3, "in_stock": True},
        {"listing_id": listings[first.pk].pk, "store_id": first.pk, "store_name": first.name,
         "sku_code": mug.skus.get().code, "spec_values": {}, "price": "52.00", "sold": 7, "in_stock": True},
    ]
    # the listing search stays one row per listing; a store's own search shows its own listing
    assert api_client.get("/api/v1/listings", {"q": "mug"}).json()["count"] == 2
    own = api_client.get("/api/v1/listings", {"q": "马克杯", "store": second.pk}).json()
    assert [(row["id"], row["sold"]) for row in own["results"]] == [(listings[second.pk].pk, 3)]


def test_price_range_and_ordering_apply_to_the_stores_shown(api_client):
    cheap, dear = StoreFactory(), StoreFactory()
    mug = catalogue_product("VINTAGE RED MUG", cheap, dear, prices=("20.00", "80.00"), sold=(1, 50))
    bottle = catalogue_product("CHOCOLATE HOT WATER BOTTLE", cheap, prices=("60.00",), sold=(5,))
    page = api_client.get("/api/v1/search", {"min_price": "50.00"}).json()  # no query: by sales
    assert [row["id"] for row in page["results"]] == [mug.pk, bottle.pk]
    assert [store["price"] for store in page["results"][0]["stores"]] == ["80.00"]
    page = api_client.get("/api/v1/search", {"ordering": "price"}).json()
    assert [(row["id"], row["lowest_price"]) for row in page["results"]] == [(mug.pk, "20.00"),
                                                                             (bottle.pk, "60.00")]


def test_queries_that_match_nothing_fall_back_gracefully(api_client, shop):
    # no product has both words: the products with either come first
    assert set(first_titles(api_client, "mug 热水袋", 2)) == {"VINTAGE RED MUG", "CHOCOLATE HOT WATER BOTTLE"}
    # a Chinese word no title has as a word: its characters
    match = selectors.search_match_find(query="爱挂", products=Product.objects.all())
    assert match.stage == "characters"
    assert first_titles(api_client, "爱挂") == ["WHITE HANGING HEART T-LIGHT HOLDER"]
    response = api_client.get("/api/v1/search", {"q": "qqqqxxxx"})
    assert (response.status_code, response.json()["count"]) == (200, 0)


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"ordering": "cheapest"}, 400, "invalid"),
    ({"q": "x" * 101}, 400, "invalid"),
    ({"min_price": "-1"}, 400, "invalid"),
    ({"max_price": "abc"}, 400, "invalid"),
    ({"category": "abc"}, 400, "invalid"),
    ({"category": "0"}, 400, "invalid"),
    ({"page": "0"}, 400, "invalid"),
    ({"page": "999"}, 404, "not_found"),
])
def test_malformed_search_input_is_a_4xx_with_a_stable_code_and_changes_nothing(api_client, shop, params, status,
                                                                                 code):
    before = (Product.objects.count(), SearchWord.objects.count(), Listing.objects.count())
    response = api_client.get("/api/v1/search", params)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and set(response.json()) == {"code", "message", "detail"}
    assert (Product.objects.count(), SearchWord.objects.count(), Listing.objects.count()) == before


def test_a_product_saved_by_its_supplier_is_found_by_its_chinese_title(api_client):
    store = StoreFactory()
    product = ProductFactory(title="安吉白茶 礼盒装", supplier=SupplierFactory(), search_document="",
                             search_vector=None)
    product_refresh_search(product=product)
    ListingFactory(store=store, sku=SKUFactory(product=product))
    assert [row["id"] for row in api_client.get("/api/v1/search", {"q": "白茶"}).json()["results"]] == [product.pk]
