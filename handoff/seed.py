"""Defaults an empty database starts with: the SOP's category list, one template per category and language,
and a supervisor with a one-time password."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handoff.auth import create_user, generate_password
from models import AnswerTemplate, Category, User, UserRole
from nlp import seed_templates

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DefaultCategory:
    slug: str
    name_id: str
    name_en: str
    description: str


DEFAULT_CATEGORIES: tuple[DefaultCategory, ...] = (
    DefaultCategory(
        "akun-login",
        "Akun & login",
        "Account & login",
        "Tidak bisa login, galat SSO, akun terkunci atau tidak ditemukan",
    ),
    DefaultCategory(
        "reset-password", "Reset password", "Password reset", "Lupa atau ganti password, masalah tautan reset"
    ),
    DefaultCategory(
        "kelas-enrolment",
        "Kelas & enrolment",
        "Classes & enrolment",
        "Mata kuliah atau kelas tidak muncul, salah kelas, enrolment",
    ),
    DefaultCategory(
        "tugas-pengumpulan", "Tugas & pengumpulan", "Assignments & submission", "Masalah unggah dan pengumpulan tugas"
    ),
    DefaultCategory("kuis-ujian", "Kuis & ujian", "Quizzes & exams", "Masalah kuis dan ujian daring"),
    DefaultCategory("nilai", "Nilai", "Grades", "Nilai tidak muncul, salah, atau belum dipublikasikan"),
    DefaultCategory(
        "materi-video",
        "Materi & video",
        "Materials & videos",
        "Materi kuliah dan video rekaman yang tidak bisa dibuka atau diputar",
    ),
    DefaultCategory(
        "konferensi-video",
        "Konferensi video",
        "Video conferencing",
        "Kelas daring, tautan Zoom/Teams, rekaman sesi langsung",
    ),
    DefaultCategory("sertifikat", "Sertifikat", "Certificates", "Sertifikat tidak terbit, salah, atau cara mengunduh"),
    DefaultCategory("notifikasi", "Notifikasi", "Notifications", "Notifikasi email dan aplikasi"),
    DefaultCategory(
        "dosen-pengelolaan-kelas",
        "Dosen: pengelolaan kelas",
        "Lecturers: managing a course",
        "Dosen dan asisten mengelola mata kuliah",
    ),
    DefaultCategory("aplikasi-mobile", "Aplikasi mobile", "Mobile app", "Aplikasi mobile Edunex"),
    DefaultCategory(
        "bug-sistem",
        "Gangguan sistem",
        "System outage or bug",
        "Sistem down atau rusak untuk semua pengguna: eskalasi ke tim pengembang",
    ),
)


async def seed_defaults() -> bool:
    """Create categories and templates on an empty database. Returns True when it seeded anything."""
    if await Category.exists():
        return False
    for order, default in enumerate(DEFAULT_CATEGORIES):
        await Category.create(
            slug=default.slug,
            name_id=default.name_id,
            name_en=default.name_en,
            description=default.description,
            sort_order=order,
        )
    categories = {c.slug: c for c in await Category.all()}
    for template in seed_templates():
        category = categories.get(template.category)
        if category is not None:
            await AnswerTemplate.create(category=category, language=template.lang, body=template.body)
    log.info("seeded %d categories and their templates", len(categories))
    return True


SUPERVISOR_EMAIL = "supervisor@carecenter.local"


async def ensure_supervisor() -> tuple[User, str] | None:
    """On a database without console users, create a supervisor; returns it with its one-time password."""
    if await User.exists():
        return None
    password = generate_password()
    user = await create_user(
        email=SUPERVISOR_EMAIL,
        role=UserRole.SUPERVISOR,
        password=password,
        name="Supervisor",
        must_change_password=True,
    )
    return user, password
