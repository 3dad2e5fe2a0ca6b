"""Ranking layer: the PeRFICS score and Pareto frontier, measured cost and break-even, and the
model table that joins quality with cost. Imports core.evaluation (for its headline
formulas), core.store and core.types; never core.app."""
