"""What the bot does with one citizen message: answer, clarify, ask which procedure, or hand off.

Pure Python on top of ``knowledge_base`` (no rasa-sdk here), so the decisions are tested without a
Rasa tracker; ``actions.actions`` turns a ``Turn`` into responses, payloads and slot events.

The conversation's context is the procedure last answered, the aspect last asked and the options
last offered. A message is read in this order:

1. intents that go to a person (asked for one, complaint, out of scope, NLU fallback); an NLU
   fallback is searched, and handed off unless retrieval is confident; so is an unsure complaint or
   out-of-scope reading, and a complaint reading that voices no grievance (``grievances.yml``: a
   hardship, "thời gian giải quyết bao lâu"), which may also be a follow-up; any out-of-scope
   reading is answered when retrieval is very sure; an English
   message in which the English glossary finds a procedure is a question, whatever the NLU made of it;
2. a pick among clarification options (a button payload or "cái thứ 2");
3. a correction ("không phải, ý tôi là …"): search again without the procedure in context, and
   offer the best candidates rather than hand off when the gate is unsure;
4. a question: a bare follow-up ("thế lệ phí bao nhiêu?") keeps the procedure in context; a message
   that names a procedure is searched, and the confidence gate decides.

Whatever the case, a message the gate would not answer alone (options or a handoff) that names a matter
no ward procedure covers ("làm hộ chiếu cho bé", ``not_covered.yml``) is handed off naming that matter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal, Sequence

import yaml

from knowledge_base.gate import Decision, decide
from knowledge_base.retriever import Candidate
from knowledge_base.schema import CODE_PATTERN, Procedure
from knowledge_base.service import Answer, KnowledgeBase
from knowledge_base.store import ProcedureStore
from knowledge_base.text import (
    asks_something,
    clause_asks,
    clauses,
    english_rendering,
    fold,
    folded_text,
    folded_words,
    looks_english,
    procedure_words,
    topic_words,
)

DATA = Path(__file__).resolve().parent / "data"
ASPECT_CUES_FILE = DATA / "aspect_cues.yml"
AGE_VARIANTS_FILE = DATA / "age_variants.yml"
NOT_COVERED_FILE = DATA / "not_covered.yml"
GRIEVANCES_FILE = DATA / "grievances.yml"
REGISTER_VARIANTS_FILE = DATA / "register_variants.yml"

INTENT_ASPECTS = {
    "ask_procedure": "overview",
    "ask_documents": "documents",
    "ask_fee": "fee",
    "ask_time": "time",
    "ask_place": "place",
    "ask_online": "online",
    "ask_steps": "steps",
    "ask_legal": "legal",
}
HANDOFF_INTENTS = ("request_human", "complain", "out_of_scope")
# DIET calls some questions told through a hardship "complain" or "out_of_scope" ("quán ế quá, muốn
# đóng cửa 2 tháng, có phải báo phường không"). Below this confidence, with a question intent as the
# runner-up, the message is searched and answered when the gate is sure; otherwise it is handed off as
# before. Every real complaint in the labelled sets is above it or has a handoff intent as runner-up.
UNSURE_HANDOFF_CONFIDENCE = 0.9
UNSURE_HANDOFF_INTENTS = ("complain", "out_of_scope")
# DIET learned "out of scope" partly from questions about other offices' procedures, so it reads some
# questions about ward procedures that way, often very confidently ("tôi đã ly hôn, giờ xin giấy độc
# thân ..."). Such a message is searched whatever the confidence, and answered only when the gate's
# learned rule gives its top candidate at least this probability of being right (a stricter bar than
# the gate's own, 0.675); otherwise it is handed off as out of scope. Over every labelled set, the
# out-of-scope readings from 0.7 to 0.8 were five answerable questions, each with the right procedure
# first, and one story handed off as a matter no ward procedure covers (benchmarks/dialogue.md,
# twentieth pass). Complaints are not: real ones read
# with high confidence can name a procedure ("nộp hồ sơ tạm trú 2 tuần rồi chưa thấy ai gọi").
OUT_OF_SCOPE_ANSWER_PROBABILITY = 0.7
QUESTION_INTENTS = (*INTENT_ASPECTS, "correct_procedure")
# Handoffs and clarifications a message naming a matter no ward procedure covers turns into a handoff
# that names the matter (``not_covered``): a question the gate would not answer alone, or an
# out-of-scope reading.
NOT_COVERED_OVERRIDES = ("low_confidence", "no_match", "nlu_fallback", "out_of_scope")
# What the NLU may call an English question it cannot read (asking for a person or complaining stays).
ENGLISH_OVERRULED_INTENTS = ("out_of_scope", "nlu_fallback")

# A follow-up may carry this many words that could name a procedure and still stay in context.
FOLLOW_UP_MAX_TOPIC_WORDS = 3
# ... and this many when it asks about one aspect ("hai đứa khác tỉnh thì nộp ở đâu", "khoảng bao lâu
# thì có giấy phép"): the words then describe the citizen's case more often than another procedure.
FOLLOW_UP_ASPECT_MAX_TOPIC_WORDS = 5
# The whole message's best candidates that lead the buttons when only its NLU mention gave options.
LEADING_OPTIONS = 2
# Options offered when a correction ("không phải, ý tôi là …") leaves the gate unsure.
CORRECTION_OPTIONS = 3
# Below the gate's clarify band, a question whose best candidates share one field (a card whose chip
# broke: re-issue or exchange of the ID card) is still offered them from this probability: retrieval
# knows the matter, not which of its procedures. Candidates from different fields at that probability
# are a guess (a question about animal quarantine ranked residence, land and certification): handed off.
# 0.3 -> 0.24 (benchmarks/dialogue.md, nineteenth pass): +6 / -1 conversations, 2 more portal questions.
FIELD_BAND_PROBABILITY = 0.24
# A message that opens by rejecting the answer just given, matched on folded text: a first clause that
# only rejects ("không phải", "à nhầm", "tôi nói nhầm", "ko phải mất đâu ad"), or an opening that goes
# on to say what was meant ("không phải ý tôi là …", "à ko, ý là …"). DIET reads a long one by the
# question it ends with (ask_documents, ask_fee …); the turn logic still treats it as a correction of
# the procedure in context (see ``Dialogue._respond``). "ko phải làm gì à" asks a question instead.
RESTATED_CORRECTION_INTENTS = tuple(INTENT_ASPECTS)  # what DIET calls a long one
_FILLERS = r"(?:(?:a|da|ah|oi|ui|ad|ban|vang|uh|um|khong)\s+)*"
_PERSON = r"(?:toi|tui|t|em|e|minh|mk|mik|chau|con|anh|a|chi|c|co|chu|bac|to|tao)"
_REJECTION = rf"(?:khong phai|chua phai|khong dung|sai roi|nham|{_PERSON} (?:noi |viet |go )?nham)"
_REJECTING_CLAUSE = re.compile(
    rf"^{_FILLERS}{_REJECTION}"
    r"(?:\s+(?:\w+\s+){0,3}dau)?"  # "ko phải mất đâu"
    r"(?:\s+(?:ad|a|nhe|roi))*$"
)
_SAYING_WHAT_WAS_MEANT = re.compile(
    rf"^{_FILLERS}(?:{_REJECTION}(?:\s+\w+){{0,3}}\s+)?"  # "à không phải mất, "
    rf"y (?:{_PERSON} )?la\b(?! (?:sao|gi)\b)"  # "ý tôi là …", not "ý là sao"
)

TurnKind = Literal["answer", "clarify", "ask_which", "handoff"]


@dataclass(frozen=True)
class Context:
    """What the conversation is about so far (from the tracker's slots)."""

    procedure: str | None = None
    aspect: str | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    """The bot's decision for one message.

    ``answer``: ``procedure`` and ``aspect``; ``clarify``: ``options`` (2–4 procedures), the
    ``aspect`` to answer once one is chosen and, when the gate offered them, its ``reason``
    (``several_close`` or ``maybe_right``, which also covers options of one field below the band,
    FIELD_BAND_PROBABILITY); ``ask_which``: the citizen must name the procedure;
    ``handoff``: ``reason`` (one of ``web.cases.HANDOFF_REASONS``) and, for ``not_covered``, the
    ``matter``.
    """

    kind: TurnKind
    aspect: str = "overview"
    procedure: Procedure | None = None
    options: tuple[Procedure, ...] = ()
    reason: str = ""
    follow_up: bool = False
    matter: str = ""  # ``not_covered``: the matter the citizen asked about, in Vietnamese


@dataclass(frozen=True)
class Message:
    """One citizen message as the NLU read it."""

    text: str
    intent: str
    entities: Sequence[dict] = field(default_factory=tuple)
    confidence: float = 1.0  # the NLU's confidence in ``intent``
    runner_up: str | None = None  # the NLU's second intent

    def entity_values(self, name: str) -> list[str]:
        return [str(e.get("value", "")) for e in self.entities if e.get("entity") == name and e.get("value")]


def _phrases(phrases: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(re.escape(folded_text(p)) for p in phrases) + r")\b")


_NEVER = re.compile(r"(?!)")  # matches nothing: a phrase list the file leaves out


@lru_cache(maxsize=1)
def _aspect_cues() -> tuple[re.Pattern[str], re.Pattern[str], list[tuple[str, re.Pattern[str]]]]:
    """(phrases that are no cue, phrases of a yes/no question whether to do something at all,
    [(aspect, its cues)] in the file's order)."""
    data = yaml.safe_load(ASPECT_CUES_FILE.read_text(encoding="utf-8"))
    not_cues, yes_no = (data.pop(key, None) for key in ("not_cues", "yes_no"))
    return (
        _phrases(not_cues) if not_cues else _NEVER,
        _phrases(yes_no) if yes_no else _NEVER,
        [(aspect, _phrases(cues)) for aspect, cues in data.items()],
    )


@lru_cache(maxsize=1)
def _not_covered() -> list[tuple[str, re.Pattern[str]]]:
    """[(matter name, its phrases)] from ``not_covered.yml``."""
    data = yaml.safe_load(NOT_COVERED_FILE.read_text(encoding="utf-8"))
    return [(matter["name"], _phrases(matter["phrases"])) for matter in data["matters"]]


def not_covered_matter(text: str) -> str | None:
    """The name of the first matter of ``not_covered.yml`` the message names ("làm hộ chiếu cho bé"
    → "hộ chiếu"), or None."""
    folded = folded_text(text)
    return next((name for name, pattern in _not_covered() if pattern.search(folded)), None)


_PURPOSE = re.compile(r"\bde\s*$")  # "để" right before a phrase: what the citizen needs something for


def asked_matter(text: str) -> str | None:
    """The matter of ``not_covered.yml`` the question itself asks about: named in its asking sentence
    ("... cccd gắn chip rồi. Giờ e làm hộ chiếu online được không" asks about a passport; "cho hỏi làm
    thủ tục thuận tình ly hôn cần giấy tờ gì, có cần giấy đăng ký kết hôn bản chính không" about a
    divorce, though its last clause names a marriage certificate), not as a purpose ("đăng ký khai sinh
    để làm hộ chiếu cho bé" asks about the birth registration), or None."""
    folded = folded_text(asking_sentence(text))
    for name, pattern in _not_covered():
        if any(not _PURPOSE.search(folded[: m.start()]) for m in pattern.finditer(folded)):
            return name
    return None


# Papers other agencies issue by kind: a question about a "giấy phép bưu chính" or a "chứng thư số" shares
# its head words with ward procedures (a building permit, a land certificate) and can be answered with
# one of them. A paper is named by its head and the next word ("giấy chứng nhận đủ [điều kiện]"); the
# ward corpus's own records say which names it knows (``Dialogue._known_papers``). "lần" names no kind
# of paper ("giấy chứng nhận lần đầu" is a first land certificate).
PAPER_HEADS = {
    "giay phep": "giấy phép",
    "giay chung nhan": "giấy chứng nhận",
    "chung chi": "chứng chỉ",
    "chung thu": "chứng thư",
}
_PAPER = re.compile(rf"\b({'|'.join(PAPER_HEADS)}) (\w+)")
_NO_PAPER_NAMES = frozenset({"lan"})
# What a citizen asking for a paper says right before it: "xin (cấp) giấy phép …", "đề nghị cấp …".
_ASKING_FOR = re.compile(r"\b(?:xin|cap|lam|gia han|de nghi)(?: cap(?: lai| doi)?)?\s*$")


def paper_names(folded: str) -> list[tuple[str, str, int]]:
    """(head, next word, start) of every paper a folded text names."""
    return [(m.group(1), m.group(2), m.start()) for m in _PAPER.finditer(folded)]


def cued_aspects(text: str) -> list[str]:
    """Every aspect a message's own words have a cue for, in the cue file's order. A cue inside a
    longer cue of another aspect does not count ("what do I need" inside "what do I need to do")."""
    not_cues, _, cues = _aspect_cues()
    folded = not_cues.sub(" ", folded_text(text))
    found = [(aspect, m.span()) for aspect, pattern in cues for m in pattern.finditer(folded)]
    return list(dict.fromkeys(
        aspect for aspect, (start, end) in found
        if not any(a != aspect and s <= start and end <= e and e - s > end - start for a, (s, e) in found)
    ))


def aspect_from_text(text: str) -> str | None:
    """The aspect a message's own words ask about ("cần mang gì" → documents), or None. Cues are
    tried in the file's order: "nộp hồ sơ ở đâu" asks where, not which documents."""
    return next(iter(cued_aspects(text)), None)


def asking_clause(text: str) -> str:
    """The message's last clause that asks something: a question told after its situation asks it
    ("tạm trú ở phòng trọ sắp hết hạn, ở tiếp thì phải đi làm trước mấy ngày" → "ở tiếp thì phải đi làm
    trước mấy ngày"), and a remark after the question does not count ("… gồm những bước nào vậy, app
    VNeID của em mới có mức 1 thôi"). The last clause ending in "?" or holding a question word, else
    the last clause."""
    parts = clauses(text)
    for i in range(len(parts) - 1, -1, -1):  # the last asking clause: fold no more clauses than needed
        clause, end = parts[i]
        if clause_asks(clause, end):
            if i and _OR.match(folded_text(clause)):  # "làm online được không, hay phải lên phường"
                return parts[i - 1][0] + parts[i - 1][1] + clause
            return clause
    return parts[-1][0] if parts else text


_OR = re.compile(r"\s*(?:hay|hoac|or)\b")  # a clause that offers the other side of a choice


_SENTENCE = re.compile(r"[^.?!\n]*[.?!\n]*")


def asking_sentence(text: str) -> str:
    """The sentence holding the message's asking clause (``asking_clause``): the last sentence with a
    clause that asks, else the last sentence. Its other clauses belong to the same question ("Giờ muốn
    xóa đăng ký thế chấp thì làm các bước ntn, ngân hàng làm hay mình tự đi?")."""
    sentences = [s for s in _SENTENCE.findall(text) if s.strip()]
    for sentence in reversed(sentences):
        if asks_something(sentence):
            return sentence
    return sentences[-1] if sentences else text


_THI = re.compile(r"\bthi\b")


def _after_thi(folded: str) -> str:
    """What follows the last "thì" of a folded clause, or "" without one: in "nộp online thì mất bao
    lâu" the words before "thì" set the scene and the words after it ask."""
    parts = _THI.split(folded)
    return parts[-1] if len(parts) > 1 else ""


def _asking_clause_cues(text: str) -> tuple[str, list[str]]:
    """The folded asking clause of ``text`` and the aspects it has cues for, those after its last "thì"
    first ("muốn kích hoạt VNeID để làm dịch vụ công thì ra đâu làm" asks where)."""
    clause = folded_text(asking_clause(text))  # folded once: cued_aspects' own folding leaves it as it is
    return clause, cued_aspects(_after_thi(clause)) or cued_aspects(clause)


# A negation before the end of a clause: its "gì" or "đâu" means "nothing" or "nowhere", not a question.
# "không biết … ở đâu" still asks, and a final "không" is the question's own particle.
_NEGATED = re.compile(r"\b(?:khong|chua|chang)\b(?! biet)(?!\W*$)")


def asked_aspect(text: str, intent: str | None = None) -> str:
    """The aspect a message asks about: a cue in the clause that asks (``asking_clause``; after its
    last "thì" first; including a general "phải làm gì"; of several, the one the NLU names if it names
    one of them); else an overview if that clause asks whether to do it at all and the message names
    no aspect; else the NLU's aspect intent (not for English, which it learned little of); else a cue
    in an earlier clause that asks; else an overview when any clause asks; else (nothing asks) a cue
    anywhere in it; else an overview.

    The situation told before the question often holds words the NLU or a cue would take for the
    question ("chỗ ở", "giấy tờ vẫn ghi tên anh ấy"), which is why the asking clause comes first.
    """
    named = INTENT_ASPECTS.get(intent or "", "overview")
    trust_nlu = named != "overview" and not looks_english(text)
    clause, cued = _asking_clause_cues(text)
    _, yes_no, _ = _aspect_cues()
    if cued:
        if {"online", "place"} <= set(cued):  # "báo qua app được không hay phải lên tận nơi": the channel
            return "online"
        # several cues ("mức phí đó quy định ở thông tư nào"): the NLU's aspect if it is one of them
        return named if trust_nlu and named in cued else cued[0]
    if yes_no.search(clause) and not cued_aspects(text):
        return "overview"  # "có phải báo công an phường không": whether to do it, not where
    if trust_nlu:
        return named
    asking = [clause for clause, end in clauses(text) if clause_asks(clause, end)]
    for earlier in reversed(asking[:-1]):  # "… nộp ở đâu ạ, mới đi làm nên chưa có": an earlier question
        if _NEGATED.search(folded_text(earlier)):
            continue  # "đất không giấy tờ gì", "không muốn chuyển đi đâu cả": nothing, nowhere
        if cued := cued_aspects(earlier):
            return cued[0]
    # A question whose clauses name no aspect asks about the whole procedure ("vẫn ở nhà đó thì tách được
    # không"): cues in the situation told before it ("không muốn chuyển đi đâu") do not count.
    return "overview" if asking else aspect_from_text(text) or named


_AGE = re.compile(r"\b(\d{1,3})\s*(?:tuoi|t|years?|yo)\b")


def age_of(message: "Message") -> int | None:
    """The age a message gives (the ``age`` entity, else "10 tuổi" / "15t" in the text), or None."""
    for value in [*message.entity_values("age"), message.text]:
        if match := _AGE.search(folded_text(value)):
            return int(match.group(1))
    return None


@lru_cache(maxsize=1)
def _age_variants() -> dict[str, tuple[str, int, str]]:
    """code → (variant below the age, the age, variant at or above it), for both codes of a pair."""
    pairs = yaml.safe_load(AGE_VARIANTS_FILE.read_text(encoding="utf-8")) or []
    table = {}
    for pair in pairs:
        entry = (str(pair["below"]), int(pair["from_age"]), str(pair["at_or_above"]))
        table[entry[0]] = table[entry[2]] = entry
    return table


@dataclass(frozen=True)
class RegisterVariants:
    """``register_variants.yml``: a copy from the civil-status register, the re-registrations of the
    events it records, and the phrases that tell whether the register or only the paper is lost."""

    copy: str
    events: dict[str, re.Pattern[str]]  # re-registration code -> the words that name its event
    register: re.Pattern[str]
    register_gone: re.Pattern[str]
    register_kept: re.Pattern[str]
    not_found: re.Pattern[str]
    paper_lost: re.Pattern[str]
    asks_again: re.Pattern[str]

    def register_lost(self, folded: str) -> bool:
        """Whether a folded message says the register entry is gone too."""
        if self.not_found.search(folded):
            return True
        return any(
            self.register.search(clause)
            and self.register_gone.search(clause)
            and not self.register_kept.search(clause)
            for clause, _ in clauses(folded)
        )

    def event(self, folded: str) -> str | None:
        """The re-registration of the event a folded message names first, or None."""
        named = [(m.start(), code) for code, words in self.events.items() for m in words.finditer(folded)]
        return min(named)[1] if named else None

    def fitting(self, code: str, text: str) -> str:
        """The procedure that fits the story: a re-registration when the register is lost ("gks bị
        cháy, xã nói sổ gốc cũng không còn"), of the event named after "đăng ký lại" when the citizen
        asks for one by name, a copy when only the paper is lost ("giấy chứng tử bị mất, xin lại ở
        đâu"); ``code`` when the message tells none of these."""
        if code != self.copy and code not in self.events:
            return code  # most answers: nothing to fold
        folded = folded_text(text)
        if code == self.copy:
            return (self.register_lost(folded) and self.event(folded)) or code
        if again := self.asks_again.search(folded):  # the event named after "đăng ký lại" ("… lại khai tử")
            return self.event(folded[again.start() :]) or code
        if self.paper_lost.search(folded) and not self.register_lost(folded):
            return self.copy
        return code


@lru_cache(maxsize=1)
def register_variants() -> RegisterVariants:
    data = yaml.safe_load(REGISTER_VARIANTS_FILE.read_text(encoding="utf-8"))
    phrases = ("register", "register_gone", "register_kept", "not_found", "paper_lost", "asks_again")
    return RegisterVariants(
        copy=str(data["copy"]),
        events={str(code): _phrases(words) for code, words in data["re_registrations"].items()},
        **{key: _phrases(data[key]) for key in phrases},
    )


_ORDINALS = (
    (re.compile(r"\b(cuoi|cuoi cung|last)\b"), -1),
    (re.compile(r"\b(1|nhat|dau tien|cai dau|so mot|first)\b"), 0),
    (re.compile(r"\b(2|hai|second)\b"), 1),
    (re.compile(r"\b(3|ba|third)\b"), 2),
    (re.compile(r"\b(4|bon|tu|fourth)\b"), 3),
)


def ordinal(text: str) -> int | None:
    """Return the 0-based option index a message picks ("cái thứ 2" → 1, "cái cuối" → -1), or None."""
    folded = fold(text).replace("đ", "d")
    for pattern, index in _ORDINALS:
        if pattern.search(folded):
            return index
    return None


def _few_words(words: int, mentions: list[str]) -> bool:
    """Whether a message is too short to name another procedure: at most FOLLOW_UP_MAX_TOPIC_WORDS
    topic words and no procedure the NLU found."""
    return not mentions and words <= FOLLOW_UP_MAX_TOPIC_WORDS


def _continues(words: int, mentions: list[str], aspect: str) -> bool:
    """Whether a message with ``words`` topic words may still be a follow-up on the procedure in
    context: a few words (``_few_words``), or a question about one aspect with a few more."""
    return _few_words(words, mentions) or (aspect != "overview" and words <= FOLLOW_UP_ASPECT_MAX_TOPIC_WORDS)


@lru_cache(maxsize=1)
def _grievances() -> re.Pattern[str]:
    return _phrases(yaml.safe_load(GRIEVANCES_FILE.read_text(encoding="utf-8"))["phrases"])


def voices_grievance(text: str) -> bool:
    """Whether a message complains about something (a phrase of ``grievances.yml``: "thái độ", "vẫn
    chưa có kết quả", "tôi muốn khiếu nại"); a hardship ("quán ế quá") is none."""
    return bool(_grievances().search(folded_text(text)))


def _maybe_a_question(message: Message) -> bool:
    """A complaint or out-of-scope reading the NLU is unsure of, with a question intent next."""
    return (
        message.intent in UNSURE_HANDOFF_INTENTS
        and message.confidence < UNSURE_HANDOFF_CONFIDENCE
        and message.runner_up in QUESTION_INTENTS
    )


# Asking whether to tell the ward, or to go there: "có phải báo phường không", "lên phường làm được không".
_TO_THE_WARD = re.compile(r"\b(?:bao|len|ra|den|toi|nop|voi) (?:(?:ubnd|cong an) )?(?:phuong|xa)\b")


def _asks_the_ward(text: str) -> bool:
    """Whether the sentence that asks is about telling the ward or going to it: a question the NLU
    reads as out of scope ("quán phở nghỉ hai tháng, có cần báo phường không") may still be a procedure."""
    return bool(_TO_THE_WARD.search(folded_text(asking_sentence(text))))


# Who or how to reach, in a request for a person: "cho tôi gặp cán bộ", "xin số điện thoại", "a real person".
_A_PERSON = re.compile(
    r"\b(can bo|nguoi that|nhan vien|noi chuyen|gap|sdt|so dien thoai|so dt|goi|chuyen may|tong dai|"
    r"human|person|staff|someone|agent|officer|talk|speak|call)\b"
)


def _a_question_read_as_a_handoff(message: Message) -> bool:
    """A complaint or request-for-a-person reading of a question: the message voices no grievance
    ("thời gian giải quyết bao lâu"; "nộp 2 tuần rồi vẫn chưa có kết quả" is an officer's matter), and a
    request names no person and no way to reach one ("nghe nói ra phường chứng thực được. vậy cần mang
    giấy tờ gì")."""
    if message.intent == "request_human" and _A_PERSON.search(folded_text(message.text)):
        return False
    return message.intent in ("complain", "request_human") and not voices_grievance(message.text)


def opens_with_correction(text: str) -> bool:
    """Whether a message opens by rejecting the answer just given ("không phải, ý tôi là …")."""
    parts = clauses(text)
    first = folded_text(parts[0][0]) if parts else ""
    return bool(_REJECTING_CLAUSE.match(first) or _SAYING_WHAT_WAS_MEANT.match(folded_text(text)))


def read_intent(message: Message) -> str:
    """The intent the turn logic acts on: the NLU's, except that an English message with a Vietnamese
    rendering (``english_rendering``: "how do I register the birth of my baby") is a question about a
    procedure, whatever the NLU (which learned little English) made of it; an English message without
    one that asks about one aspect ("ok and does it cost anything?") is one the NLU could not read, a
    follow-up when a procedure is in context (``Dialogue._unsure``), not out of scope."""
    if message.intent in ENGLISH_OVERRULED_INTENTS and english_rendering(message.text):
        return "ask_procedure"
    if message.intent == "out_of_scope" and looks_english(message.text) and _asks_one_aspect(message.text):
        return "nlu_fallback"
    return message.intent


def _asks_one_aspect(text: str) -> bool:
    return aspect_from_text(text) not in (None, "overview")


class Dialogue:
    """Decides each turn with the knowledge base.

    Args:
        kb: retrieval and the confidence gate (loaded once per process).
        store: the procedure records answers are read from.
    """

    def __init__(self, kb: KnowledgeBase, store: ProcedureStore) -> None:
        self.kb = kb
        self.store = store

    def respond(self, message: Message, context: Context) -> Turn:
        turn = self._for_register(self._respond(message, context), message.text)
        # A follow-up kept in context was unsure too: "còn phiếu lý lịch tư pháp thì xin ở đâu" after an
        # answer names another matter, not the procedure in context.
        unsure = (
            turn.kind == "clarify"
            or (turn.kind == "handoff" and turn.reason in NOT_COVERED_OVERRIDES)
            or turn.follow_up
        )
        if message.intent == "choose_procedure" or not (unsure or turn.kind == "answer"):
            return turn
        # An unsure turn gives way to a matter named anywhere in the message; a confident answer only to
        # one the question itself asks about (a story naming a ward procedure before it: "bé mới có giấy
        # khai sinh với thẻ căn cước thôi. Làm hộ chiếu cho trẻ dưới 14 tuổi thì cần giấy tờ gì").
        if matter := not_covered_matter(message.text) if unsure else asked_matter(message.text):
            return Turn("handoff", turn.aspect, reason="not_covered", matter=matter)
        if matter := self._unknown_paper(message.text, anywhere=unsure):
            return Turn("handoff", turn.aspect, reason="not_covered", matter=matter)
        return turn

    def _unknown_paper(self, text: str, anywhere: bool) -> str | None:
        """"cấp giấy phép này" when the message names a kind of paper the ward corpus never names, not as
        a purpose: anywhere in it when the turn was unsure, else in its asking clause or as what the
        citizen asks for ("… nghe bảo phải xin giấy chứng nhận đủ điều kiện về an ninh trật tự. Hồ sơ
        gồm gì"), or None."""
        folded = folded_text(text)
        asked = None  # the asking clause, folded when first needed: most messages name no paper
        for head, word, start in paper_names(folded):
            name = f"{head} {word}"
            if name in self._known_papers or word in _NO_PAPER_NAMES or not topic_words(word):
                continue
            before = folded[:start]
            requested = _ASKING_FOR.search(before)
            if _PURPOSE.search(before[: requested.start()] if requested else before):
                continue  # a purpose: "để (xin) giấy phép …"
            if not (anywhere or requested):
                asked = asked if asked is not None else folded_text(asking_clause(text))
                if name not in asked:
                    continue
            return f"cấp {PAPER_HEADS[head]} này"
        return None

    def warm_up(self) -> None:
        """Load the knowledge base and read the corpus's paper names now, not on the first question:
        folding every record takes most of a second on the ward corpus, far more on a national import."""
        self.kb.warm_up()
        _ = self._known_papers

    @cached_property
    def _known_papers(self) -> frozenset[str]:
        """Every paper name (head + next word) the ward corpus's records use, read once per process
        like the index (``warm_up``)."""
        texts = (json.dumps(p.model_dump(mode="json"), ensure_ascii=False) for p in self.store.all())
        names = (paper_names(folded_text(text)) for text in texts)
        return frozenset(f"{head} {word}" for found in names for head, word, _ in found)

    def _respond(self, message: Message, context: Context) -> Turn:
        intent = read_intent(message)
        if intent in HANDOFF_INTENTS:
            turn = self._question_after_all(message, context)
            return self._for_age(turn, message) if turn else Turn("handoff", reason=intent)
        if context.procedure:
            if intent == "correct_procedure":
                return self._correct(message, context)
            read_as_question = intent in RESTATED_CORRECTION_INTENTS
            if (read_as_question or intent == "nlu_fallback") and opens_with_correction(message.text):
                # It rejects the answer. One DIET could not read keeps the aspect asked before, like a
                # correction it recognises ("À không phải, ý tôi là làm văn bản từ chối nhận di sản …").
                return self._correct(message, context, restated=read_as_question)
        if intent == "nlu_fallback":
            return self._unsure(message, context)
        if intent == "choose_procedure":
            return self._choose(message, context)
        return self._for_age(self._question(message, context, asked_aspect(message.text, intent)), message)

    # --- the cases ---------------------------------------------------------------------------

    def _question(self, message: Message, context: Context, aspect: str) -> Turn:
        mentions = self._mentions(message)
        topic = procedure_words(message.text)
        words = len(topic)
        follow_up = self._follow_up(context, aspect)
        if follow_up and not mentions and not words:
            return follow_up
        turn = self._search(message.text, mentions, aspect)
        if follow_up and turn.kind != "answer":
            # Unless retrieval is sure of another procedure, the context stays for words from its own
            # name ("phí chứng thực tính thế nào?" about a certification), a few stray words ("thế còn
            # cho người nước ngoài?"), or a question about one aspect that tells more of the case.
            if follow_up.procedure and set(topic) <= set(folded_words(follow_up.procedure.name)):
                return follow_up
            # Options from the gate's clarify band for a message of a few words only say retrieval is
            # unsure ("phải làm trong thời hạn bao lâu" after an answer about deregistering a residence):
            # the context stays, as after a handoff. With more words ("nhập hộ khẩu cho bé thì mấy
            # ngày") or close scores among other procedures, it may be a switch: the buttons stay.
            in_context = follow_up.options or (follow_up.procedure,)
            unsure = turn.kind == "handoff" or (turn.reason == "maybe_right" and _few_words(words, mentions))
            if _continues(words, mentions, aspect) and (unsure or any(p in turn.options for p in in_context)):
                return follow_up
        return turn

    def _follow_up(self, context: Context, aspect: str) -> Turn | None:
        """What a follow-up about ``aspect`` refers to: while the citizen has not picked among the
        options last offered, those options again (the procedure answered before them is no longer
        what the conversation is about); else the procedure in context; None without context."""
        if pending := self._offer(context.options, aspect):
            return pending
        if in_context := self._procedure(context.procedure):
            return Turn("answer", aspect, in_context, follow_up=True)
        return None

    def _search(self, text: str, mentions: list[str], aspect: str) -> Turn:
        """Ask the knowledge base with the whole message; when the gate will not answer that, ask again
        with the procedure the NLU found in it (a long message dilutes the lexical match). The retry's
        answer must be among the whole message's candidates: a mention cut short ("đăng ký" out of
        "đăng ký lấy biển") can point at a procedure the message is not about. When it is not the
        message's best candidate, the citizen chooses between the two. A question still handed off for
        low confidence gets the options of one field (``_one_field_options``) when it has them."""
        answer = self.kb.ask(text)
        turn = self._from_decision(answer.decision, aspect)
        if turn.kind != "answer" and mentions:
            turn = self._retry(answer, turn, mentions, aspect)
        if turn.reason == "low_confidence":
            turn = self._one_field_options(answer, aspect) or turn
        return turn

    def _retry(self, answer: Answer, turn: Turn, mentions: list[str], aspect: str) -> Turn:
        """``_search``'s second question, with the procedure the NLU found in the message."""
        focused = self.kb.ask(" ".join(mentions))
        retry = self._from_decision(focused.decision, aspect)
        if retry.kind == "answer" and retry.procedure.code not in {c.code for c in answer.candidates}:
            return turn
        if retry.kind == "answer" and retry.procedure.code != answer.candidates[0].code:
            # The mention picks a procedure the whole message ranked lower: the words the citizen used
            # for the case ("hợp đồng" in a question about cancelling a certified contract; "giấy đăng
            # ký kết hôn" in "… bị mất, xin bản sao") are not the procedure they want, so they choose:
            # among the message's own options, or between its best candidate and the mention's.
            if turn.kind == "clarify":
                return turn
            return self._offer([answer.candidates[0].code, retry.procedure.code], aspect) or retry
        if retry.kind == "clarify" and turn.kind == "handoff":
            # The mention alone is vaguer than the message ("giấy khai sinh" out of "giấy khai sinh ghi
            # sai năm sinh, muốn sửa"): the whole message's two best candidates get the first buttons
            # (the mention can miss one of a near-duplicate pair the message ranks first and second).
            best = self._procedures(c.code for c in answer.candidates[:LEADING_OPTIONS])
            rest = [p for p in retry.options if p not in best]
            return Turn("clarify", aspect, options=(*best, *rest)[: self.kb.gate.max_options])
        return retry if retry.kind == "answer" else turn

    def _question_after_all(self, message: Message, context: Context) -> Turn | None:
        """The answer to a message the NLU wants handed off but retrieval is sure of, else None:
        a complaint reading that voices no grievance, a request for a person that names nobody, or an
        unsure complaint or out-of-scope reading with a question intent next (``_maybe_a_question``),
        is answered as a question when that gives an answer; an out-of-scope reading that asks about
        telling the ward, when the gate does not hand it off; any out-of-scope reading, when the gate is
        sure past OUT_OF_SCOPE_ANSWER_PROBABILITY."""
        questioning = _a_question_read_as_a_handoff(message)
        if questioning or _maybe_a_question(message):
            # Only a question read as a complaint or a request may be a follow-up ("thời gian giải quyết
            # bao lâu"): not a grievance ("lâu quá vậy") nor an out-of-scope reading ("thế mai trời có
            # mưa không").
            heard = context if questioning else Context()
            turn = self._question(message, heard, asked_aspect(message.text, message.runner_up))
            return turn if turn.kind == "answer" else None
        if message.intent == "out_of_scope" and _asks_the_ward(message.text):
            turn = self._question(message, Context(), asked_aspect(message.text, message.runner_up))
            return turn if turn.kind != "handoff" else None
        if message.intent == "out_of_scope":
            decision = self.kb.ask(message.text).decision
            if decision.kind == "answer" and (decision.probability or 0.0) >= OUT_OF_SCOPE_ANSWER_PROBABILITY:
                aspect = asked_aspect(message.text, message.runner_up)
                return self._from_decision(decision, aspect)
        return None

    @staticmethod
    def _mentions(message: Message) -> list[str]:
        """Procedure mentions the NLU extracted that say more than one word (single words such as
        "giấy" or "làm" are extraction noise)."""
        return [m for m in message.entity_values("procedure") if len(m.split()) >= 2 and not CODE_PATTERN.match(m)]

    def _unsure(self, message: Message, context: Context) -> Turn:
        """The NLU could not tell what the message is. A short message with a cue for an aspect (or
        for an overview) is a follow-up on the procedure in context; a message naming a procedure that
        retrieval is confident of (or offers close options for) is answered; a short question
        retrieval places nowhere follows up too; anything else goes to an officer with the reason
        ``nlu_fallback``."""
        cue = asked_aspect(message.text)
        words = len(procedure_words(message.text))
        follow_up = self._follow_up(context, cue)
        named = cue != "overview" or cued_aspects(message.text)  # an aspect, or a cue for an overview
        if follow_up and named and words <= FOLLOW_UP_MAX_TOPIC_WORDS:
            return follow_up  # "nộp rồi chờ mấy hôm", "ông ấy có phải làm gì trước không"
        if not words:
            return Turn("handoff", reason="nlu_fallback")
        mentions = self._mentions(message)
        turn = self._search(message.text, mentions, cue)
        placed_nowhere = turn.kind == "handoff" and asks_something(message.text)
        if placed_nowhere and follow_up and _continues(words, mentions, cue):
            return follow_up  # a question no other procedure fits: "lỡ quá 30 ngày thì có bị phạt không"
        return self._for_age(turn, message) if turn.kind != "handoff" else Turn("handoff", reason="nlu_fallback")

    def _choose(self, message: Message, context: Context) -> Turn:
        aspect = context.aspect or "overview"
        for value in message.entity_values("procedure"):
            if CODE_PATTERN.match(value) and (procedure := self._procedure(value)):
                return Turn("answer", aspect, procedure)
        index = ordinal(message.text)
        if index is not None and context.options and -len(context.options) <= index < len(context.options):
            if procedure := self._procedure(context.options[index]):
                return Turn("answer", aspect, procedure)
        if procedure_words(message.text):
            return self._question(message, Context(aspect=aspect), aspect)
        return self._offer(context.options, aspect) or Turn("ask_which", aspect)

    def _correct(self, message: Message, context: Context, restated: bool = False) -> Turn:
        # "không phải, ý tôi là khai sinh" keeps the aspect asked before; a correction that asks its
        # own ("… ý tôi là giấy xác nhận độc thân, xin ở đâu") is answered on that one. One the NLU read
        # as a question of its own (``restated``: it tells the case again, "không phải, ý tôi là sổ gốc
        # cũng bị cháy rồi, vậy làm lại thế nào") asks what its words ask, an overview without a cue. So
        # does one that ends in a question of its own with no aspect in it ("… sổ gốc cũng mất rồi. Giờ làm
        # lại thì sao"): what was asked before was about the procedure the citizen did not mean.
        _, own = _asking_clause_cues(message.text)
        if own:
            aspect = own[0]
        elif restated:  # what asked_aspect gives once the asking clause has no cue
            aspect = aspect_from_text(message.text) or "overview"
        elif len(parts := clauses(message.text)) > 1 and clause_asks(*parts[-1]):
            aspect = "overview"
        else:
            aspect = context.aspect or "overview"
        wrong = context.procedure
        if wrong in _age_variants() and age_of(message) is not None:  # "à nhầm, cháu mới 12 tuổi"
            return self._for_age(Turn("answer", aspect, self._procedure(wrong)), message)
        if not procedure_words(message.text) and not message.entity_values("procedure"):
            options = self._procedures(c for c in context.options if c != wrong)
            if len(options) >= 2:
                return Turn("clarify", aspect, options=options)
            if len(options) == 1:
                return Turn("answer", aspect, options[0])
            return Turn("ask_which", aspect)
        answer = self.kb.ask(message.text, k=8)
        candidates: list[Candidate] = [c for c in answer.candidates if c.code != wrong]
        decision = decide(candidates, self.kb.gate)
        if decision.kind == "handoff":
            # The citizen is narrowing down a procedure question the bot already took up: when the
            # gate cannot settle the restated one, the best candidates as buttons serve them better
            # than an officer (one click; the clarifying message says how to reach a person instead).
            if offer := self._offer((c.code for c in candidates[:CORRECTION_OPTIONS]), aspect):
                return offer
        return self._from_decision(decision, aspect)

    # --- helpers -----------------------------------------------------------------------------

    def _for_age(self, turn: Turn, message: Message) -> Turn:
        """Swap an age-dependent procedure for the variant that fits the age the citizen gave."""
        age = age_of(message)
        if age is None or turn.kind != "answer" or turn.procedure.code not in _age_variants():
            return turn
        below, limit, above = _age_variants()[turn.procedure.code]
        fitting = self._procedure(below if age < limit else above)
        return replace(turn, procedure=fitting) if fitting else turn

    def _for_register(self, turn: Turn, text: str) -> Turn:
        """Swap a copy from the civil-status register and a re-registration for the one the story fits
        (``RegisterVariants.fitting``)."""
        if turn.kind != "answer":
            return turn
        fitting = register_variants().fitting(turn.procedure.code, text)
        if fitting == turn.procedure.code:
            return turn
        return replace(turn, procedure=self._procedure(fitting) or turn.procedure)

    def _from_decision(self, decision: Decision, aspect: str) -> Turn:
        procedures = self._procedures(decision.options)
        if decision.kind == "answer" and procedures:
            return Turn("answer", aspect, procedures[0])
        if decision.kind == "clarify" and len(procedures) >= 2:
            return Turn("clarify", aspect, options=procedures, reason=decision.reason)
        reason = decision.reason if decision.kind == "handoff" else "low_confidence"
        return Turn("handoff", aspect, reason=reason)

    def _one_field_options(self, answer: Answer, aspect: str) -> Turn | None:
        """Options for a question the gate hands off with a probability from FIELD_BAND_PROBABILITY:
        the best candidates in the first one's field, when there are at least two of them."""
        leading = self._procedures(c.code for c in answer.candidates[: self.kb.gate.band_options])
        if (answer.decision.probability or 0.0) < FIELD_BAND_PROBABILITY or not leading:
            return None
        same_field = tuple(p for p in leading if p.field == leading[0].field)
        return Turn("clarify", aspect, options=same_field, reason="maybe_right") if len(same_field) >= 2 else None

    def _offer(self, codes, aspect: str) -> Turn | None:
        """Buttons for ``codes`` that are in the store, when there are at least two of them."""
        options = self._procedures(codes)
        return Turn("clarify", aspect, options=options) if len(options) >= 2 else None

    def _procedure(self, code: str | None) -> Procedure | None:
        return self.store.get(code) if code else None

    def _procedures(self, codes) -> tuple[Procedure, ...]:
        found = (self._procedure(code) for code in codes)
        return tuple(p for p in found if p is not None)
