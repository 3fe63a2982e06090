"""Interest tags (cards/ml/tags.py): chat topics read from jieba words, categories and price band from what a
visitor looked at. The messages here are written for the test, not taken from the demo's templates."""
import pytest

from cards.demo import CHAT_TEMPLATES
from cards.ml.tags import PriceBands, chat_topics, interest_tags, price_bands


@pytest.mark.parametrize(("text", "topics"), [
    ("请问这套杯子多少钱一个？", {"price"}),
    ("能不能再便宜一点，我要二十个", {"price"}),
    ("有没有团购价", {"price"}),
    ("这款跟上次那款差别大吗", {"comparison"}),
    ("陶瓷的和玻璃的哪个好洗", {"comparison"}),
    ("今天下单明天能发货吗", {"delivery"}),
    ("寄到乌鲁木齐要几天到", {"delivery"}),
    ("运费谁出", {"delivery"}),
    ("买回去发现有瑕疵能换吗", {"after_sale"}),
    ("收到的时候杯口坏了", {"after_sale"}),
    ("两款价格一样吗？顺丰包邮吗？", {"price", "comparison", "delivery"}),
    ("你好", set()),
    ("谢谢，我考虑一下", set()),
    ("这个颜色很好看", set()),
])
def test_chat_topics(text, topics):
    assert chat_topics(text) == topics


def test_a_weak_cue_alone_is_not_a_topic_but_two_together_are():
    assert chat_topics("我要多少个都有吗") == set()  # 多少 alone
    assert chat_topics("多少钱") == {"price"}  # 多少 + 钱 read together


@pytest.mark.parametrize("topic", ["price", "comparison", "delivery", "after_sale"])
def test_every_chat_line_of_the_demo_reads_as_its_topic(topic):
    for template in CHAT_TEMPLATES[topic]:
        assert topic in chat_topics(template.format(p="白色爱心挂饰")), template
    for template in CHAT_TEMPLATES["none"]:
        assert chat_topics(template.format(p="白色爱心挂饰")) == set(), template


def test_categories_need_two_views_and_a_quarter_of_them():
    bands = PriceBands(low_below=10.0, high_above=30.0)
    tags = interest_tags(viewed_categories=["蜡烛灯饰"] * 3 + ["相框墙饰"] * 2 + ["首饰"], viewed_prices=[],
                         bands=bands, chat_texts=[])
    assert tags == ["蜡烛灯饰", "相框墙饰"]  # 首饰 was seen once
    many = interest_tags(viewed_categories=["A"] * 4 + ["B"] * 3 + ["C"] * 2 + ["D"] * 3, viewed_prices=[],
                         bands=bands, chat_texts=[])
    assert many == ["A", "B"]  # at most two; B before D by name on a tie; C is under a quarter of 12


def test_price_band_is_the_median_of_what_they_viewed_against_the_store():
    bands = price_bands([5.0, 8.0, 12.0, 20.0, 25.0, 40.0])
    assert (bands.low_below, bands.high_above) == (12.0, 25.0)  # the 1/3 and 2/3 quantiles
    assert interest_tags(viewed_categories=[], viewed_prices=[30.0, 50.0], bands=bands, chat_texts=[]) == ["高价位"]
    assert interest_tags(viewed_categories=[], viewed_prices=[6.0, 9.0, 40.0], bands=bands,
                         chat_texts=[]) == ["低价位"]
    assert interest_tags(viewed_categories=[], viewed_prices=[12.0, 25.0], bands=bands, chat_texts=[]) == ["中价位"]
    assert interest_tags(viewed_categories=[], viewed_prices=[99.0], bands=bands, chat_texts=[]) == []  # one view
    assert price_bands([1.0, 2.0]) is None


def test_chat_tags_come_after_what_they_looked_at_in_a_fixed_order():
    tags = interest_tags(viewed_categories=["首饰", "首饰"], viewed_prices=[3.0, 4.0], bands=PriceBands(5, 10),
                         chat_texts=["退货怎么办", "多少钱？", "你好"])
    assert tags == ["首饰", "低价位", "问价格", "售后咨询"]


def test_a_cue_inside_a_longer_word_counts_and_an_adverb_is_not_a_comparison():
    assert chat_topics("可以发顺丰吗") == {"delivery"}  # jieba reads 发顺丰 as one word
    assert chat_topics("这个颜色比较好看") == set()  # 比较 here means "rather"
    assert chat_topics("帮我比较一下这两款") == {"comparison"}
