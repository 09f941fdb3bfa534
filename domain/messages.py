"""The words of notifications: Indonesian first, English as the fallback for any missing text.

Privacy by construction: a message never names the reporter, and names a report's title only
when the report is not confidential; so a message may go to any audience over any channel.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.events import EventKind, event_kind

DEFAULT_LOCALE = "id"
FALLBACK_LOCALE = "en"

K = EventKind
_EVENT_TEXTS: dict[str, dict[EventKind, str]] = {
    "id": {
        K.REPORT_SUBMITTED: "Laporan {code}{title} telah diterima.",
        K.REPORT_INFO_ADDED: "Pelapor menambahkan informasi pada laporan {code}{title}.",
        K.REPORT_VERIFIED: "Laporan {code}{title} telah diverifikasi dan diteruskan.",
        K.REPORT_HELD: "Laporan {code}{title} ditunda: informasi tambahan diperlukan.",
        K.REPORT_ARCHIVED: "Laporan {code}{title} diarsipkan.",
        K.REPORT_SUPPORTED: "Seseorang mendukung laporan {code}{title}.",
        K.ASSIGNMENT_CREATED: "Laporan {code}{title} didisposisikan ke {agency}.",
        K.ASSIGNMENT_ACCEPTED: "{agency} menerima laporan {code}{title}.",
        K.ASSIGNMENT_FOLLOW_UP: "{agency} menindaklanjuti laporan {code}{title}.",
        K.ASSIGNMENT_FINAL_FOLLOW_UP: "{agency} memberi jawaban akhir atas laporan {code}{title}.",
        K.ASSIGNMENT_RETURNED: "{agency} mengembalikan laporan {code}{title}.",
        K.ASSIGNMENT_FORWARDED: "{agency} meneruskan laporan {code}{title} ke unit di bawahnya.",
        K.ASSIGNMENT_REOPENED: "Laporan {code}{title} dibuka kembali untuk {agency}.",
        K.REPORT_RESPONDED: "Laporan {code}{title} telah dijawab.",
        K.REPORT_DISPUTED: "Pelapor menyanggah jawaban atas laporan {code}{title}.",
        K.REPORT_RATED: "Pelapor memberi penilaian pada laporan {code}{title}.",
        K.REPORT_CLOSED: "Laporan {code}{title} ditutup.",
        K.REPORT_HANDED_OVER: "Laporan {code}{title} dilimpahkan ke Ombudsman.",
        K.REPORT_MERGED: "Laporan {code}{title} digabungkan dengan laporan lain tentang masalah "
        "yang sama; Anda akan menerima kabar perkembangannya.",
        K.REPORT_UNMERGED: "Penggabungan laporan {code}{title} dibatalkan; laporan Anda "
        "diproses tersendiri.",
        K.REPORT_DUPLICATE_MERGED: "Laporan lain tentang masalah yang sama digabungkan ke "
        "laporan {code}{title}: ada informasi baru.",
        K.REPORT_DUPLICATE_UNMERGED: "Sebuah laporan yang digabungkan ke laporan {code}{title} "
        "dipisahkan kembali.",
        K.ATTACHMENT_HIDDEN: "Koordinator menyembunyikan sebuah lampiran laporan {code}{title}.",
        K.ATTACHMENT_SHOWN: "Koordinator menampilkan kembali sebuah lampiran laporan "
        "{code}{title}.",
        K.DEADLINE_REMINDER: "Pengingat: batas waktu {stage} laporan {code}{title} jatuh "
        "pada {due}.",
        K.DEADLINE_BREACHED: "Batas waktu {stage} laporan {code}{title} terlewati ({due}).",
        K.DEADLINE_ESCALATED: "Eskalasi: batas waktu {stage} laporan {code}{title} terlewati "
        "sejak {due}.",
    },
    "en": {
        K.REPORT_SUBMITTED: "Report {code}{title} was received.",
        K.REPORT_INFO_ADDED: "The reporter added information to report {code}{title}.",
        K.REPORT_VERIFIED: "Report {code}{title} was verified and forwarded.",
        K.REPORT_HELD: "Report {code}{title} is on hold: more information is needed.",
        K.REPORT_ARCHIVED: "Report {code}{title} was archived.",
        K.REPORT_SUPPORTED: "Someone supported report {code}{title}.",
        K.ASSIGNMENT_CREATED: "Report {code}{title} was assigned to {agency}.",
        K.ASSIGNMENT_ACCEPTED: "{agency} accepted report {code}{title}.",
        K.ASSIGNMENT_FOLLOW_UP: "{agency} posted a follow-up on report {code}{title}.",
        K.ASSIGNMENT_FINAL_FOLLOW_UP: "{agency} gave its final answer on report {code}{title}.",
        K.ASSIGNMENT_RETURNED: "{agency} returned report {code}{title}.",
        K.ASSIGNMENT_FORWARDED: "{agency} forwarded report {code}{title} to a sub-unit.",
        K.ASSIGNMENT_REOPENED: "Report {code}{title} was reopened for {agency}.",
        K.REPORT_RESPONDED: "Report {code}{title} has been answered.",
        K.REPORT_DISPUTED: "The reporter disputed the answer on report {code}{title}.",
        K.REPORT_RATED: "The reporter rated report {code}{title}.",
        K.REPORT_CLOSED: "Report {code}{title} was closed.",
        K.REPORT_HANDED_OVER: "Report {code}{title} was handed over to the Ombudsman.",
        K.REPORT_MERGED: "Report {code}{title} was merged with another report of the same "
        "problem; you will hear of its progress.",
        K.REPORT_UNMERGED: "The merge of report {code}{title} was undone; your report is "
        "handled on its own.",
        K.REPORT_DUPLICATE_MERGED: "Another report of the same problem was merged into report "
        "{code}{title}: there is new information.",
        K.REPORT_DUPLICATE_UNMERGED: "A report merged into report {code}{title} was split off "
        "again.",
        K.ATTACHMENT_HIDDEN: "The desk hid a file of report {code}{title}.",
        K.ATTACHMENT_SHOWN: "The desk showed a file of report {code}{title} again.",
        K.DEADLINE_REMINDER: "Reminder: the {stage} deadline of report {code}{title} is {due}.",
        K.DEADLINE_BREACHED: "The {stage} deadline of report {code}{title} was missed ({due}).",
        K.DEADLINE_ESCALATED: "Escalation: the {stage} deadline of report {code}{title} was "
        "missed on {due}.",
    },
}

_TEXTS: dict[str, dict[str, str]] = {
    "id": {
        "other": "Ada pembaruan pada laporan {code}{title}.",
        "stage.verify": "verifikasi",
        "stage.first_response": "tindak lanjut pertama",
        "stage.resolution": "penyelesaian",
        "stage.reporter_window": "tanggapan Anda",
        "subject": "[Lapor] {code}",
        "footer": "Pesan ini dikirim otomatis oleh Lapor. Jangan membalas e-mail ini.",
        "account.subject": "[Lapor] Pendaftaran dengan alamat e-mail Anda",
        "account.taken": "Seseorang mencoba mendaftar di Lapor dengan alamat e-mail ini, yang "
        "sudah memiliki akun. Jika itu Anda, masuklah dengan kata sandi Anda; jika bukan, "
        "abaikan pesan ini: tidak ada yang berubah.",
        "desk.reporter": "Pelapor",
        "desk.coordinator": "Koordinator {region}",
        "desk.ombudsman": "Ombudsman",
    },
    "en": {
        "other": "Report {code}{title} was updated.",
        "stage.verify": "verification",
        "stage.first_response": "first follow-up",
        "stage.resolution": "resolution",
        "stage.reporter_window": "your reply",
        "subject": "[Lapor] {code}",
        "footer": "This message was sent automatically by Lapor. Do not reply to it.",
        "account.subject": "[Lapor] A registration with your e-mail address",
        "account.taken": "Someone tried to register with Lapor using this e-mail address, which "
        "already has an account. If it was you, sign in with your password; if not, ignore "
        "this message: nothing has changed.",
        "desk.reporter": "Reporter",
        "desk.coordinator": "Coordinator, {region}",
        "desk.ombudsman": "Ombudsman",
    },
}


@dataclass(frozen=True)
class MessageFacts:
    """What a message may say about an event: nothing that names a person."""

    kind: str
    tracking_code: str
    title: str | None  # None when the report is confidential
    agency: str | None = None
    stage: str | None = None
    due_at: datetime | None = None
    timezone: str = "Asia/Jakarta"


LOCALES = tuple(_TEXTS)


def text(locale: str | None, key: str) -> str:
    """A text of the catalog in `locale`, in English when that locale lacks it."""
    found = _TEXTS.get(locale or DEFAULT_LOCALE, {}).get(key)
    return found if found is not None else _TEXTS[FALLBACK_LOCALE][key]


def event_text(locale: str | None, kind: EventKind) -> str:
    """The sentence telling of an event of `kind`, in `locale` (else English)."""
    found = _EVENT_TEXTS.get(locale or DEFAULT_LOCALE, {}).get(kind)
    return found if found is not None else _EVENT_TEXTS[FALLBACK_LOCALE][kind]


def has_event_text(locale: str, kind: EventKind) -> bool:
    return kind in _EVENT_TEXTS.get(locale, {})


def _has(key: str) -> bool:
    return key in _TEXTS[FALLBACK_LOCALE]


def render(facts: MessageFacts, locale: str | None) -> str:
    """The one-line message of an event for a reader of `locale`."""
    kind = event_kind(facts.kind)
    due = ""
    if facts.due_at is not None:
        local = facts.due_at.astimezone(ZoneInfo(facts.timezone))
        due = local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")
    stage = (
        text(locale, f"stage.{facts.stage}") if facts.stage and _has(f"stage.{facts.stage}") else ""
    )
    sentence = event_text(locale, kind) if kind is not None else text(locale, "other")
    return sentence.format(
        code=facts.tracking_code,
        title=f' "{facts.title}"' if facts.title else "",
        agency=facts.agency or "",
        stage=stage,
        due=due.strip(),
    )


@dataclass(frozen=True)
class Email:
    """An e-mail ready to send: plain text and HTML bodies in the reader's language."""

    to: str
    subject: str
    text: str
    html: str


def email_for(facts: MessageFacts, locale: str | None, to: str) -> Email:
    """The e-mail telling `to` of an event, in their language."""
    line = render(facts, locale)
    subject = text(locale, "subject").format(code=facts.tracking_code) + " " + line
    return _email(to, subject, line, locale)


def notice_email(line: str, locale: str | None, to: str) -> Email:
    """An e-mail about `to`'s account (no report), its sentence written in their language."""
    return _email(to, text(locale, "account.subject"), line, locale)


def _email(to: str, subject: str, line: str, locale: str | None) -> Email:
    footer = text(locale, "footer")
    body_html = (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<p>{html.escape(line)}</p>"
        f'<p style="color:#666;font-size:small">{html.escape(footer)}</p></body></html>'
    )
    return Email(to=to, subject=subject[:200], text=f"{line}\n\n-- \n{footer}\n", html=body_html)
