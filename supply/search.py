"""Product search for Chinese and English queries.

Each product keeps a `search_document`: lower-cased English words of its title and description, jieba words of any
Chinese text, and the Chinese names of the English keywords it contains (GLOSSARY). A query is cut the same way and
every term must match the document (trigram-indexed ILIKE), so "蜡烛" finds "WHITE CANDLE HOLDER" and "candle" finds
"香薰蜡烛". The glossary is ours: a deterministic keyword map written for the giftware demo catalogue.
"""
import re

import jieba

jieba.setLogLevel(60)  # jieba prints its dictionary loading to stderr at INFO otherwise

GLOSSARY: dict[str, str] = {
    "bag": "包 袋", "bottle": "瓶 水瓶", "bowl": "碗", "box": "盒 收纳盒", "bunting": "彩旗 派对",
    "cake": "蛋糕", "candle": "蜡烛", "card": "卡片 贺卡", "ceramic": "陶瓷", "chalkboard": "黑板",
    "childrens": "儿童", "christmas": "圣诞 圣诞节", "clock": "时钟 钟", "coaster": "杯垫", "cup": "杯子",
    "cushion": "靠垫 抱枕", "decoration": "装饰", "doormat": "门垫 地垫", "easter": "复活节", "frame": "相框 画框",
    "garden": "花园 园艺", "gift": "礼物 礼品", "glass": "玻璃", "hanging": "挂饰 悬挂", "heart": "爱心 心形",
    "holder": "架 托", "hook": "挂钩", "jar": "罐 储物罐", "jewellery": "首饰", "key": "钥匙",
    "kitchen": "厨房", "lamp": "灯", "lantern": "灯笼 提灯", "light": "灯 灯饰", "lunch": "午餐 便当",
    "mug": "马克杯 杯子", "necklace": "项链", "notebook": "笔记本", "paper": "纸", "party": "派对 聚会",
    "pen": "笔", "plate": "盘子 餐盘", "purse": "钱包", "ribbon": "丝带", "ring": "戒指", "rose": "玫瑰",
    "set": "套装", "sign": "标牌 挂牌", "spoon": "勺子", "sticker": "贴纸", "storage": "收纳", "tea": "茶 茶具",
    "tin": "铁盒", "toy": "玩具", "tray": "托盘", "umbrella": "雨伞", "vintage": "复古", "wall": "墙 墙饰",
    "water": "水", "wooden": "木质 木制", "wrap": "包装纸", "baking": "烘焙", "napkins": "餐巾纸",
    "towel": "毛巾", "apron": "围裙", "wreath": "花环", "star": "星星", "bird": "小鸟", "flower": "花",
    "pink": "粉色", "red": "红色", "blue": "蓝色", "white": "白色", "black": "黑色", "green": "绿色",
}

_ENGLISH_WORD = re.compile(r"[a-z0-9]+")
_HAN = re.compile(r"[\u4e00-\u9fff]+")


def terms(text: str) -> list[str]:
    """Search terms of a text: English words (2+ characters) and jieba words of the Chinese parts, in order."""
    lowered = (text or "").lower()
    found = [word for word in _ENGLISH_WORD.findall(lowered) if len(word) >= 2]
    for chunk in _HAN.findall(lowered):
        found += [word for word in jieba.cut_for_search(chunk) if word.strip()]
    return list(dict.fromkeys(found))


def search_document(*texts: str) -> str:
    words = []
    for text in texts:
        words += terms(text)
    translated = []
    for word in words:
        singular = word[:-1] if word.endswith("s") and word[:-1] in GLOSSARY else word
        if singular in GLOSSARY:
            translated += GLOSSARY[singular].split()
    return " ".join(dict.fromkeys(words + translated))


def query_terms(query: str) -> list[str]:
    """Terms a query must all match. Chinese words are cut by jieba; single Chinese characters are kept."""
    return terms(query)[:8]
