"""Time the ``local`` backend: server start, and one extraction call per letter, cold and repeated.

    python benchmarks/local_llm.py [--model-path M] [FILE ...]

The server reports token counts (``usage``) but no timings while its verbose mode is off, so the
split between prompt processing and generation is estimated: two calibration calls measure the
prompt rate (a letter-sized prompt, 1 output token) and the generation rate (a tiny prompt, 96 output
tokens); then each call's generation time is completion_tokens / generation rate and the rest of the
wall time is prompt processing. ``~prompt tok evaluated`` = that time x the prompt rate, which shows
how much of the prompt the server took from its prefix cache.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Literal

import instructor
import openai
import pypdfium2 as pdfium
from pydantic import BaseModel, Field

from imr_llm.llm.local_model import ensure_model
from imr_llm.llm.local_server import LocalServer

CORPUS = Path("/work/shared/corpus")
DEFAULT_FILES = [
    CORPUS / "seeds" / "000_9c64455a8480a098.txt",
    CORPUS / "dwc-2016" / "CM16-0213037.pdf",
    CORPUS / "dwc-2016" / "CM16-0231745.pdf",
]
SYSTEM = "You extract facts from a California IMR determination letter. Use only the letter."
QUESTION = (
    "Extract the patient's age, sex, date of injury (YYYY-MM-DD) and every disputed item "
    "(its name as written) with its decision word."
)


class Item(BaseModel):
    name: str
    decision: Literal["Upheld", "Overturned"]


class Facts(BaseModel):
    age: int | None = Field(description="patient age in years")
    sex: Literal["male", "female"] | None
    date_of_injury: str | None
    items: list[Item]


def read_text(path: Path) -> str:
    if path.suffix.lower() != ".pdf":
        return path.read_text()
    pdf = pdfium.PdfDocument(path)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


def timed(fn):
    t = time.monotonic()
    out = fn()
    return out, time.monotonic() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    ap.add_argument("--model-path")
    args = ap.parse_args()
    texts = {f.name: read_text(f) for f in args.files}

    model, t_model = timed(lambda: ensure_model(args.model_path))
    print(f"model ready (assembled/verified or cached): {t_model:.2f} s  {model}")
    with LocalServer(args.model_path) as server:
        print(f"server start: {server.start_seconds:.2f} s  {server.base_url}  {server.model_name}")
        print(f"mode: {server.recommended_mode.name}  extra_body: {server.extra_body or None}")
        raw = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0)

        def plain(content: str, max_tokens: int):
            return raw.chat.completions.create(
                model=server.model_name,
                messages=[{"role": "user", "content": content}],
                temperature=0,
                max_tokens=max_tokens,
            )

        r, t = timed(lambda: plain(next(iter(texts.values())) + "\nSummarise.", 1))
        pp_rate = r.usage.prompt_tokens / t
        r, t = timed(lambda: plain("Count from 1 to 200, separated by spaces.", 96))
        gen_rate = r.usage.completion_tokens / t
        print(f"calibration: prompt {pp_rate:.1f} tok/s, generation {gen_rate:.1f} tok/s")

        client = instructor.from_openai(raw, mode=server.recommended_mode)
        print(
            f"\n{'letter':<28} {'call':<6} {'s':>6} {'prompt tok':>10} {'compl tok':>9} "
            f"{'~pp s':>6} {'~gen s':>6} {'~prompt tok evaluated':>21}"
        )
        cold: list[float] = []
        for name, text in texts.items():
            messages = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"{text}\n\n{QUESTION}"},
            ]
            for call in ("cold", "repeat"):
                (facts, completion), t = timed(
                    lambda m=messages: client.chat.completions.create_with_completion(
                        model=server.model_name,
                        messages=m,
                        response_model=Facts,
                        temperature=0,
                        max_tokens=512,
                        max_retries=1,
                        extra_body=server.extra_body or None,
                    )
                )
                u = completion.usage
                gen_s = u.completion_tokens / gen_rate
                pp_s = max(t - gen_s, 0.0)
                print(
                    f"{name:<28} {call:<6} {t:6.1f} {u.prompt_tokens:10d} {u.completion_tokens:9d} "
                    f"{pp_s:6.1f} {gen_s:6.1f} {pp_s * pp_rate:21.0f}"
                )
                if call == "cold":
                    cold.append(t)
            print(f"  -> {facts.model_dump_json()}")
        per_letter = statistics.mean(cold)
        print(
            f"\nletters/minute, one cold extraction call each: {60 / per_letter:.1f} "
            f"(mean {per_letter:.1f} s/letter over {len(cold)})"
        )


if __name__ == "__main__":
    main()
