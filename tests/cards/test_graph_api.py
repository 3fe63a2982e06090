"""The analytics endpoints: a rep reads their own card's graph, a store manager the store's; another rep's card,
lead or order and forged ids are a 404; bad parameters a 400; the graph down a 503. Device ids never show."""
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from devstack.services import free_port
from tests.cards.graph_world import DEVICE, fresh_graph, paid_world  # noqa: F401  (the `graph`, `world` fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_rep_and_the_store_manager_read_the_cards_graph(world, card, rep):
    for user in (rep, world["manager"]):
        response = client_of(user).get(f"/api/v1/cards/{card.pk}/analytics/tree?depth=3")
        assert response.status_code == 200, response.content
        body = response.json()
        assert [node["level"] for node in body["nodes"]] == [1, 2]
        device, buyer = body["nodes"]
        assert (device["parent"], buyer["parent"]) == (body["root"]["ref"], device["person"]["ref"])
        assert buyer["person"]["label"] == "买家小李" and buyer["person"]["lead_id"] == world["lead"].pk
        assert (buyer["channel"], device["channel"]) == ("group", "moments")
        assert DEVICE not in response.content.decode()  # a device id works as a credential: never shown
    levels = client_of(rep).get(f"/api/v1/cards/{card.pk}/analytics/levels").json()
    assert [(row["level"], row["people"], row["forwarders"]) for row in levels["levels"]] == [(1, 1, 1), (2, 1, 0)]
    assert levels["second_level_ratio"] == 1.0
    spreaders = client_of(rep).get(f"/api/v1/cards/{card.pk}/analytics/spreaders").json()["spreaders"]
    assert [(row["reach"], row["direct"], row["conversions"]) for row in spreaders] == [(1, 1, 1)]


def test_chain_to_a_converted_lead_and_the_orders_attribution(world, card, rep):
    chain = client_of(rep).get(f"/api/v1/leads/{world['lead'].pk}/chain")
    assert chain.status_code == 200, chain.content
    body = chain.json()
    assert [person["user_id"] for person in body["people"]] == [rep.pk, None, world["buyer"].pk]
    assert body["from_rep"] and body["order_id"] == world["order"].pk
    assert Decimal(body["amount"]) == world["order"].total
    response = client_of(world["manager"]).get(f"/api/v1/cards/analytics/orders/{world['order'].pk}/attribution")
    assert response.status_code == 200, response.content
    (attribution,) = response.json()["attributions"]
    credits = [Decimal(credit["amount"]) for credit in attribution["credits"]]
    assert len(credits) == 2 and sum(credits) == world["order"].total  # the rep and the device that forwarded
    assert credits[1] - credits[0] in (Decimal("0.00"), Decimal("0.01"))


def test_other_reps_and_forged_ids_get_404_and_bad_parameters_400(world, card):
    other = client_of(world["other_rep"])
    for url, code in ((f"/api/v1/cards/{card.pk}/analytics/tree", "card_not_found"),
                      (f"/api/v1/cards/{card.pk}/analytics/levels", "card_not_found"),
                      (f"/api/v1/cards/{card.pk}/analytics/spreaders", "card_not_found"),
                      ("/api/v1/cards/999999/analytics/tree", "card_not_found"),
                      (f"/api/v1/leads/{world['lead'].pk}/chain", "lead_not_found"),
                      (f"/api/v1/cards/analytics/orders/{world['order'].pk}/attribution", "order_not_found"),
                      ("/api/v1/cards/analytics/orders/999999/attribution", "order_not_found")):
        response = other.get(url)
        assert (response.status_code, response.json()["code"]) == (404, code), url
    buyer = client_of(world["buyer"])  # a shopper is nobody's rep
    assert buyer.get(f"/api/v1/cards/{card.pk}/analytics/tree").status_code == 404
    assert APIClient().get(f"/api/v1/cards/{card.pk}/analytics/tree").status_code == 401
    rep = client_of(card.owner)
    for query in ("depth=0", "depth=11", "depth=x", "limit=0", "limit=2001"):
        response = rep.get(f"/api/v1/cards/{card.pk}/analytics/tree?{query}")
        assert (response.status_code, response.json()["code"]) == (400, "invalid"), query


def test_the_graph_down_is_a_503_with_its_code(world, card, settings):
    from cards.graph import graph_shared_close

    settings.GRAPH_URL = f"falkordb://127.0.0.1:{free_port()}"  # nothing listens there
    graph_shared_close()
    response = client_of(card.owner).get(f"/api/v1/cards/{card.pk}/analytics/tree")
    assert (response.status_code, response.json()["code"]) == (503, "graph_unavailable")
    assert response.json()["message"] == "分享关系图暂时无法访问，请稍后再试"
    english = client_of(card.owner).get(f"/api/v1/cards/{card.pk}/analytics/tree", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["message"] == "the share graph cannot be reached; try again shortly"
    graph_shared_close()
