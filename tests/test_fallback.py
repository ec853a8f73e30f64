from bot.categories import Category
from bot.fallback import fallback_streak, likely_topics, topic_buttons


def test_likely_topics_skips_non_topics_and_keeps_order():
    ranking = [
        {"name": "nlu_fallback"},
        {"name": "out_of_scope"},
        {"name": "digital_rd_ask"},
        {"name": "chitchat_greet"},
        {"name": "policy_ask"},
        {"name": "loan_ask"},
    ]
    assert likely_topics(ranking) == [Category.DIGITAL_RD, Category.POLICY]


def test_two_intents_of_one_topic_count_once():
    ranking = [{"name": "disaster_report"}, {"name": "disaster_ask"}, {"name": "us_tariff_ask"}]
    assert likely_topics(ranking) == [Category.DISASTER, Category.US_TARIFF]


def test_busiest_topics_fill_in_when_the_ranking_names_none():
    assert likely_topics([{"name": "chitchat_greet"}]) == [Category.LOAN, Category.US_TARIFF]


def test_buttons_describe_topics_in_plain_words():
    buttons = topic_buttons([Category.LOAN])
    assert buttons == [{"title": "貸款（額度、利率、怎麼申請）", "payload": "/loan_ask"}]


def user(intent):
    return {"event": "user", "parse_data": {"intent": {"name": intent}}}


def test_fallback_streak_counts_only_the_latest_run():
    events = [
        user("nlu_fallback"),
        user("loan_ask"),
        {"event": "bot"},
        user("nlu_fallback"),
        {"event": "action"},
        user("nlu_fallback"),
    ]
    assert fallback_streak(events) == 2
    assert fallback_streak([user("loan_ask")]) == 0
