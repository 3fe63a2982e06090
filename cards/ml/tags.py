"""Interest tags (兴趣标签) of a visitor, Chinese first: what they looked at (categories, price band) and what their
chat was about (price, comparison, delivery, after-sales).

Chat topics: the text is cut into jieba words (core.ml.text); a topic is present when one of its cue words is a word
of the text, is inside a longer word (jieba reads "发顺丰" as one word), or is two neighbouring words read together
("多少" + "钱", "质量" + "问题"). Weak cues ("多少", "还是", "比较": common words that only sometimes mean the topic)
count only in pairs. The lexicons are ours, written for shoppers' questions to a sales rep; they are the whole rule,
so a tag can always be explained.
"""
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.ml.text import words

PRICE, COMPARISON, DELIVERY, AFTER_SALE = "price", "comparison", "delivery", "after_sale"
TOPICS = (PRICE, COMPARISON, DELIVERY, AFTER_SALE)
TOPIC_TAGS = {PRICE: "问价格", COMPARISON: "对比商品", DELIVERY: "关注物流", AFTER_SALE: "售后咨询"}
TOPIC_CUES: dict[str, frozenset[str]] = {
    PRICE: frozenset({
        "多少钱", "价格", "价钱", "价位", "报价", "优惠", "便宜", "打折", "折扣", "划算", "贵", "太贵", "降价",
        "批发价", "团购价", "优惠券", "满减", "活动价", "特价", "性价比", "砍价", "少点", "便宜点", "最低价", "单价",
        "怎么卖", "几块", "多少", "元"}),
    COMPARISON: frozenset({
        "区别", "对比", "比较", "哪个好", "哪款", "哪个", "不同", "差别", "差异", "一样", "相比", "比起", "两款",
        "推荐", "选哪个", "还是", "更好", "同款"}),
    DELIVERY: frozenset({
        "发货", "快递", "物流", "几天到", "几天", "到货", "配送", "包邮", "运费", "邮费", "顺丰", "送货", "寄", "邮寄",
        "到付", "时候发", "单号", "送到", "偏远", "新疆", "西藏"}),
    AFTER_SALE: frozenset({
        "退货", "换货", "退款", "售后", "保修", "质量问题", "坏", "坏了", "破损", "维修", "退换", "无理由", "退",
        "换", "瑕疵", "少发", "发错", "保质期", "投诉", "质保"}),
}
# Cue words that say little alone; they count only with another cue of their topic ("多少" + "钱").
WEAK_CUES = frozenset({"多少", "元", "哪个", "还是", "几天", "寄", "退", "换", "一样", "推荐", "比较"})
_INSIDE_CUES = {topic: tuple(cue for cue in cues - WEAK_CUES if len(cue) >= 2) for topic, cues in TOPIC_CUES.items()}


def chat_topics(text: str) -> set[str]:
    """The topics a message is about (a message may touch several)."""
    tokens = words(text)
    grams = set(tokens) | {first + second for first, second in itertools.pairwise(tokens)}
    found = set()
    for topic, cues in TOPIC_CUES.items():
        strong = (grams & cues) - WEAK_CUES
        weak = grams & cues & WEAK_CUES
        inside = any(cue in token for token in tokens if len(token) > 2 for cue in _INSIDE_CUES[topic])
        if strong or inside or len(weak) >= 2:
            found.add(topic)
    return found


@dataclass(frozen=True)
class PriceBands:
    """A store's price thresholds: the 1/3 and 2/3 quantiles of its listing prices."""

    low_below: float
    high_above: float

    def band(self, price: float) -> str:
        if price < self.low_below:
            return "低价位"
        if price > self.high_above:
            return "高价位"
        return "中价位"


MIN_CATEGORY_VIEWS = 2
MIN_CATEGORY_SHARE = 0.25
MAX_CATEGORY_TAGS = 2
MIN_PRICED_VIEWS = 2


def interest_tags(*, viewed_categories: Sequence[str], viewed_prices: Sequence[float], bands: PriceBands | None,
                  chat_texts: Iterable[str]) -> list[str]:
    """Tags in a fixed order: up to two categories they looked at most (each at least 2 views and a quarter of
    their product views), their price band (the median price of what they viewed, from 2 views on), then the chat
    topics of their messages."""
    tags: list[str] = []
    counts = Counter(viewed_categories)
    total = sum(counts.values())
    for category, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if len(tags) < MAX_CATEGORY_TAGS and count >= MIN_CATEGORY_VIEWS and count >= MIN_CATEGORY_SHARE * total:
            tags.append(category)
    if bands is not None and len(viewed_prices) >= MIN_PRICED_VIEWS:
        ordered = sorted(viewed_prices)
        middle = len(ordered) // 2
        median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        tags.append(bands.band(median))
    topics: set[str] = set()
    for text in chat_texts:
        topics |= chat_topics(text)
    tags += [TOPIC_TAGS[topic] for topic in TOPICS if topic in topics]
    return tags


def price_bands(prices: Sequence[float]) -> PriceBands | None:
    """Thresholds from a store's listing prices (None without at least 3 prices)."""
    if len(prices) < 3:
        return None
    ordered = sorted(prices)
    return PriceBands(low_below=ordered[len(ordered) // 3], high_above=ordered[(2 * len(ordered)) // 3])
