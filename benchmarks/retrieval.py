"""Retrieval benchmarks against the full national portal import: quality, speed, memory and scale.

    .venv/bin/python -m benchmarks.retrieval [--questions benchmarks/questions/dev.jsonl ...] [--scale 10]

Works in its own state folder (``var/bench``): imports the portal dump into a fresh SQLite database
(on top of the team's ward corpus, as a real deployment would), builds the index in a subprocess to
measure time and peak memory, evaluates each question file, times queries, and with ``--scale N``
repeats the build and the timing on N synthetic copies of the corpus. Prints a Markdown report.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DUMP = REPO_ROOT.parent / "shared" / "data" / "tthc-portal" / "procedures.jsonl.gz"
FAQ = REPO_ROOT.parent / "shared" / "data" / "faq-questions" / "questions.jsonl"


_MEASURED_RUN = """
import resource, runpy, sys
sys.argv = ["knowledge_base", *sys.argv[1:]]
status = 0
try:
    runpy.run_module("knowledge_base", run_name="__main__")
except SystemExit as exit_:
    status = exit_.code
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(status)
"""


def _kb(args: list[str], env: dict[str, str]) -> tuple[str, float, int]:
    """Run a knowledge_base command; return stdout, wall seconds and that process's peak RSS in MB."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _MEASURED_RUN, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"knowledge_base {' '.join(args)} failed:\n{result.stderr}")
    peak_kb = next(int(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("PEAK_RSS_KB"))
    return result.stdout, seconds, peak_kb // 1024


def _latencies(env: dict[str, str], questions: list[str], rounds: int) -> dict[str, float]:
    """Time KnowledgeBase.ask in a fresh process (model and index loaded first)."""
    code = f"""
import json, os, time, statistics
from knowledge_base.service import KnowledgeBase
kb = KnowledgeBase.from_settings(); kb.warm_up()
qs = json.loads(os.environ['BENCH_QUESTIONS'])
times = []
for _ in range({rounds}):
    for q in qs:
        t = time.perf_counter(); kb.ask(q); times.append((time.perf_counter() - t) * 1000)
times.sort()
print(json.dumps({{"p50": times[len(times)//2], "p95": times[int(len(times)*0.95)], "n": len(times)}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env={**env, "BENCH_QUESTIONS": json.dumps(questions)},
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _faq_decisions(env: dict[str, str]) -> dict[str, int]:
    """Gate decisions on the 400 real portal questions (unlabelled; many are outside the corpus)."""
    code = """
import json, collections
from knowledge_base.service import KnowledgeBase
kb = KnowledgeBase.from_settings()
rows = [json.loads(line)["question"] for line in open(%r, encoding="utf-8") if line.strip()]
print(json.dumps(collections.Counter(kb.ask(q).decision.kind for q in rows)))
""" % str(FAQ)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _scaled_dump(factor: int, target: Path) -> Path:
    """Write ``factor`` copies of the dump: the original, then copies with fresh 9.xxxxxx codes."""
    import gzip

    with gzip.open(DUMP, "rt", encoding="utf-8") as src, target.open("w", encoding="utf-8") as out:
        rows = [json.loads(line) for line in src]
        for copy in range(factor):
            for n, row in enumerate(rows):
                row = dict(row)
                if copy:  # codes 9.xxxxxx are unused by the portal, so copies never collide
                    row["ma_thu_tuc"] = f"9.{copy * len(rows) + n:06d}"
                    row["ten_thu_tuc"] = f"{row['ten_thu_tuc']} (bản sao {copy})"
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", nargs="+", default=[str(REPO_ROOT / "benchmarks/questions/dev.jsonl")])
    parser.add_argument("--scale", type=int, default=0, help="also measure N copies of the corpus")
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds over the questions")
    parser.add_argument("--state", default=str(REPO_ROOT / "var" / "bench"))
    args = parser.parse_args(argv)
    if not DUMP.is_file():
        raise SystemExit(f"needs the portal dump at {DUMP}")
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{state / 'bench.db'}",
        "INDEX_DIR": str(state / "index"),
        "MODELS_DIR": os.environ.get("MODELS_DIR", str(state / "models")),
        "HF_HUB_OFFLINE": "1",
    }
    report = ["## Retrieval benchmark", "", f"- machine: {os.cpu_count()} cores; model: see manifest below", ""]
    (state / "bench.db").unlink(missing_ok=True)
    _, import_s, import_mb = _kb(["import-portal", str(DUMP), "--quiet"], env)
    train_line = ""
    if env.get("EMBEDDING_MODEL", "ward-minilm") == "ward-minilm":
        _, train_s, train_mb = _kb(["train-embedder", "--quiet"], env)
        info = json.loads((Path(env["MODELS_DIR"]) / "ward-minilm" / "training.json").read_text())
        train_line = (
            f"- fine-tuning `ward-minilm`: {train_s:.1f} s wall ({info.get('seconds')} s training, cached when the "
            f"corpus is unchanged), {info.get('pairs')} pairs, peak RSS {train_mb} MB"
        )
    _, build_s, build_mb = _kb(["index", "--force", "--quiet", "--no-train"], env)
    manifest = json.loads((state / "index" / "current" / "manifest.json").read_text())
    report += [
        f"- corpus: {manifest['procedures']} procedures, {manifest['chunks']} dense chunks, model `{manifest['model']}`",
        f"- import: {import_s:.1f} s; index build: {build_s:.1f} s wall (encoding {manifest['build_seconds']} s), "
        f"peak RSS {build_mb} MB",
        train_line,
        "",
        "| questions | answerable | r@1 | r@5 | MRR | answer ok | answer wrong | clarify hit | clarify miss |"
        " handoff (answerable) | unanswerable handed off | unanswerable answered/clarified |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    all_questions: list[str] = []
    for qfile in args.questions:
        out, _, _ = _kb(["eval", qfile, "--json"], env)
        s = json.loads(out.strip().splitlines()[-1])
        d = s["decisions"]
        all_questions += [json.loads(line)["question"] for line in Path(qfile).read_text(encoding="utf-8").splitlines() if line.strip()]
        report.append(
            f"| {Path(qfile).name} | {s['n']} | {s['recall_at_1']:.3f} | {s['recall_at_5']:.3f} | {s['mrr']:.3f} | "
            f"{d['answer_correct']} | {d['answer_wrong']} | {d['clarify_hit']} | {d['clarify_miss']} | "
            f"{d['handoff_answerable']} | {d['handoff_unanswerable']}/{s['n_unanswerable']} | "
            f"{d['answer_unanswerable'] + d['clarify_unanswerable']} |"
        )
    lat = _latencies(env, all_questions, args.rounds)
    report += ["", f"- query latency (KnowledgeBase.ask, one process, {lat['n']} queries): "
               f"p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms"]
    if FAQ.is_file():
        faq = _faq_decisions(env)
        report += [f"- the {sum(faq.values())} real portal questions (unlabelled, many out of scope): "
                   + ", ".join(f"{k} {v}" for k, v in sorted(faq.items()))]
    if args.scale > 1:
        scaled_env = {**env, "DATABASE_URL": f"sqlite:///{state / 'scaled.db'}", "INDEX_DIR": str(state / "index-scaled")}
        (state / "scaled.db").unlink(missing_ok=True)
        dump = _scaled_dump(args.scale, state / f"scaled-{args.scale}.jsonl")
        _, s_import, _ = _kb(["import-portal", str(dump), "--quiet"], scaled_env)
        _, s_build, s_mb = _kb(["index", "--force", "--quiet", "--no-train"], scaled_env)
        m = json.loads((state / "index-scaled" / "current" / "manifest.json").read_text())
        s_lat = _latencies(scaled_env, all_questions, 1)
        report += [
            "",
            f"### {args.scale}x corpus (synthetic copies)",
            "",
            "| corpus | procedures | chunks | import s | build s | build peak RSS MB | query p50 ms | query p95 ms |",
            "|---|---|---|---|---|---|---|---|",
            f"| 1x | {manifest['procedures']} | {manifest['chunks']} | {import_s:.0f} | {build_s:.0f} | {build_mb} | "
            f"{lat['p50']:.1f} | {lat['p95']:.1f} |",
            f"| {args.scale}x | {m['procedures']} | {m['chunks']} | {s_import:.0f} | {s_build:.0f} | {s_mb} | "
            f"{s_lat['p50']:.1f} | {s_lat['p95']:.1f} |",
        ]
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
