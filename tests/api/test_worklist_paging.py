"""The worklist pages (limit, offset) in one stable order: most urgent first, then by course id; each
entry says what the course's own progress says."""
from __future__ import annotations

import pytest

from tests.api.test_progress import give, miss
from tests.factories import book_course, create_patient, error_fields, local, session_number, signed_in_at

WORKLIST = "/api/v1/sites/fullerton/worklist"
AT = local(2027, 3, 4, 15, 0)  # Thursday of the courses' first week


@pytest.fixture
def six_courses(front_desk, client, clock) -> list[dict]:
    """Six courses from Monday 2027-03-01: two with two misses in a row, one with an authorization
    running out, three calm (one of them with a treatment given)."""
    courses = []
    for k in range(6):
        body = {}
        if k == 3:
            body["authorization"] = {"sessions": 36, "valid_to": "2027-03-10", "override_reason": "extension requested"}
        desk = signed_in_at(client, clock, local(2027, 2, 20, 10, 0))
        courses.append(book_course(desk, create_patient(desk, first_name=f"Paged{k}")["id"],
                                   preferred_time=f"{7 + k:02d}:00", **body))
    for k in (1, 4):
        miss(client, clock, session_number(courses[k], 1))
        miss(client, clock, session_number(courses[k], 2))
    give(client, clock, session_number(courses[5], 1))
    clock.now = AT
    return courses


def listed(client, clock, **query) -> list[dict]:
    clinician = signed_in_at(client, clock, AT, "clinician")
    answer = clinician.get(WORKLIST, query_string=query)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_pages_put_together_are_the_whole_worklist_in_the_same_order(client, clock, six_courses):
    whole = listed(client, clock)

    assert len(whole) == 6
    ids = [e["course_id"] for e in whole]
    assert ids[:3] == [six_courses[1]["id"], six_courses[4]["id"], six_courses[3]["id"]]  # misses, then authorization
    assert ids[3:] == sorted(ids[3:])  # the calm ones by course id
    for limit in (1, 2, 4, 5):
        pages = [listed(client, clock, limit=limit, offset=offset) for offset in range(0, 6, limit)]
        assert [e["course_id"] for page in pages for e in page] == ids
        assert all(len(page) == limit for page in pages[:-1])


def test_the_same_page_twice_is_the_same(client, clock, six_courses):
    assert listed(client, clock, limit=3, offset=1) == listed(client, clock, limit=3, offset=1)


def test_an_offset_past_the_end_is_an_empty_page(client, clock, six_courses):
    assert listed(client, clock, offset=6) == []
    assert listed(client, clock, limit=500, offset=2**31 - 1) == []


def test_a_flag_filters_before_paging(client, clock, six_courses):
    flagged = listed(client, clock, flag="consecutive_misses", limit=1, offset=1)

    assert [e["course_id"] for e in flagged] == [six_courses[4]["id"]]


def test_each_entry_says_what_the_courses_own_progress_says(client, clock, six_courses):
    clinician = signed_in_at(client, clock, AT, "clinician")
    for entry in listed(client, clock):
        own = clinician.get(f"/api/v1/courses/{entry['course_id']}/progress").json
        assert {k: v for k, v in entry.items() if k != "patient_name"} == own


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"offset": 2**31},
                                   {"limit": "ten"}])
def test_a_limit_or_offset_out_of_bounds_answers_422(client, clock, query):
    clinician = signed_in_at(client, clock, AT, "clinician")

    answer = clinician.get(WORKLIST, query_string=query)

    assert answer.status_code == 422, answer.json
    assert set(query) <= set(error_fields(answer))
