"""Fixed word lists for rule entities: counties, disaster types, industries, attributes.

Scheme names come from ``knowledge/`` (see :func:`bot.nlu.build.entity_terms`); these
lists are the rest. Each maps a canonical value (what fills the slot) to the ways
callers write it. Text is normalised before matching, so 台 arrives as 臺, but both
spellings are listed: the gazetteer must not depend on OpenCC's choices.
"""

from __future__ import annotations

COUNTIES: dict[str, tuple[str, ...]] = {
    "臺北市": ("臺北市", "台北市", "臺北", "台北", "北市"),
    "新北市": ("新北市", "新北"),
    "桃園市": ("桃園市", "桃園"),
    "臺中市": ("臺中市", "台中市", "臺中", "台中", "中市"),
    "臺南市": ("臺南市", "台南市", "臺南", "台南"),
    "高雄市": ("高雄市", "高雄"),
    "基隆市": ("基隆市", "基隆"),
    "新竹市": ("新竹市", "竹市"),
    "嘉義市": ("嘉義市",),
    "新竹縣": ("新竹縣", "竹縣"),
    "苗栗縣": ("苗栗縣", "苗栗"),
    "彰化縣": ("彰化縣", "彰化"),
    "南投縣": ("南投縣", "南投"),
    "雲林縣": ("雲林縣", "雲林"),
    "嘉義縣": ("嘉義縣",),
    "屏東縣": ("屏東縣", "屏東"),
    "宜蘭縣": ("宜蘭縣", "宜蘭"),
    "花蓮縣": ("花蓮縣", "花蓮"),
    "臺東縣": ("臺東縣", "台東縣", "臺東", "台東"),
    "澎湖縣": ("澎湖縣", "澎湖"),
    "金門縣": ("金門縣", "金門"),
    "連江縣": ("連江縣", "連江", "馬祖"),
}

DISASTER_TYPES: dict[str, tuple[str, ...]] = {
    "颱風": ("颱風", "台風", "風災", "丹娜絲", "凱米", "山陀兒", "樺加沙", "鳳凰颱風"),
    "地震": ("地震", "震災", "強震", "0403地震", "花蓮地震"),
    "水災": ("水災", "淹水", "豪雨", "大雨", "水患", "積水", "泡水"),
    "火災": ("火災", "失火", "火警", "燒掉", "燒毀"),
    "土石流": ("土石流", "坍方", "走山"),
    "堰塞湖": ("堰塞湖", "馬太鞍溪"),
    "寒害": ("寒害", "寒流"),
    "旱災": ("旱災", "缺水", "限水"),
}

INDUSTRIES: dict[str, tuple[str, ...]] = {
    "製造業": ("製造業", "工廠", "製造", "加工廠", "代工"),
    "餐飲業": ("餐飲業", "餐飲", "餐廳", "小吃店", "飲料店", "早餐店", "咖啡廳"),
    "零售業": ("零售業", "零售", "商店", "門市", "雜貨店", "網拍"),
    "批發業": ("批發業", "批發", "貿易商"),
    "住宿業": ("住宿業", "民宿", "旅館", "飯店"),
    "營造業": ("營造業", "營造", "工程行"),
    "資訊服務業": ("資訊服務業", "軟體公司", "資訊業"),
    "運輸業": ("運輸業", "物流", "貨運"),
    "攤商": ("攤商", "攤販", "夜市", "市場攤位"),
    "服務業": ("服務業", "美容院", "美髮", "洗衣店"),
}

# What the caller asks about a scheme; values are benefit kinds or record fields
# (knowledge/README.md), so the answer action can look them up directly.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "max_amount": (
        "額度",
        "上限",
        "最高可以貸",
        "可以貸多少",
        "可以借多少",
        "能借多少",
        "貸多少",
        "借多少",
        "多少錢",
        "最多",
        "最高",
        "補助多少",
        "補多少",
        "補助金額",
        "補助上限",
        "獎勵多少",
        "點數",
        "給多少",
        "領多少",
    ),
    "interest_rate": ("利率", "利律", "利息多少", "年利率"),
    "interest_subsidy": ("利息補貼", "補貼利息", "貼息", "息補", "減碼", "補貼利率"),
    "tax_deduction_rate": ("減除率", "減除比例", "抵減率", "可以抵多少", "減除多少"),
    "subsidy_ratio": ("補助比例", "補助幾成", "自籌款", "自籌"),
    "guarantee_ratio": ("保證成數", "信保成數", "成數", "保證幾成"),
    "guarantee_fee": ("保證手續費", "手續費"),
    "loan_term": ("貸款年限", "還款期限", "年限", "還幾年", "貸幾年"),
    "grace_period": ("寬限期",),
    "deadline": ("截止", "截止日", "申請期限", "期限", "到什麼時候", "到何時", "到期", "還有在辦", "還能申請嗎"),
    "eligibility": ("資格", "條件", "誰可以申請", "符合", "適用對象", "申請對象"),
    "documents": ("文件", "資料要準備", "準備什麼", "要準備", "附件", "證明文件", "應備文件"),
    "how_to_apply": ("怎麼申請", "如何申請", "申請方式", "去哪裡辦", "哪裡申請", "哪裡辦", "流程", "申辦"),
    "contact": ("電話", "專線", "打給誰", "聯絡", "客服電話", "幾號"),
}

GAZETTEERS: dict[str, dict[str, tuple[str, ...]]] = {
    "county": COUNTIES,
    "disaster_type": DISASTER_TYPES,
    "industry": INDUSTRIES,
    "attribute": ATTRIBUTES,
}
