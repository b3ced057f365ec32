"""LLM pass 1, reconcile and summaries over real HTTP against the scripted server."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fake_openai import INVENTED_QUOTE, FakeOpenAI, QuotePicker, fill_schema
from imr_llm.checks.base import Sections
from imr_llm.extract.llm import LLMExtraction
from imr_llm.extract.reconcile import case_lists, reconcile
from imr_llm.llm.client import LLMClient
from imr_llm.llm.config import LLMConfig
from imr_llm.llm.errors import LLMError
from imr_llm.llm.responses import quote_in_text
from imr_llm.questions.base import LetterView
from imr_llm.questions.scheduler import read_letter
from imr_llm.schemas import AuditRecord, CaseFacts, Decision, ErrorKind, Finding, Letter, Severity

DATA = Path(__file__).parent / "data"
SEED_000 = (DATA / "seed_000.txt").read_text()
SEED_004 = (DATA / "seed_004.txt").read_text()
HEADING = re.compile(r"^(?P<item>[^\n:]{3,200}?):\s+(?P<word>Upheld|Overturned)[ \t]*$", re.M)


def make_letter(text: str, letter_id: str) -> Letter:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Letter(letter_id=letter_id, source=f"{letter_id}.txt", sha256=digest, text=text)


def rules_view(letter: Letter) -> tuple[AuditRecord, Sections]:
    """What the rules path gives for a seed letter, built here so the test stands alone."""
    text = letter.text
    issues = text.index("IMR ISSUES, DECISIONS AND RATIONALES")
    summary = text.index("medical records:") + len("medical records:")
    sections = Sections(summary=(summary, issues), issues=(issues, len(text)))
    heads = list(HEADING.finditer(text, issues))
    decisions = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text.rstrip())
        r0 = text.index("Decision rationale:", m.end(), end) + len("Decision rationale:")
        rationale = text[r0:end]
        decisions.append(
            Decision(
                index=i,
                item=m.group("item").strip(),
                outcome=m.group("word").lower(),
                conclusion="not_medically_necessary"
                if "not medically necessary" in rationale
                else "unclear",
                rationale=" ".join(rationale.split()),
                span=(m.start(), end),
                heading_span=(m.start(), m.end()),
                rationale_span=(r0, end),
            )
        )
    age = re.search(r"(\d+) (?:year old|yo) (male|female)", text)
    doi = re.search(r"(?:date of injury of|injury on) (\d\d)/(\d\d)/(\d{4})", text)
    case = CaseFacts(
        patient_age=int(age.group(1)),
        patient_sex=age.group(2),
        date_of_injury=date(int(doi.group(3)), int(doi.group(1)), int(doi.group(2))),
    )
    record = AuditRecord(
        letter_id=letter.letter_id,
        source=letter.source,
        sha256=letter.sha256,
        case=case,
        decisions=decisions,
    )
    return record, sections


SEED_000_ANSWERS: dict[str, Any] = {
    "CaseBasics": {
        "age": {"years": 36, "quote": "The patient is a 36 year old female"},
        "sex": {"sex": "female", "quote": "36 year old female"},
        "date_of_injury": {
            "as_written": "11/02/2011",
            "quote": "with a date of injury of 11/02/2011",
        },
        "diagnoses": [
            {
                "text": "cervical and lumbar myofascial pain",
                "quote": "cervical and lumbar myofascial pain",
            }
        ],
        "body_regions": [
            {"text": "neck", "quote": "chronic neck and low back pain"},
            {"text": "head", "quote": "sustained injuries to her head"},
        ],
    },
    "ItemsList": {
        "items": [
            {
                "item": "Five trigger point injections with sedation",
                "decision": "upheld",
                "quote": "Five trigger point injections with sedation: Upheld",
            },
            {
                "item": "12 message therapy sessions",
                "decision": "upheld",
                "quote": "12 message therapy sessions:  Upheld",
            },
        ]
    },
    "SummaryAnswer": {
        "sentences": [
            {
                "sentence": "A 36-year-old woman was injured in a motor vehicle accident on 11/02/2011",
                "quote": "The patient is a 36 year old female with a date of injury of 11/02/2011",
            },
            {
                "sentence": "The reviewer upheld the denial of trigger point injections and massage therapy.",
                "quote": "Therefore the request is not medically necessary",
            },
        ]
    },
}


def item_answers(prompt: str) -> dict[str, dict[str, Any]]:
    item = prompt[prompt.index("<item>") :]
    if "Five trigger point" in item:
        return {
            "ItemRationale": {
                "criteria": [
                    {
                        "text": "3-4 injections per session",
                        "quote": "Not more than 3-4 injections per session",
                    }
                ],
                "documented": [],
                "missing": [],
                "conclusion": "not_medically_necessary",
                "conclusion_quote": "Therefore the request is not medically necessary",
            },
        }
    return {
        "ItemRationale": {
            "criteria": [
                {
                    "text": "4 to 6 visits acute phase",
                    "quote": "a maximum of 4 to 6 massage therapy visits",
                }
            ],
            "documented": [],
            "missing": [
                {
                    "text": "listed diagnosis and body part",
                    "quote": "there must be a listed diagnosis and body part",
                }
            ],
            "conclusion": "not_medically_necessary",
            "conclusion_quote": "Therefore the request is not medically necessary",
        },
    }


def seed_000_responder(overrides: dict[str, Any] | None = None):
    def respond(body: dict[str, Any], schema: dict[str, Any], quotes: QuotePicker) -> Any:
        title = schema["title"]
        prompt = body["messages"][0]["content"]
        answers = {**SEED_000_ANSWERS, **(item_answers(prompt) if "<item>" in prompt else {})}
        if overrides and title in overrides:
            return overrides[title]
        return answers[title]

    return respond


def config(fake: FakeOpenAI, tmp_path: Path, **overrides) -> LLMConfig:
    settings = {
        "model": "fake-model",
        "base_url": fake.base_url,
        "api_key": "test-key",
        "cache_dir": tmp_path / "cache",
        "timeout_s": 2.0,
        "max_attempts": 3,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        **overrides,
    }
    return LLMConfig(**settings)


async def llm_pass1(
    letter: Letter, record: AuditRecord, sections: Sections, client: LLMClient
) -> LLMExtraction:
    """Pass 1 as the session runs it; the record's ``llm`` block is the usage so far."""
    extraction = await read_letter(client, LetterView(letter, record, sections))
    record.llm = client.usage_for(letter)
    return extraction


def run_pass1(
    cfg: LLMConfig, letter: Letter, record: AuditRecord, sections: Sections
) -> LLMExtraction:
    async def go():
        async with LLMClient(cfg) as client:
            return await llm_pass1(letter, record, sections, client)

    return asyncio.run(go())


@pytest.fixture
def seed_000():
    letter = make_letter(SEED_000, "seed_000")
    record, sections = rules_view(letter)
    return letter, record, sections


def assert_grounded(extraction: LLMExtraction, text: str) -> None:
    assert extraction.evidence
    for path, ev in extraction.evidence.items():
        assert text[ev.start : ev.end] == ev.quote, path
    assert INVENTED_QUOTE not in extraction.model_dump_json()


def test_pass1_reads_grounds_and_shares_the_letter_prefix(fake_openai, tmp_path, seed_000):
    letter, record, sections = seed_000
    fake_openai.responder = seed_000_responder()
    ex = run_pass1(config(fake_openai, tmp_path), letter, record, sections)
    assert ex.basics.age.years == 36 and ex.date_of_injury == date(2011, 11, 2)
    assert [i.index for i in ex.items] == [0, 1]
    assert ex.items[1].rationale.criteria[0].text == "4 to 6 visits acute phase"
    assert_grounded(ex, letter.text)
    second = ex.ev("items[1].rationale.conclusion")
    first = ex.ev("items[0].rationale.conclusion")
    assert record.decisions[1].span[0] <= second.start < record.decisions[1].span[1]
    assert record.decisions[0].span[0] <= first.start < record.decisions[0].span[1]
    assert ex.ev("basics.age").quote == "The patient is a 36 year old female"
    assert ex.ev("items_list.items[1]").quote == "12 message therapy sessions:  Upheld"

    assert record.llm.calls == 4 and record.llm.cache_hits == 0 and record.llm.backend == "openai"
    assert set(record.llm.prompt_versions) == {
        "case_basics",
        "items_list",
        "item_rationale",
    }
    contents = [b["messages"][0]["content"] for b in fake_openai.chat_requests]
    assert "report\n- age" in contents[0]
    prefix = contents[0][: contents[0].index("\n</letter>")]
    assert "CLINICAL CASE SUMMARY" in prefix and "IMR ISSUES" not in prefix
    assert all(c.startswith(prefix) for c in contents)
    assert all(b["temperature"] == 0 for b in fake_openai.chat_requests)


def test_pass1_second_run_comes_from_the_cache(fake_openai, tmp_path, seed_000):
    letter, record, sections = seed_000
    fake_openai.responder = seed_000_responder()
    first = run_pass1(config(fake_openai, tmp_path), letter, record, sections)
    fake_openai.clear()
    second = run_pass1(config(fake_openai, tmp_path), letter, record, sections)
    assert not fake_openai.chat_requests
    assert record.llm.calls == 0 and record.llm.cache_hits == 4
    assert second.model_dump() == first.model_dump()


def test_pass1_drops_a_value_its_quote_does_not_support(fake_openai, tmp_path, seed_000):
    letter, record, sections = seed_000
    basics = {
        **SEED_000_ANSWERS["CaseBasics"],
        "age": {"years": 63, "quote": "The patient is a 36 year old female"},
    }
    fake_openai.responder = seed_000_responder({"CaseBasics": basics})
    ex = run_pass1(config(fake_openai, tmp_path), letter, record, sections)
    assert ex.basics.age is None and ex.dropped == ["basics.age"]
    assert ex.ev("basics.age") is None


def test_pass1_keeps_the_basic_facts_whose_quotes_are_grounded(fake_openai, tmp_path, seed_000):
    letter, record, sections = seed_000
    basics = copy.deepcopy(SEED_000_ANSWERS["CaseBasics"])
    basics["sex"]["quote"] = INVENTED_QUOTE
    basics["body_regions"].append({"text": "knee", "quote": INVENTED_QUOTE})
    fake_openai.responder = seed_000_responder({"CaseBasics": basics})
    ex = run_pass1(config(fake_openai, tmp_path), letter, record, sections)
    assert ex.basics.sex is None and ex.basics.age.years == 36
    assert [f.text for f in ex.basics.body_regions] == ["neck", "head"]
    assert {"basics.sex", "basics.body_regions"} <= set(ex.dropped)
    assert "case_basics" not in ex.failed_questions and record.llm.retries == 0


def test_pass1_failure_is_an_llm_error_for_the_letter(fake_openai, tmp_path, seed_000):
    letter, record, sections = seed_000
    fake_openai.set_faults(1.0, kinds=("server_error",))
    with pytest.raises(LLMError) as info:
        run_pass1(config(fake_openai, tmp_path, max_attempts=2), letter, record, sections)
    assert info.value.kind == "server_error"
    assert info.value.record_error().kind == ErrorKind.llm_error
    assert len(fake_openai.chat_requests) == 2


def disagreements(findings: list[Finding]) -> list[Finding]:
    assert all(f.code == "extraction-disagreement" for f in findings)
    assert all(f.severity == Severity.low and f.detector == "llm" for f in findings)
    return findings


def test_reconcile_agreeing_reads_give_no_findings_and_fill_empty_lists(
    fake_openai, tmp_path, seed_000
):
    letter, record, sections = seed_000
    fake_openai.responder = seed_000_responder()
    ex = run_pass1(config(fake_openai, tmp_path), letter, record, sections)
    assert reconcile(record, ex, letter.text) == []
    assert case_lists(record, ex) == {
        "diagnoses": ["cervical and lumbar myofascial pain"],
        "body_regions": ["neck", "head"],
    }
    record.case.diagnoses = ["rules diagnosis"]
    assert "diagnoses" not in case_lists(record, ex)


def test_reconcile_reports_planted_disagreements(fake_openai, tmp_path, seed_000):
    letter, record, sections = seed_000
    fake_openai.responder = seed_000_responder()
    ex = run_pass1(config(fake_openai, tmp_path), letter, record, sections)
    record.case.patient_age = 63
    record.case.date_of_injury = date(2012, 11, 2)
    record.decisions[1].outcome = "overturned"
    record.decisions[0].conclusion = "medically_necessary"
    findings = disagreements(reconcile(record, ex, letter.text))
    messages = {f.message.split(":")[0]: f for f in findings}
    assert set(messages) == {
        "Patient age",
        "Date of injury",
        "Item 2 decision",
        "Item 1 rationale conclusion",
    }
    age = messages["Patient age"]
    assert "63" in age.message and "36" in age.message and age.decision_index is None
    assert [e.quote for e in age.evidence] == ["The patient is a 36 year old female"]
    outcome = messages["Item 2 decision"]
    assert outcome.decision_index == 1
    llm_ev, rules_ev = outcome.evidence
    assert llm_ev.quote == "12 message therapy sessions:  Upheld"
    assert (rules_ev.start, rules_ev.end) == record.decisions[1].heading_span
    for f in findings:
        for e in f.evidence:
            assert letter.text[e.start : e.end] == e.quote
    assert record.case.patient_age == 63 and record.decisions[1].outcome == "overturned"


def test_reconcile_reports_a_short_item_list_once(fake_openai, tmp_path, seed_000):
    letter, record, sections = seed_000
    first = SEED_000_ANSWERS["ItemsList"]["items"][0]
    fake_openai.responder = seed_000_responder({"ItemsList": {"items": [first]}})
    ex = run_pass1(config(fake_openai, tmp_path), letter, record, sections)
    (one,) = disagreements(reconcile(record, ex, letter.text))
    assert one.decision_index == 1 and "does not have it" in one.message

    extra = record.decisions[1].model_copy(update={"index": 2, "item": "Home exercise kit"})
    record.decisions.append(extra)
    (short,) = disagreements(reconcile(record, ex, letter.text))
    assert short.decision_index is None
    assert "leaves out 2 of the 3 items" in short.message and "Home exercise kit" in short.message
    assert [e.start for e in short.evidence] == [record.decisions[1].heading_span[0]] * 2


def _ungrounded(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: INVENTED_QUOTE if k == "quote" else _ungrounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_ungrounded(v) for v in obj]
    return obj


def test_a_pass1_question_without_grounded_quotes_costs_no_other_fact(
    fake_openai, tmp_path, seed_000
):
    letter, record, sections = seed_000
    bad_basics = _ungrounded(SEED_000_ANSWERS["CaseBasics"])
    fake_openai.responder = seed_000_responder({"CaseBasics": bad_basics})
    ex = run_pass1(config(fake_openai, tmp_path, max_reasks=1), letter, record, sections)
    assert ex.failed_questions == ["case_basics"] and ex.basics is None
    assert ex.items_list is not None
    assert len(ex.items) == 2 and all(it.rationale is not None for it in ex.items)
    assert not any(INVENTED_QUOTE in e.quote for e in ex.evidence.values())


def test_reconcile_reports_an_item_the_rules_missed(fake_openai, tmp_path, seed_000):
    letter, record, sections = seed_000
    fake_openai.responder = seed_000_responder()
    record.decisions = record.decisions[:1]
    ex = run_pass1(config(fake_openai, tmp_path), letter, record, sections)
    [finding] = disagreements(reconcile(record, ex, letter.text))
    assert (
        "12 message therapy sessions" in finding.message
        and "rules: 1 items, LLM: 2" in finding.message
    )
    assert finding.evidence[0].quote == "12 message therapy sessions:  Upheld"


def test_fault_injection_harness_over_many_letters(fake_openai, tmp_path):
    """Random mixed faults on a third of the calls; every letter ends grounded or as LLMError."""
    fake_openai.set_faults(0.3, seed=7, stall_s=1.0)
    cases = []
    for i in range(12):
        text = SEED_000 if i % 2 == 0 else SEED_004
        letter = make_letter(text + f"\nCopy {i}.\n", f"letter-{i:03d}")
        cases.append((letter, *rules_view(letter)))
    cfg = config(fake_openai, tmp_path, timeout_s=0.3, max_attempts=6, max_reasks=3, concurrency=8)

    async def one(client: LLMClient, letter, record, sections):
        try:
            ex = await llm_pass1(letter, record, sections, client)
        except LLMError as exc:
            return exc
        findings = reconcile(record, ex, letter.text)
        return ex, findings

    async def go():
        async with LLMClient(cfg) as client:
            return await asyncio.gather(*(one(client, *c) for c in cases))

    results = asyncio.run(go())
    done = [r for r in results if not isinstance(r, LLMError)]
    assert len(done) >= 10, [r for r in results if isinstance(r, LLMError)]
    for (letter, _, _), result in zip(cases, results, strict=True):
        if isinstance(result, LLMError):
            continue
        ex, findings = result
        assert_grounded(ex, letter.text)
        for f in findings:
            assert all(letter.text[e.start : e.end] == e.quote for e in f.evidence)
    kinds = set(fake_openai.served)
    assert len(kinds - {"ok"}) >= 5, kinds


def test_fill_schema_makes_grounded_answers():
    from imr_llm.llm.responses import CaseBasics, ItemRationale, SummaryAnswer

    prompt = "<letter>\n" + SEED_004 + "</letter>"
    for model in (CaseBasics, ItemRationale, SummaryAnswer):
        obj = fill_schema(model.model_json_schema(), QuotePicker(prompt))
        value = model.model_validate(obj, context={"text": SEED_004})
        assert all(
            quote_in_text(q, SEED_004)
            for q in re.findall(r'"quote": "([^"]+)"', value.model_dump_json())
        )
