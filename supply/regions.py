"""The 31 province-level regions of mainland China (GB/T 2260 codes) with a logistics tier:
1 = core east-coast regions, 3 = remote regions with costly delivery, 2 = the rest."""

PROVINCES = [
    ("110000", "北京市", "Beijing", 1), ("120000", "天津市", "Tianjin", 1), ("130000", "河北省", "Hebei", 2),
    ("140000", "山西省", "Shanxi", 2), ("150000", "内蒙古自治区", "Inner Mongolia", 3),
    ("210000", "辽宁省", "Liaoning", 2), ("220000", "吉林省", "Jilin", 2), ("230000", "黑龙江省", "Heilongjiang", 2),
    ("310000", "上海市", "Shanghai", 1), ("320000", "江苏省", "Jiangsu", 1), ("330000", "浙江省", "Zhejiang", 1),
    ("340000", "安徽省", "Anhui", 2), ("350000", "福建省", "Fujian", 2), ("360000", "江西省", "Jiangxi", 2),
    ("370000", "山东省", "Shandong", 2), ("410000", "河南省", "Henan", 2), ("420000", "湖北省", "Hubei", 2),
    ("430000", "湖南省", "Hunan", 2), ("440000", "广东省", "Guangdong", 1),
    ("450000", "广西壮族自治区", "Guangxi", 2), ("460000", "海南省", "Hainan", 3), ("500000", "重庆市", "Chongqing", 2),
    ("510000", "四川省", "Sichuan", 2), ("520000", "贵州省", "Guizhou", 2), ("530000", "云南省", "Yunnan", 2),
    ("540000", "西藏自治区", "Tibet", 3), ("610000", "陕西省", "Shaanxi", 2), ("620000", "甘肃省", "Gansu", 3),
    ("630000", "青海省", "Qinghai", 3), ("640000", "宁夏回族自治区", "Ningxia", 3),
    ("650000", "新疆维吾尔自治区", "Xinjiang", 3),
]


def regions_ensure() -> None:
    """Create the province rows that are missing (tests whose table flush removed the migration's rows)."""
    from supply.models import Region

    if Region.objects.count() < len(PROVINCES):
        Region.objects.bulk_create([Region(code=code, name=name, name_en=name_en, tier=tier)
                                    for code, name, name_en, tier in PROVINCES], ignore_conflicts=True)
