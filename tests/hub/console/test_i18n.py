"""The console's word tables."""

from hub.console.i18n import LANGUAGES


def test_both_languages_have_every_word() -> None:
    """Chinese and English tables have the same keys, none empty."""
    chinese, english = LANGUAGES["zh-CN"], LANGUAGES["en"]
    assert set(chinese) == set(english)
    assert all(chinese.values())
    assert all(english.values())


def test_chinese_is_chinese_and_english_is_ascii() -> None:
    """Every Chinese entry has a CJK character; every English one is plain ASCII (a
    mixed-up table would show the wrong language on the page)."""
    for key, text in LANGUAGES["zh-CN"].items():
        assert any("\u4e00" <= c <= "\u9fff" for c in text), key
    for key, text in LANGUAGES["en"].items():
        assert text.replace("…", "").replace("·", "").isascii(), key
