"""Demo data for the embedded mode: Kabupaten Jember and its OPDs, a regency in WIT, users.

The demo credentials live only here and in the README: never seed them into production.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tortoise.transactions import in_transaction

from domain.services.accounts import Grant, create_user
from models import Agency, Category, Holiday, Region, RoutingRule
from models.enums import RegionLevel, ResolutionTier, Role

DEMO_PASSWORD = "lapor-demo"
# The region whose presence means the demo has been seeded already.
MARKER_REGION = "35.09"

JEMBER = "35.09"
JAYAPURA = "91.03"


@dataclass(frozen=True)
class DemoAccount:
    """One demo user: its role, scoped by a region code and, for agency roles, an agency code."""

    email: str
    name: str
    role: Role
    region: str | None = None
    agency: str | None = None
    note: str = ""


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin@lapor.demo", "Admin Lapor", Role.SUPERADMIN, note="superadmin"),
    DemoAccount(
        "koordinator@jember.demo",
        "Bambang Koordinator",
        Role.COORDINATOR,
        JEMBER,
        note="coordinator, Kabupaten Jember (Diskominfo)",
    ),
    DemoAccount(
        "dinkes@jember.demo",
        "Dewi Petugas Dinkes",
        Role.OFFICER,
        JEMBER,
        "DINKES",
        note="officer, Dinas Kesehatan Jember",
    ),
    DemoAccount(
        "kepala.dinkes@jember.demo",
        "dr. Hendra Kepala Dinkes",
        Role.AGENCY_HEAD,
        JEMBER,
        "DINKES",
        note="agency head, Dinas Kesehatan Jember",
    ),
    DemoAccount(
        "puskesmas@jember.demo",
        "Rahmat Petugas Puskesmas",
        Role.OFFICER,
        JEMBER,
        "PKM-SUMBERSARI",
        note="officer, Puskesmas Sumbersari (under Dinkes)",
    ),
    DemoAccount(
        "pupr@jember.demo",
        "Agus Petugas PUPR",
        Role.OFFICER,
        JEMBER,
        "DPUPR",
        note="officer, Dinas PU Bina Marga dan SDA Jember",
    ),
    DemoAccount(
        "koordinator@jayapura.demo",
        "Yohanes Koordinator",
        Role.COORDINATOR,
        JAYAPURA,
        note="coordinator, Kabupaten Jayapura (WIT)",
    ),
    DemoAccount("ombudsman@lapor.demo", "Tim Ombudsman", Role.OMBUDSMAN, note="ombudsman"),
    DemoAccount("warga@jember.demo", "Siti Warga", Role.CITIZEN, note="citizen"),
)

# (code, name, level, time zone, parent code)
REGIONS: tuple[tuple[str, str, RegionLevel, str, str | None], ...] = (
    ("35", "Provinsi Jawa Timur", RegionLevel.PROVINCE, "Asia/Jakarta", None),
    (JEMBER, "Kabupaten Jember", RegionLevel.REGENCY, "Asia/Jakarta", "35"),
    ("35.78", "Kota Surabaya", RegionLevel.CITY, "Asia/Jakarta", "35"),
    ("91", "Provinsi Papua", RegionLevel.PROVINCE, "Asia/Jayapura", None),
    (JAYAPURA, "Kabupaten Jayapura", RegionLevel.REGENCY, "Asia/Jayapura", "91"),
)

# (region code or None for a national agency, code, name, parent code in the same region)
AGENCIES: tuple[tuple[str | None, str, str, str | None], ...] = (
    (JEMBER, "DINKES", "Dinas Kesehatan", None),
    (JEMBER, "PKM-SUMBERSARI", "Puskesmas Sumbersari", "DINKES"),
    (JEMBER, "PKM-PATRANG", "Puskesmas Patrang", "DINKES"),
    (JEMBER, "DPUPR", "Dinas Pekerjaan Umum, Bina Marga dan Sumber Daya Air", None),
    (JEMBER, "DISDIK", "Dinas Pendidikan", None),
    (JEMBER, "DLH", "Dinas Lingkungan Hidup", None),
    (JEMBER, "DINSOS", "Dinas Sosial", None),
    (JEMBER, "DISPENDUKCAPIL", "Dinas Kependudukan dan Pencatatan Sipil", None),
    (JEMBER, "DISHUB", "Dinas Perhubungan", None),
    (JEMBER, "SATPOLPP", "Satuan Polisi Pamong Praja", None),
    (JEMBER, "DISKOMINFO", "Dinas Komunikasi dan Informatika", None),
    (JAYAPURA, "DINKES", "Dinas Kesehatan", None),
    (JAYAPURA, "DPUPR", "Dinas Pekerjaan Umum dan Penataan Ruang", None),
    (JAYAPURA, "DISKOMINFO", "Dinas Komunikasi dan Informatika", None),
    (None, "BPJS-KESEHATAN", "BPJS Kesehatan", None),
)

CATEGORIES: tuple[tuple[str, str, ResolutionTier | None], ...] = (
    ("KESEHATAN", "Kesehatan", ResolutionTier.STANDARD),
    ("INFRASTRUKTUR", "Infrastruktur Jalan dan Jembatan", ResolutionTier.FIELD),
    ("PENDIDIKAN", "Pendidikan", ResolutionTier.STANDARD),
    ("LINGKUNGAN", "Lingkungan Hidup", ResolutionTier.FIELD),
    ("SOSIAL", "Sosial dan Bantuan Sosial", ResolutionTier.STANDARD),
    ("KEPENDUDUKAN", "Administrasi Kependudukan", ResolutionTier.SIMPLE),
    ("PERHUBUNGAN", "Perhubungan dan Lalu Lintas", ResolutionTier.STANDARD),
    ("KETERTIBAN", "Ketenteraman dan Ketertiban Umum", ResolutionTier.STANDARD),
    ("INFORMASI", "Permintaan Informasi", ResolutionTier.SIMPLE),
    # No default: the coordinator chooses the tier when forwarding.
    ("LAINNYA", "Lainnya", None),
)

# (category code, region code, agency code in that region)
ROUTING: tuple[tuple[str, str, str], ...] = (
    ("KESEHATAN", JEMBER, "DINKES"),
    ("INFRASTRUKTUR", JEMBER, "DPUPR"),
    ("PENDIDIKAN", JEMBER, "DISDIK"),
    ("LINGKUNGAN", JEMBER, "DLH"),
    ("SOSIAL", JEMBER, "DINSOS"),
    ("KEPENDUDUKAN", JEMBER, "DISPENDUKCAPIL"),
    ("PERHUBUNGAN", JEMBER, "DISHUB"),
    ("KETERTIBAN", JEMBER, "SATPOLPP"),
    ("INFORMASI", JEMBER, "DISKOMINFO"),
    ("KESEHATAN", JAYAPURA, "DINKES"),
    ("INFRASTRUKTUR", JAYAPURA, "DPUPR"),
    ("INFORMASI", JAYAPURA, "DISKOMINFO"),
)

# Collective leave (cuti bersama) 2026: national, so region null. National public holidays
# themselves come from the `holidays` package, not from rows.
COLLECTIVE_LEAVE_2026: tuple[tuple[date, str], ...] = (
    (date(2026, 2, 16), "Cuti bersama Tahun Baru Imlek"),
    (date(2026, 3, 18), "Cuti bersama Idul Fitri 1447 H"),
    (date(2026, 3, 20), "Cuti bersama Idul Fitri 1447 H"),
    (date(2026, 3, 23), "Cuti bersama Idul Fitri 1447 H"),
    (date(2026, 3, 24), "Cuti bersama Idul Fitri 1447 H"),
    (date(2026, 5, 15), "Cuti bersama Kenaikan Yesus Kristus"),
    (date(2026, 5, 28), "Cuti bersama Idul Adha 1447 H"),
    (date(2026, 12, 24), "Cuti bersama Hari Raya Natal"),
)


async def is_seeded() -> bool:
    """Whether the demo data is present (its marker region exists)."""
    return await Region.exists(code=MARKER_REGION)


async def seed_demo(now: datetime) -> bool:
    """Write the demo data in one transaction; False (and nothing written) if it is there."""
    async with in_transaction():
        if await is_seeded():
            return False
        regions: dict[str, int] = {}
        for code, name, level, tz, parent in REGIONS:
            region = await Region.create(
                code=code,
                name=name,
                level=level,
                timezone=tz,
                parent_id=regions[parent] if parent else None,
            )
            regions[code] = region.id

        agencies: dict[tuple[str | None, str], int] = {}
        for region_code, code, name, parent_code in AGENCIES:
            agency = await Agency.create(
                code=code,
                name=name,
                region_id=regions[region_code] if region_code else None,
                parent_id=agencies[(region_code, parent_code)] if parent_code else None,
            )
            agencies[(region_code, code)] = agency.id

        categories: dict[str, int] = {}
        for code, name, tier in CATEGORIES:
            category = await Category.create(code=code, name=name, default_tier=tier)
            categories[code] = category.id

        for category_code, region_code, agency_code in ROUTING:
            await RoutingRule.create(
                category_id=categories[category_code],
                region_id=regions[region_code],
                agency_id=agencies[(region_code, agency_code)],
            )

        for day, name in COLLECTIVE_LEAVE_2026:
            await Holiday.create(day=day, name=name, region_id=None)

        for account in DEMO_ACCOUNTS:
            await create_user(
                now,
                name=account.name,
                email=account.email,
                password=DEMO_PASSWORD,
                grants=[_grant(account, regions, agencies)],
            )
    return True


def _grant(
    account: DemoAccount,
    regions: dict[str, int],
    agencies: dict[tuple[str | None, str], int],
) -> Grant:
    if account.agency is not None:
        return Grant(account.role, agency_id=agencies[(account.region, account.agency)])
    if account.role is Role.COORDINATOR and account.region is not None:
        return Grant(account.role, region_id=regions[account.region])
    return Grant(account.role)
