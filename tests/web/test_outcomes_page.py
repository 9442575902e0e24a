"""The outcomes page: clinicians and admins see response, remission, attendance and make-ups over the courses
completed in a period, beside the published figures, with the courses left out for want of scores named."""
from __future__ import annotations

import re

import pytest

from tests.api.test_outcomes import cohort  # noqa: F401  (the fixture, reused)
from tests.factories import local

PAGE = "/outcomes/"
MARCH = {"from": "2027-03-01", "to": "2027-03-10"}


def test_a_clinician_sees_the_outcomes_with_the_published_figures_and_the_courses_left_out(pages, clock, cohort):  # noqa: F811
    clock.now = local(2027, 3, 20, 12, 0)
    clinician = pages("clinician")

    answer = clinician.get(PAGE, query_string=MARCH)
    html = answer.get_data(as_text=True)

    assert answer.status_code == 200, html
    assert "Oak Health Center Fullerton: Short course of 3" in html
    assert "3 of 4" in html and "75.0%" in html and "30.1% to 95.4%" in html  # response
    assert "2 of 4" in html and "15.0% to 85.0%" in html  # remission
    assert "about 50-60% respond" in html and "about a third remit" in html
    assert "18 given of 18 prescribed" in html and "1 booked for 18 prescribed" in html and "5.6%" in html
    assert "PatientD Cohort" in html and "PatientE Cohort" in html
    assert "PatientA Cohort" not in html  # scored: counted, not listed


def test_the_filters_narrow_the_page(pages, clock, cohort):  # noqa: F811
    clock.now = local(2027, 3, 20, 12, 0)
    clinician = pages("clinician")

    html = clinician.get(PAGE, query_string={**MARCH, "site": "laguna-hills"}).get_data(as_text=True)

    assert "Laguna Hills: Short course of 3" in html
    assert "Fullerton: Short course" not in html


def test_every_control_of_the_filter_form_is_labelled_and_the_page_has_no_inline_script_or_style(pages, clock):
    clock.now = local(2027, 3, 20, 12, 0)
    html = pages("clinician").get(PAGE).get_data(as_text=True)

    form = html.split('aria-label="Choose the courses"', 1)[1].split("</form>", 1)[0]
    ids = re.findall(r'<(?:input|select)[^>]* id="([^"]+)"', form)
    assert sorted(ids) == ["from", "protocol", "site", "to"]
    for control in ids:
        assert f'<label for="{control}">' in form, control
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_no_course_completed_says_so(pages, clock):
    clock.now = local(2027, 3, 20, 12, 0)

    html = pages("admin").get(PAGE, query_string=MARCH).get_data(as_text=True)

    assert "No course was completed in this period" in html


@pytest.mark.parametrize("query", [{"from": "2027-02-30"}, {"from": "2027-03-10", "to": "2027-03-01"},
                                   {"site": "nowhere"}])
def test_a_bad_filter_is_said_on_the_page_422(pages, clock, query):
    clock.now = local(2027, 3, 20, 12, 0)

    answer = pages("clinician").get(PAGE, query_string=query)

    assert answer.status_code == 422
    assert "Refused:" in answer.get_data(as_text=True)


def test_the_menu_offers_outcomes_to_clinicians(pages, clock):
    clock.now = local(2027, 3, 20, 12, 0)

    html = pages("clinician").get(PAGE).get_data(as_text=True)

    assert f'href="{PAGE}"' in html and ">Outcomes</a>" in html


@pytest.mark.parametrize("role", ["front_desk", "technician"])
def test_the_front_desk_and_technicians_may_not_see_the_page_403(pages, clock, role):
    clock.now = local(2027, 3, 20, 12, 0)

    answer = pages(role).get(PAGE)

    assert answer.status_code == 403
    assert "Outcomes" not in answer.get_data(as_text=True).split("<main", 1)[0]
