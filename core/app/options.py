"""The choices and defaults the screens offer, gathered from the layers below so that pages
import only core.app, core.types and core.errors."""

from core.engine.registry import as_row as model_row
from core.engine.registry import default_model, local_models
from core.evaluation.arena import MODES as ARENA_MODES
from core.evaluation.judge import base_model_note, default_judge, judge_choice_reason
from core.evaluation.metrics import describe_refinement_outcome
from core.evaluation.refine import DEFAULT_ROUNDS, MAX_ROUNDS
from core.evaluation.suites import CATEGORIES
from core.evaluation.templates import DEFAULTS as TEMPLATE_DEFAULTS
from core.evaluation.templates import from_text as template_from_text
from core.evaluation.textdiff import change_ratio, word_diff
from core.ranking.cost import API_PRESETS, HARDWARE_PRESETS
from core.ranking.perfics import PRESETS as PERFICS_PRESETS
from core.ranking.tradeoffs import QUALITY_SOURCES
from core.types import SamplerSettings

SAMPLER_DEFAULTS = SamplerSettings()

__all__ = [
    "API_PRESETS",
    "ARENA_MODES",
    "CATEGORIES",
    "DEFAULT_ROUNDS",
    "HARDWARE_PRESETS",
    "MAX_ROUNDS",
    "PERFICS_PRESETS",
    "QUALITY_SOURCES",
    "SAMPLER_DEFAULTS",
    "TEMPLATE_DEFAULTS",
    "base_model_note",
    "change_ratio",
    "default_judge",
    "describe_refinement_outcome",
    "judge_choice_reason",
    "default_model",
    "local_models",
    "model_row",
    "template_from_text",
    "word_diff",
]
