"""texts: what the service texts patients, in English and Spanish, within one GSM-7 SMS, telling nothing of the care."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from tms_scheduler.domain.texts import (
    FORBIDDEN_WORDS,
    GSM7,
    KINDS,
    LANGUAGES,
    MAX_LENGTH,
    REPLIES,
    digest,
    forbidden_words_in,
    gsm7_safe,
    is_gsm7,
    reminder,
    reply,
)

LA = ZoneInfo("America/Los_Angeles")
MONDAY_9 = datetime(2027, 3, 1, 9, 0, tzinfo=LA)  # Monday 1 March 2027, 09:00 in Los Angeles
DAY_AND_TIME = {"en": "Mon Mar 1 at 9:00 AM", "es": "lun 1 mar a las 9:00"}
US_PHONE, US_PHONE_SHOWN = "+17145550160", "(714) 555-0160"
UK_PHONE, UK_PHONE_SHOWN = "+442079460958", "+44 20 7946 0958"
FULLERTON = "Oak Health Center Fullerton"
LAGUNA = "Oak Health Center Laguna Hills"
CONFIRM_WORDS = {"en": "Reply C to confirm", "es": "Responda C para confirmar"}
STOP = re.compile(r"\bSTOP\b")

# (first name, site name, site phone, the phone as the text spells it); the API takes a first
# name of up to 100 characters and a site name of up to 120.
NAMES = {
    "ordinary": ("Ana", FULLERTON, US_PHONE, US_PHONE_SHOWN),
    "accents and punctuation": ("María-José O'Brien", LAGUNA, UK_PHONE, UK_PHONE_SHOWN),
    "longest, one letter": ("A" * 100, "B" * 120, US_PHONE, US_PHONE_SHOWN),
    "longest, Ñ": ("Ñ" * 100, (LAGUNA + " ") * 3 + "Ñ" * 27, UK_PHONE, UK_PHONE_SHOWN),
    "longest, words": (("Zoë Mary-Jo O'Brien Nuñez " * 4)[:100], ("Oak Health Center Fullerton Annex " * 4)[:120],
                       "+525512345678", "+52 55 1234 5678"),
    "not GSM-7": ("张伟", "橡树健康中心", "+8613912345678", "+86 139 1234 5678"),
    "Łukasz Nguyễn": ("Łukasz Nguyễn", FULLERTON, US_PHONE, US_PHONE_SHOWN),
    "no phone": ("Zoë", FULLERTON, "", ""),
    "telling names": ("Brain", "Oak TMS & Psychiatry Center for Depression", US_PHONE, US_PHONE_SHOWN),
}

Render = Callable[[str, str, str, str], str]


def _days(count: int, per_day: int = 1, hour_step: int = 0) -> list[datetime]:
    """`count` consecutive days from Monday 1 March 2027, `per_day` visits 65 minutes apart."""
    return [MONDAY_9 + timedelta(days=d, hours=d * hour_step, minutes=65 * i)
            for d in range(count) for i in range(per_day)]


def _reminder(kind: str) -> Render:
    return lambda lang, first, site, phone: reminder(lang, first_name=first, site_name=site, site_phone=phone,
                                                     starts_at=MONDAY_9, kind=kind)


def _digest(visits: list[datetime]) -> Render:
    return lambda lang, first, site, phone: digest(lang, first_name=first, site_name=site, site_phone=phone,
                                                   visits=visits)


def _reply(what: str, known: bool) -> Render:
    if known:
        return lambda lang, first, site, phone: reply(lang, what, first_name=first, site_name=site, site_phone=phone,
                                                      starts_at=MONDAY_9)
    return lambda lang, first, site, phone: reply(lang, what, first_name=None, site_name=None, site_phone=None)


TEMPLATES: dict[str, Render] = {
    **{f"reminder {kind}": _reminder(kind) for kind in KINDS},
    "digest 1 visit": _digest(_days(1)),
    "digest 5 daily visits": _digest(_days(5)),
    "digest 10 a day for 5 days": _digest(_days(5, 10)),
    "digest 6 days at different times": _digest(_days(6, hour_step=1)),
    **{f"reply {what}": _reply(what, known=True) for what in REPLIES},
    **{f"reply {what}, unknown number": _reply(what, known=False) for what in REPLIES},
}
REMINDERS = [t for t in TEMPLATES if t.startswith("reminder")]
DIGESTS = [t for t in TEMPLATES if t.startswith("digest")]
# The texts that say how to stop: reminders, digests, HELP's answer and the answer to START.
MENTION_STOPPING = [*REMINDERS, *DIGESTS, "reply help", "reply help, unknown number",
                    "reply opted_in", "reply opted_in, unknown number"]
# The texts that give the site's phone when there is one.
GIVE_THE_PHONE = [*REMINDERS, *DIGESTS, "reply confirmed", "reply nothing_to_confirm", "reply help", "reply other"]


@cache
def rendered(language: str, template: str, names: str) -> str:
    first, site, phone, _ = NAMES[names]
    return TEMPLATES[template](language, first, site, phone)


def every_text(language: str, template: str) -> dict[str, str]:
    return {names: rendered(language, template, names) for names in NAMES}


# ---------------------------------------------------------------------------------------------
# every template, both languages, every set of names


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_is_at_most_160_characters(language, template):
    too_long = {names: text for names, text in every_text(language, template).items() if len(text) > MAX_LENGTH}
    assert too_long == {}


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_is_in_the_gsm7_basic_set(language, template):
    outside = {names: sorted({c for c in text if c not in GSM7})
               for names, text in every_text(language, template).items() if not is_gsm7(text)}
    assert outside == {}


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_names_the_treatment_a_diagnosis_or_psychiatry(language, template):
    telling = {names: forbidden_words_in(text) for names, text in every_text(language, template).items()
               if forbidden_words_in(text)}
    assert telling == {}


@pytest.mark.parametrize("template", MENTION_STOPPING)
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_text_that_says_how_to_stop_says_the_literal_STOP(language, template):
    assert [names for names, text in every_text(language, template).items() if not STOP.search(text)] == []


@pytest.mark.parametrize("template", REMINDERS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reminder_says_how_to_confirm_with_C(language, template):
    missing = [names for names, text in every_text(language, template).items() if CONFIRM_WORDS[language] not in text]
    assert missing == []


@pytest.mark.parametrize("template", REMINDERS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reminder_gives_the_local_day_and_time_whole(language, template):
    missing = [names for names, text in every_text(language, template).items() if DAY_AND_TIME[language] not in text]
    assert missing == []


@pytest.mark.parametrize("template", GIVE_THE_PHONE)
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_text_gives_the_sites_phone_whole_when_there_is_one(language, template):
    missing = [names for names, text in every_text(language, template).items()
               if NAMES[names][3] and NAMES[names][3] not in text]
    assert missing == []


@pytest.mark.parametrize("template", [t for t in TEMPLATES if "unknown number" in t])
@pytest.mark.parametrize("language", LANGUAGES)
def test_an_answer_to_an_unknown_number_greets_no_one_and_names_no_site(language, template):
    text = rendered(language, template, "ordinary")
    assert "None" not in text
    assert re.match(r"(Hi|Thanks|Hola|Gracias),|Visit reminders\.|Recordatorios de citas\.", text)


# ---------------------------------------------------------------------------------------------
# the formats


def test_an_english_reminder_for_the_demo_clinic_reads_as_designed():
    assert rendered("en", "reminder every", "ordinary") == (
        "Hi Ana, your visit is Mon Mar 1 at 9:00 AM at Oak Health Center Fullerton, (714) 555-0160. "
        "Reply C to confirm or STOP to opt out.")


def test_a_spanish_reminder_for_the_demo_clinic_reads_as_designed():
    assert rendered("es", "reminder every", "ordinary") == (
        "Hola Ana, su cita: lun 1 mar a las 9:00 en Oak Health Center Fullerton, (714) 555-0160. "
        "Responda C para confirmar o STOP para darse de baja.")


@pytest.mark.parametrize("language, words", [("en", "your first visit"), ("es", "su primera cita")])
def test_a_first_visit_reminder_says_it_is_the_first(language, words):
    assert words in rendered(language, "reminder first", "ordinary")


@pytest.mark.parametrize("language, words", [("en", "your visit was moved to Mon Mar 1"),
                                             ("es", "cambiamos su cita al lun 1 mar")])
def test_a_moved_visit_reminder_says_it_was_moved_and_to_when(language, words):
    assert words in rendered(language, "reminder moved", "ordinary")


@pytest.mark.parametrize("language, words", [("en", "your extra visit"), ("es", "su cita adicional")])
def test_a_makeup_reminder_says_it_is_an_extra_visit(language, words):
    assert words in rendered(language, "reminder makeup", "ordinary")


@pytest.mark.parametrize("language, shown", [("en", "Tue Mar 2 at 2:30 PM"), ("es", "mar 2 mar a las 14:30")])
def test_an_afternoon_is_on_a_12_hour_clock_in_english_and_24_hours_in_spanish(language, shown):
    text = reminder(language, first_name="Ana", site_name=FULLERTON, site_phone=US_PHONE,
                    starts_at=datetime(2027, 3, 2, 14, 30, tzinfo=LA), kind="every")
    assert shown in text


@pytest.mark.parametrize("language, shown", [("en", "at 12:05 PM"), ("es", "a las 12:05")])
def test_noon_is_pm(language, shown):
    text = reminder(language, first_name="Ana", site_name=FULLERTON, site_phone=US_PHONE,
                    starts_at=datetime(2027, 3, 2, 12, 5, tzinfo=LA), kind="every")
    assert shown in text


def test_spanish_says_la_1_for_one_oclock():
    text = reminder("es", first_name="Ana", site_name=FULLERTON, site_phone=US_PHONE,
                    starts_at=datetime(2027, 3, 2, 1, 15, tzinfo=LA), kind="every")
    assert "mar 2 mar a la 1:15 en" in text


def test_the_time_is_the_one_given_not_converted_to_another_zone():
    text = reminder("en", first_name="Ana", site_name=FULLERTON, site_phone=US_PHONE,
                    starts_at=datetime(2027, 3, 1, 17, 0, tzinfo=UTC), kind="every")
    assert "Mon Mar 1 at 5:00 PM" in text


@pytest.mark.parametrize("phone, shown", [(US_PHONE, "(714) 555-0160"), (UK_PHONE, "+44 20 7946 0958"),
                                          ("+525512345678", "+52 55 1234 5678")])
def test_a_us_phone_is_in_national_format_and_another_in_international_format(phone, shown):
    text = reminder("en", first_name="Ana", site_name=FULLERTON, site_phone=phone, starts_at=MONDAY_9, kind="every")
    assert f"{FULLERTON}, {shown}." in text


@pytest.mark.parametrize("template", [*REMINDERS, *DIGESTS, "reply confirmed", "reply nothing_to_confirm",
                                      "reply help", "reply other"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_without_a_phone_the_text_leaves_no_gap(language, template):
    text = rendered(language, template, "no phone")
    assert not re.search(r" [,.:;]|,\.|, ,|\.\.|  |\b(tel|call|llame al|al)\.", text), text


@pytest.mark.parametrize("language, greeting", [("en", "Hi Lukasz Nguyen, "), ("es", "Hola Lukasz Nguyen, ")])
def test_a_name_outside_gsm7_is_spelled_in_gsm7(language, greeting):
    assert rendered(language, "reminder every", "Łukasz Nguyễn").startswith(greeting)


@pytest.mark.parametrize("language, greeting", [("en", "Hi, your visit"), ("es", "Hola, su cita")])
def test_a_name_with_no_gsm7_letters_greets_without_a_name(language, greeting):
    assert rendered(language, "reminder every", "not GSM-7").startswith(greeting)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_name_or_site_holding_a_telling_word_loses_that_word(language):
    text = rendered(language, "reminder every", "telling names")
    assert "Brain" not in text and re.search(r" (at|en) Oak & Center, ", text)


def test_a_cut_first_name_never_ends_on_a_telling_word():
    # "Transcranialis" is no forbidden word, but cut to NAME_KEEP (12) letters it would be.
    text = reminder("en", first_name="Transcranialis", site_name="B" * 120, site_phone=US_PHONE,
                    starts_at=MONDAY_9, kind="moved")
    assert forbidden_words_in(text) == set()
    assert text.startswith("Hi, ")


# ---------------------------------------------------------------------------------------------
# shortening: the names give way, never the day, time, phone or reply words


def test_a_first_name_too_long_for_the_text_is_cut_to_its_first_word_before_the_site_name_is_shortened():
    text = reminder("es", first_name="Maria Guadalupe Fernanda", site_name=LAGUNA, site_phone=UK_PHONE,
                    starts_at=MONDAY_9, kind="first")
    assert text.startswith("Hola Maria, ")
    assert f"en {LAGUNA}, " in text


def test_a_site_name_too_long_for_the_text_keeps_its_leading_words():
    site = "Oak Health Center Fullerton Medical Plaza North Building Second Floor East Wing Suite 200"
    text = reminder("en", first_name="Ana", site_name=site, site_phone=US_PHONE, starts_at=MONDAY_9, kind="every")
    shown = re.search(r"9:00 AM at (.*), \(714\)", text).group(1)
    assert text.startswith("Hi Ana, ")
    assert shown.startswith(FULLERTON) and site.startswith(shown + " ")


@pytest.mark.parametrize("language, greeting", [("en", "Hi Zoe, "), ("es", "Hola Zoe, ")])
def test_a_first_name_cut_for_a_long_site_name_keeps_its_first_word_only(language, greeting):
    assert rendered(language, "reminder moved", "longest, words").startswith(greeting)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_longest_names_keep_a_few_letters_each(language):
    text = rendered(language, "reminder moved", "longest, one letter")
    assert re.search(r"(Hi|Hola) A{3,}, ", text)
    assert re.search(r"B{3,}, \(714\)", text)


# ---------------------------------------------------------------------------------------------
# the weekly schedule text


@pytest.mark.parametrize("language, schedule", [("en", "your visits Mar 1-5: Mon-Fri 9:00 AM at"),
                                                ("es", "sus citas del 1 al 5 mar: lun-vie 9:00 en")])
def test_a_week_of_daily_visits_at_one_time_is_one_range_of_days(language, schedule):
    assert schedule in rendered(language, "digest 5 daily visits", "ordinary")


@pytest.mark.parametrize("language, schedule", [("en", "Mon 9:00 AM, Wed 10:00 AM, Fri 9:00 AM at"),
                                                ("es", "lun 9:00, mié 10:00, vie 9:00 en")])
def test_days_apart_are_listed_one_by_one_never_as_a_range(language, schedule):
    visits = [MONDAY_9, MONDAY_9 + timedelta(days=2, hours=1), MONDAY_9 + timedelta(days=4)]
    text = digest(language, first_name="Ana", site_name=FULLERTON, site_phone=US_PHONE, visits=visits)
    assert schedule in text


@pytest.mark.parametrize("language, schedule", [("en", "Mon 8:00, 9:05, 10:10 AM, 1:00 PM; Tue 8:00 AM at"),
                                                ("es", "lun 8:00, 9:05, 10:10, 13:00; mar 8:00 en")])
def test_several_visits_a_day_are_listed_when_they_fit(language, schedule):
    monday_8 = MONDAY_9 - timedelta(hours=1)
    visits = [monday_8, monday_8 + timedelta(minutes=65), monday_8 + timedelta(minutes=130),
              monday_8 + timedelta(hours=5), monday_8 + timedelta(days=1)]
    assert schedule in digest(language, first_name="Ana", site_name="Oak", site_phone=US_PHONE, visits=visits)


@pytest.mark.parametrize("language, schedule", [("en", "Mon-Fri 10 visits daily from 9:00 AM at"),
                                                ("es", "lun-vie 10 citas diarias desde las 9:00 en")])
def test_an_accelerated_week_too_long_to_list_says_how_many_a_day_and_from_when(language, schedule):
    assert schedule in rendered(language, "digest 10 a day for 5 days", "ordinary")


@pytest.mark.parametrize("language, schedule", [
    ("en", "Mon 9am, Tue 10am, Wed 11am, Thu 12pm, Fri 1pm, Sat 2pm at"),
    ("es", "lun-sab, 6 citas entre las 9:00 y las 14:00 en"),
])
def test_six_days_at_different_times_are_listed_or_bounded_by_the_earliest_and_latest(language, schedule):
    assert schedule in rendered(language, "digest 6 days at different times", "ordinary")


@pytest.mark.parametrize("language, schedule", [("en", "Hi Ana, your visit on Mar 1: Mon 9:00 AM at"),
                                                ("es", "Hola Ana, su cita del 1 mar: lun 9:00 en")])
def test_a_week_of_one_visit_speaks_of_one_visit(language, schedule):
    assert schedule in rendered(language, "digest 1 visit", "ordinary")


@pytest.mark.parametrize("language, span", [("en", "your visits Mar 29-Apr 2: Mon-Fri 9:00 AM"),
                                            ("es", "sus citas del 29 mar al 2 abr: lun-vie 9:00")])
def test_a_week_across_two_months_names_both(language, span):
    visits = [datetime(2027, 3, 29, 9, tzinfo=LA) + timedelta(days=d) for d in range(5)]
    assert span in digest(language, first_name="Ana", site_name=FULLERTON, site_phone=US_PHONE, visits=visits)


def test_a_weekly_schedule_text_without_visits_is_refused():
    with pytest.raises(ValueError):
        digest("en", first_name="Ana", site_name=FULLERTON, site_phone=US_PHONE, visits=[])


def test_a_weekly_schedule_text_over_more_than_seven_days_is_refused():
    with pytest.raises(ValueError):
        digest("en", first_name="Ana", site_name=FULLERTON, site_phone=US_PHONE, visits=_days(8))


# ---------------------------------------------------------------------------------------------
# answers to a patient's texts


@pytest.mark.parametrize("language, words", [("en", "your visit at Oak Health Center Fullerton on Mon Mar 1 at 9:00 AM "
                                                    "is confirmed"),
                                             ("es", "su cita del lun 1 mar a las 9:00 en Oak Health Center Fullerton "
                                                    "queda confirmada")])
def test_a_confirmation_names_the_visits_day_and_time(language, words):
    assert words in rendered(language, "reply confirmed", "ordinary")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_answer_to_an_opt_out_says_START_brings_texts_back(language):
    assert re.search(r"\bSTART\b", rendered(language, "reply opted_out", "ordinary"))


@pytest.mark.parametrize("language, words", [("en", "Reply C to confirm, R for a call back, STOP to opt out."),
                                             ("es", "Responda C para confirmar, R para que le llamemos, STOP para")])
def test_the_answer_to_help_names_the_site_and_phone_and_the_reply_words(language, words):
    text = rendered(language, "reply help", "ordinary")
    assert text.startswith(FULLERTON) and US_PHONE_SHOWN in text and words in text


# ---------------------------------------------------------------------------------------------
# refusals


@pytest.mark.parametrize("render", [
    lambda lang: reminder(lang, first_name="Ana", site_name=FULLERTON, site_phone="", starts_at=MONDAY_9, kind="every"),
    lambda lang: digest(lang, first_name="Ana", site_name=FULLERTON, site_phone="", visits=[MONDAY_9]),
    lambda lang: reply(lang, "help", first_name=None, site_name=None, site_phone=None),
], ids=["reminder", "digest", "reply"])
@pytest.mark.parametrize("language", ["fr", "EN", "es-MX", ""])
def test_a_text_in_an_unknown_language_is_refused(render, language):
    with pytest.raises(ValueError):
        render(language)


def test_a_reminder_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        reminder("en", first_name="Ana", site_name=FULLERTON, site_phone="", starts_at=MONDAY_9, kind="digest")


def test_an_unknown_answer_is_refused():
    with pytest.raises(ValueError):
        reply("en", "cancelled", first_name="Ana", site_name=FULLERTON, site_phone="")


def test_a_time_without_a_zone_is_refused():
    with pytest.raises(ValueError):
        reminder("en", first_name="Ana", site_name=FULLERTON, site_phone="", starts_at=datetime(2027, 3, 1, 9),
                 kind="every")


# ---------------------------------------------------------------------------------------------
# GSM-7 and the forbidden words


def test_gsm7_is_the_basic_set_of_127_characters_without_the_extension_table():
    assert len(GSM7) == 127
    assert {"@", "£", "é", "ñ", "Ñ", "Ü", "à", "ß", "Ç", "Δ", "¿", "¡", "§"} <= GSM7
    assert not {"{", "}", "[", "]", "~", "^", "\\", "|", "€", "á", "í", "ó", "ú", "ç", "…", "’"} & GSM7


@pytest.mark.parametrize("typed, safe", [
    ("José", "José"),
    ("Jose\u0301", "José"),  # decomposed accent
    ("Nguyễn", "Nguyen"),
    ("Zoë", "Zoe"),
    ("Łukasz", "Lukasz"),
    ("O’Brien", "O'Brien"),
    ("“Mary–Jo”", '"Mary-Jo"'),
    ("Müller Ñandú Ørsted Åse Æbelø Straße Çelik", "Müller Ñandu Ørsted Åse Æbelø Straße Çelik"),
    ("François", "Francois"),
    ("张伟", ""),
    ("张 Wei \n Li 🙂", "Wei Li"),
    ("{A} [B] ~C^ \\D| €5…", "(A) (B) -C /D/ EUR5..."),
])
def test_gsm7_safe_keeps_gsm7_letters_and_spells_the_rest_nearest(typed, safe):
    assert gsm7_safe(typed) == safe


def test_gsm7_safe_gives_gsm7_whatever_it_is_given():
    everything = "".join(chr(c) for c in range(0x20, 0x3000) if not 0xD800 <= c < 0xE000)
    assert is_gsm7(gsm7_safe(everything))


@pytest.mark.parametrize("text, found", [
    ("Depresión", {"depresion"}),
    ("PSIQUIATRÍA y salud mental", {"psiquiatria", "mental", "salud mental"}),
    ("rTMS, theta-burst", {"rtms", "theta", "theta burst"}),
    ("See you at NeuroCare", {"neurocare"}),
    ("Deep TMS therapy.", {"tms", "deep tms", "therapy"}),
])
def test_forbidden_words_are_found_whatever_their_case_and_accents(text, found):
    assert forbidden_words_in(text) == found


@pytest.mark.parametrize("text", ["Oak Health Center", "your session at the clinic", "Brainard Street", "Mentally"])
def test_words_that_reveal_nothing_and_mere_look_alikes_are_allowed(text):
    assert forbidden_words_in(text) == set()


def test_the_forbidden_list_holds_the_issues_words_in_both_languages():
    issue = {"tms", "transcranial", "magnetic", "stimulation", "rtms", "itbs", "theta", "neuro", "brain", "treatment",
             "therapy", "psychiatry", "psychiatric", "psychiatrist", "mental", "depression", "depressive", "anxiety",
             "ocd", "diagnosis", "medication", "tratamiento", "terapia", "psiquiatria", "depresion", "estimulacion",
             "cerebro", "magnetica", "salud mental"}
    assert issue - FORBIDDEN_WORDS == set()


def test_forbidden_words_are_listed_as_they_are_compared_lower_case_without_accents():
    assert [w for w in FORBIDDEN_WORDS if not (w.isascii() and w == w.lower() and w in forbidden_words_in(w))] == []
