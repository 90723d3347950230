"""Command line: ``python -m knowledge_base import-portal | load-corpus | index | search | eval | train-embedder``.

Every command honours ``DATABASE_URL``, ``INDEX_DIR`` and ``EMBEDDING_MODEL``. Errors print one line
starting with ``error:`` (and the fix) and exit with status 1; bad arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from knowledge_base.settings import get_settings

log = logging.getLogger("knowledge_base")


def _cmd_import_portal(args: argparse.Namespace) -> int:
    from knowledge_base.importer import format_summary, import_portal
    from knowledge_base.service import open_store

    store = open_store(get_settings())
    started = time.perf_counter()
    summary = import_portal(Path(args.path), store, progress=not args.quiet)
    print(format_summary(summary))
    print(f"procedures in the database: {store.count()} ({time.perf_counter() - started:.1f} s)")
    print("next: python -m knowledge_base index")
    return 0


def _cmd_load_corpus(args: argparse.Namespace) -> int:
    from knowledge_base.corpus import sync_ward_corpus
    from knowledge_base.db import session_factory
    from knowledge_base.store import ProcedureStore

    settings = get_settings()
    store = ProcedureStore(session_factory(settings.database_url))
    summary = sync_ward_corpus(store, settings.corpus_dir)
    print(
        f"ward corpus {settings.corpus_dir.name}/: {len(summary.inserted)} inserted, {len(summary.updated)} updated, "
        f"{summary.unchanged} unchanged, {len(summary.kept_admin)} kept (edited by an administrator)"
    )
    return 0


def _cmd_index(args: argparse.Namespace) -> int:
    from knowledge_base.embedder import default_model_training_reason, embedder_from_settings, model_version
    from knowledge_base.index import (
        FORMAT_VERSION, IndexMissingError, build_index, read_manifest, text_rules_fingerprint,
    )
    from knowledge_base.service import open_store

    settings = get_settings()
    store = open_store(settings)
    reason = None if args.no_train else default_model_training_reason(settings, store.count())
    if reason:
        from knowledge_base.finetune import train_embedder
        from knowledge_base.settings import DEFAULT_EMBEDDING_MODEL

        print(f"training the default embedding model first: {reason}")
        train_embedder(store.all(), settings.models_dir / DEFAULT_EMBEDDING_MODEL, show_progress=not args.quiet)
    embedder = embedder_from_settings(settings)
    try:
        manifest = read_manifest(settings.index_dir)
    except IndexMissingError:
        manifest = {}
    fresh = (
        manifest.get("format_version") == FORMAT_VERSION
        and manifest.get("corpus_hash") == store.corpus_fingerprint()
        and manifest.get("model") == embedder.name
        and manifest.get("model_version") == model_version(embedder)
        and manifest.get("text_rules_hash") == text_rules_fingerprint()
    )
    if fresh and not args.force:
        print(f"index in {settings.index_dir} is up to date ({manifest['procedures']} procedures, {manifest['model']})")
        return 0
    procedures = store.all()
    build = build_index(procedures, embedder, settings.index_dir, show_progress=not args.quiet)
    manifest = read_manifest(settings.index_dir)
    print(
        f"built {build.name}: {manifest['procedures']} procedures, {manifest['chunks']} chunks, "
        f"model {manifest['model']} ({manifest['dimension']} d) in {manifest['build_seconds']} s"
    )
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from knowledge_base.service import KnowledgeBase

    answer = KnowledgeBase.from_settings().ask(args.text, k=args.k)
    if args.json:
        print(json.dumps({
            "question": answer.question,
            "decision": answer.decision.to_dict(),
            "results": [
                {"rank": i, "code": c.code, "name": c.name, "score": round(c.score, 4), "confidence": round(c.confidence, 4),
                 "dense": round(c.dense, 4), "lexical": round(c.lexical, 4)}
                for i, c in enumerate(answer.candidates, 1)
            ],
        }, ensure_ascii=False))
        return 0
    _print_answer(answer)
    return 0


def _print_answer(answer, indent: str = "") -> None:
    """Ranked candidates with their signals, then the gate's decision (search and shell)."""
    for i, c in enumerate(answer.candidates, 1):
        print(f"{indent}{i:2}. {c.code}  {c.score:.3f}  (dense {c.dense:.3f}, lexical {c.lexical:.3f})  {c.name}")
    d = answer.decision
    print(f"{indent}decision: {d.kind}" + (f" {', '.join(d.options)}" if d.options else "") + (f" ({d.reason})" if d.reason else ""))


def _cmd_eval(args: argparse.Namespace) -> int:
    from knowledge_base.evaluate import read_questions, evaluate
    from knowledge_base.service import KnowledgeBase

    questions = read_questions(Path(args.file))
    kb = KnowledgeBase.from_settings()
    started = time.perf_counter()
    result = evaluate(questions, kb.ask)
    summary = result.summary()
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if args.details:
        Path(args.details).write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in result.rows) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"answerable questions: {summary['n']}   unanswerable: {summary['n_unanswerable']}")
    print(f"recall@1 {summary['recall_at_1']:.3f}   recall@5 {summary['recall_at_5']:.3f}   MRR {summary['mrr']:.3f}")
    for key, value in summary["decisions"].items():
        print(f"  {key:22} {value}")
    return 0


def _cmd_train_embedder(args: argparse.Namespace) -> int:
    from knowledge_base.finetune import train_embedder
    from knowledge_base.service import open_store
    from knowledge_base.settings import DEFAULT_EMBEDDING_MODEL

    settings = get_settings()
    procedures = open_store(settings).all()
    out = settings.models_dir / DEFAULT_EMBEDDING_MODEL
    kwargs = {"seed": args.seed, "epochs": args.epochs}
    if args.max_pairs:
        kwargs["max_pairs"] = args.max_pairs
    path = train_embedder(procedures, out, show_progress=not args.quiet, **kwargs)
    print(f"model ready in {path}; rebuild the index: python -m knowledge_base index")
    return 0


def _cmd_shell(args: argparse.Namespace) -> int:
    from knowledge_base.service import KnowledgeBase

    kb = KnowledgeBase.from_settings()
    print("Loading the model and the index...")
    kb.warm_up()
    print("Hỏi về một thủ tục hành chính (Ctrl-D để thoát). Ask about a procedure (Ctrl-D to quit).")
    while True:
        try:
            question = input("> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        answer = kb.ask(question, k=args.k)
        _print_answer(answer, indent="  ")


def _candidates(kb, question: str) -> list:
    """Ranked candidates without the gate: calibration must not depend on the thresholds it replaces
    (nor fail when the gate file was written for other features)."""
    from knowledge_base.retriever import QueryError

    try:
        return kb.retriever.search(question, k=10)
    except QueryError:
        return []


def _cmd_calibrate_gate(args: argparse.Namespace) -> int:
    from knowledge_base.calibrate import Targets, best_config, collect, cross_validate, write_config
    from knowledge_base.evaluate import read_questions
    from knowledge_base.service import KnowledgeBase

    from knowledge_base.gate import profile_key
    from knowledge_base.service import open_store

    kb = KnowledgeBase.from_settings()
    stored = {p.code for p in open_store(kb.settings).all()}
    # A question whose procedures are not in this database is one the corpus cannot answer.
    questions = [
        replace(q, expected=[c for c in q.expected if c in stored]) for file in args.file for q in read_questions(Path(file))
    ]
    samples = collect(questions, lambda q: _candidates(kb, q))
    targets = Targets(args.max_wrong, args.min_unanswerable_handoff, args.unanswerable_cost)
    learned = args.rule == "learned"
    config, score = best_config(samples, targets, learned)
    print(f"chosen thresholds: {config}")
    print(f"on all {len(samples)} questions: {score.counts} (targets met: {score.meets(targets)})")
    held_out = cross_validate(samples, targets=targets, learned=learned)
    print(f"5-fold cross-validated outcomes: {held_out}")
    if args.write:
        key = profile_key(kb.embedder.name, kb.retriever.index.manifest.get("procedures"))
        sources = " + ".join(f"{Path(f).parent.name}/{Path(f).name}" for f in args.file)
        write_config(
            config,
            key,
            note=(
                f"{key}: calibrated on {sources}, {len(samples)} questions, targets: wrong <= {targets.max_wrong}, "
                f"unanswerable handed off >= {targets.min_unanswerable_handoff}, unanswerable cost "
                f"{targets.unanswerable_cost}, answer rule {args.rule}"
            ),
        )
        print(f"written for {key!r}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m knowledge_base", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import-portal", help="import a national portal dump (.jsonl, .jsonl.gz or a folder of .json)")
    p.add_argument("path")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_import_portal)

    p = sub.add_parser("load-corpus", help="load or refresh the team's ward corpus (knowledge_base/procedures)")
    p.set_defaults(func=_cmd_load_corpus)

    p = sub.add_parser("index", help="build or refresh the search index for what is in the database")
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    p.add_argument("--no-train", action="store_true", help="never (re)train the default model first")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("search", help="ranked procedures for a question, with scores and the gate's decision")
    p.add_argument("text")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("eval", help="recall@1/5, MRR and gate decisions on a labelled JSONL file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--details", metavar="OUT", help="also write one JSON line per question to OUT")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("train-embedder", help="fine-tune the default embedding model on the stored procedures")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--epochs", type=int, default=None,
                   help="passes over the corpus (default: enough to use every query once, within a step budget)")
    p.add_argument("--max-pairs", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_train_embedder)
    p = sub.add_parser("calibrate-gate", help="choose the gate's thresholds on labelled JSONL files")
    p.add_argument("file", nargs="+", help="question files, or conversation files (their first turns)")
    p.add_argument("--write", action="store_true", help="store them in knowledge_base/data/gate.yml")
    p.add_argument("--max-wrong", type=float, default=0.05, help="largest share of answerable questions answered wrongly")
    p.add_argument(
        "--min-unanswerable-handoff", type=float, default=0.92, help="smallest share of unanswerable questions handed off"
    )
    p.add_argument(
        "--unanswerable-cost", type=float, default=2.0,
        help="utility lost per unanswerable question not handed off, among choices meeting the targets (0: answer "
        "as much as the targets allow)",
    )
    p.add_argument(
        "--rule", choices=["thresholds", "learned"], default="learned",
        help="answer by thresholds on each signal, or by a logistic model of all of them fitted on the file",
    )
    p.set_defaults(func=_cmd_calibrate_gate)

    p = sub.add_parser("shell", help="ask questions interactively")
    p.add_argument("--k", type=int, default=5)
    p.set_defaults(func=_cmd_shell)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "k", 1) < 1:
        parser.error("--k must be at least 1")
    from knowledge_base.corpus import CorpusError
    from knowledge_base.embedder import EmbedderError
    from knowledge_base.evaluate import EvalFileError
    from knowledge_base.finetune import FineTuneError
    from knowledge_base.index import IndexStateError
    from knowledge_base.portal import PortalFormatError

    try:
        return args.func(args)
    except (
        FileNotFoundError, PortalFormatError, CorpusError, EmbedderError, EvalFileError, FineTuneError, IndexStateError,
        ValueError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
