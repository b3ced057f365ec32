"""The LLM summary in the extractive summary's parts: grounded parts replace the extractive
quote with the model's sentence; the rest keep the extractive quote and are named."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from fake_openai import INVENTED_QUOTE, Reply
from imr_llm.llm.client import LLMClient
from imr_llm.llm.config import LLMConfig
from imr_llm.pipeline import analyze_letter
from imr_llm.schemas import Letter
from imr_llm.summarize import llm_summary
from imr_llm.summary_llm import SummaryPartsAnswer, merge, prompt_items

SEED_000 = (Path(__file__).parent / "data" / "seed_000.txt").read_text()
INJURY = "The patient is a 36 year old female with a date of injury of 11/02/2011"
TPI_REASON = "More than 3 to 4 trigger point injections per session are not recommended"
MASSAGE_REASON = "the requested 12 massage visits in a chronic injury is not consistent with MTUS"


def seed():
    digest = hashlib.sha256(SEED_000.encode()).hexdigest()
    letter = Letter(letter_id="seed_000", source="seed_000.txt", sha256=digest, text=SEED_000)
    a = analyze_letter(letter)
    return letter, a.record, a.sections


def config(fake, tmp_path: Path) -> LLMConfig:
    return LLMConfig(
        model="fake-model",
        base_url=fake.base_url,
        api_key="test-key",
        cache_dir=tmp_path / "cache",
        timeout_s=2.0,
        max_attempts=3,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )


ANSWER = {
    "injury": {"sentence": "A 36-year-old woman was hurt in a car accident", "quote": INJURY},
    "diagnoses": {"sentence": "She has knee surgery.", "quote": INVENTED_QUOTE},
    "treatment_to_date": None,
    "items": [
        {"item": 1, "sentence": "Upheld: more injections than allowed", "quote": TPI_REASON},
        # a quote from item 1's rationale given for item 2: not that item's reason
        {"item": 2, "sentence": "Upheld: too many", "quote": TPI_REASON},
    ],
}


def test_grounded_parts_take_the_models_sentence_the_rest_stay_extractive(fake_openai, tmp_path):
    letter, record, sections = seed()
    extractive = record.summary_parts.model_copy(deep=True)
    fake_openai.script(Reply(ANSWER))

    async def go():
        async with LLMClient(config(fake_openai, tmp_path)) as client:
            return await llm_summary(letter, record, client, sections)

    summary = asyncio.run(go())
    parts = record.summary_parts
    assert parts.source == "llm"
    assert set(parts.sentences) == {"injury", "item:0"}
    assert parts.extractive_parts == ["diagnoses", "treatment_to_date", "item:1"]
    assert parts.diagnoses == extractive.diagnoses and parts.items[1] == extractive.items[1]
    for s in summary.sentences:
        assert letter.text[s.evidence.start : s.evidence.end] == s.evidence.quote
    lines = record.summary.splitlines()
    assert lines[0] == "Injury: A 36-year-old woman was hurt in a car accident."
    assert "knee surgery" not in record.summary and INVENTED_QUOTE not in record.summary
    assert any(line.endswith("Upheld; Upheld: more injections than allowed.") for line in lines)
    assert record.summary == summary.text and lines[-1].startswith(("Nothing", "Flagged"))
    prompt = fake_openai.chat_requests[0]["messages"][0]["content"]
    assert '<item number="2">' in prompt and "12 message therapy sessions" in prompt


def test_no_grounded_part_is_reasked(fake_openai, tmp_path):
    letter, record, sections = seed()
    invented = {"injury": {"sentence": "She hurt her knee at home.", "quote": INVENTED_QUOTE}}
    fake_openai.script(Reply(invented), Reply(ANSWER))

    async def go():
        async with LLMClient(config(fake_openai, tmp_path)) as client:
            return await llm_summary(letter, record, client, sections)

    asyncio.run(go())
    assert record.llm.retries == 1 and record.summary_parts.source == "llm"


def test_an_answer_grounded_nowhere_it_counts_leaves_the_extractive_summary():
    letter, record, _ = seed()
    answer = SummaryPartsAnswer.model_validate(
        {"items": [{"item": 2, "sentence": "Too many.", "quote": TPI_REASON}]},
        context={"text": letter.text},
    )
    parts, grounded = merge(answer, letter.text, record, record.summary_parts)
    assert grounded == [] and parts.extractive_parts[-1] == "item:1"


def test_prompt_shows_each_rationales_end():
    letter, record, _ = seed()
    items = prompt_items(letter.text, record.decisions)
    assert [i.number for i in items] == [1, 2]
    assert "3 to 4 trigger point" in items[0].rationale
    assert " ".join(MASSAGE_REASON.split()[-5:]) in " ".join(items[1].rationale.split())
