"""The term dictionary and the title composer (supply/terms), on real catalogue titles. Pure: no database."""
import pytest

from mall import demo
from mall.management.commands.load_demo import default_data_dir
from supply.terms import term_dictionary, terms_parse
from supply.terms.compose import coverage_of, title_read, title_translate

CSV_PATH = default_data_dir() / demo.CSV_RELATIVE_PATH
COVERAGE_FLOOR = 0.95


@pytest.mark.parametrize(("english", "chinese"), [
    # colour, motif, style before the head noun; a phrase is one thing
    ("WHITE HANGING HEART T-LIGHT HOLDER", "白色爱心挂式茶蜡烛台"),
    ("HOT WATER BOTTLE KEEP CALM", "保持冷静热水袋"),
    ("LUNCH BAG RED RETROSPOT", "红色复古圆点午餐袋"),
    # quantities at the end, with the head noun's classifier
    ("PACK OF 72 RETROSPOT CAKE CASES", "复古圆点蛋糕纸杯72个装"),
    ("4 PURPLE FLOCK DINNER CANDLES", "紫色植绒长杆蜡烛4支装"),
    ("SET OF 3 CAKE TINS PANTRY DESIGN", "厨房图案蛋糕铁盒3件套"),
    ("SET/6 RED SPOTTY PAPER CUPS", "红色圆点纸杯6件套"),
    ("S/3 POT POURI CUSHIONS BLUE COLOURS", "蓝色香包靠垫3件套"),
    # numbers kept with their unit or noun; sizes in figures at the end; decades
    ("CAKE STAND 3 TIER MAGIC GARDEN", "魔法花园3层蛋糕架"),
    ("SHELF WITH 4 HOOKS HOME SWEET HOME", "甜蜜家园带4个挂钩置物架"),
    ("THE KING GIFT BAG 25x24x12cm", "猫王礼品袋 25x24x12cm"),
    ("PAPER CHAIN KIT 50'S CHRISTMAS", "50年代圣诞纸链手工套件"),
    # OF, IN and two colours
    ("SILVER MUG BONE CHINA TREE OF LIFE", "银色生命之树骨瓷马克杯"),
    ("LAVENDER INCENSE IN TIN", "铁盒装薰衣草线香"),
    ("LILAC DIAMANTE PEN IN GIFT BOX", "礼盒装淡紫色水钻笔"),
    ("FLOWERS HANDBAG blue and orange", "蓝橙色花朵手提包"),
])
def test_real_titles_read_as_chinese_product_names(english, chinese):
    assert title_translate(english) == chinese


def test_plurals_find_their_singular_entry():
    assert title_translate("WOODEN KNIVES") == title_translate("WOODEN KNIFE") == "木质刀"
    assert "蝴蝶" in title_translate("GLITTER BUTTERFLIES")
    assert title_translate("RED RETROSPOT MUGS") == title_translate("RED RETROSPOT MUG")


def test_unknown_words_are_kept_as_they_are_and_reported():
    reading = title_read("SILVER ROCCOCA CHANDELIER")  # ROCCOCA: a misspelling no entry has
    assert reading.chinese == "银色 ROCCOCA 吊灯"
    assert reading.unknown_words == ["ROCCOCA"]
    assert reading.words == 3
    assert title_translate("ZZZQ") == "ZZZQ"


def test_the_parser_refuses_bad_lines_naming_them():
    assert len(terms_parse("MUG\t马克杯\tnoun\t杯子 cup\n# a comment\nPEN\t笔\tnoun/支\n")) == 2
    with pytest.raises(ValueError, match="terms:2: MUG is already"):
        terms_parse("MUG\t马克杯\tnoun\nMUG\t杯\tnoun\n")
    with pytest.raises(ValueError, match="unknown role 'thing'"):
        terms_parse("MUG\t马克杯\tthing\n")
    with pytest.raises(ValueError, match="terms:1: expected"):
        terms_parse("MUG\t\tnoun\n")


def test_the_committed_dictionary_parses_with_roles_and_classifiers():
    dictionary = term_dictionary()
    assert len(dictionary) > 1500
    assert dictionary.terms[("T", "LIGHT", "HOLDER")].role == "noun"
    assert dictionary.terms[("CANDLE",)].classifier == "支"
    assert "杯子" in dictionary.terms[("MUG",)].synonyms


def test_coverage_counts_every_occurrence_and_distinct_words():
    coverage = coverage_of(["RED MUG", "RED ZZZQ MUG", "ZZZQ"])
    assert (coverage.words, coverage.covered) == (6, 4)
    assert (coverage.distinct, coverage.distinct_covered) == (3, 2)
    assert coverage.uncovered == {"ZZZQ": 2}


@pytest.mark.skipif(not CSV_PATH.exists(), reason=f"{CSV_PATH} is not there")
@pytest.mark.slow
def test_the_dictionary_reads_at_least_95_percent_of_the_catalogue_words():
    titles = demo.catalogue_titles(path=CSV_PATH)
    assert len(titles) == demo.FULL_DEMO_COUNTS["products"]
    coverage = coverage_of(list(titles.values()))
    assert coverage.share >= COVERAGE_FLOOR, coverage.uncovered.most_common(30)
