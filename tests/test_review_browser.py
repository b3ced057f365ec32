"""The auditor's whole loop in Debian's headless chromium (issue 17): audit a batch; review it
(confirm one finding, dismiss one with a reason, add a missed one); reload and see them;
re-audit into the same folder and see them kept and the new findings marked; export the
review as labels; `imr-llm eval` on the export scores exactly those verdicts.

Screenshots go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
LATER = "000_9c64455a8480a098.txt"  # joins the batch in the re-audit


def imr(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "imr_llm.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode in (0, 1), f"{args}: exit {proc.returncode}\n{proc.stderr}"
    return proc


def _driver(profile: Path):
    pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(
            "Debian chromium/chromedriver not installed: apt-get install chromium chromium-driver"
        )
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "report_scale", ROOT / "benchmarks" / "report_scale.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("report_scale", module)
    spec.loader.exec_module(module)
    return module.chromium_driver(profile, width=1500, height=950)


@pytest.mark.browser
def test_review_loop_in_browser(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    letters = tmp_path / "letters"
    letters.mkdir()
    for p in EXAMPLES.iterdir():
        if p.name != LATER and p.suffix in (".pdf", ".txt"):
            shutil.copy(p, letters / p.name)
    out = tmp_path / "out"
    imr("audit", str(letters), "--out", str(out), "--fail-on", "never", "-q")

    driver = _driver(tmp_path / "profile")
    server = subprocess.Popen(
        [sys.executable, "-m", "imr_llm.cli", "review", str(out), "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()
        url = re.search(r"http://\S+", line).group(0)
        from selenium.common.exceptions import StaleElementReferenceException

        wait = WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,))

        def settle() -> None:
            wait.until(lambda d: d.execute_script("return window.__review.pending === 0"))

        ARTIFACTS.mkdir(exist_ok=True)

        def load() -> None:
            driver.get(url)
            wait.until(
                lambda d: d.execute_script("return !!(window.__review && window.__review.ready)")
            )

        def open_letter(lid: str) -> None:
            settle()
            if driver.find_element(By.ID, "detail").get_attribute("data-letter") == lid:
                return
            row = driver.find_elements(By.CSS_SELECTOR, f'#rows tr[data-id="{lid}"]')
            if not row:
                Select(driver.find_element(By.ID, "f-show")).select_by_value("all")
                row = driver.find_elements(By.CSS_SELECTOR, f'#rows tr[data-id="{lid}"]')
            row[0].click()
            wait.until(
                lambda d: d.find_element(By.ID, "detail").get_attribute("data-letter") == lid
            )
            settle()

        def finding(lid: str, code: str):
            open_letter(lid)
            return driver.find_element(
                By.XPATH, f'//ol[@class="findings"]/li[.//span[@class="code" and text()="{code}"]]'
            )

        def pressed(li) -> str | None:
            for b in li.find_elements(By.CSS_SELECTOR, ".vbar button"):
                if b.get_attribute("aria-pressed") == "true":
                    return b.get_attribute("data-verdict")
            return None

        load()
        assert "0 of 3 flagged letters reviewed" in driver.find_element(By.ID, "progress").text
        queue = [
            tr.get_attribute("data-id") for tr in driver.find_elements(By.CSS_SELECTOR, "#rows tr")
        ]
        assert queue[0] == "CM17-0016311"  # the high-severity letter comes first
        driver.find_element(By.ID, "reviewer").send_keys("Ann Auditor")
        # the summary is shown above the findings
        assert driver.find_element(By.CSS_SELECTOR, "#detail p.summary").text.strip()

        # 1. confirm the high finding with the keyboard (c on the active finding)
        wait.until(
            lambda d: d.find_element(By.ID, "detail").get_attribute("data-letter") == "CM17-0016311"
        )
        driver.find_element(By.TAG_NAME, "body").send_keys("c")
        wait.until(lambda d: pressed(finding("CM17-0016311", "fact-contradiction")) == "confirmed")
        page_links = driver.find_elements(By.CSS_SELECTOR, "ol.findings a.ev-page")
        assert page_links and re.search(
            r"/pdf/CM17-0016311#page=\d+$", page_links[0].get_attribute("href")
        )

        # 2. dismiss one with a reason from the code's pick list
        li = finding("004_152794f102d88e85", "guideline-region-mismatch")
        Select(li.find_element(By.CSS_SELECTOR, "select.reason")).select_by_value(
            "the chapter fits the item or the injury"
        )
        li.find_element(By.CSS_SELECTOR, "button.b-dismissed").click()
        wait.until(
            lambda d: (
                pressed(finding("004_152794f102d88e85", "guideline-region-mismatch")) == "dismissed"
            )
        )

        # 3. add a finding the tool missed: select text in the letter, press a
        open_letter("CM16-0213037")
        assert driver.find_elements(By.CSS_SELECTOR, "ol.findings > li") == []
        assert driver.execute_script(
            """
            const pre = document.getElementById('letter-text'), needle = arguments[0];
            const walk = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
            let node;
            while ((node = walk.nextNode())) {
              const i = node.data.indexOf(needle);
              if (i >= 0) {
                const r = document.createRange();
                r.setStart(node, i); r.setEnd(node, i + needle.length);
                const s = getSelection(); s.removeAllRanges(); s.addRange(r);
                return true;
              }
            }
            return false;
            """,
            "UR Denial Date: 11/03/2016",
        )
        driver.find_element(By.TAG_NAME, "body").send_keys("a")
        wait.until(lambda d: d.find_element(By.ID, "add-form").is_displayed())
        assert driver.find_element(By.ID, "add-quote").text == "UR Denial Date: 11/03/2016"
        Select(driver.find_element(By.ID, "add-code")).select_by_value("date-inconsistency")
        Select(driver.find_element(By.ID, "add-item")).select_by_value("")
        driver.find_element(By.ID, "add-note").send_keys("UR date checked against the file")
        driver.find_element(By.ID, "add-save").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "ol.findings li .tag-added"))
        marks = driver.find_elements(By.CSS_SELECTOR, "pre.letter mark.sev-added")
        assert marks and marks[0].text == "UR Denial Date: 11/03/2016"
        driver.find_element(By.TAG_NAME, "body").send_keys("r")  # letter reviewed
        wait.until(
            lambda d: d.find_element(By.ID, "mark-reviewed").get_attribute("aria-pressed") == "true"
        )
        wait.until(
            lambda d: "2 of 3 flagged letters reviewed" in d.find_element(By.ID, "progress").text
        )
        driver.save_screenshot(str(ARTIFACTS / "review-1-verdicts.png"))

        # full-text search over the letters
        driver.find_element(By.ID, "q").send_keys("trigger point")
        wait.until(lambda d: not d.find_element(By.ID, "search-info").get_attribute("hidden"))
        hits = [
            tr.get_attribute("data-id")
            for tr in driver.find_elements(By.CSS_SELECTOR, "#rows tr[data-id]")
        ]
        assert "004_152794f102d88e85" in hits and "CM16-0213037" not in hits

        # 4. reload: everything is still there (read back from the store)
        load()
        assert pressed(finding("CM17-0016311", "fact-contradiction")) == "confirmed"
        li = finding("004_152794f102d88e85", "guideline-region-mismatch")
        assert pressed(li) == "dismissed"
        assert "dismissed by Ann Auditor" in li.find_element(By.CSS_SELECTOR, ".vwho").text
        assert (
            li.find_element(By.CSS_SELECTOR, "select.reason").get_attribute("value")
            == "the chapter fits the item or the injury"
        )
        open_letter("CM16-0213037")
        assert "ADDED by Ann Auditor" in driver.find_element(By.CSS_SELECTOR, "ol.findings li").text

        # 5. re-audit into the same folder with one more letter: verdicts kept, new ones marked
        shutil.copy(EXAMPLES / LATER, letters / LATER)
        imr("audit", str(letters), "--out", str(out), "--append", "--fail-on", "never", "-q")
        load()
        new_row = driver.find_element(By.CSS_SELECTOR, '#rows tr[data-id="000_9c64455a8480a098"]')
        assert "NEW 3" in new_row.text
        open_letter("000_9c64455a8480a098")
        tags = driver.find_elements(By.CSS_SELECTOR, "ol.findings li .tag-new")
        assert len(tags) == 3
        assert pressed(finding("CM17-0016311", "fact-contradiction")) == "confirmed"
        assert pressed(finding("004_152794f102d88e85", "guideline-region-mismatch")) == "dismissed"
        assert "2 of 4 flagged letters reviewed" in driver.find_element(By.ID, "progress").text
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        open_letter("000_9c64455a8480a098")
        driver.save_screenshot(str(ARTIFACTS / "review-2-reaudit.png"))
    finally:
        driver.quit()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)

    # the static report now has the Reviewed column
    html = (out / "report.html").read_text()
    assert '"reviews":{"reviewed":3}' in html

    # 6. export as labels; imr-llm eval scores exactly those verdicts
    labels = tmp_path / "labels"
    proc = imr("review", "export", str(out), "--as-labels", str(labels))
    assert "Wrote 3 reviewed letters" in proc.stderr
    assert sorted(p.stem for p in (labels / "labels").glob("*.json")) == [
        "004_152794f102d88e85",
        "CM16-0213037",
        "CM17-0016311",
    ]
    for p in (labels / "letters").iterdir():
        assert oct(p.stat().st_mode & 0o777) == oct(0o600)
    gold = json.loads((labels / "labels" / "CM16-0213037.json").read_text())
    assert [(f["code"], f["decision_index"]) for f in gold["findings"]] == [
        ("date-inconsistency", None)
    ]
    assert (
        json.loads((labels / "labels" / "004_152794f102d88e85.json").read_text())["findings"] == []
    )
    imr("eval", str(labels), "--out", str(tmp_path / "score"))
    card = json.loads((tmp_path / "score" / "scorecard.json").read_text())
    counts = {
        code: (c["tp"], c["fp"], c["fn"])
        for code, c in card["codes"].items()
        if c["tp"] or c["fp"] or c["fn"]
    }
    assert counts == {
        "fact-contradiction": (1, 0, 0),  # confirmed
        "guideline-region-mismatch": (0, 1, 0),  # dismissed
        "date-inconsistency": (0, 0, 1),  # added by the auditor
    }
    assert os.path.exists(ARTIFACTS / "review-2-reaudit.png")
