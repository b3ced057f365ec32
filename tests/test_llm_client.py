"""LLMClient over real HTTP against the scripted server: retries, re-asks, cache, logs, config."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import stat
import time
from pathlib import Path

import jinja2
import pytest
from pydantic import ValidationError

from fake_openai import (
    INVENTED_QUOTE,
    Drop,
    FakeOpenAI,
    Invalid,
    Length,
    Reply,
    Stall,
    Status,
    Truncated,
    Ungrounded,
)
from imr_llm.llm import prompts
from imr_llm.llm.cache import DB_NAME, ResponseCache, cache_key
from imr_llm.llm.client import LLMClient
from imr_llm.llm.config import LOCAL_DUMMY_KEY, LLMConfig
from imr_llm.llm.errors import LLMConfigError, LLMError
from imr_llm.llm.responses import CaseBasics, ItemRationale, ItemsList, locate, quote_in_text
from imr_llm.llm.retry import retry_after_seconds
from imr_llm.schemas import ErrorKind, Letter

DATA = Path(__file__).parent / "data"
SEED_000 = (DATA / "seed_000.txt").read_text()
DISTINCTIVE = [
    "She had a motor vehicle accident when her vehicle was struck on the passenger side",
    "She had at least 6 massage visits, 52 physical therapy visits",
    "Therefore the request is not medically necessary",
    "36 year old female",
]
GOOD_BASICS = {
    "age": {"years": 36, "quote": "The patient is a 36 year old female"},
    "sex": {"sex": "female", "quote": "36 year old female"},
    "date_of_injury": {"as_written": "11/02/2011", "quote": "with a date of injury of 11/02/2011"},
    "diagnoses": [{"text": "myofascial pain", "quote": "cervical and lumbar myofascial pain"}],
    "body_regions": [{"text": "neck", "quote": "chronic neck and low back pain"}],
}


def make_letter(text: str = SEED_000, letter_id: str = "seed_000") -> Letter:
    return Letter(
        letter_id=letter_id,
        source=f"{letter_id}.txt",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        text=text,
    )


def config(fake: FakeOpenAI, tmp_path: Path, **overrides) -> LLMConfig:
    settings = {
        "model": "fake-model",
        "base_url": fake.base_url,
        "api_key": "test-key",
        "cache_dir": tmp_path / "cache",
        "timeout_s": 2.0,
        "max_attempts": 3,
        "max_reasks": 2,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        **overrides,
    }
    return LLMConfig(**settings)


def ask(
    cfg: LLMConfig,
    letter: Letter | None = None,
    model=CaseBasics,
    template: str = "case_basics",
    head=None,
):
    """One question through a fresh client; returns (value, stats, usage)."""
    letter = letter or make_letter()

    async def go():
        async with LLMClient(cfg) as client:
            value, stats = await client.ask(
                model, template, letter=letter, variables={"letter_head": head or letter.text}
            )
            return value, stats, client.finish_letter(letter)

    return asyncio.run(go())


def ask_error(cfg: LLMConfig) -> LLMError:
    with pytest.raises(LLMError) as info:
        ask(cfg)
    return info.value


def test_valid_answer_request_shape_and_usage(fake_openai, tmp_path):
    fake_openai.script(Reply(GOOD_BASICS, usage=(1200, 80)))
    value, stats, usage = ask(config(fake_openai, tmp_path, cache=False, max_tokens_per_call=321))
    assert value.age.years == 36 and value.sex.sex == "female"
    assert len(fake_openai.chat_requests) == 1 and not stats.cached
    body = fake_openai.chat_requests[0]
    assert body["temperature"] == 0
    assert body["max_tokens"] == 321
    assert body["response_format"]["type"] == "json_schema"
    [message] = body["messages"]
    content = message["content"]
    assert content.startswith("<letter>\n" + SEED_000[:40])
    assert (
        content.index("She had a motor vehicle")
        < content.index("\n</letter>")
        < content.index("Question:")
    )
    assert content.rstrip().endswith("Do not guess.")
    assert usage.calls == 1 and usage.retries == 0 and usage.cache_hits == 0
    assert (usage.prompt_tokens, usage.completion_tokens) == (1200, 80)
    assert usage.prompt_versions == {"case_basics": prompts.load("case_basics").tag}
    assert usage.backend == "openai" and usage.model == "fake-model"


@pytest.mark.parametrize(
    "fault",
    [
        Status(429, {"Retry-After": "0"}),
        Status(500),
        Status(503),
        Stall(3.0),
        Drop(),
        Truncated(GOOD_BASICS),
        Invalid(),
        Ungrounded(),
    ],
    ids=["429", "500", "503", "stall", "drop", "truncated", "invalid", "ungrounded"],
)
def test_each_fault_recovers(fake_openai, tmp_path, fault):
    fake_openai.script(fault, Reply(GOOD_BASICS))
    value, stats, usage = ask(config(fake_openai, tmp_path, cache=False, timeout_s=0.5))
    assert value.model_dump() == CaseBasics.model_validate(GOOD_BASICS).model_dump()
    assert len(fake_openai.chat_requests) == 2
    assert stats.requests == 2 and usage.calls == 1 and usage.retries == 1
    validation_fault = isinstance(fault, Truncated | Invalid | Ungrounded)
    assert (stats.reasks, stats.transport_retries) == ((1, 0) if validation_fault else (0, 1))


def test_lax_types_are_accepted(fake_openai, tmp_path):
    lax = json.loads(json.dumps(GOOD_BASICS))
    lax["age"]["years"] = "36"
    fake_openai.script(Reply(lax))
    value, stats, _ = ask(config(fake_openai, tmp_path, cache=False))
    assert value.age.years == 36 and stats.requests == 1


def test_retry_after_is_honoured(fake_openai, tmp_path):
    fake_openai.script(Status(429, {"Retry-After": "1"}), Reply(GOOD_BASICS))
    t0 = time.monotonic()
    ask(config(fake_openai, tmp_path, cache=False))
    assert time.monotonic() - t0 >= 0.95


def test_retry_after_ms_and_cap(fake_openai, tmp_path):
    fake_openai.script(Status(429, {"retry-after-ms": "300"}), Reply(GOOD_BASICS))
    t0 = time.monotonic()
    ask(config(fake_openai, tmp_path, cache=False))
    assert time.monotonic() - t0 >= 0.3
    fake_openai.script(Status(429, {"Retry-After": "3600"}), Reply(GOOD_BASICS))
    t0 = time.monotonic()
    ask(config(fake_openai, tmp_path, cache=False, retry_after_cap_s=0.1))
    assert time.monotonic() - t0 < 5


def test_retry_after_parsing():
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Status(500), "server_error"),
        (Status(429, {"Retry-After": "0"}), "rate_limited"),
        (Stall(3.0), "timeout"),
        (Drop(), "connection"),
    ],
    ids=["500", "429", "stall", "drop"],
)
def test_transient_fault_ends_as_llm_error_after_the_cap(fake_openai, tmp_path, fault, kind):
    fake_openai.script(*[fault] * 3)
    error = ask_error(config(fake_openai, tmp_path, cache=False, timeout_s=0.5, max_attempts=3))
    assert error.kind == kind
    assert len(fake_openai.chat_requests) == 3
    assert "3 attempts" in error.message and ";" in error.message
    record_error = error.record_error()
    assert record_error.kind == ErrorKind.llm_error and record_error.message.startswith(
        f"LLM {kind}:"
    )


@pytest.mark.parametrize(
    ("code", "kind"), [(400, "bad_request"), (401, "auth"), (404, "not_found")]
)
def test_client_errors_are_not_retried(fake_openai, tmp_path, code, kind):
    fake_openai.script(Status(code))
    error = ask_error(config(fake_openai, tmp_path, cache=False))
    assert error.kind == kind and error.status == code
    assert len(fake_openai.chat_requests) == 1


def test_answer_cut_at_max_tokens_is_a_truncated_error(fake_openai, tmp_path):
    fake_openai.script(Length(GOOD_BASICS))
    error = ask_error(config(fake_openai, tmp_path, cache=False))
    assert error.kind == "truncated" and "max_tokens_per_call" in error.message
    assert len(fake_openai.chat_requests) == 1


def test_reask_on_ungrounded_quote_tells_the_model_which_quote(fake_openai, tmp_path):
    fake_openai.script(Ungrounded(), Reply(GOOD_BASICS))
    value, _, _ = ask(config(fake_openai, tmp_path))
    assert INVENTED_QUOTE not in value.model_dump_json()
    first, second = fake_openai.chat_requests
    assert len(second["messages"]) == 3
    assert second["messages"][1]["role"] == "assistant"
    assert "quote not found in the letter" in second["messages"][2]["content"]
    assert INVENTED_QUOTE in second["messages"][2]["content"]


def test_model_that_keeps_inventing_quotes_ends_as_validation_error(fake_openai, tmp_path):
    fake_openai.script(*[Ungrounded()] * 3)
    cfg = config(fake_openai, tmp_path, max_reasks=2)
    error = ask_error(cfg)
    assert error.kind == "validation"
    assert "quote not found in the letter" in error.message
    assert INVENTED_QUOTE not in str(error)
    assert len(fake_openai.chat_requests) == 3
    cache = ResponseCache(tmp_path / "cache")
    assert len(cache) == 0
    cache.close()


def test_schema_invalid_every_time_ends_as_validation_error(fake_openai, tmp_path):
    fake_openai.script(*[Invalid()] * 2)
    error = ask_error(config(fake_openai, tmp_path, max_reasks=1))
    assert error.kind == "validation" and "missing fields" in error.message


def test_cache_second_run_makes_no_calls(fake_openai, tmp_path):
    cfg = config(fake_openai, tmp_path)
    fake_openai.script(Reply(GOOD_BASICS))
    first, _, usage1 = ask(cfg)
    assert usage1.calls == 1 and usage1.cache_hits == 0
    second, stats, usage2 = ask(cfg)
    assert len(fake_openai.chat_requests) == 1
    assert stats.cached and usage2.calls == 0 and usage2.cache_hits == 1
    assert second.model_dump() == first.model_dump()
    db = tmp_path / "cache" / DB_NAME
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    for side in (db.with_name(DB_NAME + "-wal"), db.with_name(DB_NAME + "-shm")):
        if side.exists():
            assert stat.S_IMODE(side.stat().st_mode) & 0o077 == 0


def test_cache_key_changes_with_model_prompt_and_mode(fake_openai, tmp_path):
    fake_openai.script(Reply(GOOD_BASICS), Reply(GOOD_BASICS), Reply(GOOD_BASICS))
    ask(config(fake_openai, tmp_path))
    ask(config(fake_openai, tmp_path, model="other-model"))
    ask(config(fake_openai, tmp_path, mode="TOOLS"))
    ask(config(fake_openai, tmp_path))
    assert len(fake_openai.chat_requests) == 3
    base = {
        "model": "m",
        "template_sha256": "t",
        "schema_sha256": "s",
        "input_sha256": "i",
        "mode": "JSON_SCHEMA",
    }
    keys = {cache_key(**base)} | {cache_key(**{**base, k: "other"}) for k in base}
    assert len(keys) == 6


def test_cache_is_shared_between_connections(tmp_path):
    one, two = ResponseCache(tmp_path / "c"), ResponseCache(tmp_path / "c")
    one.put("k", '{"a": 1}', template="t")
    assert two.get("k") == '{"a": 1}' and two.get("missing") is None
    one.close()
    two.close()


def test_unwritable_cache_dir_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LLMConfigError, match="IMR_LLM_CACHE_DIR"):
        LLMClient(LLMConfig(model="m", api_key="k", cache_dir=blocker / "cache"))


def test_no_cache_always_calls_and_writes_nothing(fake_openai, tmp_path):
    cfg = config(fake_openai, tmp_path, cache=False)
    ask(cfg)
    ask(cfg)
    assert len(fake_openai.chat_requests) == 2
    assert not (tmp_path / "cache").exists()


def test_cached_answer_that_fails_revalidation_is_asked_again(fake_openai, tmp_path):
    cfg = config(fake_openai, tmp_path)
    # Same prompt (the head is SEED_000's), but none of the cached answer's quotes are in this
    # letter: a cached answer is re-validated against the letter it is used for.
    other = make_letter("The patient is a 36 yr old woman.")
    other_basics = json.loads(json.dumps(GOOD_BASICS))
    other_basics["age"]["quote"] = "The patient is a 36 yr old woman"
    other_basics["sex"]["quote"] = "36 yr old woman"
    fake_openai.script(Reply(GOOD_BASICS), Reply(other_basics))
    ask(cfg)
    value, stats, usage = ask(cfg, other, head=SEED_000)
    assert not stats.cached and usage.calls == 1 and usage.cache_hits == 0
    assert value.sex.quote == "36 yr old woman"
    assert len(fake_openai.chat_requests) == 2


@pytest.mark.parametrize("mode", ["TOOLS", "JSON", "MD_JSON", "JSON_SCHEMA"])
def test_modes_round_trip(fake_openai, tmp_path, mode):
    fake_openai.script(Ungrounded(), Reply(GOOD_BASICS))
    value, _, usage = ask(config(fake_openai, tmp_path, mode=mode, cache=False))
    assert value.age.years == 36 and usage.retries == 1
    body = fake_openai.chat_requests[0]
    assert body["temperature"] == 0
    assert ("tools" in body) == (mode == "TOOLS")


def test_schema_in_extra_body(fake_openai, tmp_path):
    fake_openai.script(Reply(GOOD_BASICS))
    ask(
        config(
            fake_openai,
            tmp_path,
            mode="JSON",
            schema_in_extra_body=True,
            extra_body={"top_k": 1},
            cache=False,
        )
    )
    body = fake_openai.chat_requests[0]
    assert body["response_format"]["schema"]["title"] == "CaseBasics"
    assert body["top_k"] == 1


@pytest.mark.parametrize("mode", ["TOOLS", "JSON"])
def test_letter_as_system_message_is_a_prefix_shared_by_every_question(fake_openai, tmp_path, mode):
    """With ``letter_role="system"`` two different questions about one letter send the same
    system message (the letter) first, so a server's prompt cache can reuse it; the schema or
    tool list the mode adds comes after it, and the question is the user message."""
    cfg = config(fake_openai, tmp_path, mode=mode, letter_role="system", cache=False)
    letter = make_letter()

    async def go():
        async with LLMClient(cfg) as client:
            for model, template, extra in [
                (CaseBasics, "case_basics", {}),
                (ItemRationale, "item_rationale", {"item_block": letter.text[-300:]}),
            ]:
                await client.ask(
                    model, template, letter=letter, variables={"letter_head": letter.text, **extra}
                )

    asyncio.run(go())
    firsts, users = [], []
    for body in fake_openai.chat_requests:
        first, user = body["messages"][0], body["messages"][-1]
        assert first["role"] == "system" and user["role"] == "user"
        assert first["content"].startswith("<letter>\n" + letter.text[:200])
        assert "Question:" not in first["content"] and "Question:" in user["content"]
        assert letter.text[:200] not in user["content"]
        firsts.append(first["content"][: len(letter.text)])
        users.append(user["content"])
    assert len(firsts) == 2 and firsts[0] == firsts[1] and users[0] != users[1]


def test_a_prompt_with_more_letter_after_the_head_stays_one_user_message(fake_openai, tmp_path):
    cfg = config(fake_openai, tmp_path, letter_role="system", cache=False)
    letter = make_letter()
    head, rest = letter.text[:2000], letter.text[2000:]

    async def go():
        async with LLMClient(cfg) as client:
            await client.ask(
                ItemsList,
                "items_list",
                letter=letter,
                variables={"letter_head": head, "letter_rest": rest},
            )

    asyncio.run(go())
    (body,) = fake_openai.chat_requests
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_concurrency_caps_requests_in_flight(fake_openai, tmp_path):
    cfg = config(fake_openai, tmp_path, concurrency=2, cache=False)
    letters = [make_letter(letter_id=f"l{i}") for i in range(6)]

    async def go():
        async with LLMClient(cfg) as client:
            slow = [
                client.ask(CaseBasics, "case_basics", letter=lt, variables={"letter_head": lt.text})
                for lt in letters
            ]
            return await asyncio.gather(*slow)

    fake_openai.script(*[Stall(0.15)] * 6)
    asyncio.run(go())
    assert fake_openai.max_in_flight == 2
    assert len(fake_openai.chat_requests) == 6


def test_token_budget_per_letter(fake_openai, tmp_path):
    cfg = config(fake_openai, tmp_path, cache=False, max_tokens_per_letter=1000)
    letter = make_letter()
    fake_openai.script(Reply(GOOD_BASICS, usage=(900, 200)))

    async def go():
        async with LLMClient(cfg) as client:
            await client.ask(
                CaseBasics, "case_basics", letter=letter, variables={"letter_head": "x"}
            )
            await client.ask(
                CaseBasics, "case_basics", letter=letter, variables={"letter_head": "y"}
            )

    with pytest.raises(LLMError) as info:
        asyncio.run(go())
    assert info.value.kind == "token_budget"
    assert len(fake_openai.chat_requests) == 1


def test_prompt_too_long(fake_openai, tmp_path):
    with pytest.raises(LLMError) as info:
        ask(config(fake_openai, tmp_path, max_prompt_chars=1000))
    assert info.value.kind == "prompt_too_long"
    assert not fake_openai.chat_requests


def test_no_letter_text_in_logs(fake_openai, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "instructor", "imr_llm"):
        caplog.set_level(logging.DEBUG, logger=name)
    leaky = json.loads(json.dumps(GOOD_BASICS))
    leaky["age"]["years"] = DISTINCTIVE[0]
    fake_openai.script(
        Status(500, message=DISTINCTIVE[1]),
        Reply(leaky),
        Ungrounded(DISTINCTIVE[0] + " on the moon"),
        Reply(GOOD_BASICS),
    )
    value, _, _ = ask(config(fake_openai, tmp_path, max_reasks=3))
    assert value.age.years == 36
    fake_openai.script(*[Reply(leaky)] * 2)
    with pytest.raises(LLMError) as info:
        ask(config(fake_openai, tmp_path, max_reasks=1, model="other"))
    fake_openai.script(Status(400, message=DISTINCTIVE[2]))
    with pytest.raises(LLMError) as info2:
        ask(config(fake_openai, tmp_path, model="third"))
    names = {r.name.split(".")[0] for r in caplog.records}
    assert {"openai", "instructor", "imr_llm"} <= names, names
    assert any(r.name.startswith("openai") and r.levelno == logging.DEBUG for r in caplog.records)
    rendered = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for error in (info.value, info2.value):
        rendered += str(error) + error.record_error().message
    flat = " ".join(rendered.split()).lower()
    for sentence in DISTINCTIVE + ["sustained injuries to her", "epidural steroid/facet"]:
        assert sentence.lower() not in flat, sentence


def test_from_env_and_from_cli(tmp_path):
    with pytest.raises(LLMConfigError, match="--model"):
        LLMConfig.from_env(env={})
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        LLMConfig.from_env(env={"IMR_LLM_MODEL": "gpt-x"})
    cfg = LLMConfig.from_env(env={"IMR_LLM_MODEL": "m", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert cfg.api_key.get_secret_value() == LOCAL_DUMMY_KEY
    assert cfg.mode == "JSON_SCHEMA" and cfg.temperature == 0
    env = {
        "OPENAI_API_KEY": "sk-secret",
        "IMR_LLM_MODE": "tools",
        "IMR_LLM_TIMEOUT": "7.5",
        "IMR_LLM_MAX_TOKENS": "512",
    }
    cfg = LLMConfig.from_env(model="gpt-x", base_url="https://example.invalid/v1", env=env)
    assert (cfg.model, cfg.mode, cfg.timeout_s, cfg.max_tokens_per_call) == (
        "gpt-x",
        "TOOLS",
        7.5,
        512,
    )
    assert "sk-secret" not in repr(cfg)
    with pytest.raises(LLMConfigError, match="mode"):
        LLMConfig.from_env(model="m", mode="XML", env={"OPENAI_API_KEY": "k"})
    with pytest.raises(LLMConfigError, match="IMR_LLM_TIMEOUT"):
        LLMConfig.from_env(model="m", env={"OPENAI_API_KEY": "k", "IMR_LLM_TIMEOUT": "soon"})
    cfg = LLMConfig.from_cli(backend="openai", model="m", env={"OPENAI_API_KEY": "k"})
    assert cfg.backend == "openai"
    local = LLMConfig.from_cli(backend="local", env={})
    assert local.backend == "local" and local.mode == "TOOLS" and local.concurrency == 1
    assert local.letter_role == "system" and cfg.letter_role == "user"
    assert local.max_reasks == 1 and cfg.max_reasks == 2
    assert LLMConfig.from_cli(backend="local", env={"IMR_LLM_MAX_REASKS": "3"}).max_reasks == 3
    with pytest.raises(LLMConfigError, match="loopback|127.0.0.1"):
        LLMConfig.from_cli(backend="local", base_url="http://10.0.0.5:8000/v1", env={})
    with pytest.raises(ValidationError):
        LLMConfig(model="m", temperature=0.7)


def test_locate_maps_through_whitespace_and_case():
    text = "Line one ends here \n\n and Line Two   continues.\nThe patient is 45 yo male."
    ev = locate(text, '"ends here and line two continues."')
    assert ev is not None and text[ev.start : ev.end] == ev.quote
    assert ev.quote == "ends here \n\n and Line Two   continues"
    assert locate(text, "not in the text at all") is None
    twice = "pain 8/10. later: pain 8/10."
    assert locate(twice, "pain 8/10", window=(10, len(twice))).start == twice.rindex("pain 8/10")
    assert quote_in_text("45 YO MALE", text) and not quote_in_text("x", text)


def test_prompts_have_versions_and_a_shared_letter_prefix():
    names = prompts.names()
    assert {
        "case_basics",
        "items_list",
        "item_rationale",
        "summary",
    } <= set(names)
    rendered = []
    for name in names:
        p = prompts.load(name)
        assert p.version.startswith("v") and len(p.sha256) == 64
        variables = {
            "letter_head": "HEAD OF LETTER",
            "letter_rest": "REST",
            "item_block": "ITEM",
            "headings": ["A: Upheld"],
        }
        for _ in range(10):  # questions added later take variables of their own
            try:
                out = p.render(**variables)
                break
            except jinja2.exceptions.UndefinedError as exc:
                variables[str(exc).split("'")[1]] = "X"
        assert out.rstrip().splitlines()[-1] != "HEAD OF LETTER"
        assert out.index("HEAD OF LETTER") < out.index("Question:")
        rendered.append(out[: out.index("HEAD OF LETTER") + len("HEAD OF LETTER")])
    assert rendered == ["<letter>\nHEAD OF LETTER"] * len(names)
