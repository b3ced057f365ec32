"""Extract: case facts and decisions from a segmented letter (rules; LLM pass 1 when enabled)."""
