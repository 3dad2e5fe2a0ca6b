"""The generations table: every model output with its settings and measurements."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict

import pandas as pd

from core.store.database import Database
from core.store.duck import insert_sql, now
from core.types import Generation, RefineStep


class GenerationTable:
    def __init__(self, db: Database):
        self.db = db

    def save(
        self,
        gen: Generation,
        kind: str = "generate",
        run_id: str | None = None,
        step: int = 0,
        round_no: int | None = None,
        prefix_tokens: int | None = None,
        text: str | None = None,
        item_no: int | None = None,
    ) -> str:
        gen_id = uuid.uuid4().hex
        s = gen.settings
        row = {
            "id": gen_id,
            "run_id": run_id,
            "step": step,
            "round": round_no,
            "kind": kind,
            "model_sha256": gen.model_sha256,
            "model_name": gen.model_name,
            "prompt": json.dumps(gen.prompt),
            "text": gen.text if text is None else text,
            "finish_reason": gen.finish_reason,
            "prompt_tokens": gen.prompt_tokens,
            "prompt_tokens_evaluated": gen.prompt_tokens_evaluated,
            "prefix_tokens": prefix_tokens,
            "completion_tokens": gen.completion_tokens,
            "ttft_s": gen.ttft_s,
            "total_s": gen.total_s,
            "gen_tokens_per_s": gen.gen_tokens_per_s,
            "peak_rss_mb": gen.peak_rss_mb,
            "model_memory_mb": gen.model_memory_mb,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "repeat_penalty": s.repeat_penalty,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
            "stop": json.dumps(list(s.stop)),
            "grammar": s.grammar,
            "llama_cpp_version": gen.llama_cpp_version,
            "item_no": item_no,
            "endpoint": gen.endpoint,
            "endpoint_url": gen.endpoint_url,
            "server": gen.server,
            "server_timings": (
                json.dumps(asdict(gen.server_timings)) if gen.server_timings else None
            ),
            "created_at": now(),
        }
        self.db.execute(*insert_sql("generations", row))
        return gen_id

    def save_step(
        self, run_id: str, step: RefineStep, index: int, item_no: int | None = None
    ) -> str:
        """One refinement step, numbered in the order it ran."""
        return self.save(
            step.generation,
            kind=step.kind,
            run_id=run_id,
            step=index,
            round_no=step.round,
            prefix_tokens=step.prefix_tokens,
            text=step.text,
            item_no=item_no,
        )

    def steps(self, run_id: str) -> pd.DataFrame:
        return self.db.query_df(
            "SELECT step, round, kind, model_name, text, finish_reason, prompt_tokens, "
            "prompt_tokens_evaluated, prompt_tokens - prompt_tokens_evaluated AS "
            "prompt_tokens_reused, prefix_tokens, completion_tokens, ttft_s, total_s, "
            "gen_tokens_per_s, peak_rss_mb FROM generations WHERE run_id = ? ORDER BY step",
            [run_id],
        )

    def step_input(self, run_id: str, step: int) -> tuple[str | list[dict[str, str]], str]:
        """(prompt, text) of one step of a run: the raw prompt or the chat messages it was
        given, and the text kept. KeyError when the run has no such step."""
        rows = self.db.rows(
            "SELECT prompt, text FROM generations WHERE run_id = ? AND step = ?", [run_id, step]
        )
        if not rows:
            raise KeyError((run_id, step))
        prompt, text = rows[0]
        return json.loads(prompt), text

    def run_totals(self, run_id: str) -> tuple[int, float, int, int]:
        """(completion tokens, seconds, prompt tokens, prompt tokens served from the KV cache)
        over every step of a run."""
        return self.db.rows(
            "SELECT coalesce(sum(completion_tokens), 0), coalesce(sum(total_s), 0), "
            "coalesce(sum(prompt_tokens), 0), "
            "coalesce(sum(prompt_tokens - prompt_tokens_evaluated), 0) "
            "FROM generations WHERE run_id = ?",
            [run_id],
        )[0]

    def speeds(self) -> pd.DataFrame:
        """Mean seconds per stored generation (prompt and answer), by model, with n."""
        return self.db.query_df(
            "SELECT model_name AS model, avg(total_s) AS seconds, count(*) AS n "
            "FROM generations GROUP BY model_name"
        )
