"""Trade-offs page queries on a store holding 1,000,000 synthetic generation rows.

Builds a temporary DuckDB with the real schema (migrations), fills it in SQL, then times each
aggregate query the Trade-offs page runs (median of several repetitions). Target: each under
1 s. A script, not a test: timings are never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.ranking.cost import HARDWARE_PRESETS  # noqa: E402
from core.ranking.perfics import PRESETS, rank  # noqa: E402
from core.ranking.tradeoffs import measure, model_table, round_points  # noqa: E402
from core.store import Store  # noqa: E402

STEPS_PER_ITEM = 7  # baseline + 2 rounds of critique, verdict and rewrite
MODELS = 5
RUNS = 10


def fill(store: Store, rows: int) -> None:
    items = -(-rows // STEPS_PER_ITEM)
    with store.db.transaction() as con:
        con.execute(f"""
            INSERT INTO models
            SELECT 'sha' || m, 'model-' || m, '/models/model-' || m || '.gguf', 'llama',
                   (m + 1) * 100 || 'M', 'Q4_K_M', 4096, true, (m + 1) * 100000000, now()
            FROM range({MODELS}) t(m)""")
        con.execute(f"""
            INSERT INTO runs (id, kind, status, config, created_at, total_units)
            SELECT 'run' || r, 'benchmark', 'completed',
                   json_object('suite', 'builtin', 'rounds', 2, 'models', json_array(),
                               'question_ids', json_array(), 'judge', NULL), now(),
                   {items} // {RUNS}
            FROM range({RUNS}) t(r)""")
        con.execute(f"""
            INSERT INTO run_items (run_id, item_no, kind, model_name, model_sha256,
                                   question_id, category, status, baseline, final,
                                   stop_reason, rounds_done, baseline_correct, final_correct,
                                   seconds, finished_at)
            SELECT 'run' || (i % {RUNS}), i, 'answer', 'model-' || (i % {MODELS}),
                   'sha' || (i % {MODELS}), 'q' || (i % 81),
                   ['generic', 'math', 'coding', 'fermi', 'writing'][1 + i % 7 % 5], 'done',
                   'baseline text', 'final text', 'rounds_completed', 2,
                   i % 3 = 0, i % 2 = 0, 5 + random() * 5, now()
            FROM range({items}) t(i)""")
        con.execute(f"""
            INSERT INTO generations (id, run_id, item_no, step, round, kind, model_sha256,
                model_name, prompt, text, finish_reason, prompt_tokens,
                prompt_tokens_evaluated, completion_tokens, ttft_s, total_s, gen_tokens_per_s,
                peak_rss_mb, model_memory_mb, temperature, top_p, max_tokens, seed, stop,
                llama_cpp_version, created_at)
            SELECT 'g' || g, 'run' || (i % {RUNS}), i, s,
                   CASE WHEN s = 0 THEN 0 ELSE (s - 1) // 3 + 1 END,
                   ['baseline', 'critique', 'verdict', 'refined'][1 + CASE WHEN s = 0 THEN 0
                       ELSE (s - 1) % 3 + 1 END],
                   'sha' || (i % {MODELS}), 'model-' || (i % {MODELS}), '"q"', 'text', 'stop',
                   100 + s * 150, 40, 100, 0.2, 1 + random(), 80 + random() * 20,
                   900, 150 + (i % {MODELS}) * 50, 0.7, 0.95, 384, 42, '[]',
                   'llama-cpp-python 0.3.36', now()
            FROM (SELECT g, g // {STEPS_PER_ITEM} AS i, g % {STEPS_PER_ITEM} AS s
                  FROM range({rows}) t(g))""")
        con.execute("""
            INSERT INTO judgments (id, run_id, item_no, judge_name, judge_sha256, kind, subject,
                                   order_ab, score, verdict, status, error, created_at)
            SELECT 'j' || i.item_no || s.subject, i.run_id, i.item_no, 'judge', 'shaj',
                   'single', s.subject, NULL, 1 + floor(random() * 10), NULL, 'ok', NULL, now()
            FROM run_items i, (VALUES ('baseline'), ('refined')) s(subject)""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "synthetic.duckdb")
        started = time.perf_counter()
        fill(store, args.rows)
        counts = store.db.query_df(
            "SELECT (SELECT count(*) FROM generations) AS generations, "
            "(SELECT count(*) FROM run_items) AS items, "
            "(SELECT count(*) FROM judgments) AS judgments"
        ).iloc[0]
        print(
            f"synthetic store: {counts.generations:,} generations, {counts['items']:,} items, "
            f"{counts.judgments:,} judgments, {MODELS} models, {RUNS} runs "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        hw = HARDWARE_PRESETS[0]

        def page_load():
            measured = measure(store)
            table = model_table(measured, hw)
            return round_points(table, measured, hw)

        measured = measure(store)
        sql = store.aggregates
        queries = {
            "cost by round (all runs)": lambda: sql.cost_by_round(),
            "cost by round (one run)": lambda: sql.cost_by_round("run3"),
            "engine costs": lambda: sql.engine_costs(),
            "performance per model": lambda: sql.performance(),
            "performance per category": lambda: sql.performance(by_category=True),
            "scores by rounds": lambda: sql.scores_by_rounds(),
            "Trade-offs page load, all queries": page_load,
            "re-rank after a slider move": lambda: rank(
                model_table(measured, hw), PRESETS["quality-coding"]
            ),
        }
        print(f"median of {args.reps} runs each (each opens its own connection, as the page does)")
        for name, query in queries.items():
            times = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                result = query()
                times.append(time.perf_counter() - t0)
            verdict = "ok" if statistics.median(times) < 1.0 else "OVER 1 s"
            print(
                f"  {name:34} {statistics.median(times) * 1000:7.0f} ms "
                f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}; "
                f"{len(result)} result rows) {verdict}"
            )


if __name__ == "__main__":
    main()
