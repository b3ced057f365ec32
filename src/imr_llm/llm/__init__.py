"""LLM backends: the OpenAI-compatible client, its disk cache, prompts and response models."""
