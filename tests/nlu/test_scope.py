"""Out of scope, with the reason said plainly (bot.nlu.scope, action_out_of_scope's choice)."""

from pathlib import Path

import pytest
import yaml

from bot.nlu.scope import REASONS, response_name

DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("text", "response"),
    [
        ("國泰世華的個人信貸利率多少", "utter_out_of_scope_personal_finance"),
        ("我自住的房貸可以展延嗎", "utter_out_of_scope_personal_finance"),
        ("员工的劳保要怎么加保", "utter_out_of_scope_labour_insurance"),
        ("負責人的健保要保在哪裡", "utter_out_of_scope_health_insurance"),
        ("國民年金沒繳會怎樣", "utter_out_of_scope_national_pension"),
        ("開行號跟開公司哪個稅比較少", "utter_out_of_scope_tax_filing"),
        ("公司登記要去哪裡辦", "utter_out_of_scope_registration"),
        ("外籍員工的工作簽證要怎麼辦", "utter_out_of_scope_visa"),
        ("我家門口的路燈不亮要找誰", "utter_out_of_scope_local_life"),
        ("講個笑話", "utter_out_of_scope"),
        ("asdfgh", "utter_out_of_scope"),
    ],
)
def test_the_reason_is_named(text, response):
    assert response_name(text) == response


def test_every_reason_has_a_plain_response_with_the_hotline_and_no_other_number():
    import re

    for name, _ in REASONS:
        text = DOMAIN["responses"][f"utter_out_of_scope_{name}"][0]["text"]
        assert "0800-280-280" in text
        assert re.findall(r"\d{2,4}-\d{3,4}-\d{3,4}", text) == ["0800-280-280"], text
        assert text.startswith("這是"), text
