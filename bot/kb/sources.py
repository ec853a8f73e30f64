"""How a source is named to users: 「來源：中小微企業多元振興發展計畫（114年3月）」.

Seeds are official documents. The IDs of sources/external-facts.md are mostly news
reports of official releases; we say so, and mark consultant pages as unofficial.
"""

from __future__ import annotations

from bot.kb.records import SourceRef

SEED_TITLES = {
    "000": "經濟部「中小微企業多元振興發展計畫」進度報告",
    "001": "中企署「中小微企業多元振興發展計畫」",
    "002": "經濟部中小企業處111年度預算說明",
    "003": "經濟部「推動產業及中小企業升級轉型」措施",
    "004": "中企署「推升級」計畫專頁",
}
# external-facts.md source IDs that are official pages or law texts.
OFFICIAL = {
    "D01": "受災中小企業融資協處辦法",
    "D02": "受災中小企業融資協處辦法條文",
    "D03": "中企署公告",
    "D04": "中企署公告",
    "F01": "協助企業辦理銀行債權債務協商作業要點",
    "F02": "協助企業辦理銀行債權債務協商作業要點（舊版）",
    "Y02": "青年創業及啟動金貸款要點（舊版）",
    "Y03": "青年創業及啟動金貸款要點修正沿革",
    "S16": "中企署財會通",
    "D13": "花蓮縣工業會轉載經濟部措施",
}
UNOFFICIAL = {"Y04": "民間顧問網頁（非官方）", "R07": "顧問部落格（非官方）", "S17": "銀行網頁", "Y01": "銀行網頁"}


def source_title(ref: SourceRef) -> str:
    doc = ref.doc
    if doc.startswith("seeds/"):
        return SEED_TITLES.get(doc.removeprefix("seeds/")[:3], "官方文件")
    if doc.startswith("sources/"):
        key = ref.section.split()[0] if ref.section else ""
        return OFFICIAL.get(key) or UNOFFICIAL.get(key) or "媒體報導官方發布資料"
    return doc
