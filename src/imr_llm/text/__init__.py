"""The text layer beneath segmentation, checks and the LLM passes: spans and sentences,
dates with their role, negation and hypothetical scope, body sites with laterality.

Nothing here imports from ``imr_llm.checks``, ``segment`` or ``extract``.
"""
