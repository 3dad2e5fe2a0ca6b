"""PeRFICS Studio engine: models, generation, refinement, judging, scoring and storage."""
