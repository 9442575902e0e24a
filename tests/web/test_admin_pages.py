"""The administrators' pages: sites, chairs, closures, protocols, reminder policy and users, through
the same services as the API; only administrators see them; forms carry their CSRF token; bad input
is a 422 page saying why, a bad id in a URL a 404.

The app clock is at its default (2026-12-01 17:00 UTC); courses are standard 10 Hz courses from
Monday 2027-03-01 at 09:00 in Fullerton.
"""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from tests.conftest import DEMO_PASSWORDS
from tests.factories import book_course, create_patient, session_number, user_id_of, writes_nothing
from tms_scheduler.db import models

ADMIN_PAGES = ("/admin/sites", "/admin/sites/fullerton", "/admin/sites/fullerton/chairs",
               "/admin/sites/fullerton/closures", "/admin/sites/fullerton/reminder-policy", "/admin/protocols",
               "/admin/users")


def text_of(answer) -> str:
    """The page's text, tags dropped and entities read, spaces squeezed: what a reader sees."""
    page = re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(page))


def follow(browser, answer):
    assert answer.status_code == 302, text_of(answer)
    return browser.get(answer.headers["Location"])


@pytest.fixture
def admin_pages(pages):
    return pages("admin")


def chairs_named(db, site_id: str = "fullerton") -> dict[str, models.Chair]:
    with db() as session:
        return {c.name: c for c in session.scalars(select(models.Chair).where(models.Chair.site_id == site_id))}


# --- who sees them

@pytest.mark.parametrize("role", ["clinician", "front_desk", "technician"])
def test_only_an_administrator_sees_the_admin_pages(pages, role):
    browser = pages(role)

    for path in ADMIN_PAGES:
        answer = browser.get(path)
        assert answer.status_code == 403, (role, path)
        assert "may not" in text_of(answer)
    assert browser.post("/admin/sites/fullerton/chairs", {"name": "Chair 9", "coil": "h1"}).status_code == 403


def test_the_administrator_sees_every_admin_page_and_its_menu(admin_pages):
    for path in ADMIN_PAGES:
        assert admin_pages.get(path).status_code == 200, path

    menu = admin_pages.get("/admin/sites").get_data(as_text=True)
    for label, href in (("Sites", "/admin/sites"), ("Protocols", "/admin/protocols"), ("Users", "/admin/users")):
        assert f'href="{href}"' in menu and label in menu


def test_the_menu_shows_no_admin_page_to_the_front_desk(pages):
    page = pages("front_desk").get("/desk/board").get_data(as_text=True)

    assert 'href="/admin/' not in page


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(admin_pages, db):
    admin_pages.get("/admin/sites/fullerton/chairs")

    with writes_nothing(db):
        answer = admin_pages.post("/admin/sites/fullerton/chairs", {"name": "Chair 9", "coil": "h1"}, csrf=False)
        wrong = admin_pages.post("/admin/sites/fullerton/closures",
                                 {"date": "2027-03-03", "reason": "x", "csrf_token": "forged"}, csrf=False)

    assert answer.status_code == 400
    assert wrong.status_code == 400
    assert "Chair 9" not in chairs_named(db)


@pytest.mark.parametrize("path", [
    "/admin/sites/nowhere", "/admin/sites/nowhere/chairs", "/admin/sites/nowhere/closures",
    "/admin/sites/nowhere/reminder-policy", "/admin/sites/Not_A_Slug", "/admin/users?page=0",
    "/admin/users?page=x", "/admin/users?page=%C2%B2",
])
def test_a_bad_id_in_a_url_is_not_found(admin_pages, path):
    assert admin_pages.get(path).status_code == 404


@pytest.mark.parametrize("path", [
    "/admin/sites/fullerton/chairs/999999", "/admin/sites/fullerton/chairs/0", "/admin/sites/laguna-hills/chairs/1",
    "/admin/users/999999/disable", "/admin/users/99999999999/enable", "/admin/users/999999/revoke-tokens",
])
def test_a_post_to_an_unknown_chair_or_user_is_not_found(admin_pages, db, path):
    admin_pages.get("/admin/users")
    fullerton_chair = min(c.id for c in chairs_named(db).values())
    path = path.replace("/chairs/1", f"/chairs/{fullerton_chair}")

    with writes_nothing(db):
        answer = admin_pages.post(path, {"action": "retire"})

    assert answer.status_code == 404


# --- sites

def test_the_sites_page_lists_each_site_with_its_details(admin_pages):
    page = text_of(admin_pages.get("/admin/sites"))

    assert "Fullerton" in page and "Laguna Hills" in page and "Beverly Hills" in page
    assert "America/Los_Angeles" in page
    assert "07:00 to 19:00" in page
    assert "Monday, Tuesday, Wednesday, Thursday, Friday" in page


def test_an_administrator_adds_a_site_and_changes_it(admin_pages, db):
    admin_pages.get("/admin/sites")

    answer = admin_pages.post("/admin/sites", {
        "id": "irvine", "name": "Irvine", "timezone": "America/Los_Angeles", "opens": "08:00", "closes": "18:00",
        "holiday_calendar": "us-clinic", "phone": "(714) 555-0199", "address": "1 Main St", "offers_tms": "1",
        "open_days": ["1", "2", "3", "4", "5", "6"]})

    page = follow(admin_pages, answer)
    assert "Site Irvine added." in text_of(page)
    changed = admin_pages.post("/admin/sites/irvine", {
        "name": "Irvine North", "timezone": "America/Los_Angeles", "opens": "09:00", "closes": "17:30",
        "holiday_calendar": "none", "phone": "", "address": "", "open_days": ["1", "3"]})
    assert "Site Irvine North changed." in text_of(follow(admin_pages, changed))
    with db() as session:
        site = session.get(models.Site, "irvine")
        assert (site.name, site.open_days, site.opens.isoformat(), site.offers_tms) == \
            ("Irvine North", [1, 3], "09:00:00", False)


@pytest.mark.parametrize(("field", "value", "why"), [
    ("opens", "25:00", "Opens: must be HH:MM"),
    ("closes", "7pm", "Closes: must be HH:MM"),
    ("id", "Bad Id", "Id: a slug"),
    ("name", "", "Name:"),
    ("open_days", "9", "Open day 1:"),
])
def test_a_site_form_with_bad_input_is_refused_in_words(admin_pages, db, field, value, why):
    admin_pages.get("/admin/sites")
    form = {"id": "irvine", "name": "Irvine", "timezone": "America/Los_Angeles", "opens": "08:00",
            "closes": "18:00", "holiday_calendar": "us-clinic", "open_days": ["1"], field: value}

    with writes_nothing(db):
        answer = admin_pages.post("/admin/sites", form)

    assert answer.status_code == 422
    assert why in text_of(answer)


def test_a_site_the_service_refuses_is_said_in_words(admin_pages, db):
    admin_pages.get("/admin/sites/fullerton")

    with writes_nothing(db):
        answer = admin_pages.post("/admin/sites/fullerton", {
            "name": "Fullerton", "timezone": "Mars/Olympus", "opens": "08:00", "closes": "18:00",
            "holiday_calendar": "us-clinic", "open_days": ["1"]})

    assert answer.status_code == 422
    assert "Unknown time zone 'Mars/Olympus'" in text_of(answer)


# --- chairs

def test_an_administrator_adds_a_chair(admin_pages, db):
    admin_pages.get("/admin/sites/fullerton/chairs")

    answer = admin_pages.post("/admin/sites/fullerton/chairs", {"name": "Chair 4", "coil": "h1"})

    page = text_of(follow(admin_pages, answer))
    assert "Chair Chair 4 added (h1 coil)." in page
    chair = chairs_named(db)["Chair 4"]
    assert (chair.coil, chair.active, chair.out_of_service_from) == ("h1", True, None)


def test_a_chair_name_taken_or_a_coil_unknown_is_refused_in_words(admin_pages, db):
    taken = next(iter(chairs_named(db)))
    admin_pages.get("/admin/sites/fullerton/chairs")

    with writes_nothing(db):
        twice = admin_pages.post("/admin/sites/fullerton/chairs", {"name": taken, "coil": "h1"})
        odd_coil = admin_pages.post("/admin/sites/fullerton/chairs", {"name": "Chair 9", "coil": "laser"})

    assert twice.status_code == 422
    assert f"The site has a chair named '{taken}' already" in text_of(twice)
    assert odd_coil.status_code == 422
    assert "Coil: Must be one of" in text_of(odd_coil)


def test_an_administrator_renames_retires_and_restores_a_chair(admin_pages, db):
    admin_pages.get("/admin/sites/fullerton/chairs")
    admin_pages.post("/admin/sites/fullerton/chairs", {"name": "Spare", "coil": "h1"})
    chair_id = chairs_named(db)["Spare"].id
    path = f"/admin/sites/fullerton/chairs/{chair_id}"

    assert "Chair renamed Spare 2." in text_of(follow(admin_pages, admin_pages.post(
        path, {"action": "rename", "name": "Spare 2"})))
    assert "Spare 2 retired." in text_of(follow(admin_pages, admin_pages.post(path, {"action": "retire"})))
    assert chairs_named(db)["Spare 2"].active is False
    assert "Spare 2 restored." in text_of(follow(admin_pages, admin_pages.post(path, {"action": "restore"})))
    assert chairs_named(db)["Spare 2"].active is True
    assert admin_pages.post(path, {"action": "explode"}).status_code == 422


def test_a_chair_with_sessions_ahead_is_not_retired_and_the_page_says_why(admin_pages, front_desk, db):
    course = book_course(front_desk)
    chair_id = session_number(course, 1)["chair_id"]
    admin_pages.get("/admin/sites/fullerton/chairs")

    answer = admin_pages.post(f"/admin/sites/fullerton/chairs/{chair_id}", {"action": "retire"})

    assert answer.status_code == 422
    assert "still holds 36 sessions ahead" in text_of(answer)


def test_taking_a_chair_out_of_service_with_replan_says_what_it_hit(admin_pages, front_desk, db):
    course = book_course(front_desk)
    chair_id = session_number(course, 1)["chair_id"]
    admin_pages.get("/admin/sites/fullerton/chairs")

    answer = admin_pages.post(f"/admin/sites/fullerton/chairs/{chair_id}/out-of-service",
                              {"from_date": "2027-03-08", "reason": "coil repair", "replan": "1"})

    page = text_of(follow(admin_pages, answer))
    assert "out of service from Monday 8 March 2027." in page
    assert "It hit 31 booked sessions, all moved." in page
    assert f"Moved course {course['id']}, session 6: from Mon 8 Mar 2027 at 09:00 in" in page
    assert "... and" in page  # the rest counted, not listed
    with db() as session:
        assert session.get(models.Chair, chair_id).out_of_service_from.isoformat() == "2027-03-08"
    # shown once: the next visit no longer carries the report
    assert "It hit" not in text_of(admin_pages.get("/admin/sites/fullerton/chairs"))


@pytest.mark.parametrize(("from_date", "why"), [
    ("1800-01-01", "From date: must be in the years 1900 to 2100"),
    ("2027-02-30", "From date: Not a valid date."),
    ("2026-11-01", "2026-11-01 is in the past"),
])
def test_a_bad_out_of_service_day_is_refused_in_words(admin_pages, db, from_date, why):
    chair_id = min(c.id for c in chairs_named(db).values())
    admin_pages.get("/admin/sites/fullerton/chairs")

    with writes_nothing(db):
        answer = admin_pages.post(f"/admin/sites/fullerton/chairs/{chair_id}/out-of-service",
                                  {"from_date": from_date, "reason": "repair"})

    assert answer.status_code == 422
    assert why in text_of(answer)
    assert chairs_named(db)[next(n for n, c in chairs_named(db).items() if c.id == chair_id)].out_of_service_from \
        is None


# --- closures

def test_closing_a_day_with_booked_sessions_says_what_it_hit_and_where_they_went(admin_pages, front_desk, db):
    courses = [book_course(front_desk, create_patient(front_desk, first_name=name)["id"]) for name in ("Ada", "Bea")]
    admin_pages.get("/admin/sites/fullerton/closures")

    answer = admin_pages.post("/admin/sites/fullerton/closures",
                              {"date": "2027-03-03", "reason": "power outage", "replan": "1"})

    page = text_of(follow(admin_pages, answer))
    assert "Fullerton is closed on Wednesday 3 March 2027: power outage." in page
    assert "What closing on 2027-03-03 hit" in page
    assert "It hit 2 booked sessions, all moved." in page
    for course in courses:
        assert f"Moved course {course['id']}, session 3: from Wed 3 Mar 2027 at 09:00 in" in page
    assert "power outage" in page and "Day board of 2027-03-03" in page
    with db() as session:
        assert session.scalar(select(models.Closure.reason).where(models.Closure.site_id == "fullerton")) == \
            "power outage"


def test_closing_a_day_without_replan_lists_the_sessions_left_to_move(admin_pages, front_desk):
    course = book_course(front_desk)
    admin_pages.get("/admin/sites/fullerton/closures")

    answer = admin_pages.post("/admin/sites/fullerton/closures", {"date": "2027-03-03", "reason": "inspection"})

    page = text_of(follow(admin_pages, answer))
    assert "It hit 1 booked session, left where they are: move them from the day board." in page
    assert f"Still to move: course {course['id']}, session 3, Wed 3 Mar 2027 at 09:00 in" in page


def test_closing_a_day_with_nothing_booked_says_so(admin_pages):
    admin_pages.get("/admin/sites/fullerton/closures")

    answer = admin_pages.post("/admin/sites/fullerton/closures", {"date": "2027-05-05", "reason": "staff day"})

    assert "It hit no booked session: nothing needs moving." in text_of(follow(admin_pages, answer))


@pytest.mark.parametrize(("form", "why"), [
    ({"date": "12/03/2027", "reason": "x"}, "Date: Not a valid date."),
    ({"date": "2101-01-01", "reason": "x"}, "Date: must be in the years 1900 to 2100"),
    ({"date": "2027-03-03", "reason": ""}, "Reason:"),
    ({"date": "2027-03-03", "reason": "x" * 301}, "Reason: Length must be between 1 and 300."),
    ({"date": "2026-01-01", "reason": "x"}, "2026-01-01 is in the past"),
])
def test_a_bad_closure_is_refused_in_words_and_changes_nothing(admin_pages, db, form, why):
    admin_pages.get("/admin/sites/fullerton/closures")

    with writes_nothing(db):
        answer = admin_pages.post("/admin/sites/fullerton/closures", form)

    assert answer.status_code == 422
    assert why in text_of(answer)


def test_closing_a_day_twice_is_refused_in_words(admin_pages):
    admin_pages.get("/admin/sites/fullerton/closures")
    admin_pages.post("/admin/sites/fullerton/closures", {"date": "2027-05-05", "reason": "staff day"})

    answer = admin_pages.post("/admin/sites/fullerton/closures", {"date": "2027-05-05", "reason": "again"})

    assert answer.status_code == 422
    assert "Fullerton is already closed on 2027-05-05" in text_of(answer)


# --- protocols

def test_the_protocols_page_lists_each_protocol_with_its_cadence(admin_pages):
    page = text_of(admin_pages.get("/admin/protocols"))

    assert "tms-10hz-standard" in page
    assert "30 sessions at 5 a week, then 3 sessions at 3 a week, then 2 sessions at 2 a week, then 1 session at " \
           "1 a week" in page


def test_an_administrator_adds_a_protocol_with_phases(admin_pages, db):
    admin_pages.get("/admin/protocols")

    answer = admin_pages.post("/admin/protocols", {
        "id": "itbs-short", "name": "Short iTBS", "coil": "figure-8", "mapping_minutes": "60",
        "session_minutes": "15", "sessions_per_day": "1", "min_gap_minutes": "0",
        "phases-0-sessions": "20", "phases-0-days_per_week": "5", "phases-1-sessions": "4",
        "phases-1-days_per_week": "2"})

    assert "Protocol Short iTBS added: 24 sessions." in text_of(follow(admin_pages, answer))
    with db() as session:
        assert session.get(models.Protocol, "itbs-short").phases == [
            {"sessions": 20, "days_per_week": 5}, {"sessions": 4, "days_per_week": 2}]


@pytest.mark.parametrize(("changes", "why"), [
    ({"phases-0-sessions": "", "phases-0-days_per_week": ""}, "Phases: Length must be between 1 and 10."),
    ({"phases-0-days_per_week": "8"}, "Phase 1, days per week: Must be greater than or equal to 1"),
    ({"phases-0-sessions": "2.5"}, "Phase 1, sessions: Not a valid integer."),
    ({"session_minutes": "99999999999999999999"}, "Session minutes: Must be greater than or equal to 1 and less "
                                                  "than or equal to 480."),
    ({"mapping_minutes": "0"}, "Mapping minutes: Must be greater than or equal to 1"),
    ({"id": "tms-10hz-standard"}, "Protocol 'tms-10hz-standard' exists already"),
])
def test_a_bad_protocol_is_refused_in_words(admin_pages, db, changes, why):
    admin_pages.get("/admin/protocols")
    form = {"id": "p-new", "name": "New", "coil": "figure-8", "mapping_minutes": "60", "session_minutes": "15",
            "phases-0-sessions": "20", "phases-0-days_per_week": "5", **changes}

    with writes_nothing(db):
        answer = admin_pages.post("/admin/protocols", form)

    assert answer.status_code == 422
    assert why in text_of(answer)


# --- reminder policy

def test_the_reminder_policy_page_shows_the_default_policy_in_words(admin_pages):
    page = text_of(admin_pages.get("/admin/sites/fullerton/reminder-policy"))

    assert "A text 2 days before the first visit (mapping)." in page
    assert "The week's schedule every Sunday at 17:00" in page
    assert "Nothing is sent from 21:00 to 08:00" in page


def test_an_administrator_sets_the_reminder_policy(admin_pages, app):
    admin_pages.get("/admin/sites/fullerton/reminder-policy")

    answer = admin_pages.post("/admin/sites/fullerton/reminder-policy", {
        "rules-0-applies_to": "every", "rules-0-minutes_before": "1440",
        "rules-1-applies_to": "first", "rules-1-minutes_before": "2880",
        "rules-2-applies_to": "", "rules-2-minutes_before": "",
        "digest": "1", "digest_weekday": "6", "digest_time": "10:00",
        "quiet_start": "20:00", "quiet_end": "09:00"})

    page = text_of(follow(admin_pages, answer))
    assert "Reminder policy of Oak Health Center Fullerton set" in page
    assert "A text 1 day before every session." in page
    assert "The week's schedule every Saturday at 10:00" in page
    from tms_scheduler.services import reminders

    policy = reminders.get_policy(app.extensions["tms"].runtime, "fullerton")
    assert [(r.applies_to, r.minutes_before) for r in policy.rules] == [("every", 1440), ("first", 2880)]
    assert (policy.digest.weekday, policy.quiet_start.isoformat()) == (6, "20:00:00")


def test_a_policy_without_digest_or_rules_is_set(admin_pages):
    admin_pages.get("/admin/sites/fullerton/reminder-policy")

    answer = admin_pages.post("/admin/sites/fullerton/reminder-policy",
                              {"digest_weekday": "7", "digest_time": "17:00", "quiet_start": "21:00",
                               "quiet_end": "21:00"})

    page = text_of(follow(admin_pages, answer))
    assert "No reminder before sessions." in page and "No weekly schedule text." in page
    assert "No quiet hours." in page


@pytest.mark.parametrize(("changes", "why"), [
    ({"rules-0-minutes_before": "0"}, "Rule 1, minutes before: Must be greater than or equal to 1"),
    ({"rules-0-minutes_before": "soon"}, "Rule 1, minutes before: Not a valid integer."),
    ({"rules-0-applies_to": "sometimes"}, "Rule 1, applies to: Must be one of"),
    ({"quiet_start": "9pm"}, "Quiet start: must be HH:MM"),
    ({"digest": "1", "digest_time": "24:00"}, "Weekly digest, time: must be HH:MM"),
    ({"digest": "1", "digest_weekday": "8"}, "Weekly digest, weekday: Must be greater than or equal to 1"),
    ({"rules-1-applies_to": "every", "rules-1-minutes_before": "1440"}, "is given twice"),
])
def test_a_bad_reminder_policy_is_refused_in_words(admin_pages, db, changes, why):
    admin_pages.get("/admin/sites/fullerton/reminder-policy")
    form = {"rules-0-applies_to": "every", "rules-0-minutes_before": "1440", "digest_weekday": "7",
            "digest_time": "17:00", "quiet_start": "21:00", "quiet_end": "08:00", **changes}

    with writes_nothing(db):
        answer = admin_pages.post("/admin/sites/fullerton/reminder-policy", form)

    assert answer.status_code == 422
    assert why in text_of(answer)


# --- users

def test_the_users_page_lists_the_users_with_their_roles(admin_pages):
    page = text_of(admin_pages.get("/admin/users"))

    for username, _ in DEMO_PASSWORDS.values():
        assert username in page
    assert "front desk" in page and "admin (you)" in page


def test_an_administrator_adds_a_user_who_then_signs_in(admin_pages, pages):
    admin_pages.get("/admin/users")

    answer = admin_pages.post("/admin/users", {"username": "newtech", "role": "technician",
                                               "password": "correct-horse-staple"})

    assert "User newtech added as technician." in text_of(follow(admin_pages, answer))
    browser = pages()
    browser.get("/sign-in")
    assert browser.post("/sign-in", {"username": "newtech", "password": "correct-horse-staple"}).status_code == 302


@pytest.mark.parametrize(("password", "why"), [
    ("short", "The password is too short: it needs at least 12 characters"),
    ("newtech-is-my-name", "The password contains the username"),
    ("aaaaaaaaaaaaaaab", "The password repeats too few characters"),
    ("", "Password: enter a password"),
])
def test_a_weak_password_is_refused_in_words(admin_pages, db, password, why):
    admin_pages.get("/admin/users")

    with writes_nothing(db):
        answer = admin_pages.post("/admin/users", {"username": "newtech", "role": "technician",
                                                   "password": password})

    assert answer.status_code == 422
    assert why in text_of(answer)
    assert f'value="{password}"' not in answer.get_data(as_text=True), "the refused password is not sent back"


def test_a_user_with_a_bad_name_or_role_or_a_taken_name_is_refused_in_words(admin_pages, db):
    admin_pages.get("/admin/users")

    with writes_nothing(db):
        bad_name = admin_pages.post("/admin/users", {"username": "a b", "role": "technician",
                                                     "password": "correct-horse-staple"})
        bad_role = admin_pages.post("/admin/users", {"username": "someone", "role": "janitor",
                                                     "password": "correct-horse-staple"})
        taken = admin_pages.post("/admin/users", {"username": "frontdesk", "role": "technician",
                                                  "password": "correct-horse-staple"})

    assert (bad_name.status_code, bad_role.status_code, taken.status_code) == (422, 422, 422)
    assert "Username: String does not match expected pattern." in text_of(bad_name)
    assert "Role: Must be one of" in text_of(bad_role)
    assert "User 'frontdesk' exists already" in text_of(taken)


def test_a_disabled_user_is_signed_out_and_cannot_sign_in_until_enabled(admin_pages, pages, db):
    technician = pages("technician")
    assert technician.get("/desk/board").status_code == 200
    user_id = user_id_of(db, "technician")
    admin_pages.get("/admin/users")

    answer = admin_pages.post(f"/admin/users/{user_id}/disable")

    assert "technician is disabled" in text_of(follow(admin_pages, answer))
    assert technician.get("/desk/board").status_code == 302  # to the sign-in page
    username, password = DEMO_PASSWORDS["technician"]
    again = pages()
    again.get("/sign-in")
    refused = again.post("/sign-in", {"username": username, "password": password})
    assert refused.status_code == 401
    assert "The name or the password is wrong." in text_of(refused)

    enabled = admin_pages.post(f"/admin/users/{user_id}/enable")
    assert "technician is enabled" in text_of(follow(admin_pages, enabled))
    assert again.post("/sign-in", {"username": username, "password": password}).status_code == 302


def test_an_administrator_may_not_disable_themself(admin_pages, db):
    admin_pages.get("/admin/users")

    answer = admin_pages.post(f"/admin/users/{user_id_of(db, 'admin')}/disable")

    assert "You may not disable your own account" in text_of(follow(admin_pages, answer))
    assert admin_pages.get("/admin/users").status_code == 200


def test_revoking_a_users_tokens_signs_them_out(admin_pages, pages, db):
    clinician = pages("clinician")
    assert clinician.get("/desk/board").status_code == 200
    admin_pages.get("/admin/users")

    answer = admin_pages.post(f"/admin/users/{user_id_of(db, 'clinician')}/revoke-tokens")

    assert "1 sign-in of user" in text_of(follow(admin_pages, answer))
    assert clinician.get("/desk/board").status_code == 302
