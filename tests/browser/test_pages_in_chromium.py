"""The pages as a person uses them: in headless Chromium, through the forms, with axe-core on each page.

The app's clock is fixed (tests/conftest.py: 2026-12-01 17:00 UTC), so "today" is that day at each site.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.browser.conftest import DESKTOP, TABLET, TIMEOUT_MS, axe_check, screenshot, sign_in, watch
from tms_scheduler.web import core


def _page_refused_to(app, role: str) -> str | None:
    """A page (GET, no arguments) the role may not see, preferring the administrators' pages; None if the
    app has none yet."""
    refused = []
    for rule in app.url_map.iter_rules():
        op = core.PAGE_RULES.get(rule.endpoint)
        if op is not None and "GET" in (rule.methods or ()) and not rule.arguments and role not in op.roles:
            refused.append(rule.rule)
    refused.sort(key=lambda path: (not path.startswith("/admin/"), path))
    return refused[0] if refused else None


def test_the_front_desk_signs_in_and_sees_the_day_board(page, artifacts):
    sign_in(page, "front_desk")

    assert page.url.endswith("/desk/board")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Day board:")
    assert page.get_by_role("button", name="Sign out").is_visible()
    axe_check(page)
    screenshot(page, artifacts, "board", DESKTOP)
    screenshot(page, artifacts, "board", TABLET)
    axe_check(page)  # the narrower layout too


def test_a_technician_is_refused_a_page_not_for_their_role(page, app):
    target = _page_refused_to(app, "technician")
    if target is None:
        pytest.skip("no page yet that a technician may not see")
    sign_in(page, "technician")

    answer = page.goto(target)

    assert answer is not None and answer.status == 403, (target, answer and answer.status)
    assert "A technician may not" in page.get_by_role("alert").inner_text(), target
    assert page.get_by_role("heading", level=1).inner_text() == "Not for your role"
    axe_check(page)


def test_a_form_sent_without_its_csrf_token_is_refused(page):
    sign_in(page, "front_desk")
    sign_out = page.locator("form.who")
    sign_out.locator("input[name=csrf_token]").evaluate("field => field.remove()")

    with page.expect_navigation() as navigation:
        sign_out.get_by_role("button", name="Sign out").click()

    answer = navigation.value
    assert answer is not None and answer.status == 400
    assert "did not come from this service" in page.get_by_role("alert").inner_text()
    # Still signed in: the refused form changed nothing.
    page.goto("/desk/board")
    assert page.url.endswith("/desk/board"), page.url
    axe_check(page)


def test_signing_out_ends_the_session(page):
    sign_in(page, "front_desk")

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    assert "/sign-in" in page.url
    page.goto("/desk/board")
    assert "/sign-in?next=" in page.url, page.url
    axe_check(page)


def test_the_keyboard_alone_signs_in_skips_to_the_content_and_reaches_the_menu(page):
    """Keyboard-friendly: Tab, typing and Enter do what the mouse does; on a page, the first Tab offers the
    skip link, and the focused control is outlined."""
    from tests.conftest import DEMO_PASSWORDS

    username, password = DEMO_PASSWORDS["front_desk"]
    page.goto("/sign-in")
    assert page.evaluate("document.activeElement.id") == "username", "the sign-in page starts in its first field"
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/desk/board" in page.url

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert "Day board" in reached and "Patients" in reached, reached
    page.get_by_role("link", name="Patients").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # back on "Patients", focused by the keyboard
    focused = page.evaluate("[document.activeElement.textContent.trim(), "
                            "document.activeElement.matches(':focus-visible'), "
                            "getComputedStyle(document.activeElement).outlineStyle]")
    assert focused[0] == "Patients" and focused[1] and focused[2] != "none", \
        f"the focused control shows where the focus is: {focused}"


def test_the_pages_keep_to_the_content_security_policy(browser, live_server, artifacts):
    """The other tests bypass the CSP to inject axe-core; this one keeps it: on the sign-in page and each
    role's first page the browser refuses no script or style, and every stylesheet and script loads."""
    for role in ("front_desk", "technician", "clinician", "admin"):
        context = browser.new_context(base_url=live_server.base_url, viewport=DESKTOP)
        context.set_default_timeout(TIMEOUT_MS)
        try:
            tab = context.new_page()
            problems: list[str] = []
            watch(tab, problems)
            tab.on("console", lambda message, seen=problems: seen.append(message.text)
                   if "Content Security Policy" in message.text else None)
            answer = tab.goto("/sign-in")
            assert answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
            sign_in(tab, role)
            tab.wait_for_load_state("load")
            screenshot(tab, artifacts, f"{role}-first-page-with-csp")
            assert not problems, (role, tab.url, problems)
        finally:
            context.close()


@pytest.mark.parametrize("role", ["front_desk", "technician", "clinician", "admin"])
def test_every_page_in_a_roles_menu_passes_axe(page, role, artifacts):
    sign_in(page, role)
    menu = page.get_by_role("navigation", name="Pages").get_by_role("link")
    links = [(menu.nth(i).inner_text(), menu.nth(i).get_attribute("href")) for i in range(menu.count())]
    assert links, f"{role} sees no menu"

    for label, href in links:
        answer = page.goto(href or "")
        assert answer is not None and answer.status == 200, (role, label, href, answer and answer.status)
        axe_check(page)
        screenshot(page, artifacts, re.sub(r"\W+", "-", label.lower()))


# --- the role pages, end to end

def _has_page(app, endpoint: str) -> bool:
    return endpoint in app.view_functions and endpoint in core.PAGE_RULES


def _needs_pages(app, *endpoints: str) -> None:
    missing = [e for e in endpoints if not _has_page(app, e)]
    if missing:
        pytest.skip(f"pages not there yet: {', '.join(missing)}")


def test_the_front_desk_registers_a_patient_books_a_course_and_sees_it_on_the_board(page, app, artifacts):
    _needs_pages(app, "front_desk.intake", "front_desk.patient", "front_desk.book", "front_desk.course")
    sign_in(page, "front_desk")

    page.goto("/desk/patients/new")
    axe_check(page)
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Browser")
    page.get_by_label("Date of birth").fill("1961-04-09")
    page.get_by_label("Mobile phone").fill("(714) 555-0177")
    page.get_by_label("Agrees to text reminders").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Register").click()
    assert "Rosa Browser registered." in page.get_by_role("status").inner_text()
    axe_check(page)

    page.get_by_role("link", name="Book a course for Rosa").click()
    page.get_by_label("Protocol", exact=True).select_option("tms-10hz-standard")
    page.get_by_label("Site", exact=True).select_option("fullerton")
    page.get_by_label("First day").fill("2026-12-02")  # the day after the test's "today"
    page.get_by_label("Preferred time (site's local time)").fill("09:00")
    with page.expect_navigation():
        page.get_by_role("button", name="Find start times").click()
    assert page.get_by_role("radio", name="09:00").is_checked()
    axe_check(page)
    screenshot(page, artifacts, "start-times", DESKTOP)
    with page.expect_navigation():
        page.get_by_role("button", name="Book the whole course").click()

    assert "/desk/courses/" in page.url
    assert "Course booked:" in page.get_by_role("status").inner_text()
    assert "Wednesday 2 December 2026 at 09:00" in page.get_by_role("status").inner_text()
    axe_check(page)
    screenshot(page, artifacts, "course", DESKTOP)

    page.goto("/desk/board?site=fullerton&date=2026-12-02")
    board = page.locator("table.board")
    assert board.get_by_role("row", name="09:00").get_by_role("link", name="Rosa Browser", exact=True).count() == 1
    axe_check(page)
    screenshot(page, artifacts, "board-with-course", DESKTOP)
    screenshot(page, artifacts, "board-with-course", TABLET)


def _book_through_the_api(live_server, start: str) -> dict:
    """A patient and a course booked by the front desk over the API, as set-up for a chairside test."""
    token = live_server.sign_in("front_desk")
    patient = live_server.request("POST", "/api/v1/patients", {
        "first_name": "Ines", "last_name": "Chairside", "date_of_birth": "1970-02-03", "phone": "(714) 555-0188",
        "language": "en", "sms_consent": True}, token=token)
    assert patient.status == 201, patient
    course = live_server.request("POST", "/api/v1/courses", {
        "patient_id": patient.body["id"], "site_id": "fullerton", "protocol_id": "tms-10hz-standard",
        "start_date": start, "preferred_time": "09:00"}, token=token)
    assert course.status == 201, course
    return course.body


def test_a_technician_checks_a_patient_in_and_completes_the_session(page, app, clock, live_server, artifacts):
    _needs_pages(app, "technician.today", "technician.record", "technician.check_in")
    _book_through_the_api(live_server, "2026-12-02")
    clock.now = datetime(2026, 12, 2, 16, 55, tzinfo=UTC)  # 08:55 in Fullerton, the course's first morning
    sign_in(page, "technician")

    page.goto("/chair/today?site=fullerton")
    assert "Wednesday 2 December 2026" in page.get_by_role("heading", level=1).inner_text()
    axe_check(page)
    screenshot(page, artifacts, "today", TABLET)
    row = page.get_by_role("row").filter(has_text="Ines Chairside")
    row.get_by_role("link", name=re.compile("treatment", re.IGNORECASE)).click()
    with page.expect_navigation():
        page.get_by_role("button", name="Check in Ines Chairside").click()
    assert "checked in" in page.get_by_role("status").inner_text()
    axe_check(page)

    page.get_by_label("Motor threshold (required)", exact=True).fill("55")
    page.get_by_label("Intensity (required)", exact=True).fill("120")
    page.get_by_label("Frequency", exact=True).fill("10")
    page.get_by_label("Pulses", exact=True).fill("3000")
    page.get_by_label("Headache", exact=True).check()
    page.get_by_label("Discomfort", exact=True).fill("2")
    screenshot(page, artifacts, "record", TABLET)
    with page.expect_navigation():
        page.get_by_role("button", name="Complete session 1 and save the record").click()

    assert "/chair/today" in page.url
    assert "Session 1 for Ines Chairside completed" in page.get_by_role("status").inner_text()
    assert "Given (completed)" in page.get_by_role("row").filter(has_text="Ines Chairside").inner_text()
    axe_check(page)


def test_a_clinician_opens_a_course_chart_from_the_worklist_and_the_outcomes_page(page, app, live_server, artifacts):
    _needs_pages(app, "clinician.worklist", "clinician.course", "outcomes.summary")
    course = _book_through_the_api(live_server, "2026-12-02")
    token = live_server.sign_in("clinician")
    baseline = live_server.request("POST", f"/api/v1/courses/{course['id']}/assessments",
                                   {"instrument": "PHQ-9", "score": 22, "taken_on": "2026-12-01"}, token=token)
    assert baseline.status == 201, baseline
    sign_in(page, "clinician")

    page.goto("/clinic/worklist?site=fullerton")
    axe_check(page)
    page.get_by_role("link", name="Ines Chairside").first.click()
    assert page.url.endswith(f"/clinic/courses/{course['id']}")
    assert "Ines Chairside" in page.get_by_role("heading", level=1).inner_text()
    axe_check(page)
    page.get_by_label("Score (0 to 27)").fill("11")
    with page.expect_navigation():
        page.get_by_role("button", name="Record the score").click()
    assert "PHQ-9 score 11 of 1 December 2026 recorded." in page.get_by_role("status").inner_text()
    assert page.get_by_role("row").filter(has_text="-50.0%").count() == 1  # half the baseline of 22
    axe_check(page)
    screenshot(page, artifacts, "course-chart", DESKTOP)
    screenshot(page, artifacts, "course-chart", TABLET)

    page.get_by_role("link", name="Outcomes").click()
    assert "/outcomes/" in page.url
    axe_check(page)
    screenshot(page, artifacts, "outcomes", DESKTOP)
