"""Costs: the hardware profile, where running locally beats a paid API, and what a served
model costs under load at a utilisation."""

import streamlit as st

from core.app.charts import break_even as break_even_chart
from core.app.formatting import money
from core.app.options import API_PRESETS, HARDWARE_PRESETS
from core.app.preferences import CURRENCIES
from core.app.ranking import break_even, cost_table
from core.errors import PerficsError
from core.types import ApiPrice, HardwareProfile
from pages.components.hardware import hardware, save
from pages.components.quick_start import quick_start
from pages.components.serving_cost import serving_cost

st.title("Costs")
current = hardware()
st.subheader("Hardware profile")
presets = {h.name: h for h in HARDWARE_PRESETS}
SAVED = "Your saved profile"
base = presets.get(st.selectbox("Start from", [SAVED, *presets], key="costs_preset"), current)
c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
name = c1.text_input("Name", base.name, key=f"costs_name_{base.name}")
currency = c2.selectbox(
    "Currency",
    CURRENCIES,
    index=CURRENCIES.index(current.currency) if current.currency in CURRENCIES else 0,
    key="costs_currency",
    help="Every money figure is shown in it. Prices you enter are in it too.",
)
per_hour = c3.number_input(
    f"Rent per hour ({currency})",
    0.0,
    1000.0,
    base.cost_per_hour,
    0.01,
    key=f"costs_hour_{base.name}",
)
price = c4.number_input(
    f"Purchase price ({currency})",
    0.0,
    1e6,
    base.purchase_price,
    50.0,
    key=f"costs_price_{base.name}",
)
c1, c2, c3 = st.columns(3)
years = c1.number_input(
    "Lifetime (years)", 0.25, 20.0, base.lifetime_years, 0.25, key=f"costs_years_{base.name}"
)
watts = c2.number_input(
    "Power draw (W)", 0.0, 5000.0, base.watts, 5.0, key=f"costs_watts_{base.name}"
)
kwh = c3.number_input(
    f"Electricity per kWh ({currency})",
    0.0,
    10.0,
    base.electricity_per_kwh,
    0.01,
    key=f"costs_kwh_{base.name}",
)
try:
    hw = HardwareProfile(name, per_hour, price, years, watts, kwh, currency)
    save(hw)
except PerficsError as exc:
    st.error(str(exc))
    st.stop()
st.caption(
    f"Fixed {money(hw.fixed_per_month, currency)} per month (purchase over its lifetime, rent "
    f"for a machine up all month); {money(hw.variable_per_hour, currency, 4)} per hour of "
    "inference (electricity). Saved for next time."
)

st.subheader("A paid API to compare with")
c1, c2, c3 = st.columns(3)
api_preset = {a.name: a for a in API_PRESETS}[
    c1.selectbox("API", [a.name for a in API_PRESETS], key="costs_api")
]
in_price = c2.number_input(
    f"API input / 1M tokens ({currency})",
    0.0,
    1000.0,
    api_preset.input_per_million,
    key=f"costs_in_{api_preset.name}",
)
out_price = c3.number_input(
    f"API output / 1M tokens ({currency})",
    0.0,
    1000.0,
    api_preset.output_per_million,
    key=f"costs_out_{api_preset.name}",
)
st.caption(
    f"API prices as of {api_preset.as_of} ({api_preset.note}), in USD; edit them for today's "
    f"prices in {currency}. They are not live prices."
)
api = ApiPrice(api_preset.name, in_price, out_price, api_preset.as_of)

st.subheader("Local against a paid API")
table = cost_table(hw)
if table.empty:
    st.info("No measured answers yet. Run a benchmark first; costs come from measurements.")
    quick_start("costs")
else:
    c1, c2, c3, c4 = st.columns(4)
    model = c1.selectbox("Model", list(table.model), key="costs_model")
    refined = c2.toggle("With self-refinement", True, key="costs_refined")
    prompt_tokens = c3.number_input("Prompt tokens per request", 1, 100_000, 2000, key="costs_pt")
    output_tokens = c4.number_input("Output tokens per request", 1, 100_000, 1000, key="costs_ot")
    row = table.set_index("model").loc[model]
    curve = break_even(row, hw, api, refined, prompt_tokens, output_tokens)
    st.plotly_chart(break_even_chart(curve, api.name, currency), key="costs_chart")
    m1, m2, m3 = st.columns(3)
    crossing = curve.crossing
    m1.metric(
        "Break-even (requests per month)",
        "never" if crossing is None else f"{crossing:,.0f}",
        help="Above this many requests a month, running locally costs less than the API.",
    )
    m2.metric(
        "Local seconds per request",
        f"{curve.local.seconds:.1f} s",
        help=f"measured on {int(row['items'])} answers, scaled to the output length",
    )
    m3.metric("Energy per 1,000 requests", f"{curve.local.energy_kwh_per_1000(hw):.2f} kWh")
serving_cost(hw, api)
