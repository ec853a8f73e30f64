"""Rule entities through the trained pipeline, with canonical values."""

import pytest


def entities(parser, text):
    return {(e.entity, e.value) for e in parser.parse(text).entities}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我們12個人 在台中開工廠", {("employees", 12), ("county", "臺中市"), ("industry", "製造業")}),
        ("臺南的店被颱風吹壞了", {("county", "臺南市"), ("disaster_type", "颱風")}),
        ("想借三千五百萬", {("amount", 35_000_000)}),
        ("青創貸款利率多少", {("scheme", "youth_startup_loan"), ("attribute", "interest_rate")}),
        ("SBIR要準備什麼文件", {("scheme", "sbir"), ("attribute", "documents")}),
        ("30人以下優惠貸款截止日期", {("scheme", "sme_micro_loan_30_under"), ("attribute", "deadline")}),
        ("花蓮淹水", {("county", "花蓮縣"), ("disaster_type", "水災")}),
    ],
)
def test_entities_are_extracted_with_canonical_values(parser, text, expected):
    assert expected <= entities(parser, text)


def test_taiwanese_words_are_not_rewritten_before_matching(parser):
    assert ("scheme", "matai_an_2025_equipment_restoration") in entities(parser, "堰塞湖設備復原補助一家補多少")


def test_simplified_input_gets_the_same_entities(parser):
    assert entities(parser, "台湾台南的工厂被台风吹坏") >= {("county", "臺南市"), ("disaster_type", "颱風")}
