"""End to end in a real browser: Playwright drives Debian's Chromium (headless) against the
real `visual-buffet gui` command, tagging examples/images with the bundled demo model.

Set VISUAL_BUFFET_GUI_SCREENSHOTS=docs/images to refresh the screenshots in docs/gui.md.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.gui.browser import GuiServer, chromium, screenshot

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)",
)
EXAMPLES = REPO / "examples" / "images"
expect = playwright_api.expect


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/images (the store and thumbnails refer to it, not to the repo)."""
    folder = tmp_path_factory.mktemp("photos") / "examples"
    shutil.copytree(EXAMPLES, folder)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuiServer]:
    gui = GuiServer(tmp_path_factory.mktemp("gui"))
    gui.config.parent.mkdir(parents=True)
    # The bundled demo model: offline, knows colours and shapes; standard quality finds the
    # small-corner star in a window.
    gui.config.write_text('[plugins.siglip]\nvariant = "demo"\n', encoding="utf-8")
    gui.start()
    yield gui
    gui.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator:  # type: ignore[type-arg]
    with playwright_api.sync_playwright() as p:
        chromium_browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium_browser
        chromium_browser.close()


@pytest.fixture
def page(browser, server: GuiServer):  # type: ignore[no-untyped-def]
    """A fresh browser tab that opened the printed URL (so it holds the token cookie)."""
    context = browser.new_context(viewport={"width": 1180, "height": 760})
    tab = context.new_page()
    tab.goto(server.url)
    expect(tab.get_by_role("button", name="Settings")).to_be_visible()
    yield tab
    context.close()


@pytest.fixture(scope="module")
def tagged(browser, server: GuiServer, photos: Path) -> dict[str, str]:
    """Tag the photos from the Tag page once; return what the page showed at the end."""
    context = browser.new_context(viewport={"width": 1180, "height": 760})
    tab = context.new_page()
    tab.goto(server.url)
    tab.get_by_role("link", name="Tag").click()
    tab.get_by_label("Folder").fill(str(photos))
    tab.get_by_role("button", name="Start").click()
    stats = tab.locator("#stats")
    expect(stats).to_contain_text("Done: 6 tagged, 0 failed", timeout=180_000)
    expect(tab.locator("#progress")).to_have_attribute("value", "6")
    screenshot(tab, "gui-tag")
    shown = {
        "stats": stats.inner_text(),
        "results": tab.locator("#results").inner_text(),
        "errors": tab.locator("#errors").inner_text(),
    }
    context.close()
    return shown


def test_tag_page_runs_to_the_end_with_the_expected_tags(tagged: dict[str, str]) -> None:
    assert "Done: 6 tagged, 0 failed" in tagged["stats"]
    lines = {line.split(":")[0]: line for line in tagged["results"].splitlines()}
    assert set(lines) == {p.name for p in EXAMPLES.glob("*.jpg")}
    red = lines["red-circle-1200x800.jpg"]
    assert "red" in red and "circle" in red
    assert tagged["errors"].strip() == ""


def test_settings_save_writes_quality_and_threshold(page, server: GuiServer) -> None:
    page.get_by_role("button", name="Settings").click()
    page.get_by_role("link", name="SigLIP").click()
    expect(page.get_by_label("Model variant")).to_have_value("demo")
    page.get_by_label("Quality").select_option("high")
    threshold = page.get_by_label("Threshold")
    threshold.fill("0.05")
    expect(page.locator("#setting-threshold-value")).to_have_text("0.05")
    screenshot(page, "gui-settings")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#settings-message")).to_contain_text("Saved")
    data = tomllib.loads(server.config.read_text(encoding="utf-8"))
    assert data["plugins"]["siglip"] == {"variant": "demo", "quality": "high", "threshold": 0.05}
    # Put the quality back, so the other tests' runs are as the fixture set them.
    page.get_by_label("Quality").select_option("standard")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#settings-message")).to_contain_text("Saved quality")


def test_an_invalid_limit_shows_the_cli_message_and_writes_nothing(page, server, cli) -> None:
    page.get_by_role("button", name="Settings").click()
    page.get_by_role("link", name="SigLIP").click()
    before = server.config.read_bytes()
    page.get_by_label("Limit").fill("-5")
    page.get_by_role("button", name="Save").click()
    alert = page.locator("#settings-message")
    expect(alert).to_contain_text("is not valid")
    result = cli("--config", server.config, "config", "set", "--", "plugins.siglip.max_tags", "-5")
    assert result.exit_code == 2
    assert " ".join(result.stderr.split()) == f"error: {alert.inner_text().strip()}"
    assert server.config.read_bytes() == before


def test_a_page_without_the_token_can_change_nothing(browser, server: GuiServer) -> None:
    context = browser.new_context()
    tab = context.new_page()
    response = tab.goto(server.base + "/")
    assert response is not None and response.status == 403
    expect(tab.get_by_role("heading", name="Access token needed")).to_be_visible()
    assert tab.get_by_role("button", name="Settings").count() == 0
    before = server.config.read_bytes()
    # What a script on that page (or on any other site) could try: a same-origin POST.
    status = tab.evaluate(
        """async () => (await fetch('/api/settings/siglip', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': 'guess'},
            body: JSON.stringify({values: {quality: 'max'}})})).status"""
    )
    assert status == 403
    assert server.config.read_bytes() == before
    context.close()


SIDECAR = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:subject><rdf:Bag><rdf:li>corner</rdf:li><rdf:li>holiday</rdf:li></rdf:Bag></dc:subject>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>
"""


def test_library_shows_thumbnails_with_top_tags_and_filters(page, tagged, photos, server) -> None:
    page.get_by_role("link", name="Library", exact=True).click()
    cards = page.locator("ul.grid li.card")
    expect(cards).to_have_count(6)
    expect(page.get_by_role("status")).to_have_text("1–6 of 6 photos")
    page.wait_for_function(
        "() => [...document.querySelectorAll('li.card img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    red = page.locator(f'li.card[data-path="{photos / "red-circle-1200x800.jpg"}"]')
    expect(red.locator(".chip").first).to_be_visible()
    chips = red.locator(".chip").all_inner_texts()  # the top tags, highest confidence first
    assert {"red", "circle"} <= set(chips[:3]), chips
    screenshot(page, "gui-library")
    page.get_by_label("Filter by tag").fill("star")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("heading", name="Library: tagged “star”")).to_be_visible()
    expect(page.get_by_role("status")).not_to_have_text("Loading…")
    shown = {card.get_attribute("data-path") for card in cards.all()}
    assert str(photos / "star-and-square-1200x900.jpg") in shown
    from visual_buffet.library import open_library

    with open_library(server.env["VISUAL_BUFFET_LIBRARY"], readonly=True) as store:
        expected = {image.path for image in store.list_images(tag="star")}
    assert shown == expected and len(shown) < 6


def test_photo_page_draws_the_window_a_tag_was_found_in(page, tagged, photos: Path) -> None:
    image = photos / "small-corner-3000x2000.jpg"
    (photos / "small-corner-3000x2000.jpg.xmp").write_text(SIDECAR, encoding="utf-8")
    page.goto(f"{page.url.split('#')[0]}#/photo?path={image}")
    window = page.locator("#windows rect", has_text="")  # one rectangle per window
    expect(window).to_have_count(1)
    expect(window).to_be_visible()
    assert "blue" in window.get_attribute("data-labels").split(", ")
    box = [window.get_attribute(a) for a in ("x", "y", "width", "height")]
    assert box == ["1800", "800", "1200", "1200"]  # (1800,800)-(3000,2000), the 2048 px window
    row = page.locator('table.tags tr[data-label="blue"]')
    expect(row).to_contain_text("detail (1800,800)-(3000,2000) at 2048 px")
    expect(row.get_by_role("meter")).to_be_visible()
    expect(page.locator("#sidecar")).to_have_text(f"{image}.xmp (keywords: corner, holiday)")
    page.wait_for_function("() => document.querySelector('.stage img').naturalWidth > 0")
    screenshot(page, "gui-photo")


def test_search_returns_ranked_results(page, tagged, photos: Path) -> None:
    search = page.get_by_label("Search", exact=True)
    search.fill("red")
    search.press("Enter")
    results = page.locator("#results li.card")
    expect(results.first).to_be_visible()
    expect(results.first).to_have_attribute("data-path", str(photos / "red-circle-1200x800.jpg"))
    ranks = results.locator(".rank").all_inner_texts()
    assert ranks[0].startswith("#1 · score")
    scores = [float(text.rsplit(" ", 1)[1]) for text in ranks]
    assert scores == sorted(scores, reverse=True) and len(scores) == 6
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results img')].every(img => img.naturalWidth > 0)"
    )
    screenshot(page, "gui-search")


def test_dropped_photos_are_tagged_by_the_model_already_loaded(page, tagged, server) -> None:
    page.get_by_role("link", name="Tag").click()
    page.set_input_files("#files", str(EXAMPLES / "white-square-800x800.jpg"))
    expect(page.locator("#stats")).to_contain_text("Done: 1 tagged, 0 failed", timeout=60_000)
    expect(page.locator("#results")).to_contain_text("white-square-800x800.jpg: white")
    uploads = server.root / "data" / "uploads"
    assert [p.name for p in uploads.glob("*/*")] == ["white-square-800x800.jpg"]


def test_a_value_outside_the_slider_is_kept_unless_the_slider_moves(page, server) -> None:
    before = server.config.read_text(encoding="utf-8")
    server.config.write_text('[plugins.siglip]\nvariant = "demo"\nthreshold = 0.5\n')
    try:
        page.get_by_role("button", name="Settings").click()
        page.get_by_role("link", name="SigLIP").click()
        expect(page.locator('[data-key="threshold"] .help')).to_contain_text(
            "The config file says 0.5, outside this slider's 0.001-0.1"
        )
        page.get_by_label("Data type").select_option("float32")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#settings-message")).to_contain_text("Saved dtype")
        data = tomllib.loads(server.config.read_text(encoding="utf-8"))
        assert data["plugins"]["siglip"] == {
            "variant": "demo",
            "threshold": 0.5,
            "dtype": "float32",
        }
    finally:
        server.config.write_text(before, encoding="utf-8")
