"""App layer: the use cases the CLI and the dashboard pages share (generate, refine, import a
suite, start / resume / stop / delete a run, results, arena, ranking, costs), the background
worker and the `perfics` command. Pages call these and draw; they hold no formulas."""
