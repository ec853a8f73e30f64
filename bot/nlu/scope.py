"""Why a message is out of scope, said plainly: 「這是個人信貸的問題…」.

The classifier says *that* a message is out of scope; :func:`reason` says *why*, from
the words of the message, so the reply can name the kind of question (a person's own
loan, labour or health insurance, national pension, tax filing, company registration,
visas and work permits, local daily life). Each reason has a response in domain.yml
(``utter_out_of_scope_<reason>``); anything else (small talk, nonsense) gets the
general ``utter_out_of_scope``. No agency is named unless knowledge/contacts.yml has
a record for it (none of these has one today), and no number but our hotline.
"""

from __future__ import annotations

import re

from bot.nlu.normaliser import normalise

# First match wins: the more specific kinds come first (勞保 before 個人, 報稅 before 公司).
REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("labour_insurance", re.compile(r"勞保|勞工保險|勞退|勞工退休|職災保險|投保薪資|老年給付|失業給付|生育給付")),
    ("health_insurance", re.compile(r"健保|補充保費|健康保險")),
    ("national_pension", re.compile(r"國民年金|國保|老人年金|敬老津貼")),
    (
        "tax_filing",
        re.compile(
            r"報稅|申報.{0,4}稅|稅.{0,3}申報|綜所稅|營所稅|營業稅|所得稅|扣繳|補稅|退稅|國稅局|記帳士|發票|贈與稅|房屋稅|牌照稅|哪個稅"
        ),
    ),
    (
        "registration",
        re.compile(
            r"公司登記|設立登記|變更登記|商業登記|行號.{0,4}登記|登記.{0,4}行號|開行號|統一編號.{0,3}申請|名稱預查|解散|清算|資本額|有限公司跟|股份有限公司"
        ),
    ),
    ("visa", re.compile(r"簽證|居留證|工作證|護照|移民署|移工|外勞|外籍")),
    (
        "personal_finance",
        re.compile(
            r"個人|私人|自己的|自住|房貸|房代|信貸|信用貸款|車貸|學貸|就學貸款|留學貸款|卡債|信用卡|卡費|預借現金|保單借款|首購|新青安|青年安心|上班族|聯徵|股票|基金|ETF|比特幣|虛擬貨幣"
        ),
    ),
    (
        "local_life",
        re.compile(
            r"路燈|垃圾車|水溝|坑洞|停水|停電|路樹|沙包|里長|市長信箱|公車|騎樓|停車位|鄰居|住家|我家|家裡|檢舉|停班停課|颱風假"
        ),
    ),
)


def reason(text: str) -> str | None:
    """The kind of out-of-scope question ``text`` is, or ``None`` for small talk and nonsense."""
    plain = normalise(text or "")
    for name, pattern in REASONS:
        if pattern.search(plain):
            return name
    return None


def response_name(text: str) -> str:
    """The domain response that answers an out-of-scope ``text``."""
    found = reason(text)
    return f"utter_out_of_scope_{found}" if found else "utter_out_of_scope"
