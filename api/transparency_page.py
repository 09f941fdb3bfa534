"""The HTML of `/transparansi`: a chart per indicator, drawn as inline SVG (horizontal bars,
one per agency or region), in Bahasa Indonesia. Pure: the figures come in, text goes out; every
name is escaped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from domain.transparency import Figure, Figures, Period

MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)


@dataclass(frozen=True)
class PageData:
    """What the page shows: the period, the nation and its regions, one region's agencies."""

    period: Period
    national: Figures
    regions: list[tuple[str, Figures]]
    region_choices: list[tuple[str, str, bool]]  # (code, name, chosen)
    region_code: str | None
    region_name: str | None
    agencies: list[tuple[str, Figures]]
    min_sample: int
    small_cell: int


def period_name(period: Period) -> str:
    """'Maret 2026' or 'Triwulan I 2026'."""
    first = period.months[0]
    if len(period.months) == 1:
        return f"{MONTHS[first.month - 1]} {first.year}"
    return f"Triwulan {'I II III IV'.split()[(first.month - 1) // 3]} {first.year}"


def _number(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:.0f}%".replace(".", ",")
    if value == int(value):
        return f"{int(value):,}".replace(",", ".") + unit
    return f"{value:.2f}".replace(".", ",") + unit


@dataclass(frozen=True)
class Chart:
    """One indicator's chart: its title, what a bar means, how to read a row."""

    title: str
    note: str
    unit: str
    read: Callable[[Figures], Figure | int | None]
    scale: float | None = None  # a fixed maximum (a share is out of 1, a rating out of 5)


CHARTS: tuple[Chart, ...] = (
    Chart("Laporan diterima", "jumlah laporan", "", lambda f: f.received),
    Chart(
        "Dijawab tepat waktu",
        "bagian laporan yang dijawab sebelum tenggat",
        "%",
        lambda f: f.answered_on_time,
        1.0,
    ),
    Chart(
        "Waktu sampai tanggapan pertama",
        "median hari kerja",
        " hari",
        lambda f: f.first_response_median,
    ),
    Chart(
        "Waktu sampai tanggapan akhir",
        "median hari kerja",
        " hari",
        lambda f: f.resolution_median,
    ),
    Chart(
        "Waktu sampai tanggapan akhir (persentil ke-90)",
        "9 dari 10 laporan dijawab dalam",
        " hari",
        lambda f: f.resolution_p90,
    ),
    Chart(
        "Dikembalikan: bukan kewenangan",
        "jumlah pengembalian",
        "",
        lambda f: f.returned,
    ),
    Chart(
        "Lama ditahan sebelum dikembalikan",
        "median hari kerja",
        " hari",
        lambda f: f.held_median,
    ),
    Chart(
        "Dilimpahkan ke Ombudsman",
        "jumlah laporan",
        "",
        lambda f: f.handed_over,
    ),
    Chart("Disanggah pelapor", "jumlah laporan", "", lambda f: f.disputed),
    Chart("Penilaian pelapor", "rata-rata dari 5", "", lambda f: f.rating_average, 5.0),
)

BAR_HEIGHT = 22
LABEL_WIDTH = 260
BAR_WIDTH = 360
VALUE_WIDTH = 190


def _bar_value(read: Figure | int | None) -> tuple[float | None, str, str]:
    """(length, label, class) of one bar: a value, or why there is none."""
    if read is None:
        return None, "dirahasiakan (sel kecil)", "withheld"
    if isinstance(read, int):
        return float(read), "", "count"
    if read.withheld:
        return None, "dirahasiakan (sel kecil)", "withheld"
    if read.value is None:
        return None, "belum ada data", "empty"
    if not read.rankable:
        return read.value, f"n={read.sample}, belum dapat diperingkat", "unrankable"
    return read.value, f"n={read.sample}", "rankable"


def chart_svg(chart: Chart, rows: Sequence[tuple[str, Figures]], chart_id: str) -> str:
    """A horizontal bar chart of one indicator: a bar per row, its value and its sample."""
    bars = [
        (name, _bar_value(chart.read(f)) if f.received else (0.0, "belum ada laporan", "empty"))
        for name, f in rows
    ]
    top = chart.scale or max((v for _, (v, _, _) in bars if v is not None), default=0.0) or 1.0
    height = BAR_HEIGHT * max(len(bars), 1) + 8
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    parts = [
        f'<svg role="img" aria-labelledby="{chart_id}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}">{escape(chart.title)}</title>',
    ]
    for i, (name, (value, note, kind)) in enumerate(bars):
        y = 4 + i * BAR_HEIGHT
        label = escape(name if len(name) <= 38 else name[:37] + "…")
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end" class="label">'
            f"{label}</text>"
        )
        if value is not None:
            length = max(BAR_WIDTH * value / top, 2.0)
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" '
                f'height="{BAR_HEIGHT - 6}" class="bar {kind}"><title>{label}: '
                f"{escape(_number(value, chart.unit))}</title></rect>"
            )
            shown = _number(value, chart.unit) + (f" ({note})" if note else "")
        else:
            shown = note
        x = LABEL_WIDTH + (BAR_WIDTH * value / top if value is not None else 0) + 6
        parts.append(f'<text x="{x:.1f}" y="{y + 15}" class="value {kind}">{escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1d2327; background: #f6f7f7; }
header { background: #8b1a1a; color: #fff; padding: 1rem 2rem; }
header h1 { margin: 0; font-size: 1.5rem; }
main { padding: 1rem 2rem 3rem; max-width: 900px; }
form { margin: 1rem 0; display: flex; gap: 1rem; align-items: end; flex-wrap: wrap; }
label { display: flex; flex-direction: column; font-size: .85rem; }
.cards { display: flex; gap: .75rem; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid #dcdcde; border-radius: 6px; padding: .6rem 1rem; }
.card b { display: block; font-size: 1.4rem; }
figure { background: #fff; border: 1px solid #dcdcde; border-radius: 6px; margin: 1rem 0;
         padding: .75rem 1rem; overflow-x: auto; }
figcaption { font-weight: 600; margin-bottom: .4rem; }
figcaption small { font-weight: 400; color: #50575e; }
svg text { font-size: 12px; fill: #1d2327; }
svg .bar.rankable, svg .bar.count { fill: #2271b1; }
svg .bar.unrankable { fill: #a7aaad; }
svg .value.withheld, svg .value.empty, svg .value.unrankable { fill: #646970; }
.rules { font-size: .9rem; color: #3c434a; }
"""


def _cards(f: Figures) -> str:
    def card(title: str, value: str) -> str:
        return f'<div class="card">{escape(title)}<b>{escape(value)}</b></div>'

    def shown(x: int | None) -> str:
        return "—" if x is None else _number(float(x), "")

    share = f.answered_on_time
    on_time = "—" if share.value is None else _number(share.value, "%")
    return (
        '<div class="cards">'
        + "".join(
            [
                card("Diterima", shown(f.received)),
                card("Diverifikasi", shown(f.verified)),
                card("Dijawab", shown(f.answered)),
                card("Tepat waktu", on_time),
                card("Dilimpahkan ke Ombudsman", shown(f.handed_over)),
            ]
        )
        + "</div>"
    )


def _charts(rows: Sequence[tuple[str, Figures]], prefix: str) -> str:
    if not rows:
        return "<p>Belum ada data untuk periode ini.</p>"
    out = []
    for i, chart in enumerate(CHARTS):
        out.append(
            f"<figure><figcaption>{escape(chart.title)} <small>({escape(chart.note)})</small>"
            f"</figcaption>{chart_svg(chart, rows, f'{prefix}-{i}')}</figure>"
        )
    return "".join(out)


def render_page(data: PageData) -> str:
    """The whole page, self-contained."""
    label = escape(data.period.label)
    options = "".join(
        f'<option value="{escape(code)}"{" selected" if chosen else ""}>{escape(name)}</option>'
        for code, name, chosen in data.region_choices
    )
    region = escape(data.region_name or "")
    wilayah = f"&amp;wilayah={escape(data.region_code)}" if data.region_code else ""
    agencies = (
        f"<h2>Kinerja instansi: {region}</h2>{_charts(data.agencies, 'instansi')}"
        if data.region_name
        else ""
    )
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Transparansi Kinerja Penanganan Laporan · {escape(period_name(data.period))}</title>
<style>{STYLE}</style></head>
<body><header><h1>Transparansi Kinerja Penanganan Laporan</h1>
<div>Seberapa cepat dan tuntas setiap instansi menjawab laporan warga ·
{escape(period_name(data.period))}</div></header>
<main>
<form method="get" action="/transparansi">
<label>Periode (bulan 2026-03 atau triwulan 2026-Q1)
<input name="periode" value="{label}" size="10"></label>
<label>Wilayah <select name="wilayah">{options}</select></label>
<button type="submit">Tampilkan</button>
</form>
<h2>Nasional</h2>
{_cards(data.national)}
<h2>Kinerja wilayah</h2>
{_charts(data.regions, "wilayah")}
{agencies}
<h2>Unduh data</h2>
<ul>
<li><a href="/transparansi/instansi.csv?periode={label}{wilayah}">Instansi (CSV)</a></li>
<li><a href="/transparansi/wilayah.csv?periode={label}">Wilayah dan nasional (CSV)</a></li>
</ul>
<h2>Cara membaca</h2>
<p class="rules">Waktu dihitung dalam hari kerja kalender wilayah laporan (tanpa Sabtu, Minggu,
hari libur nasional, cuti bersama dan libur daerah). Instansi dihitung sejak laporan diteruskan
kepadanya; wilayah sejak laporan dikirim warga. Angka dari kurang dari {data.min_sample} laporan
ditampilkan abu-abu dan <b>belum dapat diperingkat</b>. Angka dari kurang dari
{data.small_cell} laporan <b>dirahasiakan</b> agar tidak ada pelapor yang dapat dikenali.
Laporan rahasia ikut dihitung tetapi tidak pernah ditampilkan.</p>
</main></body></html>
"""
