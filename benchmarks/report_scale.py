"""HTML report at batch scale: 10,000 synthetic letters (~8 KB text each).

Prints the file size, the write time, and (when Debian's chromium + chromedriver are installed)
the time a headless browser takes to render the first table page and to open one letter.

    python benchmarks/report_scale.py [--letters 10000] [--out benchmarks/out/report_scale.html]

The synthetic texts are calibrated on the corpus: a real letter's text gzips about 2.6x alone
and about 5x in chunks of 32 letters (shared template and guideline wording); these come out
close to that (printed below), so the file size is representative.
"""

from __future__ import annotations

import argparse
import gzip
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from imr_llm.report.html import write_html_report
from imr_llm.schemas import (
    AuditRecord,
    CaseFacts,
    Decision,
    ErrorKind,
    Evidence,
    Finding,
    RecordError,
    Severity,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

BOILERPLATE = (
    "HOW THE IMR FINAL DETERMINATION WAS MADE\n"
    "MAXIMUS Federal Services sent the complete case file to an expert reviewer. He/she has no \n"
    "affiliation with the employer, employee, providers or the claims administrator. He/she has been \n"
    "in active clinical practice for more than five years and is currently working at least 24 hours a \n"
    "week in active practice. The expert reviewer was selected based on his/her clinical experience, \n"
    "education, background, and expertise in the same or similar specialties that evaluate and/or treat \n"
    "the medical condition and disputed items/Service. He/she is familiar with governing laws and \n"
    "regulations, including the strength of evidence hierarchy that applies to Independent Medical \n"
    "Review determinations.\n"
    "The Expert Reviewer has the following credentials:\n"
)

ITEMS = [
    ("Lumbar epidural steroid injection at L4-L5", "Low Back Complaints", "lumbar"),
    ("MRI of the cervical spine without contrast", "Neck and Upper Back Complaints", "cervical"),
    (
        "Physical therapy 2 times a week for 6 weeks for the right shoulder",
        "Shoulder Complaints",
        "shoulder",
    ),
    (
        "Cyclobenzaprine 7.5mg #60",
        "Chronic Pain Medical Treatment Guidelines Muscle relaxants",
        "muscle",
    ),
    (
        "Five trigger point injections",
        "Chronic Pain Medical Treatment Guidelines Trigger point injections",
        "trigger",
    ),
    ("Urine drug screen", "Chronic Pain Medical Treatment Guidelines Drug testing", "drug"),
    ("TENS unit purchase", "Chronic Pain Medical Treatment Guidelines TENS", "tens"),
    ("Right knee arthroscopy with partial medial meniscectomy", "Knee Complaints", "knee"),
    ("Norco 10/325mg #90", "Chronic Pain Medical Treatment Guidelines Opioids", "opioid"),
    ("Acupuncture 8 sessions", "Acupuncture Medical Treatment Guidelines", "acupuncture"),
]

WRONG_REGION = [
    "Ankle and Foot Complaints",
    "Elbow Disorders",
    "Eye Chapter",
    "Hand, Wrist, Forearm",
]

_VOCAB_TEXT = (
    "patient injured worker reported pain rated tenderness palpation cervical lumbar thoracic spine "
    "paraspinal muscles spasm range motion flexion extension abduction rotation degrees shoulder knee "
    "ankle wrist elbow hip bilateral right left radiating numbness tingling weakness dermatomal "
    "distribution positive negative straight leg raise Spurling Hawkins Neer McMurray impingement "
    "medications include ibuprofen naproxen gabapentin tramadol omeprazole cyclobenzaprine topical "
    "compound cream physical therapy sessions completed chiropractic acupuncture home exercise program "
    "modified duty temporarily totally disabled permanent stationary orthopedic consultation follow-up "
    "visit progress report primary treating physician MRI revealed disc protrusion bulge stenosis "
    "foraminal narrowing facet arthropathy degenerative changes rotator cuff tendinosis partial tear "
    "meniscus effusion electrodiagnostic study EMG nerve conduction radiculopathy carpal tunnel "
    "syndrome sleep disturbance anxiety depression psychological evaluation functional improvement "
    "activities daily living walking standing sitting lifting carrying pushing pulling twisting bending "
    "treatment plan requested authorization utilization review denied modified certified noncertified "
    "documentation submitted records indicate noted examination demonstrated decreased sensation "
    "reflexes symmetric gait antalgic assistive device cane brace orthotic injection steroid relief "
    "weeks months percent visual analog scale baseline recent prior previous history surgery fusion "
    "laminectomy discectomy arthroscopy repair replacement hardware removal postoperative"
)
VOCAB = _VOCAB_TEXT.split()

GUIDELINE_TEXT = [
    "Per MTUS guidelines, {t} is recommended as an option when the criteria below are met and there is "
    "objective evidence of functional improvement. Guidelines state that continued treatment requires "
    "documentation of a reduction in the dependency on continued medical treatment, a decrease in "
    "work restrictions and an increase in activities of daily living. The submitted documentation "
    "does not establish these criteria. ",
    "The guidelines recommend {t} only after failure of conservative treatment including physical "
    "therapy, medications and a home exercise program for at least four to six weeks. Repeat "
    "treatment should be based on continued objective documented pain and functional improvement, "
    "including at least 50% pain relief with associated reduction of medication use for six to eight "
    "weeks. ",
    "ACOEM states that {t} may be indicated when there are unequivocal objective findings that "
    "identify specific nerve compromise on the neurologic examination in patients who do not respond "
    "to treatment and who would consider surgery an option. When the neurologic examination is less "
    "clear, further physiologic evidence of nerve dysfunction should be obtained before ordering an "
    "imaging study. ",
    "Regarding {t}, the guidelines do not recommend long-term use beyond two to three weeks, and the "
    "records show use for several months without documented objective improvement in spasm or "
    "function. Weaning is recommended to avoid withdrawal symptoms. ",
]


def _words(rng: random.Random, n: int) -> str:
    out = []
    for i in range(n):
        w = rng.choice(VOCAB)
        if i % 11 == 0:
            w = w.capitalize()
        out.append(w)
        if i % 11 == 10:
            out[-1] += "."
        if rng.random() < 0.04:
            out.append(
                f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2010, 2016)}"
            )
    return " ".join(out) + "."


def _ev(text: str, start: int, end: int) -> Evidence:
    return Evidence(quote=text[start:end], start=start, end=end)


def _wrap(text: str, width: int = 96) -> str:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line + " ")
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


def synthetic_letter(
    n: int, rng: random.Random, text_bytes: int = 8000
) -> tuple[AuditRecord, str | None]:
    """One synthetic record with a letter text of about ``text_bytes`` and real offsets."""
    letter_id = f"CM16-{210000 + n * 7:07d}"
    injury = date(2010, 1, 1) + timedelta(days=rng.randint(0, 2000))
    ur = injury + timedelta(days=rng.randint(200, 1500))
    if rng.random() < 0.015:
        return (
            AuditRecord(
                letter_id=letter_id,
                source=f"batch/{letter_id}.pdf",
                status="error",
                error=RecordError(
                    kind=rng.choice(
                        [ErrorKind.pdf_encrypted, ErrorKind.pdf_no_text, ErrorKind.empty]
                    ),
                    message="the PDF could not be read",
                ),
            ),
            None,
        )
    age = rng.randint(22, 66)
    sex = rng.choice(["male", "female"])
    header = (
        f"Case Number: {letter_id}\n"
        f"Date Assigned: {ur + timedelta(days=9):%m/%d/%Y} Date of Injury: {injury:%m/%d/%Y}\n"
        f"Decision Date: {ur + timedelta(days=38):%m/%d/%Y} UR Denial Date: {ur:%m/%d/%Y}\n"
        "Priority: Standard Application \nReceived: \n"
        f"{ur + timedelta(days=2):%m/%d/%Y}\n"
    )
    summary_intro = (
        f"The injured worker is a {age} year old {sex} who sustained an industrial injury on "
        f"{injury:%m-%d-%y}. "
    )
    parts = [
        header,
        BOILERPLATE,
        "State(s) of Licensure: California\nCertification(s)/Specialty: Orthopaedic Surgery\n",
        "CLINICAL CASE SUMMARY\nThe expert reviewer developed the following clinical case summary "
        "based on a review of the \ncase file, including all medical records:\n",
    ]
    summary_words = max(80, (text_bytes - 3400) // 8)
    parts.append(_wrap(summary_intro + _words(rng, summary_words)) + "\n")
    parts.append(
        "IMR ISSUES, DECISIONS AND RATIONALES\nThe Final Determination was based on decisions for "
        "the disputed items/services set forth below:\n"
    )
    text = "".join(parts)
    decisions: list[Decision] = []
    findings: list[Finding] = []
    for k, (item, chapter, _topic) in enumerate(rng.sample(ITEMS, rng.choice([1, 1, 2, 2, 3]))):
        outcome = "upheld" if rng.random() < 0.85 else "overturned"
        heading = f"{item}: {outcome.capitalize()}\n"
        region_wrong = rng.random() < 0.06
        reviewer = rng.choice(WRONG_REGION) if region_wrong else chapter
        ca = f"Claims Administrator guideline: Decision based on MTUS {chapter}.\n"
        mx = f"MAXIMUS guideline: Decision based on MTUS {reviewer}.\n"
        flip = rng.random() < 0.03
        concl_necessary = (outcome == "overturned") != flip
        conclusion = (
            f"Therefore, the request for {item} is medically necessary."
            if concl_necessary
            else f"Therefore, the request for {item} is not medically necessary."
        )
        rationale = "Decision rationale: " + "".join(
            g.format(t=item.lower()) for g in rng.sample(GUIDELINE_TEXT, 2)
        )
        rationale = _wrap(rationale + conclusion) + "\n"
        start = len(text)
        text += heading + ca + mx
        r_start = len(text)
        text += rationale
        end = len(text)
        c_start = text.find("Therefore", r_start)
        decisions.append(
            Decision(
                index=k,
                item=item,
                outcome=outcome,
                conclusion="medically_necessary" if concl_necessary else "not_medically_necessary",
                claims_administrator_guideline=f"MTUS {chapter}",
                reviewer_guideline=f"MTUS {reviewer}",
                rationale=text[r_start:end],
                span=(start, end),
                heading_span=(start, start + len(heading)),
                rationale_span=(r_start, end),
            )
        )

        if region_wrong:
            g = text.index(reviewer, start)
            findings.append(
                Finding(
                    code="guideline-region-mismatch",
                    severity=Severity.medium,
                    decision_index=k,
                    message=f"{reviewer} fits neither the item nor the injured body regions.",
                    evidence=[_ev(text, start, start + len(item)), _ev(text, g, g + len(reviewer))],
                )
            )
        if flip:
            findings.append(
                Finding(
                    code="decision-conclusion-mismatch",
                    severity=Severity.high,
                    decision_index=k,
                    message="The decision word disagrees with the rationale's own conclusion.",
                    evidence=[
                        _ev(text, start + len(item) + 2, start + len(heading) - 1),
                        _ev(text, c_start, text.index(".", c_start) + 1),
                    ],
                )
            )
        if reviewer != chapter:
            findings.append(
                Finding(
                    code="citation-disagreement",
                    severity=Severity.info,
                    decision_index=k,
                    message="Claims administrator and reviewer cite different guidelines.",
                )
            )
    if rng.random() < 0.04:
        phrase = f"{age} year old {sex}"
        s = text.index(phrase)
        findings.append(
            Finding(
                code="demographic-inconsistency",
                severity=Severity.medium,
                message=f"The summary says {sex}, later text uses the other pronoun.",
                detector="llm",
                evidence=[Evidence(quote=phrase, start=s, end=s + len(phrase))],
            )
        )
    record = AuditRecord(
        letter_id=letter_id,
        source=f"batch/{letter_id}.pdf",
        sha256=f"{rng.getrandbits(256):064x}",
        layout="dwc-2016",
        case=CaseFacts(
            case_number=letter_id,
            date_of_injury=injury,
            ur_denial_date=ur,
            date_assigned=ur + timedelta(days=9),
            decision_date=ur + timedelta(days=38),
            patient_age=age,
            patient_sex=sex,
            reviewer_specialty="Orthopaedic Surgery",
            diagnoses=["lumbar radiculopathy", "cervical strain"],
            body_regions=["low back", "neck"],
        ),
        decisions=decisions,
        findings=findings,
        summary=(
            f"{age}-year-old {sex} injured {injury:%Y-%m-%d}; {len(decisions)} disputed item(s): "
            + "; ".join(f"{d.item} {d.outcome}" for d in decisions)
            + "."
        ),
    )
    return record, text


def synthetic_items(
    n: int, seed: int = 7, text_bytes: int = 8000
) -> Iterator[tuple[AuditRecord, str | None]]:
    rng = random.Random(seed)
    for i in range(n):
        yield synthetic_letter(i, rng, text_bytes)


def chromium_available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def chromium_driver(profile_dir: Path, width: int = 1500, height: int = 950):
    """Headless Debian chromium through its own chromedriver (Selenium Manager never runs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={profile_dir}",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)


def _measure_browser(path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    profile = Path(tempfile.mkdtemp(prefix="imr-chromium-"))
    try:
        driver = chromium_driver(profile)
        try:
            t0 = time.perf_counter()
            driver.get(path.resolve().as_uri())
            WebDriverWait(driver, 120, poll_frequency=0.02).until(
                lambda d: d.execute_script("return window.__imr && window.__imr.ready")
            )
            wall = time.perf_counter() - t0
            first = driver.execute_script("return window.__imr.firstTable")
            rows = len(driver.find_elements(By.CSS_SELECTOR, "#rows tr[data-i]"))
            print(
                f"first table render: {first / 1000:.2f} s after navigation start "
                f"(wall {wall:.2f} s from driver.get), {rows} rows on page 1"
            )
            for label in ("page 1", "last page"):
                if label == "last page":
                    driver.find_element(By.ID, "p-last").click()
                row = driver.find_elements(By.CSS_SELECTOR, "#rows tr[data-i]")[-1]
                letter = row.get_attribute("data-id")
                t1 = time.perf_counter()
                row.click()
                WebDriverWait(driver, 60, poll_frequency=0.01).until(
                    lambda d, letter=letter: (
                        d.find_element(By.ID, "detail").get_attribute("data-letter") == letter
                    )
                )
                opened = time.perf_counter() - t1
                ms = driver.execute_script("return window.__imr.letterOpen")
                print(
                    f"open letter {letter} ({label}): {ms:.0f} ms in page "
                    f"(wall {opened * 1000:.0f} ms incl. WebDriver round trips)"
                )
            heap = driver.execute_script(
                "return performance.memory ? performance.memory.usedJSHeapSize : null"
            )
            nodes = driver.execute_script("return document.getElementsByTagName('*').length")
            if heap:
                print(f"JS heap used: {heap / 2**20:.1f} MiB; DOM elements: {nodes}")
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            print(f"browser errors: {len(errors)}")
            for e in errors:
                print("  ", e["message"])
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--letters", type=int, default=10_000)
    ap.add_argument("--text-bytes", type=int, default=8000)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/report_scale.html"))
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)

    sample = list(synthetic_items(64, text_bytes=args.text_bytes))
    texts = [t.encode() for _, t in sample if t]
    raw = sum(map(len, texts))
    alone = raw / sum(len(gzip.compress(t)) for t in texts)
    chunked = raw / sum(
        len(gzip.compress(b"".join(texts[i : i + 32]))) for i in range(0, len(texts), 32)
    )
    print(
        f"synthetic text: {raw / len(texts):.0f} B/letter, gzip {alone:.1f}x alone, "
        f"{chunked:.1f}x in chunks of 32 (corpus: 2.6x, 5.0x)"
    )

    t0 = time.perf_counter()
    items = list(synthetic_items(args.letters, text_bytes=args.text_bytes))
    gen = time.perf_counter() - t0
    text_total = sum(len(t) for _, t in items if t)
    t0 = time.perf_counter()
    write_html_report(iter(items), args.out, title=f"IMR audit - {args.letters} synthetic letters")
    write = time.perf_counter() - t0
    size = args.out.stat().st_size
    print(
        f"letters: {args.letters}, letter text total {text_total / 2**20:.1f} MiB "
        f"(generated in {gen:.1f} s)"
    )
    print(
        f"report.html: {size / 2**20:.2f} MiB ({size / args.letters / 1024:.2f} KiB/letter, "
        f"{text_total / size:.1f}x smaller than the raw text), written in {write:.2f} s"
    )
    if args.no_browser:
        return
    if not chromium_available():
        print("chromium/chromedriver not installed: skipping the browser timings")
        return
    _measure_browser(args.out)


if __name__ == "__main__":
    main()
