"""The explain report in a real browser (Debian's chromium and chromium-driver, driven by Selenium):
the table filters to one TF with as many rows as the TSV has, sorts, searches, opens a card, and the
page logs no console error. Skipped when chromium, its driver or selenium is missing (`make tools`
installs the first two as root, the `test` extra the last)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from genomix.paths import demo_dir, demo_variants

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="chromium and chromium-driver are not installed (Debian: apt-get install chromium chromium-driver; "
    "`make tools` does it as root)",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report of a dozen demo truth SNVs (sites of several TFs, and neutral ones), with its table."""
    import gzip

    from genomix.pipelines import explain_to_file, load_explainer

    folder = tmp_path_factory.mktemp("browser")
    with gzip.open(demo_variants(), "rt") as handle:
        lines = handle.readlines()
    body = [line for line in lines if not line.startswith("#")]
    snvs = [line for line in body if len(line.split("\t")[3]) == 1 and len(line.split("\t")[4]) == 1]
    chosen = [line for line in snvs if "TRUTH_CLASS=loss" in line][:8] + [line for line in snvs if "neutral" in line][
        :4
    ]
    vcf = folder / "small.vcf"
    vcf.write_text("".join(line for line in lines if line.startswith("#")) + "".join(sorted(chosen, key=body.index)))
    explainer = load_explainer(demo_dir() / "genome.fa.gz", "demo")
    explain_to_file(
        vcf, explainer, out=folder / "h.tsv", report=folder / "r.html", report_limit=6, report_mutagenesis=1
    )
    return folder / "r.html", pd.read_csv(folder / "h.tsv", sep="\t", keep_default_na=False)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the `test` extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_window_size(1400, 1000)
    yield driver
    driver.quit()


def test_the_report_filters_sorts_searches_and_opens_a_card_without_console_errors(report, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page, table = report
    top = table[table["rank"] == 1]
    tf = top[top.tf_name != "."].tf_name.value_counts().index[0]
    browser.get(page.as_uri())
    rows = lambda: [r for r in browser.find_elements(By.CSS_SELECTOR, "#hypotheses tbody tr") if r.is_displayed()]  # noqa: E731
    assert len(rows()) == len(top)

    Select(browser.find_element(By.ID, "tf")).select_by_value(tf)
    assert len(rows()) == (top.tf_name == tf).sum()
    assert browser.find_element(By.ID, "shown").text == str((top.tf_name == tf).sum())
    Select(browser.find_element(By.ID, "tf")).select_by_value("")

    headers = [th.text.rstrip(" ▲▼") for th in browser.find_elements(By.CSS_SELECTOR, "#hypotheses th")]
    browser.find_element(By.XPATH, "//th[text()='p']").click()  # ascending p
    column = headers.index("p")
    shown = [float(r.find_elements(By.TAG_NAME, "td")[column].get_attribute("data-v")) for r in rows()]
    assert shown == sorted(shown) and len(shown) == len(top)

    one = top.iloc[0]
    browser.find_element(By.ID, "search").send_keys(str(one.id))
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows()] == [str(one.id)]
    browser.find_element(By.ID, "search").clear()
    browser.find_element(By.ID, "search").send_keys(" ")  # clear() fires no input event
    browser.find_element(By.ID, "search").clear()

    link = browser.find_element(By.CSS_SELECTOR, "#hypotheses a.open")
    card = browser.find_element(By.ID, link.get_attribute("href").split("#")[1])
    assert card.get_property("open") is False
    link.click()
    assert card.get_property("open") is True
    figures = [f for f in card.find_elements(By.TAG_NAME, "svg") if f.is_displayed()]
    assert figures and all(f.size["width"] > 0 for f in figures)  # tracks and logos drawn

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
