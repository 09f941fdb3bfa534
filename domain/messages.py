"""The words of notifications: Indonesian first, English as the fallback for any missing text.

Privacy by construction: a message never names the reporter, and names a report's title only
when the report is not confidential; so a message may go to any audience over any channel.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_LOCALE = "id"
FALLBACK_LOCALE = "en"

_TEXTS: dict[str, dict[str, str]] = {
    "id": {
        "report.submitted": "Laporan {code}{title} telah diterima.",
        "report.info_added": "Pelapor menambahkan informasi pada laporan {code}{title}.",
        "report.verified": "Laporan {code}{title} telah diverifikasi dan diteruskan.",
        "report.held": "Laporan {code}{title} ditunda: informasi tambahan diperlukan.",
        "report.archived": "Laporan {code}{title} diarsipkan.",
        "report.supported": "Seseorang mendukung laporan {code}{title}.",
        "assignment.created": "Laporan {code}{title} didisposisikan ke {agency}.",
        "assignment.accepted": "{agency} menerima laporan {code}{title}.",
        "assignment.follow_up": "{agency} menindaklanjuti laporan {code}{title}.",
        "assignment.final_follow_up": "{agency} memberi jawaban akhir atas laporan {code}{title}.",
        "assignment.returned": "{agency} mengembalikan laporan {code}{title}.",
        "assignment.forwarded": "{agency} meneruskan laporan {code}{title} ke unit di bawahnya.",
        "assignment.reopened": "Laporan {code}{title} dibuka kembali untuk {agency}.",
        "report.responded": "Laporan {code}{title} telah dijawab.",
        "report.disputed": "Pelapor menyanggah jawaban atas laporan {code}{title}.",
        "report.rated": "Pelapor memberi penilaian pada laporan {code}{title}.",
        "report.closed": "Laporan {code}{title} ditutup.",
        "report.escalated": "Laporan {code}{title} dilimpahkan ke Ombudsman.",
        "deadline.reminder": "Pengingat: batas waktu {stage} laporan {code}{title} jatuh "
        "pada {due}.",
        "deadline.breached": "Batas waktu {stage} laporan {code}{title} terlewati ({due}).",
        "deadline.escalated": "Eskalasi: batas waktu {stage} laporan {code}{title} terlewati "
        "sejak {due}.",
        "other": "Ada pembaruan pada laporan {code}{title}.",
        "stage.verify": "verifikasi",
        "stage.first_response": "tindak lanjut pertama",
        "stage.resolution": "penyelesaian",
        "stage.reporter_window": "tanggapan Anda",
        "subject": "[Lapor] {code}",
        "footer": "Pesan ini dikirim otomatis oleh Lapor. Jangan membalas e-mail ini.",
    },
    "en": {
        "report.submitted": "Report {code}{title} was received.",
        "report.info_added": "The reporter added information to report {code}{title}.",
        "report.verified": "Report {code}{title} was verified and forwarded.",
        "report.held": "Report {code}{title} is on hold: more information is needed.",
        "report.archived": "Report {code}{title} was archived.",
        "report.supported": "Someone supported report {code}{title}.",
        "assignment.created": "Report {code}{title} was assigned to {agency}.",
        "assignment.accepted": "{agency} accepted report {code}{title}.",
        "assignment.follow_up": "{agency} posted a follow-up on report {code}{title}.",
        "assignment.final_follow_up": "{agency} gave its final answer on report {code}{title}.",
        "assignment.returned": "{agency} returned report {code}{title}.",
        "assignment.forwarded": "{agency} forwarded report {code}{title} to a sub-unit.",
        "assignment.reopened": "Report {code}{title} was reopened for {agency}.",
        "report.responded": "Report {code}{title} has been answered.",
        "report.disputed": "The reporter disputed the answer on report {code}{title}.",
        "report.rated": "The reporter rated report {code}{title}.",
        "report.closed": "Report {code}{title} was closed.",
        "report.escalated": "Report {code}{title} was handed over to the Ombudsman.",
        "deadline.reminder": "Reminder: the {stage} deadline of report {code}{title} is {due}.",
        "deadline.breached": "The {stage} deadline of report {code}{title} was missed ({due}).",
        "deadline.escalated": "Escalation: the {stage} deadline of report {code}{title} was "
        "missed on {due}.",
        "other": "Report {code}{title} was updated.",
        "stage.verify": "verification",
        "stage.first_response": "first follow-up",
        "stage.resolution": "resolution",
        "stage.reporter_window": "your reply",
        "subject": "[Lapor] {code}",
        "footer": "This message was sent automatically by Lapor. Do not reply to it.",
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


def text(locale: str | None, key: str) -> str:
    """A text of the catalog in `locale`, in English when that locale lacks it."""
    found = _TEXTS.get(locale or DEFAULT_LOCALE, {}).get(key)
    return found if found is not None else _TEXTS[FALLBACK_LOCALE][key]


def _has(key: str) -> bool:
    return key in _TEXTS[FALLBACK_LOCALE]


def render(facts: MessageFacts, locale: str | None) -> str:
    """The one-line message of an event for a reader of `locale`."""
    key = facts.kind if _has(facts.kind) else "other"
    due = ""
    if facts.due_at is not None:
        local = facts.due_at.astimezone(ZoneInfo(facts.timezone))
        due = local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")
    stage = (
        text(locale, f"stage.{facts.stage}") if facts.stage and _has(f"stage.{facts.stage}") else ""
    )
    return text(locale, key).format(
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
    footer = text(locale, "footer")
    subject = text(locale, "subject").format(code=facts.tracking_code) + " " + line
    body_html = (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<p>{html.escape(line)}</p>"
        f'<p style="color:#666;font-size:small">{html.escape(footer)}</p></body></html>'
    )
    return Email(to=to, subject=subject[:200], text=f"{line}\n\n-- \n{footer}\n", html=body_html)
