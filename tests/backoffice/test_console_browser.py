"""The console in headless Chromium (Debian's /usr/bin/chromium + chromedriver, via selenium):
log in, list cases, open a case (a packet as a terminal writes it), see its material image load
and its labels in words, request a supplement, see the fleet page. Saves a screenshot of the
case page (docs/backoffice-case.png is one of these: BACKOFFICE_SCREENSHOT=docs/...).
On SQLite only: what it adds is Chromium's rendering of pages whose data test_cases.py and
test_console_words.py already read through the same routes on both engines."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from kiosk_packets import terminal_application

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
pytestmark = [pytest.mark.skipif(not (CHROMIUM.exists() and DRIVER.exists()),
                                 reason="Debian chromium / chromium-driver not installed"),
              pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)]


def wait_for(driver, condition, timeout: float = 15):
    return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException]) \
        .until(condition)


def status_text(driver) -> str:
    return driver.find_element(By.ID, "case-status").text


@pytest.fixture
def browser():
    profile = tempfile.mkdtemp(prefix="bo-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,2200",
                "--lang=zh-CN"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_reviewer_works_a_case_in_the_browser(server, new_terminal, browser, tmp_path):
    server.services.reviewers.add("browser-reviewer", "pa55word-browser")
    terminal = new_terminal(site="乐山市中区7x24站")
    manifest, files = terminal_application(terminal, bank_card="missing_allowed")
    assert terminal.send_packet(terminal.seal(manifest, files)).status_code == 201
    case = manifest["case_number"]

    browser.get(server.base_url + "/console/cases")
    assert browser.current_url.endswith("/console/login")
    browser.find_element(By.ID, "name").send_keys("browser-reviewer")
    browser.find_element(By.ID, "password").send_keys("pa55word-browser")
    browser.find_element(By.ID, "login").click()
    wait_for(browser, lambda d: d.current_url.endswith("/console/cases"))

    browser.find_element(By.LINK_TEXT, case).click()
    wait_for(browser, lambda d: status_text(d).startswith("已接收"))
    page_image = browser.find_element(By.CSS_SELECTOR, "#material-household_register img.page")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth",
                                  page_image) == 620
    faces = browser.find_elements(By.CSS_SELECTOR, "img.face")
    assert [browser.execute_script("return arguments[0].naturalWidth", f) for f in faces][0] == 102
    assert "容缺" in browser.find_element(By.ID, "material-bank_card").text
    shown = browser.find_element(By.TAG_NAME, "body").text
    for words in ("老人姓名", "与家人同住", "居民身份证", "长期", "Asia/Shanghai"):
        assert words in shown, words
    assert "+00:00" not in shown and "applicant_name" not in shown
    shot = Path(os.environ.get("BACKOFFICE_SCREENSHOT") or tmp_path / "case.png")
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000

    browser.find_element(By.ID, "pick-bank_card").click()
    browser.find_element(By.ID, "supplement-reason").send_keys("请补交银行卡复印件")
    browser.find_element(By.ID, "do-request_supplement").click()
    wait_for(browser, lambda d: status_text(d).startswith("待补件"))
    assert "请补交银行卡复印件" in browser.find_element(By.ID, "supplements").text
    progress = terminal.http.get(f"/api/v1/cases/{case}/progress",     # the receipt's QR code
                                 headers={"X-Progress-Token": manifest["progress_token"]}).json()
    assert progress["supplement"]["materials"][0]["code"] == "bank_card"

    assert terminal.heartbeat().status_code == 204  # the test server's silence limit is 2 s
    browser.find_element(By.ID, "nav-fleet").click()
    row = wait_for(browser, lambda d: d.find_element(By.ID, f"terminal-{terminal.terminal_id}"))
    assert "OK" in row.text and "乐山市中区7x24站" in row.text
