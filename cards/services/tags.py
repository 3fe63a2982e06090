"""Interest tags (兴趣标签) of leads: what they looked at (each viewed listing's category and price against its
store's price bands) and what they wrote (chat topics), read by cards.ml.tags. The scoring pass
(cards.services.intent.leads_score) writes them onto Lead.tags with the intent score."""
from collections.abc import Sequence

from cards.ml.tags import interest_tags, price_bands
from mall import selectors as mall_selectors


def tags_for(*, viewed: Sequence[Sequence[int]], chat_texts: Sequence[Sequence[str]], store_ids: Sequence[int]
             ) -> list[list[str]]:
    """Tags per lead, from the listings it viewed and the messages it wrote (lists in the same order)."""
    facts = mall_selectors.listing_facts(listing_ids={listing for listings in viewed for listing in listings})
    bands = {store_id: price_bands(prices)
             for store_id, prices in mall_selectors.store_prices(store_ids=set(map(int, store_ids))).items()}
    tags = []
    for listings, texts, store_id in zip(viewed, chat_texts, store_ids, strict=True):
        known = [facts[listing] for listing in listings if listing in facts]
        tags.append(interest_tags(viewed_categories=[category for category, _price, _store in known],
                                  viewed_prices=[price for _category, price, _store in known],
                                  bands=bands.get(int(store_id)), chat_texts=texts))
    return tags
