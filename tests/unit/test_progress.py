"""How a course is going: counts and the flags clinicians act on (DOMAIN.md, attendance; authorization)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tms_scheduler.domain.lifecycle import CANCELLED, CHECKED_IN, COMPLETED, NO_SHOW, SCHEDULED
from tms_scheduler.domain.planning import MAKEUP, TAPER, TREATMENT
from tms_scheduler.domain.progress import (
    FLAG_ORDER,
    AuthorizationFact,
    Flag,
    SessionFact,
    authorization_expiring,
    consecutive_misses,
    daily_phase_over_6_weeks,
    gap_over_7_days,
    low_week,
    mt_recheck_due,
    progress,
    urgency,
)

from .clinic import la, plan, site, weekdays_from

MON = date(2027, 3, 1)  # session 1; the daily phase runs to Fri 9 April, the taper to Wed 28 April
WEEK2 = date(2027, 3, 8)  # Monday of week 2: sessions 6-10
WEEK3 = date(2027, 3, 15)  # Monday of week 3: sessions 11-15


def _by(status: str, by: str | None) -> str | None:
    """Who cancelled: the patient, unless the test names someone else."""
    return (by or "patient") if status == CANCELLED else None


def course(statuses: dict[int, str] | None = None, *, given_through: int = 0, start: date = MON,
           by: dict[int, str] | None = None) -> list[SessionFact]:
    """The standard 36-session course from `start` at 09:00; sessions up to `given_through` completed.

    Cancelled sessions were cancelled by the patient unless `by` names who did."""
    statuses, by = statuses or {}, by or {}
    facts = []
    for p in plan("tms-10hz-standard", start):
        status = statuses.get(p.number, COMPLETED if p.number <= given_through else SCHEDULED)
        facts.append(SessionFact(p.number, p.kind, status, p.day, p.starts_at, _by(status, by.get(p.number))))
    return facts


def fact(number: int, day: date, status: str, kind: str = TREATMENT, by: str | None = None) -> SessionFact:
    return SessionFact(number, kind, status, day, la(day, 9), _by(status, by))


def noon(day: date):
    return la(day, 12)


def codes(flags: list[Flag]) -> list[str]:
    return [f.code for f in flags]


# --- consecutive misses -----------------------------------------------------------------------------

def test_two_misses_in_a_row_are_flagged():
    sessions = course({5: NO_SHOW, 6: NO_SHOW}, given_through=4)
    assert consecutive_misses(sessions).code == "consecutive_misses"


def test_a_single_miss_is_not_flagged():
    sessions = course({6: NO_SHOW}, given_through=5)
    assert consecutive_misses(sessions) is None


def test_a_completed_session_after_two_misses_breaks_the_run():
    sessions = course({5: NO_SHOW, 6: NO_SHOW}, given_through=7)
    assert consecutive_misses(sessions) is None


def test_a_cancellation_by_the_patient_counts_as_a_miss():
    sessions = course({5: CANCELLED, 6: NO_SHOW}, given_through=4, by={5: "patient"})
    assert consecutive_misses(sessions) is not None


def test_the_flag_says_how_many_sessions_were_missed_in_a_row_and_from_which_day():
    sessions = course({4: NO_SHOW, 5: NO_SHOW, 6: CANCELLED}, given_through=3)
    assert consecutive_misses(sessions).message == "3 sessions missed in a row from 2027-03-04"


def test_misses_before_the_last_session_given_are_not_flagged():
    sessions = course({3: NO_SHOW, 4: NO_SHOW}, given_through=6)
    assert consecutive_misses(sessions) is None


def test_two_sessions_cancelled_ahead_by_the_patient_flag_the_course_now():
    sessions = course({7: CANCELLED, 8: CANCELLED}, given_through=6)  # Tue and Wed of week 2
    result = progress_of(sessions, day=WEEK2)  # Monday noon: neither has come yet
    assert "consecutive_misses" in codes(result.flags)


def test_sessions_still_scheduled_after_a_run_of_misses_do_not_clear_it():
    sessions = course({5: NO_SHOW, 6: NO_SHOW}, given_through=4)  # 7 (Tue) still scheduled, its time passed
    assert consecutive_misses(sessions) is not None


def test_a_session_still_scheduled_between_two_misses_makes_them_not_consecutive():
    sessions = course({5: NO_SHOW, 7: NO_SHOW}, given_through=4)  # 6 (Mon) past but not marked
    assert consecutive_misses(sessions) is None


@pytest.mark.parametrize("by", ["clinic", "closure", "pause", "course_cancel"])
def test_sessions_cancelled_by_anyone_but_the_patient_are_not_misses(by):
    sessions = course({7: CANCELLED, 8: CANCELLED}, given_through=6, by={7: by, 8: by})
    assert consecutive_misses(sessions) is None


@pytest.mark.parametrize("by", ["clinic", "closure"])
def test_a_cancellation_by_the_clinic_or_a_closure_does_not_break_a_run_of_misses(by):
    sessions = course({5: NO_SHOW, 6: CANCELLED, 7: CANCELLED}, given_through=4, by={6: by})
    assert consecutive_misses(sessions).message == "2 sessions missed in a row from 2027-03-05"


def test_a_no_show_then_a_completed_session_then_a_no_show_is_not_flagged():
    sessions = course({5: NO_SHOW, 6: COMPLETED, 7: NO_SHOW}, given_through=4)
    assert consecutive_misses(sessions) is None


def test_a_run_of_misses_is_no_longer_flagged_once_a_session_after_it_is_given():
    cancelled_ahead = {8: CANCELLED, 9: CANCELLED}  # by the patient, on Monday of week 2
    assert consecutive_misses(course(cancelled_ahead, given_through=7)) is not None
    assert consecutive_misses(course({**cancelled_ahead, 10: COMPLETED}, given_through=7)) is None


def test_a_session_given_after_a_run_clears_it_even_with_a_session_not_yet_marked_in_between():
    sessions = course({5: NO_SHOW, 6: NO_SHOW, 8: COMPLETED}, given_through=4)  # 7 (Tue) not marked yet
    assert consecutive_misses(sessions) is None


def test_the_flag_names_the_longest_run_not_yet_followed_by_a_session_given():
    sessions = course({5: NO_SHOW, 6: NO_SHOW, 8: CANCELLED, 9: CANCELLED, 10: CANCELLED}, given_through=4)
    assert consecutive_misses(sessions).message == "3 sessions missed in a row from 2027-03-10"


# --- a low week -------------------------------------------------------------------------------------------

def test_a_past_daily_week_with_fewer_than_3_sessions_given_is_flagged():
    sessions = course({6: NO_SHOW, 7: NO_SHOW, 8: CANCELLED, 9: COMPLETED, 10: COMPLETED}, given_through=5)
    assert low_week(sessions, WEEK3 + timedelta(days=2)).code == "low_week"


def test_the_low_week_flag_names_the_week_and_the_sessions_given():
    sessions = course({6: NO_SHOW, 7: NO_SHOW, 8: CANCELLED, 9: NO_SHOW, 10: COMPLETED}, given_through=5)
    assert low_week(sessions, WEEK3).message == f"only 1 session given in the week of {WEEK2}"


def test_a_past_week_with_3_sessions_given_is_not_flagged():
    sessions = course({6: NO_SHOW, 7: NO_SHOW}, given_through=10)
    assert low_week(sessions, WEEK3) is None


def test_only_the_week_before_this_one_is_judged():
    sessions = course({11: NO_SHOW, 12: NO_SHOW, 13: NO_SHOW}, given_through=10)  # this week is poor
    assert low_week(sessions, WEEK3 + timedelta(days=3)) is None


def test_a_first_half_week_with_fewer_than_3_sessions_planned_is_not_flagged():
    thursday = date(2027, 3, 4)
    sessions = course({1: NO_SHOW, 2: NO_SHOW}, start=thursday)  # Thu and Fri, both missed
    assert low_week(sessions, WEEK2 + timedelta(days=1)) is None


def test_a_first_week_with_3_sessions_planned_and_fewer_given_is_flagged():
    wednesday = date(2027, 3, 3)
    sessions = course({1: COMPLETED, 2: NO_SHOW, 3: NO_SHOW}, start=wednesday)
    assert low_week(sessions, WEEK2 + timedelta(days=1)) is not None


def test_a_taper_week_with_fewer_than_3_sessions_given_is_not_flagged():
    sessions = course({31: NO_SHOW, 32: NO_SHOW}, given_through=33)  # week of 12 April: Mon, Wed, Fri
    assert low_week(sessions, date(2027, 4, 20)) is None


def test_a_week_before_the_course_began_is_not_flagged():
    assert low_week(course(), MON + timedelta(days=2)) is None


# --- a gap of more than 7 days -----------------------------------------------------------------------------

def test_more_than_7_days_to_the_next_session_is_flagged():
    sessions = [fact(1, MON, COMPLETED), fact(2, date(2027, 3, 9), SCHEDULED)]  # 8 days
    assert gap_over_7_days(sessions, date(2027, 3, 2)).code == "gap_over_7_days"


def test_exactly_7_days_to_the_next_session_is_not_flagged():
    sessions = [fact(1, MON, COMPLETED), fact(2, date(2027, 3, 8), SCHEDULED)]
    assert gap_over_7_days(sessions, date(2027, 3, 2)) is None


def test_more_than_7_days_since_the_last_session_with_nothing_ahead_is_flagged():
    sessions = [fact(1, MON, COMPLETED), fact(2, date(2027, 3, 2), CANCELLED)]
    assert gap_over_7_days(sessions, date(2027, 3, 9)) is not None


def test_a_course_that_owes_no_more_sessions_has_no_gap_to_today():
    sessions = [fact(1, MON, COMPLETED)]
    assert gap_over_7_days(sessions, date(2027, 3, 30), owes_more=False) is None


def test_a_finished_course_is_not_flagged_for_the_days_since_its_last_session():
    sessions = [fact(n, MON + timedelta(days=n - 1), COMPLETED) for n in range(1, 4)]
    result = progress(sessions, 3, None, noon(date(2027, 4, 30)), MON_TO_FRI)
    assert "gap_over_7_days" not in codes(result.flags)


def test_7_days_since_the_last_session_with_nothing_ahead_is_not_flagged():
    sessions = [fact(1, MON, COMPLETED)]
    assert gap_over_7_days(sessions, date(2027, 3, 8)) is None


def test_missed_sessions_do_not_close_a_gap_between_treatments():
    sessions = [fact(1, MON, COMPLETED), *[fact(n, MON + timedelta(days=n - 1), NO_SHOW) for n in range(2, 10)],
                fact(10, date(2027, 3, 10), COMPLETED)]
    assert gap_over_7_days(sessions, date(2027, 3, 11)).message == f"9 days between treatments after {MON}"


def test_only_the_next_upcoming_session_counts_towards_a_gap():
    sessions = [fact(1, MON, COMPLETED), fact(2, date(2027, 3, 3), SCHEDULED), fact(3, date(2027, 3, 31), SCHEDULED)]
    assert gap_over_7_days(sessions, date(2027, 3, 2)) is None


def test_a_course_with_no_session_given_has_no_gap():
    sessions = [fact(1, MON, NO_SHOW), fact(2, date(2027, 3, 20), SCHEDULED)]
    assert gap_over_7_days(sessions, date(2027, 3, 12)) is None


def test_a_course_given_every_weekday_has_no_gap():
    assert gap_over_7_days(course(given_through=12), date(2027, 3, 17)) is None


# --- a daily phase past 6 weeks ---------------------------------------------------------------------------

MON_TO_FRI = site()
MON_TO_SAT = site(open_days={1, 2, 3, 4, 5, 6})
HOLIDAYS_START = date(2027, 11, 29)  # a Monday; Christmas and New Year are observed on Fri 24 and Fri 31 December


def daily_phase(calendar, count: int, start: date = HOLIDAYS_START) -> list[SessionFact]:
    """`count` daily sessions on the site's first `count` open days from `start`, still to come."""
    return [fact(n, day, SCHEDULED) for n, day in enumerate(weekdays_from(start, count, calendar), start=1)]


def test_a_daily_phase_within_6_weeks_is_not_flagged():
    assert daily_phase_over_6_weeks(course(), MON_TO_FRI) is None  # Mon 1 March to Fri 9 April; the taper runs on


def test_a_make_up_in_week_7_of_the_daily_phase_is_flagged():
    sessions = [*course({5: NO_SHOW}), fact(37, date(2027, 4, 12), SCHEDULED, MAKEUP)]
    assert daily_phase_over_6_weeks(sessions, MON_TO_FRI).code == "daily_phase_over_6_weeks"


def test_a_daily_session_on_the_30th_open_day_is_not_past_6_weeks():
    tuesday = date(2027, 3, 2)  # to Monday 12 April: 30 weekdays, no holiday
    sessions = [fact(1, tuesday, COMPLETED), fact(2, tuesday + timedelta(days=41), SCHEDULED)]
    assert daily_phase_over_6_weeks(sessions, MON_TO_FRI) is None


def test_a_daily_session_on_the_31st_open_day_is_past_6_weeks():
    tuesday = date(2027, 3, 2)
    sessions = [fact(1, tuesday, COMPLETED), fact(2, tuesday + timedelta(days=42), SCHEDULED)]
    assert daily_phase_over_6_weeks(sessions, MON_TO_FRI) is not None


def test_a_missed_daily_session_past_6_weeks_is_not_flagged():
    sessions = [*course(), fact(37, date(2027, 4, 12), NO_SHOW, MAKEUP)]
    assert daily_phase_over_6_weeks(sessions, MON_TO_FRI) is None


def test_the_six_weeks_count_from_the_first_session_even_if_it_was_missed():
    sessions = course({1: CANCELLED})  # the course began on 1 March all the same
    moved = [s for s in sessions if s.number != 30] + [fact(30, date(2027, 4, 12), SCHEDULED)]
    assert daily_phase_over_6_weeks(moved, MON_TO_FRI) is not None


def test_a_course_booked_across_the_december_holidays_is_not_flagged():
    sessions = course(start=HOLIDAYS_START)  # 30 daily sessions to Tue 11 January 2028: 44 calendar days
    assert max(s.day for s in sessions if s.kind != TAPER) == date(2028, 1, 11)
    assert daily_phase_over_6_weeks(sessions, MON_TO_FRI) is None


def test_a_make_up_on_the_31st_open_day_across_the_december_holidays_is_flagged():
    sessions = [*course({5: NO_SHOW}, start=HOLIDAYS_START), fact(37, date(2028, 1, 12), SCHEDULED, MAKEUP)]
    flag = daily_phase_over_6_weeks(sessions, MON_TO_FRI)
    assert flag.message == ("the daily phase runs from 2027-11-29 to 2028-01-12, 31 open days: "
                            "past 6 weeks (30)")


def test_a_closure_of_the_site_does_not_count_as_an_open_day_of_the_daily_phase():
    closed = site(closures=frozenset({date(2027, 3, 10)}))
    sessions = daily_phase(closed, 30, start=MON)  # to Mon 12 April, over the closure
    assert daily_phase_over_6_weeks(sessions, closed) is None


def test_a_monday_to_saturday_site_allows_36_open_days_of_daily_phase():
    assert daily_phase_over_6_weeks(daily_phase(MON_TO_SAT, 36), MON_TO_SAT) is None


def test_a_monday_to_saturday_site_flags_37_open_days_of_daily_phase():
    assert daily_phase_over_6_weeks(daily_phase(MON_TO_SAT, 37), MON_TO_SAT) is not None


# --- authorization -------------------------------------------------------------------------------------

TODAY = date(2027, 4, 1)


def test_no_authorization_is_not_flagged():
    assert authorization_expiring(None, 35, TODAY) is None


def test_5_authorized_sessions_left_is_flagged():
    flag = authorization_expiring(AuthorizationFact(36, None), 31, TODAY)
    assert (flag.code, flag.message) == ("authorization_expiring", "5 authorized sessions left")


def test_6_authorized_sessions_left_is_not_flagged():
    assert authorization_expiring(AuthorizationFact(36, None), 30, TODAY) is None


def test_sessions_used_beyond_the_authorization_leave_0():
    assert authorization_expiring(AuthorizationFact(20, None), 22, TODAY).message == "0 authorized sessions left"


def test_an_authorization_ending_in_10_days_is_flagged():
    flag = authorization_expiring(AuthorizationFact(None, TODAY + timedelta(days=10)), 0, TODAY)
    assert flag.message == f"authorization ends {TODAY + timedelta(days=10)}"


def test_an_authorization_ending_in_11_days_is_not_flagged():
    assert authorization_expiring(AuthorizationFact(None, TODAY + timedelta(days=11)), 0, TODAY) is None


def test_an_authorization_already_ended_is_flagged():
    assert authorization_expiring(AuthorizationFact(36, TODAY - timedelta(days=1)), 0, TODAY) is not None


def test_an_authorization_without_count_or_end_is_not_flagged():
    assert authorization_expiring(AuthorizationFact(None, None), 30, TODAY) is None


def test_an_authorization_short_of_both_sessions_and_days_gives_both_reasons_in_one_flag():
    end = TODAY + timedelta(days=3)
    flag = authorization_expiring(AuthorizationFact(36, end), 34, TODAY)
    assert flag.message == f"2 authorized sessions left; authorization ends {end}"


# --- motor threshold re-check ------------------------------------------------------------------------------

def test_the_first_session_of_a_week_not_yet_done_is_flagged_for_a_re_check():
    flag = mt_recheck_due(course(given_through=5), WEEK2)
    assert (flag.code, flag.message) == ("mt_recheck_due", f"motor threshold re-check due at the session on {WEEK2}")


def test_no_re_check_is_due_once_the_first_session_of_the_week_is_done():
    assert mt_recheck_due(course(given_through=6), WEEK2) is None


def test_no_re_check_is_due_later_in_the_week_after_it_was_done():
    assert mt_recheck_due(course(given_through=7), WEEK2 + timedelta(days=2)) is None


def test_no_re_check_is_flagged_for_session_1_the_mapping_session():
    assert mt_recheck_due(course(), MON) is None


def test_a_checked_in_first_session_of_the_week_still_needs_its_re_check():
    assert mt_recheck_due(course({6: CHECKED_IN}, given_through=5), WEEK2) is not None


def test_when_the_weeks_first_session_is_missed_the_re_check_moves_to_the_next_one():
    flag = mt_recheck_due(course({6: NO_SHOW}, given_through=5), WEEK2 + timedelta(days=1))
    assert flag.message.endswith(str(WEEK2 + timedelta(days=1)))


def test_a_week_without_sessions_needs_no_re_check():
    assert mt_recheck_due(course(given_through=36), date(2027, 5, 10)) is None


# --- progress: the counts ---------------------------------------------------------------------------------

def progress_of(sessions, prescribed=36, auth=None, day: date = WEEK3, calendar=MON_TO_FRI):
    return progress(sessions, prescribed, auth, noon(day), calendar)


def test_progress_reports_the_prescribed_count():
    assert progress_of(course(), prescribed=36).prescribed == 36


def test_progress_counts_completed_sessions():
    assert progress_of(course(given_through=10)).completed == 10


def test_progress_counts_no_shows_and_cancellations_by_the_patient_as_missed():
    assert progress_of(course({3: NO_SHOW, 7: CANCELLED}, given_through=10, by={7: "patient"})).missed == 2


@pytest.mark.parametrize("by", ["clinic", "closure"])
def test_progress_does_not_count_cancellations_by_the_clinic_or_a_closure_as_missed(by):
    result = progress_of(course({3: NO_SHOW, 7: CANCELLED}, given_through=10, by={7: by}))
    assert (result.missed, result.attendance_rate) == (1, 0.889)  # 8 given of 9, not of 10


def test_progress_remaining_is_prescribed_less_completed():
    assert progress_of(course({3: NO_SHOW}, given_through=10)).remaining == 27


def test_progress_remaining_never_goes_below_0():
    extra = [fact(37, date(2027, 5, 3), COMPLETED, MAKEUP)]
    assert progress_of(course(given_through=36) + extra, day=date(2027, 5, 4)).remaining == 0


def test_attendance_rate_is_completed_over_completed_and_missed():
    assert progress_of(course({3: NO_SHOW, 7: CANCELLED}, given_through=10, by={7: "patient"})).attendance_rate == 0.8


def test_attendance_rate_is_rounded_to_3_places():
    assert progress_of(course({3: NO_SHOW}, given_through=3)).attendance_rate == 0.667


def test_attendance_rate_is_none_before_any_session_happened():
    assert progress_of(course(), day=MON).attendance_rate is None


def test_projected_end_date_is_the_last_session_still_ahead():
    sessions = [*course({5: NO_SHOW}, given_through=4), fact(37, date(2027, 4, 30), SCHEDULED, MAKEUP)]
    assert progress_of(sessions).projected_end_date == date(2027, 4, 30)


def test_projected_end_date_ignores_a_missed_last_session():
    sessions = course({36: CANCELLED}, given_through=35)
    assert progress_of(sessions, day=date(2027, 4, 23)).projected_end_date is None


def test_authorization_used_and_left_count_completed_sessions():
    result = progress_of(course({3: NO_SHOW}, given_through=10), auth=AuthorizationFact(36, None))
    assert (result.authorization_used, result.authorization_left) == (9, 27)


def test_authorization_left_is_none_without_an_authorized_count():
    dates_only = AuthorizationFact(None, date(2027, 6, 1))
    assert progress_of(course(given_through=10), auth=dates_only).authorization_left is None


def test_a_course_on_track_has_no_flags():
    assert progress_of(course(given_through=11), day=WEEK3).flags == []


def test_progress_lists_its_flags_most_urgent_first():
    sessions = course({6: NO_SHOW, 7: NO_SHOW, 8: NO_SHOW, 9: NO_SHOW, 10: NO_SHOW}, given_through=5)
    result = progress_of(sessions, auth=AuthorizationFact(36, date(2027, 3, 20)))
    assert codes(result.flags) == ["consecutive_misses", "gap_over_7_days", "authorization_expiring", "low_week",
                                   "mt_recheck_due"]


def test_progress_warns_of_the_authorization_by_sessions_completed_not_booked():
    result = progress_of(course(given_through=10), auth=AuthorizationFact(16, None))
    assert "authorization_expiring" not in codes(result.flags)  # 6 left of 16; 26 still booked


# --- urgency ---------------------------------------------------------------------------------------------

def flags(*names: str) -> list[Flag]:
    return [Flag(n, n) for n in names]


def test_a_course_with_a_flag_comes_before_a_course_without():
    assert urgency(flags("mt_recheck_due")) < urgency([])


def test_consecutive_misses_come_before_every_other_flag():
    assert all(urgency(flags("consecutive_misses")) < urgency(flags(code)) for code in FLAG_ORDER[1:])


def test_flags_rank_misses_then_gap_then_authorization_then_low_week_then_long_daily_phase_then_re_check():
    order = ["mt_recheck_due", "low_week", "gap_over_7_days", "daily_phase_over_6_weeks", "consecutive_misses",
             "authorization_expiring"]
    assert sorted(order, key=lambda c: urgency(flags(c))) == [
        "consecutive_misses", "gap_over_7_days", "authorization_expiring", "low_week", "daily_phase_over_6_weeks",
        "mt_recheck_due"]


def test_a_course_is_ranked_by_its_most_urgent_flag():
    assert urgency(flags("mt_recheck_due", "gap_over_7_days")) < urgency(flags("authorization_expiring"))


def test_with_the_same_most_urgent_flag_more_flags_come_first():
    assert urgency(flags("low_week", "mt_recheck_due")) < urgency(flags("low_week"))
