"""Prompt templates: one Jinja file per LLM question, shipped in ``imr_llm/prompts``.

Every template includes ``_letter.j2`` first, so all questions about one letter share a
byte-identical prefix (the letter) and end with their question. A template's ``sha256`` covers
its own source and everything it includes; it goes into the cache key and the record.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import jinja2
from jinja2 import meta

_VERSION = re.compile(r"\{#-?\s*prompt\s+(?P<name>[\w-]+)\s+(?P<version>v\d+)")


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("imr_llm", "prompts"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Prompt:
    name: str
    template: jinja2.Template
    sha256: str
    version: str

    @property
    def tag(self) -> str:
        """``v1:3f9a0c1d2e4b``: the version comment and the first 12 hex digits of the hash."""
        return f"{self.version}:{self.sha256[:12]}"

    def render(self, **variables: Any) -> str:
        return self.template.render(**variables)


def _source(name: str) -> str:
    env = _env()
    assert env.loader is not None
    return env.loader.get_source(env, name)[0]


def _closure(name: str, seen: set[str] | None = None) -> list[str]:
    """``name`` and the templates it includes, recursively, in a stable order."""
    seen = set() if seen is None else seen
    if name in seen:
        return []
    seen.add(name)
    out = [name]
    refs = meta.find_referenced_templates(_env().parse(_source(name)))
    for ref in sorted(r for r in refs if r):
        out += _closure(ref, seen)
    return out


@cache
def load(name: str) -> Prompt:
    """The template ``prompts/<name>.j2``; raises ``jinja2.TemplateNotFound`` when absent."""
    file = f"{name}.j2"
    source = _source(file)
    m = _VERSION.match(source)
    if not m or m.group("name") != name:
        raise ValueError(f"prompt {file} must start with a '{{#- prompt {name} vN ... #}}' comment")
    digest = hashlib.sha256()
    for part in _closure(file):
        digest.update(part.encode())
        digest.update(b"\0")
        digest.update(_source(part).encode())
        digest.update(b"\0")
    return Prompt(name, _env().get_template(file), digest.hexdigest(), m.group("version"))


def names() -> list[str]:
    """The question templates (partials such as ``_letter`` excluded)."""
    env = _env()
    return sorted(t[:-3] for t in env.list_templates(extensions=["j2"]) if not t.startswith("_"))
