"""Tests for the Vietnamese text rules in knowledge_base.text."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from knowledge_base.text import (
    QueryForms,
    RulesError,
    english_rendering,
    english_search_text,
    english_words,
    looks_english,
    expand_abbreviations,
    expand_synonyms,
    fold,
    load_rules,
    nfc,
    normalize,
    normalize_tone_marks,
    query_forms,
    syllables,
    syllables_with_offsets,
    word_ngrams,
)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.mark.parametrize("text", ["Đăng ký khai sinh", "giấy chứng nhận quyền sử dụng đất", "Ủy ban"])
def test_nfc_composes_decomposed_input(text: str) -> None:
    decomposed = nfd(text)
    assert decomposed != text
    assert nfc(decomposed) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đăng ký khai sinh", "dang ky khai sinh"),
        ("ĐỒNG Ý", "dong y"),
        ("đ Đ", "d d"),
        ("Người ở phường", "nguoi o phuong"),
    ],
)
def test_fold_strips_diacritics_and_maps_d(text: str, expected: str) -> None:
    assert fold(text) == expected
    assert fold(nfd(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hoà", "hòa"),
        ("hòa", "hòa"),
        ("thuý", "thúy"),
        ("thuỷ", "thủy"),
        ("khoẻ", "khỏe"),
        ("quả", "quả"),
        ("qủa", "quả"),
        ("gìa", "già"),
        ("gìn", "gìn"),
        ("giữa", "giữa"),
        ("quý", "quý"),
        ("hòang", "hoàng"),
        ("tóan", "toán"),
        ("ngòai", "ngoài"),
        ("khuỷu", "khuỷu"),
        ("ngừơi", "người"),
        ("thuở", "thuở"),
        ("mùa", "mùa"),
        ("HOÀ", "HÒA"),
        ("Uỷ ban", "Ủy ban"),
        ("quyết định", "quyết định"),
        ("iPhoné", "iPhoné"),  # not a Vietnamese syllable: untouched
    ],
)
def test_tone_marks_use_one_placement(text: str, expected: str) -> None:
    assert normalize_tone_marks(text) == expected
    assert normalize_tone_marks(nfd(text)) == expected


@pytest.mark.parametrize(("modern", "old"), [("hoà bình", "hòa bình"), ("thuỷ lợi", "thủy lợi")])
def test_tone_styles_compare_equal_after_normalize(modern: str, old: str) -> None:
    assert normalize(modern) == normalize(old) == old


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Đăng ký KHAI SINH!!! ", "đăng ký khai sinh"),
        ("Thủ tục 1.001193: khai sinh.", "thủ tục 1.001193 khai sinh"),
        ("Theo Nghị định 123/2015/NĐ-CP, ...", "theo nghị định 123/2015/nđ-cp"),
        ("Lệ phí: 50.000 đồng; 7,000 VNĐ", "lệ phí 50.000 đồng 7,000 vnđ"),
        ("hồ sơ,giấy tờ-bản sao", "hồ sơ giấy tờ bản sao"),
        ("ngày 15/3,bạn", "ngày 15/3 bạn"),
        ("làm sổ đỏ 😀😀 ở đâu???", "làm sổ đỏ ở đâu"),
        ("tab\tand\nnew   line", "tab and new line"),
        ("snake_case", "snake case"),
    ],
)
def test_normalize_table(text: str, expected: str) -> None:
    assert normalize(text) == expected
    assert normalize(nfd(text)) == expected


@pytest.mark.parametrize(
    "text",
    ["Đăng ký KHAI SINH cho con 👶!", "Hoà giải 123/2015/NĐ-CP.", "lam so do o dau", "a.b-c 1.2.3"],
)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@pytest.mark.parametrize("text", ["", "   ", "😀🎉👍", "!!! ... ???", "\n\t"])
def test_empty_and_emoji_only(text: str) -> None:
    assert normalize(text) == ""
    assert syllables(text) == []
    assert query_forms(text) == QueryForms("", "", "")


@pytest.mark.parametrize(
    "text",
    ["Đăng ký khai sinh, NĐ 123/2015/NĐ-CP!", nfd("Hoà giải ở Phường Bến Nghé"), "lam so do 🙂 o dau"],
)
def test_syllable_offsets_slice_back_to_the_original(text: str) -> None:
    spans = syllables_with_offsets(text)
    assert [token for token, _, _ in spans] == normalize(text).split()
    for token, start, end in spans:
        assert normalize(text[start:end]) == token


def test_syllable_offsets_on_decomposed_text() -> None:
    text = nfd("Đăng ký")
    first = len(nfd("Đăng"))
    assert syllables_with_offsets(text) == [("đăng", 0, first), ("ký", first + 1, len(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k biết", "không biết"),
        ("ko có", "không có"),
        ("khg đi", "không đi"),
        ("hok sao", "không sao"),
        ("hông có", "không có"),
        ("đk khai sinh", "đăng ký khai sinh"),
        ("dk khai sinh", "đăng ký khai sinh"),
        ("ĐK KS", "đăng ký khai sinh"),
        ("làm CCCD", "làm căn cước công dân"),
        ("cmnd cũ", "chứng minh nhân dân cũ"),
        ("làm ntn", "làm như thế nào"),
        ("cần giấy tờ j", "cần giấy tờ gì"),
        ("vk ck", "vợ chồng"),
        ("có dc ko", "có được không"),
        ("có đc k", "có được không"),
        ("mất bn tiền", "mất bao nhiêu tiền"),
        ("tra mst", "tra mã số thuế"),
        ("xin gks", "xin giấy khai sinh"),
        ("nhập hk", "nhập hộ khẩu"),
        ("lên ubnd", "lên ủy ban nhân dân"),
        ("tthc", "thủ tục hành chính"),
        ("dt đất", "diện tích đất"),  # the plain spelling is its own entry
        ("sđt", "số điện thoại"),
        ("sdt", "số điện thoại"),
    ],
)
def test_teencode_table(text: str, expected: str) -> None:
    assert expand_abbreviations(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("phí 50k", "phí 50k"),  # a glued amount stays one token
        ("phí 50 k", "phí 50 nghìn"),  # "k" after a number means thousand
        ("phí 1.500 k nhé", "phí 1.500 nghìn nhé"),
        ("k có", "không có"),
        ("kinh doanh", "kinh doanh"),  # whole tokens only: no "k" inside words
        ("kokoro", "kokoro"),
        ("sổ hồng", "sổ hồng"),
        ("so hong", "so hong"),  # "hông" matches only with its tone mark
        ("ck.", "chồng"),
    ],
)
def test_teencode_word_boundaries_and_k(text: str, expected: str) -> None:
    assert expand_abbreviations(text) == expected


def test_teencode_has_enough_entries() -> None:
    assert len(load_rules().abbreviations) >= 40
    assert len(load_rules().synonyms) >= 40


@pytest.mark.parametrize(
    ("text", "official"),
    [
        ("vợ tôi mới đẻ", "khai sinh"),
        ("làm giấy khai sinh cho con", None),  # the official term is already there
        ("sinh con thu hai", "khai sinh"),
        ("lấy vợ cần gì", "kết hôn"),
        ("lay vo can gi", "kết hôn"),
        ("tôi muốn cưới", "kết hôn"),
        ("cắt khẩu", "xóa đăng ký thường trú"),
        ("cat ho khau cho ong", "xóa đăng ký thường trú"),
        ("nhap khau cho con", "đăng ký thường trú"),
        ("lam so do", "giấy chứng nhận quyền sử dụng đất"),
        ("sổ hồng", "giấy chứng nhận quyền sử dụng đất"),
        ("xin giay doc than", "xác nhận tình trạng hôn nhân"),
        ("công chứng bằng", "chứng thực"),
        ("làm căn cước", "cấp thẻ căn cước"),
        ("bao tu cho ba", "đăng ký khai tử"),
        ("mo quan an", "hộ kinh doanh"),
        ("tách khẩu", "tách hộ"),
        ("tam vang", "khai báo tạm vắng"),
        ("sang ten xe may", "đăng ký sang tên di chuyển xe"),
        ("kich hoat vneid", "tài khoản định danh điện tử mức độ 2"),
        ("định danh mức 2", "tài khoản định danh điện tử mức độ 2"),
        ("khai tam vang tren vneid duoc khong", "khai báo tạm vắng"),  # vneid as the channel names nothing
        ("xay nha can xin phep gi", "giấy phép xây dựng"),
    ],
)
def test_synonyms_table(text: str, official: str | None) -> None:
    expanded = expand_synonyms(text)
    assert expanded.startswith(normalize(text))  # the original words are kept
    if official is None:
        assert expanded == normalize(text)
    else:
        assert expanded.endswith(" " + official)
        assert expanded.count(official) == 1


@pytest.mark.parametrize(
    "text",
    [
        "de lam gi",  # "de" is "để" here: "đẻ" matches only with diacritics
        "cuoi nam",  # "cuối năm", not "cưới"
        "de nghi cap lai",
        "",
    ],
)
def test_synonyms_do_not_fire_on_lookalikes(text: str) -> None:
    assert expand_synonyms(text) == normalize(text)


def test_query_forms_chain() -> None:
    forms = query_forms("Lam CCCD o dau, mat bn tien?")
    assert forms.normalized == "lam căn cước công dân o dau mat bao nhiêu tien"
    assert forms.expanded == forms.normalized + " cấp thẻ căn cước"
    assert forms.folded == fold(forms.expanded)
    with pytest.raises(AttributeError):
        forms.normalized = "x"  # type: ignore[misc]


def test_word_ngrams() -> None:
    tokens = ["đăng", "ký", "khai", "sinh"]
    assert word_ngrams(tokens, 1) == tokens
    assert word_ngrams(tokens, 2) == ["đăng_ký", "ký_khai", "khai_sinh"]
    assert word_ngrams(tokens, 5) == []
    with pytest.raises(ValueError):
        word_ngrams(tokens, 0)


def test_long_input_returns() -> None:
    text = ("Tôi muốn đk khai sinh cho con, hết bn tiền? 😀 " * 250)[:10_000]
    assert len(text) == 10_000
    forms = query_forms(text)
    assert forms.normalized.startswith("tôi muốn đăng ký khai sinh")
    assert forms.expanded.count("khai sinh") >= 200


def write_rules(folder: Path, teencode: str, synonyms: str) -> Path:
    (folder / "teencode.yml").write_text(teencode, encoding="utf-8")
    (folder / "synonyms.yml").write_text(synonyms, encoding="utf-8")
    return folder


GOOD_SYNONYMS = "- official: kết hôn\n  terms: [lấy vợ]\n"


def test_load_rules_from_another_folder(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, "zz: xin chào\n", GOOD_SYNONYMS))
    assert expand_abbreviations("zz bạn", rules) == "xin chào bạn"
    assert query_forms("lay vo", rules).expanded == "lay vo kết hôn"


@pytest.mark.parametrize(
    ("teencode", "synonyms", "message"),
    [
        ("k: \n", GOOD_SYNONYMS, "entry 'k'"),
        ("Two Words: x\n", GOOD_SYNONYMS, "entry 'Two Words'"),
        ("k: không\nk: khác\n", GOOD_SYNONYMS, "duplicate key 'k'"),
        ("đk: đăng ký\nđk: khác\n", GOOD_SYNONYMS, "duplicate key"),
        ("k: không\n", "- official: kết hôn\n  terms: []\n", "entry 1 ('kết hôn')"),
        ("k: không\n", "- official: ''\n  terms: [a]\n", "entry 1 (official)"),
        ("k: không\n", "- official: a\n  term: [b]\n", "unknown keys"),
        ("k: [không\n", GOOD_SYNONYMS, "invalid YAML"),
    ],
)
def test_bad_rule_files_name_file_and_entry(
    tmp_path: Path, teencode: str, synonyms: str, message: str
) -> None:
    folder = write_rules(tmp_path, teencode, synonyms)
    with pytest.raises(RulesError, match=r"\.yml") as error:
        load_rules(folder)
    assert message in str(error.value)


def test_missing_rule_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="teencode.yml: file not found"):
        load_rules(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hòa giải", "hoà giải"),
        ("thủy", "thuỷ"),
        ("khỏe", "khoẻ"),
        ("mùa", "mùa"),
        ("hoàng", "hoàng"),
        ("quả", "quả"),
    ],
)
def test_tone_marks_new_style(text: str, expected: str) -> None:
    assert normalize_tone_marks(text, style="new") == expected
    assert normalize_tone_marks(expected) == normalize_tone_marks(text)


def test_tone_marks_unknown_style() -> None:
    with pytest.raises(ValueError, match="style"):
        normalize_tone_marks("hòa", style="modern")


@pytest.mark.parametrize(
    ("text", "rendering"),
    [
        ("where do I register a birth certificate for my daughter?", "đăng ký khai sinh con"),
        ("how much is it to register a marriage", "đăng ký kết hôn"),
        ("I lost my ID card, how do I get it reissued?", "cấp lại thẻ căn cước cấp thẻ căn cước"),
        # English the lists know next to nothing of (and the gate hands off when nothing fits).
        ("where can I buy a SIM card near the ward office", "thẻ"),
        # Vietnamese typed without diacritics, with words that look English ("the", "can", "do").
        ("the can cuoc bi gay thi lam the nao", None),
        ("dang ky ket hon can giay to gi", None),
        ("Đăng ký khai sinh ở đâu", None),
        ("birth certificate", None),  # too few English words to tell the language
        # Articles and possessives do not keep a glossary phrase from matching ("register a birth").
        ("How do I register the birth of my baby?", "đăng ký khai sinh trẻ sơ sinh"),
        ("We want to adopt a child, what papers do we need?", "đăng ký nuôi con nuôi"),
        # A loanword or a place name with Vietnamese letters does not make English text Vietnamese.
        ("My fiancée needs a certificate of her marital status. Where does she apply?", "xác nhận tình trạng hôn nhân"),
        ("I live in Đà Nẵng ward, how do I register my temporary residence?", "đăng ký tạm trú"),
        # Calling oneself a foreigner names no procedure.
        ("I'm a foreigner and I need a tax code, is it online?", "mã số thuế"),
        # Registering a vehicle is registering a new one unless the citizen says it is used.
        ("I just bought a new motorbike, where do I get the license plate?", "xe máy đăng ký xe lần đầu"),
        ("How do I register a used motorbike I bought from my neighbour?", "đăng ký sang tên di chuyển xe"),
        # Ways foreign residents put four ward procedures that the first glossary lacked.
        ("My parents are coming to stay with us for a week, do we have to tell the police?",
         "cha mẹ thông báo lưu trú công an"),
        ("The bank wants a paper saying I'm single. Where do I get it?", "xác nhận tình trạng hôn nhân"),
        ("How do I get my signature certified on an authorization letter?", "chữ ký chứng thực chứng thực chữ ký"),
        ("I bought a second-hand Honda, how do I get it into my name?", "đăng ký sang tên di chuyển xe xe máy"),
        # A possessive matches the glossary's "translator's signature" (stored as "translator s").
        ("How much is it to have the translator's signature certified?", "chứng thực chữ ký người dịch chứng thực"),
        ("Where do I get the translator’s signature certified?", "chứng thực chữ ký người dịch chứng thực"),
        ("cho hỏi đăng ký tạm trú ở đâu ạ", None),
    ],
)
def test_english_rendering_by_the_glossary(text: str, rendering: str | None) -> None:
    assert english_rendering(text) == rendering


@pytest.mark.parametrize(
    ("text", "rendering"),
    [
        # No glossary phrase: the words tell the situation, in the order they come.
        ("My in-laws are visiting for a week, do we report it to the police?", "lưu trú khai báo thông báo công an"),
        # A number before an age word stays with it, as the age cues read Vietnamese.
        ("Our daughter is 8 years old, how does she get an ID card?", "con 8 tuổi cấp thẻ căn cước"),
        # Words a glossary phrase covers are not rendered again ("lost" is in "lost my id card").
        ("I lost my ID card, how do I get it reissued?", "cấp lại thẻ căn cước cấp thẻ căn cước"),
        # Plural and past forms of a listed word.
        ("My parents stayed over and the guests were not reported, is that a problem?",
         "cha mẹ lưu trú khai báo thông báo"),
        # Nothing either list knows, or not English at all.
        ("is it going to rain this afternoon?", None),
        ("the can cuoc bi gay thi lam the nao", None),
    ],
)
def test_english_rendering_by_the_words(text: str, rendering: str | None) -> None:
    assert english_rendering(text) == rendering


@pytest.mark.parametrize(
    ("text", "search_text"),
    [
        # A glossary phrase is searched by its Vietnamese only; the other words stay, in English.
        ("how do I get a birth certificate for my newborn?", "đăng ký khai sinh how do i get"),
        # Words the word list rendered stay too (the index's English sample questions may hold them).
        ("My in-laws are visiting for a week, do we report it to the police?",
         "lưu trú khai báo thông báo công an in laws are visiting week do we report it police"),
        ("is it going to rain this afternoon?", None),  # nothing renders: searched as typed
        ("dang ky ket hon can giay to gi", None),  # not English
    ],
)
def test_english_search_text(text: str, search_text: str | None) -> None:
    assert english_search_text(text) == search_text


def test_english_words_entries_are_validated(tmp_path: Path) -> None:
    twice = tmp_path / "twice.yml"
    twice.write_text(
        "- vietnamese: xe máy\n  english: [bike]\n- vietnamese: xe đạp\n  english: [bike]\n", encoding="utf-8"
    )
    with pytest.raises(RulesError, match="'bike' is listed twice"):
        english_words(twice)
    no_words = tmp_path / "no_words.yml"
    no_words.write_text("- vietnamese: xe máy\n", encoding="utf-8")
    with pytest.raises(RulesError, match="entry 1"):
        english_words(no_words)
    with pytest.raises(RulesError, match="file not found"):
        english_words(tmp_path / "missing.yml")


def test_every_english_word_renders_to_what_the_file_says() -> None:
    words = english_words()
    assert len(words.meanings) > 300
    for english, vietnamese in words.meanings.items():
        match = words.pattern.fullmatch(english)
        assert match and words.meanings[match.group(1)] == vietnamese, english


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("where do I have to go for that?", True),
        ("I live in Đà Nẵng ward, how do I register my temporary residence?", True),
        ("the can cuoc bi gay thi lam the nao", False),
        ("cho hỏi đăng ký tạm trú ở đâu ạ", False),
        ("ok", False),
    ],
)
def test_looks_english(text: str, english: bool) -> None:
    assert looks_english(text) is english
