"""Evaluation layer: refinement and its templates, question suites, judges, the run lifecycle,
benchmark runs, results, the arena and statistics. Imports core.engine, core.store and
core.types; never core.ranking or core.app."""
