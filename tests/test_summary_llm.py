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
from imr_llm.summary_llm import ItemReasonAnswer, item_block, merge

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


CASE = {
    "injury": {"sentence": "A 36-year-old female patient, injured 11/02/2011", "quote": INJURY},
    "diagnoses": {"sentence": "She has knee surgery.", "quote": INVENTED_QUOTE},
    # in the letter, but a complaint, not care given: does not read as treatment to date
    "treatment_to_date": {"sentence": "She had pain.", "quote": "she had chronic neck and low"},
}
# the clause the extractive summary takes as item 1's decisive reason
TPI_LIMIT = "Not more than 3-4 injections per session"
TPI = {"sentence": "Upheld: more injections than allowed", "quote": TPI_LIMIT}


def shown_item(prompt: str) -> str:
    return prompt.split("<item>\n")[1].split("</item>")[0]


def answers(body, schema, quotes):
    """The case parts; item 1's reason; for item 2 a quote from item 1's rationale, which is
    in the letter but not that item's reason."""
    prompt = body["messages"][0]["content"]
    if schema["title"] == "SummaryPartsAnswer":
        return CASE
    if "12 message therapy sessions" in shown_item(prompt):
        return {"sentence": "Upheld: too many", "quote": TPI_REASON}
    return TPI


def test_grounded_parts_take_the_models_sentence_the_rest_stay_extractive(fake_openai, tmp_path):
    letter, record, sections = seed()
    extractive = record.summary_parts.model_copy(deep=True)
    fake_openai.responder = answers

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
    assert lines[0] == "Injury: A 36-year-old female patient, injured 11/02/2011."
    assert "knee surgery" not in record.summary and INVENTED_QUOTE not in record.summary
    assert any(line.endswith("sedation: Upheld: more injections than allowed.") for line in lines)
    assert record.summary == summary.text and lines[-1].startswith(("Nothing", "Flagged"))
    assert record.llm.calls == 3  # the case parts and one question per item
    item_prompt = fake_openai.chat_requests[-1]["messages"][0]["content"]
    assert shown_item(item_prompt).startswith("12 message therapy sessions")


def test_an_items_sentence_needs_the_clause_the_extractive_reason_quotes(fake_openai, tmp_path):
    # item 1's answer quotes its own rationale, but another clause than the extractive
    # decisive reason: the two readers disagree on what decided it, so the quote stands
    letter, record, sections = seed()
    extractive = record.summary_parts.model_copy(deep=True)
    assert TPI_LIMIT in extractive.items[0].reason.quote
    assert TPI_REASON not in extractive.items[0].reason.quote
    elsewhere = {"sentence": "Upheld: more injections than allowed", "quote": TPI_REASON}
    fake_openai.responder = lambda body, schema, quotes: (
        CASE if schema["title"] == "SummaryPartsAnswer" else elsewhere
    )

    async def go():
        async with LLMClient(config(fake_openai, tmp_path)) as client:
            return await llm_summary(letter, record, client, sections)

    asyncio.run(go())
    parts = record.summary_parts
    assert "item:0" in parts.extractive_parts and "item:0" not in parts.sentences
    assert parts.items[0].reason == extractive.items[0].reason


def test_a_sentence_its_quote_does_not_back_keeps_the_extractive_quote(fake_openai, tmp_path):
    # each quote is in the letter and reads as its part, but the sentence says more than the
    # quote (a mechanism the quote does not give) or the opposite (drops the quote's "not")
    letter, record, sections = seed()
    extractive = record.summary_parts.model_copy(deep=True)
    hurt = {"sentence": "A 36-year-old woman was hurt in a car accident", "quote": INJURY}
    allowed = {"sentence": "Upheld: the injections are recommended", "quote": TPI_LIMIT}
    fake_openai.responder = lambda body, schema, quotes: (
        CASE | {"injury": hurt} if schema["title"] == "SummaryPartsAnswer" else allowed
    )

    async def go():
        async with LLMClient(config(fake_openai, tmp_path)) as client:
            return await llm_summary(letter, record, client, sections)

    asyncio.run(go())
    assert record.summary_parts.sentences == {}
    assert record.summary_parts == extractive
    assert "car accident" not in record.summary and "are recommended" not in record.summary


def test_an_ungrounded_answer_is_reasked(fake_openai, tmp_path):
    letter, record, sections = seed()
    made_up = {"sentence": "She hurt her knee at home.", "quote": INVENTED_QUOTE}
    invented = dict.fromkeys(("injury", "diagnoses", "treatment_to_date"), made_up)
    fake_openai.script(Reply(invented), Reply(CASE), Reply(TPI), Reply(TPI))

    async def go():
        async with LLMClient(config(fake_openai, tmp_path)) as client:
            return await llm_summary(letter, record, client, sections)

    asyncio.run(go())
    assert record.llm.retries == 1 and record.summary_parts.source == "llm"


def test_nothing_grounded_where_it_counts_leaves_the_extractive_summary():
    letter, record, _ = seed()
    reason = ItemReasonAnswer.model_validate(TPI, context={"text": letter.text})
    parts, grounded = merge(None, [None, reason], letter.text, record, record.summary_parts)
    assert grounded == [] and parts.extractive_parts[-1] == "item:1"


def test_item_block_shows_the_rationales_end():
    letter, record, _ = seed()
    first, second = (item_block(letter.text, d) for d in record.decisions)
    assert first.startswith("Five trigger point injections with sedation") and "3 to 4" in first
    assert " ".join(MASSAGE_REASON.split()[-5:]) in " ".join(second.split())
