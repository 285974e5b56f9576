"""Word lists and distributions for the demo generator (data, not logic)."""

from __future__ import annotations

import numpy as np

from pipelines.reference import divisions

ROAD_HEADS = list("东西南北中新老长平和庆解建凤望景清秋采笕丁九彭天学文延体育环湖江海钱塘")
ROAD_TAILS = ["安", "兴", "河", "山", "华", "阳", "宁", "春", "晖", "荷", "桥", "兰", "堡", "埠", "光", "明", "德", "福", "源", "泰", "园", "茂", "荣", "丰", "瑞", "昌", "盛", "林", "泉", "云"]
ROAD_SUFFIXES = ["路", "街", "巷", "弄"]
COMPOUND_HEADS = ["金", "银", "翠", "绿", "锦", "雅", "嘉", "华", "星", "月", "春", "秋", "景", "紫", "蓝", "丽", "和", "瑞", "东", "西", "南", "北", "新", "凯", "采", "望", "钱", "江", "湖", "云"]
COMPOUND_TAILS = ["都", "桂", "苑", "城", "庭", "湾", "府", "汀", "澜", "岸", "园", "轩", "阁", "舍", "居", "庐", "邸", "墅", "坊", "里", "荷", "枫", "樟", "柳", "竹", "兰", "梅", "松", "桃", "杉"]
COMPOUND_SUFFIXES = ["小区", "花园", "新村", "家园", "公寓", "苑"]
BUSINESS_HEADS = list("鑫泰丰恒隆盛昌华宏达鸿远嘉和顺兴德富瑞祥佳美优品新星")
BUSINESS_TAILS = list("源鑫达盛辉祥泰发茂旺福康宁海润诚信邦创")
INDUSTRIES = ["餐饮", "便利", "美发", "服饰", "五金", "水果", "药房", "茶叶", "装饰", "网络", "文化", "汽修", "烟酒", "面馆", "超市", "眼镜"]

SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏", "韦", "方", "俞", "欧阳", "诸葛", "司马"]
SURNAME_WEIGHTS = [7.2, 7.0, 6.8, 5.4, 4.5, 3.1, 2.2, 2.0, 2.0, 1.9, 1.9, 1.5, 1.3, 1.3, 1.2, 1.2, 1.1, 1.0, 1.0, 0.9, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.6, 0.4, 0.4, 0.3, 0.3, 0.3, 0.3, 0.5, 0.5, 0.3, 0.5, 0.3, 0.3, 0.3, 0.3, 0.2, 0.5, 0.4, 0.05, 0.02, 0.02]
GIVEN_CHARS = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文斌宇浩凯俊鹏飞鑫磊晨晓雪梅琳颖婷欣怡子涵梓轩一诺雨辰思远嘉懿佳琪志强海燕春花秋月金凤德明永昌淑珍振华立新卫东亚楠")
ETHNICITIES = ["壮族", "满族", "回族", "苗族", "土家族", "畲族", "蒙古族"]
MINORITY_FIRST = ["阿依古丽", "买买提", "古丽娜", "艾力", "热依拉", "努尔", "扎西", "次仁", "阿卜杜"]
MINORITY_SECOND = ["买买提", "艾山", "吐尔逊", "热合曼", "卓玛", "多吉", "尼亚孜", "阿不都"]

# Five-year age bands (starting ages) and the share of household heads / people living alone.
AGE_BANDS = np.arange(20, 100, 5)
HEAD_AGE_P = np.array([3, 6, 9, 10, 10, 10, 10, 10, 9, 8, 6, 4, 3, 1.5, 0.4, 0.1])
HEAD_AGE_P = HEAD_AGE_P / HEAD_AGE_P.sum()
SINGLE_AGE_P = np.array([6, 8, 6, 4, 3, 3, 3, 4, 6, 9, 12, 12, 11, 8, 4, 1])
SINGLE_AGE_P = SINGLE_AGE_P / SINGLE_AGE_P.sum()

# Real area codes outside Zhejiang, for residents born elsewhere.
OTHER_PROVINCE_AREAS = ["110101", "310101", "320102", "340102", "360102", "410102", "510104", "430102"]
LEGACY_AREAS = {"330104": 0.15, "330103": 0.03}  # 江干区, 下城区 before 2021


def unique_names(rng: np.random.Generator, heads: list[str], tails: list[str], suffixes: list[str], n: int) -> np.ndarray:
    """``n`` distinct names head+tail+suffix in random order; numbered once the combinations run out."""
    combos = np.array([h + t + s for h in heads for t in tails for s in suffixes], dtype=object)
    picked = combos[rng.permutation(len(combos))[: min(n, len(combos))]]
    if n > len(combos):
        extra = np.array([f"{combos[i % len(combos)]}{i // len(combos) + 1}" for i in range(len(combos), n)], dtype=object)
        picked = np.concatenate([picked, extra])
    return picked


def given_names(rng: np.random.Generator, n: int) -> np.ndarray:
    chars = np.asarray(GIVEN_CHARS, dtype=object)
    first = chars[rng.integers(0, len(chars), n)]
    second = chars[rng.integers(0, len(chars), n)]
    two = rng.random(n) < 0.72
    return np.where(two, first + second, first)


def minority_names(rng: np.random.Generator, n: int) -> np.ndarray:
    a = np.asarray(MINORITY_FIRST, dtype=object)[rng.integers(0, len(MINORITY_FIRST), n)]
    b = np.asarray(MINORITY_SECOND, dtype=object)[rng.integers(0, len(MINORITY_SECOND), n)]
    return a + "·" + b


def id_area_codes(district_code: str) -> list[str]:
    d = divisions()
    zhejiang = [c for c in d.filter(d["level"] == 3)["code"].to_list() if c != district_code]
    return [district_code, *LEGACY_AREAS, *zhejiang, *OTHER_PROVINCE_AREAS]


def area_weights(codes: list[str], district_code: str) -> list[float]:
    n_zj = len(codes) - 1 - len(LEGACY_AREAS) - len(OTHER_PROVINCE_AREAS)
    weights = [0.55, *LEGACY_AREAS.values()]
    weights += [0.17 / n_zj] * n_zj
    weights += [0.10 / len(OTHER_PROVINCE_AREAS)] * len(OTHER_PROVINCE_AREAS)
    return weights
