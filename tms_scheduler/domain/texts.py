"""The texts the service sends to patients, in English and Spanish.

The rules (DOMAIN.md, Text reminders):
- A text says who (first name), when (local day and time), where (site name and phone),
  how to confirm (`C`) and how to stop (`STOP`, the literal word in both languages).
- It never names the treatment, a diagnosis or psychiatry: no word of FORBIDDEN_WORDS (or
  starting with one of FORBIDDEN_PREFIXES) appears, whatever the names put into it. A name
  holding such a word ("Oak TMS Center") loses that word.
- At most MAX_LENGTH characters, every one of them in GSM-7's basic set (so one
  character is one septet and the text is a single SMS). Names are made GSM-7 safe
  (gsm7_safe) and shortened when the text would be too long, in this order: the first
  name to its first word, then to NAME_KEEP letters, then the site name to its leading
  words down to SITE_KEEP characters, then the first name down to NAME_MIN letters, then the
  site name down to nothing. The day, time, phone and reply words are never shortened.
- Times are those of the datetimes as given (the caller passes the site's local time):
  nothing here converts zones. English uses a 12-hour clock ("9:00 AM"), Spanish 24 hours.
- Spanish is written without á, í, ó, ú: they are not GSM-7 (é, ñ, ü are, and are kept).

Words chosen: a "visit" / "cita", never a "session" or "treatment" (`session` itself is
allowed: it names nothing). "Clinic", "health", "center" and "medical" are allowed: they say
nothing about the kind of care ("Oak Health Center"), where "behavioral health",
"counseling", "psychiatry" or "neuro..." would.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import lru_cache

import phonenumbers

MAX_LENGTH = 160
LANGUAGES = ("en", "es")
KINDS = ("first", "every", "makeup", "moved", "taper")
REPLIES = ("confirmed", "nothing_to_confirm", "callback", "help", "opted_out", "opted_in", "other")

# GSM 03.38 basic character set (the escape code 0x1B aside). The extension table
# ({ } [ ] ~ ^ \ | €) takes two septets and is left out, so a character is a septet.
GSM7: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# Words a text must never hold, as forbidden_words_in compares them: lower case, no accents.
# Spanish words are listed without their accents ("psiquiatria" also catches "psiquiatría").
# Every phrase holds a forbidden word of its own, so no phrase can be made of a name and the
# template's words.
FORBIDDEN_WORDS: frozenset[str] = frozenset({
    # the treatment and its devices
    "tms", "rtms", "dtms", "itbs", "ctbs", "tbs", "theta", "theta burst", "deep tms", "snt",
    "transcranial", "transcraneal", "magnet", "magnets", "magnetic", "magnetica", "magnetico",
    "electromagnetic", "electromagnetica", "electromagnetico",
    "stimulation", "stimulator", "estimulacion", "estimulador",
    "brainsway", "magventure", "magstim", "nexstim", "neurostar", "neuronetics",
    "brain", "brains", "cerebro", "cerebral",
    "treatment", "treatments", "tratamiento", "tratamientos",
    "therapy", "therapies", "therapist", "therapists", "therapeutic",
    "terapia", "terapias", "terapeuta", "terapeutas", "terapeutico", "terapeutica",
    "medication", "medications", "medicacion", "medicamento", "medicamentos",
    "antidepressant", "antidepressants", "antidepresivo", "antidepresivos",
    "ect", "electroconvulsive", "electroconvulsiva", "ketamine", "esketamine", "spravato", "ketamina",
    # psychiatry and its neighbours
    "psychiatry", "psychiatric", "psychiatrist", "psychiatrists", "psych", "psychology", "psychologist",
    "psychological", "psychotherapy",
    "psiquiatria", "psiquiatrico", "psiquiatrica", "psiquiatra", "psiquiatras", "psicologia",
    "psicologo", "psicologa", "psicologico", "psicoterapia",
    "neuro", "neurology", "neurological", "neurologist", "neurologia", "neurologo",
    "neuromodulation", "neuromodulacion", "neurostimulation", "neuroestimulacion", "neuroscience",
    "mental", "mentales", "mental health", "salud mental",
    "behavioral", "behavioural", "conductual", "counseling", "counselling", "counselor",
    # diagnoses
    "diagnosis", "diagnoses", "diagnosed", "diagnostic", "diagnostico", "diagnostica", "diagnosticado",
    "depression", "depressive", "depressed", "depresion", "depresivo", "depresiva", "deprimido", "deprimida",
    "anxiety", "anxious", "ansiedad", "ocd", "toc", "ptsd", "tept", "mdd", "trd", "adhd", "tdah",
    "bipolar", "schizophrenia", "esquizofrenia", "obsessive", "compulsive", "obsesivo", "compulsivo",
    "suicide", "suicidal", "suicidio", "suicida", "addiction", "adiccion", "adicciones",
    "disorder", "disorders", "trastorno", "trastornos", "phq",
})
# Word beginnings that only ever start such words ("NeuroCare", "PsychHealth", "psicosis").
FORBIDDEN_PREFIXES: frozenset[str] = frozenset({
    "neuro", "psych", "psiq", "psic", "depres", "antidepres", "schizo", "esquizo",
})
_PREFIXES = tuple(sorted(FORBIDDEN_PREFIXES))

# A first name is cut no shorter than NAME_KEEP letters before the site name is shortened,
# the site name no shorter than SITE_KEEP characters before the first name goes below that,
# and the first name never below NAME_MIN letters.
NAME_KEEP = 12
SITE_KEEP = 20
NAME_MIN = 3
_SITE_MIN = 3  # a site name cut shorter than this is left out
_PHONE_MAX = 20  # the longest phone spelling put into a text; longer ones go as E.164

_WORD = re.compile(r"[^\W_]+")
_SPACES = re.compile(r"\s+")
_PHRASES = tuple(tuple(w.split()) for w in FORBIDDEN_WORDS if " " in w)

# Spellings for characters outside GSM-7 that NFKD does not take to GSM-7 letters.
_SPELLINGS = {
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'", "ʼ": "'", "ʻ": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
    "…": "...", "€": "EUR", "[": "(", "]": ")", "{": "(", "}": ")", "\\": "/", "|": "/", "~": "-",
    "⁄": "/", "×": "x",
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Þ": "Th", "þ": "th",
    "Œ": "OE", "œ": "oe", "ẞ": "SS", "ı": "i", "Ħ": "H", "ħ": "h", "Ŧ": "T", "ŧ": "t",
}
# Words left dangling at the end of a shortened site name ("Oak Center for").
_CONNECTORS = frozenset({"for", "of", "the", "and", "at", "in", "de", "del", "la", "el", "los", "las", "y", "en"})

_EN_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ES_DAYS = ("lun", "mar", "mié", "jue", "vie", "sab", "dom")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ES_MONTHS = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")

_REPLY_WORDS = {
    "en": "Reply C to confirm or STOP to opt out.",
    "es": "Responda C para confirmar o STOP para darse de baja.",
}
_STOP_WORDS = {
    "en": "Reply STOP to opt out.",
    "es": "Responda STOP para darse de baja.",
}
_REMINDER_LEADS = {
    "en": {"first": "your first visit is", "every": "your visit is", "taper": "your visit is",
           "makeup": "your extra visit is", "moved": "your visit was moved to"},
    # Spanish is longer: "su cita: lun 1 mar" rather than "su cita es el lun 1 mar" keeps the site name whole.
    "es": {"first": "su primera cita:", "every": "su cita:", "taper": "su cita:",
           "makeup": "su cita adicional:", "moved": "cambiamos su cita al"},
}

Build = Callable[[str, str], str]


# ---------------------------------------------------------------------------------------------
# characters and words

def is_gsm7(text: str) -> bool:
    """Whether every character of `text` is in GSM-7's basic set (one septet each)."""
    return all(c in GSM7 for c in text)


def gsm7_safe(text: str) -> str:
    """`text` in GSM-7's basic set, each other character by its nearest spelling.

    Characters GSM-7 has are kept (é, ñ, ü, Ø, ß...); others lose their accents where that
    leaves GSM-7 letters ("Nguyễn" -> "Nguyen", "Zoë" -> "Zoe"), typographic quotes and
    dashes become ASCII, "Ł" becomes "L", and what has no spelling (CJK, Cyrillic, emoji) is
    dropped. Runs of white space, line breaks included, become one space; ends are trimmed.
    """
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        if char in GSM7:
            out.append(char)
        elif char in _SPELLINGS:
            out.append(_SPELLINGS[char])
        elif char.isspace():
            out.append(" ")
        else:
            for part in unicodedata.normalize("NFKD", char):
                if part in GSM7:
                    out.append(part)
                elif part in _SPELLINGS:
                    out.append(_SPELLINGS[part])
                elif part.isspace():
                    out.append(" ")
    return _SPACES.sub(" ", "".join(out)).strip()


def _fold(text: str) -> str:
    """Lower case without accents: how words are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _is_forbidden(word: str) -> bool:
    return word in FORBIDDEN_WORDS or word.startswith(_PREFIXES)


def forbidden_words_in(text: str) -> set[str]:
    """The forbidden words and phrases `text` holds, as whole words, ignoring case and accents.

    Each is given as FORBIDDEN_WORDS spells it, or, for a word starting with one of
    FORBIDDEN_PREFIXES, as the word itself folded ("neurocare").
    """
    words = _WORD.findall(_fold(text))
    found = {w for w in words if _is_forbidden(w)}
    for phrase in _PHRASES:
        n = len(phrase)
        if any(tuple(words[i:i + n]) == phrase for i in range(len(words) - n + 1)):
            found.add(" ".join(phrase))
    return found


def _scrub(text: str) -> str:
    """`text` (GSM-7, as gsm7_safe gives) without its forbidden words.

    Every forbidden phrase holds a forbidden word, so dropping the words drops the phrases.
    A word is bounded by non-word characters, which stay: no two words are joined into one.
    """
    kept = _WORD.sub(lambda m: "" if _is_forbidden(_fold(m.group())) else m.group(), text)
    return _SPACES.sub(" ", kept).strip()


# ---------------------------------------------------------------------------------------------
# names

def _clean_first_name(name: str | None) -> str:
    """A first name to greet with: GSM-7, letters, digits, spaces, apostrophes, hyphens, dots."""
    safe = gsm7_safe(name or "")
    kept = "".join(c for c in safe if c.isalnum() or c in " '-.")
    return _scrub(_SPACES.sub(" ", kept)).strip(" '-.")


def _clean_site_name(name: str | None) -> str:
    return _tidy_site(_scrub(gsm7_safe(name or "")).split(" "))


def _tidy_site(words: list[str]) -> str:
    """Site name words without what dangles at the end ("Oak Center for", "Oak Center -")."""
    kept = [w for w in words if w]
    while len(kept) > 1 and (_fold(kept[-1]) in _CONNECTORS or not any(c.isalnum() for c in kept[-1])):
        kept.pop()
    return " ".join(kept).strip().lstrip(" ,;:-/&").rstrip(" ,;:-/&(")


def _cut_name(name: str, room: int) -> str:
    """The first name in at most `room` characters: cut, no ellipsis."""
    if len(name) <= room:
        return name
    return _scrub(name[:max(room, 0)]).strip(" '-.")


def _first_word(name: str) -> str:
    return name.split(" ")[0] if name else ""


def _shorten_site(site: str, room: int) -> str:
    """The site name in at most `room` characters: its leading words, else its first letters."""
    if len(site) <= room:
        return site
    if room < _SITE_MIN:
        return ""
    words = site.split(" ")
    kept: list[str] = []
    for word in words:
        if len(" ".join([*kept, word])) > room:
            break
        kept.append(word)
    short = " ".join(kept) if kept else site[:room]
    return _tidy_site(_scrub(short).split(" "))


def _fit(build: Build, name: str, site: str, *, name_floor: int = NAME_MIN, site_floor: int = 0) -> str | None:
    """The text `build` makes of the names, shortened as little as MAX_LENGTH needs.

    `build(first_name, site_name)` leaves out what is empty. The order: the first name's
    first word, that word cut to NAME_KEEP, the site name's leading words down to SITE_KEEP
    characters, the first name down to `name_floor` letters, the site name down to
    `site_floor` characters (0: left out). None if the text does not fit even then.
    """
    word = _first_word(name)
    short = _cut_name(word, NAME_KEEP)
    for first in (name, word, short):
        text = build(first, site)
        if len(text) <= MAX_LENGTH:
            return text

    def fitting(text: str) -> str | None:
        return text if len(text) <= MAX_LENGTH else None

    def room_for_site(first: str) -> int:
        return MAX_LENGTH - (len(build(first, "X")) - 1)

    room = room_for_site(short)
    if site and room >= min(len(site), SITE_KEEP):
        return fitting(build(short, _shorten_site(site, room)))
    site_short = _shorten_site(site, SITE_KEEP)
    if short:
        room = MAX_LENGTH - (len(build("X", site_short)) - 1)
        if room >= min(len(short), name_floor):
            return fitting(build(_cut_name(short, room), site_short))
        short = _cut_name(short, name_floor)
    room = room_for_site(short) if site else 0
    if room < min(len(site), site_floor):
        return None
    return fitting(build(short, _shorten_site(site, room)))


# ---------------------------------------------------------------------------------------------
# days, times, phones

def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"no texts in language {language!r}; there are {', '.join(LANGUAGES)}")


def _check_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; give the site's local time")


def _clock(language: str, moment: datetime, *, compact: bool = False) -> str:
    """9:00 AM / 9am (English), 9:00 (Spanish)."""
    if language == "es":
        return f"{moment.hour}:{moment.minute:02d}"
    hour = moment.hour % 12 or 12
    if compact:
        minutes = f":{moment.minute:02d}" if moment.minute else ""
        return f"{hour}{minutes}{'am' if moment.hour < 12 else 'pm'}"
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def _at(language: str, moment: datetime) -> str:
    """"9:00 AM" / "las 9:00" (Spanish says "la 1:00")."""
    clock = _clock(language, moment)
    if language == "es":
        return f"{'la' if moment.hour == 1 else 'las'} {clock}"
    return clock


def _day(language: str, day: date) -> str:
    """Mon Mar 1 / lun 1 mar."""
    if language == "es":
        return f"{_ES_DAYS[day.weekday()]} {day.day} {_ES_MONTHS[day.month - 1]}"
    return f"{_EN_DAYS[day.weekday()]} {_EN_MONTHS[day.month - 1]} {day.day}"


def _when(language: str, moment: datetime) -> str:
    """Mon Mar 1 at 9:00 AM / lun 1 mar a las 9:00."""
    if language == "es":
        return f"{_day(language, moment.date())} a {_at(language, moment)}"
    return f"{_day(language, moment.date())} at {_at(language, moment)}"


def _weekday(language: str, day: date) -> str:
    return (_ES_DAYS if language == "es" else _EN_DAYS)[day.weekday()]


def _date_range(language: str, first: date, last: date) -> str:
    """Mar 1-5, Mar 29-Apr 2, Mar 1 / del 1 al 5 mar, del 29 mar al 2 abr, del 1 mar."""
    if language == "es":
        if first == last:
            return f"del {first.day} {_ES_MONTHS[first.month - 1]}"
        start = f"{first.day}" if first.month == last.month else f"{first.day} {_ES_MONTHS[first.month - 1]}"
        return f"del {start} al {last.day} {_ES_MONTHS[last.month - 1]}"
    start = f"{_EN_MONTHS[first.month - 1]} {first.day}"
    if first == last:
        return f"on {start}"
    end = f"{last.day}" if first.month == last.month else f"{_EN_MONTHS[last.month - 1]} {last.day}"
    return f"{start}-{end}"


@lru_cache(maxsize=1024)
def _phone(site_phone: str | None) -> str:
    """A US number in national format ("(714) 555-0160"), others international; "" for none.

    Kept per number: a clinic has a handful of site phones and sends thousands of texts."""
    if not site_phone or not site_phone.strip():
        return ""
    try:
        number = phonenumbers.parse(site_phone, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        style = (phonenumbers.PhoneNumberFormat.NATIONAL if phonenumbers.region_code_for_number(number) == "US"
                 else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        spelled = phonenumbers.format_number(number, style)
        if len(spelled) <= _PHONE_MAX and is_gsm7(spelled):
            return spelled
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Not a number phonenumbers knows: its digits as given, if they look like a phone at all.
    digits = "".join(c for c in site_phone if c.isdigit() and c.isascii())
    if not 3 <= len(digits) <= 15:
        return ""
    return ("+" if site_phone.strip().startswith("+") else "") + digits


# ---------------------------------------------------------------------------------------------
# the texts

def _greet(language: str, first: str, en: str = "Hi", es: str = "Hola") -> str:
    word = es if language == "es" else en
    return f"{word} {first}" if first else word


def _place(language: str, site: str, phone: str) -> str:
    """" at Oak Health Center, (714) 555-0160" / " en ..."; parts left out when empty."""
    text = f" {'en' if language == 'es' else 'at'} {site}" if site else ""
    return text + (f", {phone}" if phone else "")


def _finish(text: str | None) -> str:
    """The text as sent; a text breaking the rules is a bug here, never sent."""
    if text is None or len(text) > MAX_LENGTH or not is_gsm7(text) or forbidden_words_in(text):
        raise AssertionError(f"a text breaks the texting rules: {text!r}")
    return text


def reminder(language: str, *, first_name: str, site_name: str, site_phone: str, starts_at: datetime,
             kind: str) -> str:
    """The reminder of one visit: who, when, where, C to confirm, STOP to opt out.

    "Hi Ana, your visit is Mon Mar 1 at 9:00 AM at Oak Health Center Fullerton, (714) 555-0160.
    Reply C to confirm or STOP to opt out." `kind` is one of KINDS: a first visit, any
    visit, a make-up ("extra visit"), a moved visit ("was moved to") or a taper visit.
    """
    _check_language(language)
    _check_aware(starts_at)
    if kind not in KINDS:
        raise ValueError(f"no reminder of kind {kind!r}; there are {', '.join(KINDS)}")
    lead = _REMINDER_LEADS[language][kind]
    when = _when(language, starts_at)
    phone = _phone(site_phone)

    def build(first: str, site: str) -> str:
        return f"{_greet(language, first)}, {lead} {when}{_place(language, site, phone)}. {_REPLY_WORDS[language]}"

    return _finish(_fit(build, _clean_first_name(first_name), _clean_site_name(site_name)))


def _runs(days: Sequence[tuple[date, object]]) -> list[tuple[date, date, object]]:
    """Calendar-consecutive days with equal keys, as (first day, last day, key)."""
    runs: list[tuple[date, date, object]] = []
    for day, key in days:
        if runs and runs[-1][2] == key and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day, key)
        else:
            runs.append((day, day, key))
    return runs


def _days_label(language: str, first: date, last: date) -> str:
    if first == last:
        return _weekday(language, first)
    return f"{_weekday(language, first)}-{_weekday(language, last)}"


def _times(language: str, moments: Sequence[datetime], compact: bool) -> str:
    """8:00, 9:05, 10:10 AM, 12:15 PM (AM/PM once per run); 8am, 9:05am; 8:00, 13:00."""
    if language == "es" or compact:
        return ", ".join(_clock(language, m, compact=compact) for m in moments)
    parts: list[str] = []
    for i, moment in enumerate(moments):
        clock = _clock(language, moment)
        last_of_half = i + 1 == len(moments) or (moments[i + 1].hour < 12) != (moment.hour < 12)
        parts.append(clock if last_of_half else clock.rsplit(" ", 1)[0])
    return ", ".join(parts)


def _from(language: str, moment: datetime, compact: bool) -> str:
    """from 8:00 AM / desde las 8:00."""
    if language == "es":
        return f"desde {_at(language, moment)}"
    return f"from {_clock(language, moment, compact=compact)}"


def _schedules(language: str, by_day: list[tuple[date, list[datetime]]]) -> list[str]:
    """The week's visits, from the most telling spelling to the shortest; none says anything untrue."""
    es = language == "es"
    of_day = dict(by_day)
    forms: list[str] = []
    # Every day and time; calendar-consecutive days with the same times as one range.
    several = any(len(moments) > 1 for _, moments in by_day)
    for compact in (False, True):
        runs = _runs([(day, tuple((m.hour, m.minute) for m in moments)) for day, moments in by_day])
        entries = [f"{_days_label(language, a, b)} {_times(language, of_day[a], compact)}" for a, b, _ in runs]
        forms.append(("; " if several else ", ").join(entries))
    # Days of several visits by how many and the first ("Mon-Fri 10 visits daily from 8:00 AM"),
    # then by the first alone ("Mon-Fri from 8:00 AM"); a day of one visit by its time.
    for counted in (True, False):
        for compact in (False, True):
            entries = []
            keyed = [(day, (len(ms) if counted else len(ms) > 1, ms[0].hour, ms[0].minute)) for day, ms in by_day]
            for a, b, _ in _runs(keyed):
                label, moments = _days_label(language, a, b), of_day[a]
                if len(moments) == 1:
                    entries.append(f"{label} {_clock(language, moments[0], compact=compact)}")
                elif counted:
                    daily = "" if a == b else (" diarias" if es else " daily")
                    entries.append(f"{label} {len(moments)} {'citas' if es else 'visits'}{daily} "
                                   f"{_from(language, moments[0], compact)}")
                else:
                    entries.append(f"{label} {_from(language, moments[0], compact)}")
            forms.append(", ".join(entries))
    # The days, how many visits, and the earliest and latest time; last, the days and how many.
    total = sum(len(moments) for _, moments in by_day)
    days = ", ".join(_days_label(language, a, b) for a, b, _ in _runs([(day, None) for day, _ in by_day]))
    every = [m for _, moments in by_day for m in moments]
    earliest = min(every, key=lambda m: (m.hour, m.minute))
    latest = max(every, key=lambda m: (m.hour, m.minute))
    if es:
        citas = "cita" if total == 1 else "citas"
        forms.append(f"{days}, {total} {citas} entre {_at(language, earliest)} y {_at(language, latest)}")
        forms.append(f"{days} ({total} en total)")
    else:
        visits = "visit" if total == 1 else "visits"
        for compact in (False, True):
            forms.append(f"{days}, {total} {visits} between {_clock(language, earliest, compact=compact)} "
                         f"and {_clock(language, latest, compact=compact)}")
        forms.append(f"{days} ({total} in all)")
    return list(dict.fromkeys(forms))


def digest(language: str, *, first_name: str, site_name: str, site_phone: str, visits: list[datetime]) -> str:
    """The weekly schedule text: the coming week's visits, listed where they fit, else summed up.

    "Hi Ana, your visits Mar 1-5: Mon-Fri 9:00 AM at Oak Health Center Fullerton, (714) 555-0160.
    Reply STOP to opt out." Several visits a day are listed ("Mon-Fri 8:00, 9:05 AM"), or counted
    ("Mon-Fri 10 visits daily from 8:00 AM"), or given by their first ("Mon-Fri from 8:00 AM"),
    or bounded ("Mon-Sat, 6 visits between 9:00 AM and 2:00 PM"); last of all, the days and the
    number of visits ("Mon-Sat (6 in all)"). Only calendar-consecutive days make a range. The names
    are shortened (down to NAME_KEEP / SITE_KEEP) before the visits are summed up any further, and
    below that only when even the shortest summary does not fit. `visits` span at most 7 days.
    """
    _check_language(language)
    if not visits:
        raise ValueError("a weekly schedule text needs at least one visit")
    for visit in visits:
        _check_aware(visit)
    if (max(v.date() for v in visits) - min(v.date() for v in visits)).days >= 7:
        raise ValueError("a weekly schedule text covers at most 7 days")
    ordered = sorted(visits, key=lambda v: (v.date(), v.hour, v.minute))
    by_day: dict[date, list[datetime]] = {}
    for visit in ordered:
        by_day.setdefault(visit.date(), []).append(visit)
    days = list(by_day.items())
    span = _date_range(language, days[0][0], days[-1][0])
    if language == "es":
        head = f"{'sus citas' if len(ordered) > 1 else 'su cita'} {span}"
    else:
        head = f"{'your visits' if len(ordered) > 1 else 'your visit'} {span}"
    phone = _phone(site_phone)
    name, site = _clean_first_name(first_name), _clean_site_name(site_name)

    def builder(schedule: str) -> Build:
        def build(first: str, site_name: str) -> str:
            return (f"{_greet(language, first)}, {head}: {schedule}{_place(language, site_name, phone)}. "
                    f"{_STOP_WORDS[language]}")
        return build

    # The names keep NAME_KEEP / SITE_KEEP before the visits are summed up further; past the
    # shortest summary, they are shortened further.
    forms = _schedules(language, days)
    for floors in ((NAME_KEEP, SITE_KEEP), (NAME_MIN, 0)):
        for schedule in forms:
            text = _fit(builder(schedule), name, site, name_floor=floors[0], site_floor=floors[1])
            if text is not None:
                return _finish(text)
    return _finish(None)


def reply(language: str, what: str, *, first_name: str | None, site_name: str | None, site_phone: str | None,
          starts_at: datetime | None = None) -> str:
    """The answer to a patient's text; `what` is one of REPLIES.

    confirmed (the visit on `starts_at`), nothing_to_confirm, callback (the front desk will call
    back), help (site, phone, the reply words), opted_out (START to get texts again), opted_in
    (STOP to opt out), other (the front desk will read it; for urgent matters call the site).
    Without a first name or site (a number no one knows) the answer leaves them out.
    """
    _check_language(language)
    if what not in REPLIES:
        raise ValueError(f"no reply {what!r}; there are {', '.join(REPLIES)}")
    if starts_at is not None:
        _check_aware(starts_at)
    es = language == "es"
    phone = _phone(site_phone)
    when = _when(language, starts_at) if starts_at is not None else ""
    build: Build

    if what == "confirmed":
        def build(first: str, site: str) -> str:
            if es:
                at = f" del {when}" if when else ""
                where = f" en {site}" if site else ""
                change = f" Para cambiarla llame al {phone}." if phone else ""
                return f"{_greet(language, first, es='Gracias')}, su cita{at}{where} queda confirmada.{change}"
            where = f" at {site}" if site else ""
            at = f" on {when}" if when else ""
            change = f" To change it, call {phone}." if phone else ""
            return f"{_greet(language, first, en='Thanks')}, your visit{where}{at} is confirmed.{change}"
    elif what == "nothing_to_confirm":
        def build(first: str, site: str) -> str:
            if es:
                call = " ".join(p for p in (f"a {site}" if site else "", f"al {phone}" if phone else "") if p)
                return (f"{_greet(language, first)}, no encontramos una cita pendiente para confirmar. "
                        f"Por favor llame {call or 'a la oficina'}.")
            call = " ".join(p for p in (site, f"at {phone}" if phone else "") if p)
            return (f"{_greet(language, first)}, we found no upcoming visit to confirm. "
                    f"Please call {call or 'the front desk'}.")
    elif what == "callback":
        def build(first: str, site: str) -> str:
            if es:
                where = f" en {site}" if site else ""
                return f"{_greet(language, first, es='Gracias')},{where} le devolveremos la llamada pronto."
            where = f" at {site}" if site else ""
            return f"{_greet(language, first, en='Thanks')}, the front desk{where} will call you back soon."
    elif what == "help":
        def build(first: str, site: str) -> str:
            if es:
                head = f"{site}: recordatorios de citas." if site else "Recordatorios de citas."
                call = f" Llame al {phone}." if phone else ""
                return (f"{head}{call} Responda C para confirmar, R para que le llamemos, "
                        "STOP para darse de baja.")
            head = f"{site}: visit reminders." if site else "Visit reminders."
            call = f" Call {phone}." if phone else ""
            return f"{head}{call} Reply C to confirm, R for a call back, STOP to opt out."
    elif what == "opted_out":
        def build(first: str, site: str) -> str:
            if es:
                where = f" de {site}" if site else ""
                return (f"{_greet(language, first)}, ya no le enviaremos mensajes{where}. "
                        "Responda START para recibirlos de nuevo.")
            where = f" from {site}" if site else ""
            return f"{_greet(language, first)}, you will get no more texts{where}. Reply START to get them again."
    elif what == "opted_in":
        def build(first: str, site: str) -> str:
            if es:
                where = f" de {site}" if site else ""
                return f"{_greet(language, first)}, volvemos a enviarle mensajes{where}. {_STOP_WORDS[language]}"
            where = f" from {site}" if site else ""
            return f"{_greet(language, first)}, texts{where} are back on. {_STOP_WORDS[language]}"
    else:  # other
        def build(first: str, site: str) -> str:
            if es:
                where = f" en {site}" if site else ""
                urgent = f"llame al {phone}" if phone else "llame a la oficina"
                return f"{_greet(language, first, es='Gracias')},{where} leeremos su mensaje. Si es urgente, {urgent}."
            where = f" at {site}" if site else ""
            urgent = f"call {phone}" if phone else "please call the front desk"
            return (f"{_greet(language, first, en='Thanks')}, the front desk{where} will read your message. "
                    f"For urgent matters {urgent}.")

    return _finish(_fit(build, _clean_first_name(first_name), _clean_site_name(site_name)))
