"""LLM pass 2: narrow consistency questions per item; code turns the answers into findings."""

from __future__ import annotations

from imr_llm.checks.base import Sections
from imr_llm.llm.client import LLMClient
from imr_llm.schemas import AuditRecord, Finding, Letter


async def llm_pass2(
    letter: Letter, record: AuditRecord, sections: Sections, client: LLMClient, extraction
) -> list[Finding]:
    return []
