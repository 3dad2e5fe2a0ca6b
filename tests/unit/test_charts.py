"""Chart axes that match their data, and money labelled with its currency."""

import pandas as pd

from core.app.charts import break_even, tradeoff_scatter
from core.ranking.cost import BreakEven


def _one_model() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["m"],
            "perfics": [0.5],
            "rank": [1],
            "performance": [1.0],  # a lone point at the top: autoscaling would show -1..3
            "gain": [0.1],
            "quality_items": [6],
            "performance_source": ["reference (n=6)"],
            "quantization": ["Q4_1"],
            "tokens_per_s": [50.0],
            "generations": [12],
            "memory_gb": [0.0],
            "money_per_1000": [0.2],
            "on_pareto": [True],
        }
    )


def test_quality_axis_is_zero_to_one_and_cost_never_negative():
    fig = tradeoff_scatter(_one_model(), pd.DataFrame(), "money", "EUR")
    low, high = fig.layout.yaxis.range
    assert low < 0 < 1 < high < 1.2  # room for the model name above a quality of 1
    assert fig.layout.xaxis.rangemode == "tozero"
    assert fig.layout.xaxis.title.text == "Money per 1,000 answers (EUR)"
    assert fig.data[0].cliponaxis is False  # the point's label is never cut off
    assert "n=6 answers" in fig.data[0].hovertext[0]


def test_break_even_axis_names_the_currency():
    curve = BreakEven(
        volumes=[0, 10], local_monthly=[5, 6], api_monthly=[0, 8], crossing=None, local=None
    )
    assert break_even(curve, "API", "GBP").layout.yaxis.title.text == "Cost per month (GBP)"
