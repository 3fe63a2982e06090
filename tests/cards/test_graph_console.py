"""The merchant console's share analytics: the rep sees their cards and a card's page with every analytic, a store
manager the store's cards, another rep gets a 404; an order number attributes the order; the graph down is said on
the page, not a 500."""
import pytest

from devstack.services import free_port
from tests.cards.graph_world import fresh_graph, paid_world  # noqa: F401  (the `graph`, `world` fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/merchant/cards/cardanalytics/"


def test_the_rep_sees_their_card_and_its_analytics_page(world, card, rep, client):
    client.force_login(rep)
    listing = client.get(LIST)
    assert listing.status_code == 200
    assert card.name in listing.content.decode()
    page = client.get(f"{LIST}{card.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    for text in ("二次转发率", 'data-kpi="reached">2<', 'data-kpi="second_level_ratio">100%<', "买家小李",
                 'id="levels"', 'id="spreaders"', 'id="chains"'):
        assert text in html, text
    assert "device-api" not in html
    attributed = client.get(f"{LIST}{card.pk}/change/?order={world['order'].number}").content.decode()
    assert f"¥{world['order'].total}" in attributed and "不始于导购" not in attributed
    deeper = client.get(f"{LIST}{card.pk}/change/?depth=1").content.decode()
    assert "买家小李" not in deeper.split('id="spreaders"')[0].split("data-tree")[1]  # level 2 is not drawn


def test_a_manager_sees_the_store_and_another_rep_gets_a_404(world, card, client):
    client.force_login(world["manager"])
    assert client.get(f"{LIST}{card.pk}/change/").status_code == 200
    client.force_login(world["other_rep"])
    assert client.get(f"{LIST}{card.pk}/change/").status_code == 404
    assert card.name not in client.get(LIST).content.decode()


def test_the_graph_down_is_said_on_the_page(world, card, rep, client, settings):
    from cards.graph import graph_shared_close

    settings.GRAPH_URL = f"falkordb://127.0.0.1:{free_port()}"
    graph_shared_close()
    client.force_login(rep)
    page = client.get(f"{LIST}{card.pk}/change/")
    assert page.status_code == 200 and 'id="graph-error"' in page.content.decode()
    graph_shared_close()
