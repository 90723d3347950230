"""Parse raw records of the National Public Service Portal (Cổng Dịch vụ công quốc gia) into ``Procedure``.

The crawler flattened the portal's tables: cell texts run together with no separator, e.g. the channel
table reads ``"Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến3 Ngày làm việc7,000 Việt Nam Đồng(...)"``.
The parsers below recover the cells from what the portal always prints between them (channel names,
durations with units, currency words, quantities like "1 bản chính", legal document numbers).

Public API: ``parse_record`` (one raw dict → ``Procedure`` + ``ParseReport``), ``iter_portal_records``
(read a dump) and the small pure parsers ``parse_channels``, ``parse_duration``, ``parse_fees``,
``parse_documents``, ``parse_legal_basis``, ``parse_steps``, ``parse_levels``, ``clean_furniture``.
A record that parses only partly still yields a ``Procedure``; the fields that failed are listed in
``ParseReport.failed_fields`` and ``Procedure.parse_issues``. Only a missing or invalid code or name
raises (``RecordError``).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from knowledge_base.schema import (
    CODE_PATTERN,
    Channel,
    ChannelKind,
    Document,
    Duration,
    Fee,
    LegalRef,
    Procedure,
)
from knowledge_base.text import fold, nfc

__all__ = [
    "ParseReport",
    "PortalFormatError",
    "RecordError",
    "clean_furniture",
    "iter_portal_records",
    "parse_channels",
    "parse_documents",
    "parse_duration",
    "parse_fees",
    "parse_legal_basis",
    "parse_levels",
    "parse_record",
    "parse_steps",
]

NO_INFO = "Không có thông tin"

# Vietnamese letters for regex classes (code-point ranges such as À-Ỹ would mix in lower-case letters).
_UP = "A-ZÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝĂĐĨŨƠƯẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸ"
_LOW = "a-zàáâãèéêìíòóôõùúýăđĩũơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"

# Raw portal fields kept in ``Procedure.raw`` (``raw_text`` is left out: it is the whole page).
RAW_FIELDS = (
    "ma_thu_tuc",
    "ten_thu_tuc",
    "detail_url",
    "so_quyet_dinh",
    "cap_thuc_hien",
    "loai_thu_tuc",
    "linh_vuc",
    "doi_tuong_thuc_hien",
    "co_quan_thuc_hien",
    "co_quan_co_tham_quyen",
    "co_quan_duoc_uy_quyen",
    "co_quan_phoi_hop",
    "dia_chi_tiep_nhan",
    "thu_tuc_lien_quan",
    "trinh_tu_thuc_hien",
    "cach_thuc_thuc_hien",
    "thanh_phan_ho_so",
    "can_cu_phap_ly",
    "yeu_cau_dieu_kien",
    "ket_qua_xu_ly",
    "bo_nganh",
)


class PortalFormatError(ValueError):
    """A dump file or one of its lines is not valid JSON of the expected shape."""


class RecordError(ValueError):
    """A record lacks a usable procedure code or name; ``field`` names the portal field at fault."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass
class ParseReport:
    """What happened while parsing one record: its code and the fields that could not be fully parsed."""

    code: str
    failed_fields: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Small helpers


def _clean(text: str | None) -> str:
    """NFC, collapse runs of spaces and tabs, strip; "Không có thông tin" (no information) becomes ""."""
    if not text:
        return ""
    value = nfc(text).replace("\xa0", " ")
    value = re.sub(r"[ \t]+", " ", value).strip()
    return "" if value.rstrip(".").strip() == NO_INFO else value


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _balanced_paren(text: str, start: int) -> int:
    """Return the index just after the parenthesis group opening at ``start`` (or len(text) if unclosed)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


# --------------------------------------------------------------------------------------------------
# Page furniture

_FURNITURE_PATTERNS = (
    re.compile(r"Chọn cơ quan thực hiện.*?Nộp hồ sơ\s*$", re.S),
    re.compile(r"Chọn cơ quan thực hiện.*$", re.S),
    re.compile(r"Từ khóa\s*(?:Không có thông tin)?\s*Mô tả\s*(?:Không có thông tin)?", re.S),
    re.compile(r"Mã:\s*KQ\.[A-Z0-9.]+"),
    re.compile(r"Hệ thống chỉ hiển thị những cơ quan đã áp dụng dịch vụ công trực tuyến"),
)


def clean_furniture(text: str) -> str:
    """Remove portal page furniture (result codes, empty keyword boxes, the agency picker) from a field.

    Args:
        text: a raw field, e.g. ``ket_qua_xu_ly``.

    Returns:
        The NFC text without furniture, stripped; "" when nothing but furniture or "no information" is left.

    Example:
        ``clean_furniture("Giấy khai sinhMã: KQ.G15.000031Từ khóaKhông có thông tinMô tảKhông có thông tin")``
        returns ``"Giấy khai sinh"``.
    """
    value = nfc(text or "")
    for pattern in _FURNITURE_PATTERNS:
        value = pattern.sub(" ", value)
    return _clean(value)


def _parse_result(text: str) -> str:
    """Names of the results in ``ket_qua_xu_ly`` (one per "Mã: KQ..." code), joined by "; "."""
    value = nfc(text or "")
    for pattern in _FURNITURE_PATTERNS[:3]:
        value = pattern.sub(" ", value)
    names = [_clean(part) for part in re.split(r"Mã:\s*KQ\.[A-Z0-9.]+", value)]
    return "; ".join(name for name in names if name)


# --------------------------------------------------------------------------------------------------
# Levels and steps


def parse_levels(text: str) -> list[str]:
    """Split the portal's level field (``cap_thuc_hien``) into its labels.

    Args:
        text: e.g. ``"Cấp bộ, Cấp tỉnh, Cấp xã"``.

    Returns:
        The labels in NFC, e.g. ``["Cấp bộ", "Cấp tỉnh", "Cấp xã"]``; ``[]`` for "Không có thông tin".
    """
    value = _clean(text)
    return [part.strip() for part in re.split(r"[,;\n]", value) if part.strip()]


_STEP_MARK = re.compile(r"(?:^|(?<=\s)|(?<=[-+*.;:]))\s*[-+*]?\s*Bước\s*\d+\s*[:.)-]?", re.I)


def parse_steps(text: str) -> list[str]:
    """Split the procedure's steps (``trinh_tu_thuc_hien``) into one string per step.

    When the text numbers its steps ("Bước 1: ...", "Bước 2: ..."), each step runs to the next marker;
    otherwise each non-empty line is a step. Whitespace inside a step is collapsed.

    Args:
        text: the raw steps field.

    Returns:
        Steps in order, e.g. ``["Bước 1: Nộp hồ sơ", "Bước 2: Nhận kết quả"]``; ``[]`` when empty.
    """
    value = _clean(text)
    if not value:
        return []
    starts = [m.start() for m in re.finditer(r"Bước\s*\d+", value)]
    if len(starts) >= 2:
        chunks = [value[:starts[0]]] + [value[a:b] for a, b in zip(starts, starts[1:] + [len(value)])]
    else:
        chunks = value.split("\n")
    steps = [_one_line(chunk).strip(" -+*") for chunk in chunks]
    return [step for step in steps if step]


# --------------------------------------------------------------------------------------------------
# Durations

_UNITS = ("Ngày làm việc", "Ngày", "Giờ", "Tháng", "Năm", "Tuần", "Phút")
_UNIT_RE = "|".join(_UNITS)
_DURATION_RE = re.compile(rf"^\s*(\d+(?:[.,]\d+)?)\s*({_UNIT_RE})?\s*$", re.I)


def parse_duration(text: str) -> Duration | None:
    """Parse one processing-time cell such as "3 Ngày làm việc".

    Args:
        text: the time cell. A bare number (the portal lost its unit) gives ``unit=None``.

    Returns:
        ``Duration(value, unit, text)`` with the unit in lower case ("ngày làm việc"); a Duration with
        ``value=None`` for other wording ("Không quy định"); None when empty or "Không có thông tin".

    Example:
        ``parse_duration("1")`` returns ``Duration(value=1.0, unit=None, text="1")``.
    """
    value = _clean(text)
    if not value:
        return None
    match = _DURATION_RE.match(value)
    if not match:
        return Duration(value=None, unit=None, text=value)
    number = float(match.group(1).replace(",", "."))
    unit = match.group(2).lower() if match.group(2) else None
    return Duration(value=number, unit=unit, text=value)


# --------------------------------------------------------------------------------------------------
# Fees

_CURRENCY_RE = r"(?:Việt Nam Đồng|VNĐ|VND|Đồng|đồng|USD)"
_AMOUNT_CELL = re.compile(rf"(\d[\d.,]*)\s*({_CURRENCY_RE})")
_PROVINCE_RE = re.compile(
    r"(hoi dong nhan dan|hdnd|uy ban nhan dan|ubnd)\s*(cap\s*)?(cac\s*)?tinh"
    r"|(do|theo)\s*(quy dinh cua\s*)?(hdnd|hoi dong nhan dan)\b"
)
_FEE_LINE_SPLIT = re.compile(r"(?<=[\s)])\s*(?=(?:Lệ phí|Phí)\s*:\s*\d)")
_FEE_LINE = re.compile(rf"^\s*(?:(?:Lệ phí|Phí)\s*:\s*)?(\d[\d.,]*)(?:/\S+)?\s*{_CURRENCY_RE}")


def _amount(digits: str) -> int | None:
    """Read "7,000", "2.000.000" or "15000000" as an integer number of units."""
    cleaned = re.sub(r"[.,](?=\d{3}(?!\d))", "", digits.strip(".,"))
    return int(cleaned) if cleaned.isdigit() else None


def _is_province(note: str) -> bool:
    return bool(_PROVINCE_RE.search(fold(note)))


def parse_fees(text: str) -> list[Fee]:
    """Parse one fee cell of the channel table, with the note the portal prints in parentheses.

    Args:
        text: e.g. ``"50,000 Việt Nam Đồng(Phí : 50.000 Đồng ...)"``, ``"Miễn phí"``, ``"Không có thông tin"``.

    Returns:
        The fee lines. The first line stands for the cell itself: "Miễn phí" → kind "free" (or "province"
        when the note says the provincial People's Council sets it), an amount in VND → kind "amount",
        another currency (USD) → kind "amount" with ``amount_vnd=None`` and the amount in the note, other
        wording → kind "unknown". When the note itself lists several priced lines ("Phí: 15000000/lần
        Đồng (...)  Phí: 6000000/chiếc Đồng (...)") each becomes one more Fee. "Không có thông tin" → [].

    Example:
        ``parse_fees("Miễn phí(Mức lệ phí do HĐND tỉnh quy định)")`` gives one Fee of kind "province".
    """
    value = _clean(text)
    if not value:
        return []
    cell, note = value, ""
    paren = value.find("(")
    if paren >= 0:
        cell = value[:paren].strip()
        end = _balanced_paren(value, paren)
        note = _one_line(value[paren + 1 : end - 1] if value[end - 1 : end] == ")" else value[paren + 1 :])
        rest = _one_line(value[end:])
        note = f"{note} {rest}".strip() if rest else note
    note = note.strip()
    if note.lower().rstrip(".") in {"không", "không có"}:
        note = ""
    lines = [line.strip() for line in _FEE_LINE_SPLIT.split(note) if line.strip()] if note else []
    priced = [_FEE_LINE.match(line) for line in lines]
    multi = len(lines) >= 2 and all(priced)
    main_note = "" if multi else note

    fees: list[Fee] = []
    labelled = re.match(rf"^(?:Lệ phí|Phí)\s*:\s*([\d.,]*)\s*{_CURRENCY_RE}\s*", cell)
    if labelled:  # "Phí : 50.000 Đồng" or, with the amount missing, "Phí : Đồng Không thu lệ phí"
        rest = _one_line(f"{cell[labelled.end():]} {note}")
        amount = _amount(labelled.group(1)) if labelled.group(1) else None
        if amount is not None:
            fees.append(Fee(kind="amount", amount_vnd=amount, note=rest))
        elif re.search(r"\b(khong thu|mien)\b", fold(rest)):
            fees.append(Fee(kind="free", note=rest))
        else:
            fees.append(Fee(kind="province" if _is_province(rest) else "unknown", note=rest))
    elif fold(cell).startswith("mien phi"):
        kind = "province" if note and _is_province(note) else "free"
        fees.append(Fee(kind=kind, note=main_note))
    elif match := _AMOUNT_CELL.match(cell):
        amount = _amount(match.group(1))
        if match.group(2) == "USD" or amount is None:
            fees.append(Fee(kind="amount", note=_one_line(f"{cell} {main_note}")))
        else:
            fees.append(Fee(kind="amount", amount_vnd=amount, note=main_note))
    elif cell or note:
        kind = "province" if _is_province(value) else "unknown"
        fees.append(Fee(kind=kind, note=_one_line(value)))
    if multi:
        for line, match in zip(lines, priced):
            assert match is not None  # guaranteed by ``multi``
            fees.append(Fee(kind="amount", amount_vnd=_amount(match.group(1)), note=line))
    return fees


# --------------------------------------------------------------------------------------------------
# Channels

_CHANNEL_TABLE_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
_CHANNEL_KINDS: dict[str, ChannelKind] = {
    "Trực tiếp": "in_person",
    "Trực tuyến": "online",
    "Dịch vụ bưu chính": "post",
}
# A row starts with a channel name directly followed by the time cell (a number or "Không ...") or,
# when the time cell is empty, by the fee cell. Descriptions also mention channels ("+ Trực tiếp: nộp
# hồ sơ ..."), but never glued to a number or to "Miễn phí".
_ROW_START = re.compile(r"(Trực tiếp|Trực tuyến|Dịch vụ bưu chính)(?=\s*(?:\d|Không|Miễn phí))")
_TIME_CELL = re.compile(
    rf"\s*(?:(?P<num>\d+(?:[.,]\d+)?)(?:\s?(?P<unit>{_UNIT_RE}))?"
    r"|(?P<noinfo>Không có thông tin)"
    r"|(?P<other>Không phải trả kết quả cho người nộp thuế|Không quy định|Không(?=Không|Miễn| Không)))"
)
_FEE_START = rf"(?:Miễn phí|Không có thông tin|\d[\d.,]*\s?{_CURRENCY_RE}|(?:Lệ phí|Phí)\s*:\s*[\d.,]*\s*{_CURRENCY_RE})"
_FEE_CELL = re.compile(rf"\s*{_FEE_START}")
# Fallback when no row matches _ROW_START: a channel name glued to the text on both sides, as in
# "...cấp tỉnh, xãTrực tuyếnHệ thống giải quyết..." (the time cell is then free text).
_LOOSE_ROW_START = re.compile(rf"(?:^|(?<=[^\s+:-]))(Trực tiếp|Trực tuyến|Dịch vụ bưu chính)(?=[{_UP}\d])")


@dataclass
class _Row:
    kind: ChannelKind
    time: Duration | None
    fee_text: str
    description: str
    time_ok: bool
    fee_ok: bool


def _split_row(kind: ChannelKind, body: str) -> _Row:
    """Split the text after a channel name into time, fee (with its note) and description."""
    time: Duration | None = None
    time_ok = True
    pos = 0
    match = _TIME_CELL.match(body)
    if match and match.group("num") is not None:
        number, unit = match.group("num"), match.group("unit")
        after = body[match.end() :]
        if unit is None and re.match(rf"\s?{_CURRENCY_RE}|[.,]\d", after) and len(number) > 1:
            # Unit lost and the fee amount glued on: "1100 VNĐ" is time 1 + fee "100 VNĐ". Every such
            # case in the 2025 dump has a one-digit time, so the first digit is taken as the time.
            number = number[0]
            pos = match.start("num") + 1
        else:
            pos = match.end()
        time = parse_duration(f"{number} {unit}" if unit else number)
    elif match and match.group("noinfo"):
        pos = match.end()
    elif match and match.group("other"):
        pos = match.end()
        time = Duration(value=None, unit=None, text=match.group("other"))
    elif fee_start := re.compile(rf"(?<=\S){_FEE_START}").search(body):
        # Free-text time cell glued to the fee cell: keep the wording, without a number.
        pos = fee_start.start()
        time = Duration(value=None, unit=None, text=_one_line(body[:pos]))
    else:
        time_ok = False
    rest = body[pos:]
    fee_match = _FEE_CELL.match(rest)
    if not fee_match:
        return _Row(kind, time, "", _clean(rest), time_ok, False)
    end = fee_match.end()
    if end < len(rest) and rest[end] == "(":
        end = _balanced_paren(rest, end)
    return _Row(kind, time, rest[:end], _clean(rest[end:]), time_ok, True)


def _rows(text: str) -> list[_Row]:
    value = nfc(text or "")
    if value.startswith(_CHANNEL_TABLE_HEADER):
        value = value[len(_CHANNEL_TABLE_HEADER) :]
    starts = list(_ROW_START.finditer(value)) or list(_LOOSE_ROW_START.finditer(value))
    rows = []
    for here, nxt in zip(starts, starts[1:] + [None]):
        body = value[here.end() : nxt.start() if nxt else len(value)]
        rows.append(_split_row(_CHANNEL_KINDS[here.group(1)], body))
    return rows


def parse_channels(text: str) -> list[Channel]:
    """Parse the flattened channel table (``cach_thuc_thuc_hien``) into channels.

    Args:
        text: e.g. ``"Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến1Miễn phíTrực tiếp1Miễn phí"``.

    Returns:
        One Channel per row (Trực tiếp → in_person, Trực tuyến → online, Dịch vụ bưu chính → post) with
        its time (``parse_duration``), fees (``parse_fees``) and description. A channel listed twice
        keeps its first row. ``[]`` when the table has no recognisable row.

    Example:
        the text above gives an online and an in-person channel, each with ``time.value == 1``,
        ``time.unit is None`` and one free Fee.
    """
    channels: list[Channel] = []
    seen: set[str] = set()
    for row in _rows(text):
        if row.kind in seen:
            continue
        seen.add(row.kind)
        channels.append(
            Channel(kind=row.kind, time=row.time, fees=parse_fees(row.fee_text), description=row.description)
        )
    return channels


# --------------------------------------------------------------------------------------------------
# Documents

_DOC_TABLE_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
_QUANTITY = re.compile(r"(\d+)\s*bản\s*(chính|sao)(?:\s*,\s*(\d+)\s*bản\s*(chính|sao))?")
_FORM_EXT = re.compile(r"\.(?:docx?|pdf|xlsx?|rar|zip|odt|rtf)(?=$)", re.I)
_GENERIC_HEADINGS = {"", "giay to phai nop", "thanh phan ho so", "thanh phan ho so gom", "ho so gom"}


_GLUE = re.compile(
    r"[;:](?=\S)"  # "...ngày 27/12/2021;Mus08.docx"
    r"|(?<=[^\d\s])[.)](?=[^\s\d.,;)])"  # a sentence end glued to the file name: "(Mẫu số 03).Mẫu 03.doc"
    rf"|(?<=[{_LOW}\d])(?=[{_UP}])"  # lower case glued to upper case: "theo mẫuTờ khai.docx"
    rf"|(?<=[{_UP}])(?=[{_UP}][{_LOW}])"  # an acronym glued to a word: "NĐ-CPMẫu số 01.docx"
)


def _split_form(cell: str) -> tuple[str, str | None]:
    """Split "name...Mẫu 01.docx" into the document name and the form template's file name.

    The file name starts at the last glue point before its extension that leaves a short file name
    with no ";" or ":" in it. A name glued to a file name with no visible boundary stays whole.
    """
    ext = _FORM_EXT.search(cell)
    if not ext:
        return cell, None
    for match in reversed(list(_GLUE.finditer(cell, 0, ext.start()))):
        name, form = cell[: match.end()].strip(), cell[match.end() :].strip()
        if len(form) > 120:
            break
        if name.strip(" ;:.-+*") and not re.search(r"[;:]", form):
            return name, form
    return cell, None


def _copy_type(original: int, copy: int, name: str, present: bool) -> str | None:
    if present:
        return "present"
    folded = fold(name)
    if original and copy:
        return "original_or_copy"
    if copy:
        return "certified_copy" if re.search(r"ban sao (co )?chung thuc", folded) else "copy"
    if original:
        return "original"
    return None


def _heading_case(heading: str) -> tuple[str | None, bool]:
    """Turn a section heading into (applies_to, is_present_section)."""
    text = _one_line(heading).strip(" -*:.")
    present = "xuat trinh" in fold(text)
    key = fold(text).strip(" :")
    if key in _GENERIC_HEADINGS or key.startswith("giay to phai") or not text:
        return None, present
    return text, present


def parse_documents(text: str) -> list[Document]:
    """Parse the flattened document table (``thanh_phan_ho_so``) into documents.

    The table is ``<heading>Tên giấy tờMẫu đơn, tờ khaiSố lượng<rows>``, repeated once per case; each
    row is ``<name>[<form file>]<quantity>`` with quantities like "1 bản chính" or "0 bản chính,1 bản sao".

    Args:
        text: the raw field.

    Returns:
        Documents with quantity, copy_type ("bản chính" → original, "bản sao" → copy or certified_copy,
        both → original_or_copy, a "xuất trình" section → present), form (the template's file name, e.g.
        "Tờ khai đăng ký khai sinh.docx") and applies_to (the case heading, e.g. "Trường hợp ủy quyền").
        ``[]`` when empty; free text without the table gives one document per non-empty line.

    Example:
        ``parse_documents("--Tên giấy tờMẫu đơn, tờ khaiSố lượngGiấy chứng sinh1 bản chính")`` gives
        ``[Document(name="Giấy chứng sinh", quantity=1, copy_type="original")]``.
    """
    value = _clean(text)
    if not value.strip(" -"):
        return []
    if _DOC_TABLE_HEADER not in value:
        return [Document(name=line.strip(" -+*")) for line in value.split("\n") if line.strip(" -+*")]
    parts = value.split(_DOC_TABLE_HEADER)
    headings, bodies = parts[:-1], parts[1:]
    documents: list[Document] = []
    for index, body in enumerate(bodies):
        # The text after the last row of a section is the next section's heading.
        heading = headings[index]
        if index > 0:
            last_quantity = list(_QUANTITY.finditer(heading))
            heading = heading[last_quantity[-1].end() :] if last_quantity else heading
        applies_to, present = _heading_case(heading)
        section = body
        if index + 1 < len(bodies):
            quantities = list(_QUANTITY.finditer(body))
            section = body[: quantities[-1].end()] if quantities else ""
        pos = 0
        for match in _QUANTITY.finditer(section):
            cell = _one_line(section[pos : match.start()])
            pos = match.end()
            sub_case = re.match(r"^\*\s*(Trường hợp[^:]*:)\s*", cell)
            if sub_case:
                applies_to = sub_case.group(1).strip(" :")
                cell = cell[sub_case.end() :]
            name, form = _split_form(cell)
            name = name.strip(" -+*;").strip()
            if not name:
                continue
            counts = {"chính": 0, "sao": 0}
            counts[match.group(2)] = int(match.group(1))
            if match.group(3):
                counts[match.group(4)] += int(match.group(3))
            original, copy = counts["chính"], counts["sao"]
            quantity = original or copy or None
            documents.append(
                Document(
                    name=name,
                    quantity=quantity,
                    copy_type=_copy_type(original, copy, name, present),
                    form=form,
                    applies_to=applies_to,
                )
            )
        tail = _one_line(section[pos:]).strip(" -+*;")
        if tail and index + 1 == len(bodies):
            name, form = _split_form(tail)
            documents.append(Document(name=name, form=form, applies_to=applies_to))
    return documents


# --------------------------------------------------------------------------------------------------
# Legal basis

_LEGAL_TABLE_HEADER = "Tên văn bản pháp lýMã văn bản"
# Issuer codes that end a document number; listed so that "TT-BTCNghị định" splits after "BTC".
_ISSUERS = (
    "TTLT-BTC-BTP|BNNPTNT|BLĐTBXH|BVHTTDL|BGTVT|TANDTC|VKSNDTC|UBTVQH\\d*|BTTTT|BKHĐT|BKHCN|BGDĐT|BTNMT|"
    "BNNMT|NHNN|BHXH|HĐND|UBND|VPQH|VPCP|BTC|BTP|BCA|BXD|BCT|BYT|BNV|BQP|BNG|BDTTG|TTg|CP|CTN|TW|QH\\d*"
)
_LEGAL_NUMBER = re.compile(
    rf"\d{{1,4}}(?:/\d{{4}})?/(?:QH\d{{2}}|[A-ZĐ]{{1,6}}(?:-\s?(?:{_ISSUERS}|[A-ZĐ]+(?![{_LOW}])))+|[A-ZĐ]{{2,6}}(?=$|[^{_UP}{_LOW}]))"
    r"|\d{1,4}/\d{4}$"  # a code without its issuer, ending the table: "...chuỗi giá trị24/2024"
)


def _unglue_year(value: str, start: int, number: str) -> tuple[int, str]:
    """Give back to the title the digits of a year glued to a number: "Luật Doanh nghiệp 202076/2025/QH15"
    matches "2076/2025/QH15" after "20"; the title ends with "2020" and the number is "76/2025/QH15".
    """
    before = re.search(r"\d{1,3}$", value[:start])
    if before:
        digits = before.group(0)
        take = 4 - len(digits)
        if re.fullmatch(r"(?:19|20)\d\d", digits + number[:take]) and number[take:take + 1].isdigit():
            return start + take, number[take:]
    return start, number


def parse_legal_basis(text: str) -> list[LegalRef]:
    """Parse the flattened legal-basis table (``can_cu_phap_ly``) into (number, title) pairs.

    The table is ``Tên văn bản pháp lýMã văn bản<title><number><title><number>...``. A document number
    (``123/2015/NĐ-CP``, ``02/2011/QH13``, ``08/2025/TT-BTP``) ends a row when it is glued to the next
    title or ends the text; numbers followed by a space or punctuation belong to the title.

    Args:
        text: the raw field.

    Returns:
        LegalRefs in order; ``[]`` for "Không có thông tin". A table whose last title has no number
        yields a LegalRef with an empty number.

    Example:
        ``parse_legal_basis("Tên văn bản pháp lýMã văn bảnLuật Hộ tịch60/2014/QH13")`` gives
        ``[LegalRef(number="60/2014/QH13", title="Luật Hộ tịch")]``.
    """
    value = _clean(text)
    if value.startswith(_LEGAL_TABLE_HEADER):
        value = value[len(_LEGAL_TABLE_HEADER) :]
    value = _one_line(value)
    if not value:
        return []
    refs: list[LegalRef] = []
    pos = 0
    for match in _LEGAL_NUMBER.finditer(value):
        after = value[match.end() : match.end() + 1]
        if after.isdigit():
            # Glued to another number. "Nghị định 05/2012/NĐ-CP05/2012/NĐ-CP": the title ends with the
            # number that is then repeated as the code, so only the repeat ends the row.
            head = re.match(r"\d+/(?:\d{4})?", match.group(0))
            ends_row = not (head and value[match.end() :].startswith(head.group(0)))
        else:
            ends_row = after == "" or after.isalpha() or after in "(“\""
        if not ends_row:
            continue
        start, number = _unglue_year(value, match.start(), match.group(0))
        title = value[pos:start].strip(" ;,.-")
        if not title and refs and not refs[-1].number:  # pragma: no cover - defensive
            title = refs.pop().title
        refs.append(LegalRef(number=re.sub(r"-\s+", "-", number), title=title))
        pos = match.end()
    tail = value[pos:].strip(" ;,.-")
    if tail:
        # A last row whose code cell holds more than the number ("... số 84/2025/TT-BNNMT ngày 31"):
        # take the last number in it.
        numbers = list(_LEGAL_NUMBER.finditer(tail))
        number = re.sub(r"-\s+", "-", numbers[-1].group(0)) if numbers else ""
        refs.append(LegalRef(number=number, title=tail))
    return refs


# --------------------------------------------------------------------------------------------------
# Whole record


def _required(raw: dict[str, str], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not _clean(value):
        raise RecordError(key, "missing or empty")
    return _one_line(_clean(value))


def parse_record(raw: dict[str, str]) -> tuple[Procedure, ParseReport]:
    """Turn one raw portal record into a ``Procedure`` (``origin="portal"``) and a ``ParseReport``.

    Args:
        raw: one record of the dump, keys as in ``shared/data/README.md`` (ma_thu_tuc, ten_thu_tuc, ...).

    Returns:
        The procedure and its report. Fields that could not be fully parsed are listed in both
        ``ParseReport.failed_fields`` and ``Procedure.parse_issues`` (e.g. "channels.time"); what did
        parse is kept.

    Raises:
        RecordError: when ``ma_thu_tuc`` is missing or not of the form 1.001193, or ``ten_thu_tuc`` is
            missing or empty. The error's ``field`` names the portal field.
    """
    if not isinstance(raw, dict):
        raise RecordError("record", f"expected a JSON object, got {type(raw).__name__}")
    code = _required(raw, "ma_thu_tuc")
    if not CODE_PATTERN.match(code):
        raise RecordError("ma_thu_tuc", f"{code!r} is not a procedure code like 1.001193")
    name = _required(raw, "ten_thu_tuc")

    def text(key: str) -> str:
        value = raw.get(key)
        return value if isinstance(value, str) else ""

    failed: list[str] = []

    rows = _rows(text("cach_thuc_thuc_hien"))
    channels = parse_channels(text("cach_thuc_thuc_hien"))
    if _clean(text("cach_thuc_thuc_hien")):
        if not channels:
            failed.append("channels")
        if any(not row.time_ok for row in rows):
            failed.append("channels.time")
        if any(not row.fee_ok for row in rows):
            failed.append("channels.fees")

    documents = parse_documents(text("thanh_phan_ho_so"))
    if _clean(text("thanh_phan_ho_so")).strip(" -") and (
        not documents or _DOC_TABLE_HEADER not in nfc(text("thanh_phan_ho_so"))
    ):
        failed.append("documents")

    legal = parse_legal_basis(text("can_cu_phap_ly"))
    if _clean(text("can_cu_phap_ly")) and not any(ref.number for ref in legal):
        failed.append("legal_basis")

    steps = parse_steps(text("trinh_tu_thuc_hien"))
    result = _parse_result(text("ket_qua_xu_ly"))

    agency = _one_line(_clean(text("co_quan_thuc_hien")) or _clean(text("co_quan_co_tham_quyen")))
    url = _clean(text("detail_url"))
    try:
        procedure = Procedure(
            code=code,
            name=name,
            level=parse_levels(text("cap_thuc_hien")),
            field=_one_line(_clean(text("linh_vuc"))),
            applicants=_one_line(_clean(text("doi_tuong_thuc_hien"))),
            agency=agency,
            submit_at=_clean(text("dia_chi_tiep_nhan")),
            channels=channels,
            documents=documents,
            steps=steps,
            conditions=_clean(text("yeu_cau_dieu_kien")),
            result=result,
            legal_basis=legal,
            portal_url=url,
            source_url=url,
            origin="portal",
            raw={key: nfc(raw[key]) for key in RAW_FIELDS if isinstance(raw.get(key), str)},
            parse_issues=failed,
        )
    except ValidationError as error:  # pragma: no cover - the parsers only build valid values
        raise RecordError("record", f"{code}: {error}") from error
    return procedure, ParseReport(code=code, failed_fields=list(failed))


# --------------------------------------------------------------------------------------------------
# Reading dumps


def _check_object(obj: object, where: str) -> dict[str, str]:
    if not isinstance(obj, dict):
        raise PortalFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _iter_jsonl(path: Path, lines: Iterator[str]) -> Iterator[dict[str, str]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise PortalFormatError(f"{path}, line {number}: invalid JSON ({error.msg})") from error
        yield _check_object(obj, f"{path}, line {number}")


def iter_portal_records(path: Path) -> Iterator[dict[str, str]]:
    """Yield raw records from a portal dump, lazily.

    Args:
        path: a ``.jsonl`` file, a ``.jsonl.gz`` file, or a folder of per-procedure ``.json`` files
            (read in name order; each holds one object, or a list of objects).

    Returns:
        An iterator of raw record dicts (not parsed: pass each to ``parse_record``).

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        PortalFormatError: on invalid JSON or a non-object record; the message names the file and,
            for JSONL, the line number.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"portal dump not found: {path}")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".json")
        for file in files:
            try:
                obj = json.loads(file.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise PortalFormatError(f"{file}, line {error.lineno}: invalid JSON ({error.msg})") from error
            for item in obj if isinstance(obj, list) else [obj]:
                yield _check_object(item, str(file))
        return
    name = path.name.lower()
    try:
        if name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                yield from _iter_jsonl(path, handle)
        else:
            with path.open(encoding="utf-8") as handle:
                yield from _iter_jsonl(path, handle)
    except (OSError, EOFError, UnicodeDecodeError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise PortalFormatError(f"{path}: cannot read ({error})") from error
