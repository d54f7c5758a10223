from datetime import date

import pytest

from bot.identity import IdentityKind, Problem, mask, parse_identity, validate_nim, validate_nip

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "kind", "value", "remainder"),
    [
        ("13521045 lupa password", IdentityKind.NIM, "13521045", "lupa password"),
        ("nim saya 13521045", IdentityKind.NIM, "13521045", "nim saya"),
        ("NIP 19850312 201012 1 001 tidak bisa login", IdentityKind.NIP, "198503122010121001", "NIP tidak bisa login"),
        ("198503122010121001", IdentityKind.NIP, "198503122010121001", ""),
        ("117123456", IdentityKind.STAFF, "117123456", ""),
        (
            "email saya Budi.Contoh@students.itb.ac.id",
            IdentityKind.EMAIL,
            "budi.contoh@students.itb.ac.id",
            "email saya",
        ),
        ("dewi@itb.ac.id.", IdentityKind.EMAIL, "dewi@itb.ac.id", ""),
    ],
)
def test_identity_is_found_anywhere(text: str, kind: IdentityKind, value: str, remainder: str) -> None:
    result = parse_identity(text, today=TODAY)
    assert result.identity is not None
    assert (result.identity.kind, result.identity.value, result.remainder) == (kind, value, remainder)


@pytest.mark.parametrize(
    ("text", "problem", "digits"),
    [
        ("1352104", Problem.WRONG_LENGTH, 7),
        ("nim 1352104567", Problem.WRONG_LENGTH, 10),
        ("03521045", Problem.BAD_NIM, 8),  # programme codes never start with 0
        ("13521000", Problem.BAD_NIM, 8),  # sequence 000
        ("198513122010121001", Problem.BAD_NIP, 18),  # month 13
        ("198503122010123001", Problem.BAD_NIP, 18),  # gender digit 3
        ("200503122010121001", Problem.BAD_NIP, 18),  # appointed at the age of 5
        ("budi@gmail.com", Problem.NOT_CAMPUS_EMAIL, 0),
    ],
)
def test_malformed_identities_are_reported(text: str, problem: Problem, digits: int) -> None:
    result = parse_identity(text, today=TODAY)
    assert result.identity is None
    assert result.attempt is not None
    assert (result.attempt.problem, result.attempt.digits) == (problem, digits)


@pytest.mark.parametrize("text", ["kuis 2 tidak bisa dibuka", "kode kelas IF2110", "hubungi 081234567890", ""])
def test_short_numbers_and_phones_are_not_identity_attempts(text: str) -> None:
    result = parse_identity(text, today=TODAY)
    assert (result.identity, result.attempt) == (None, None)


def test_nim_entry_year_in_the_future_is_read_as_last_century() -> None:
    assert validate_nim("13599001", TODAY)  # 1999
    assert not validate_nim("1359900", TODAY)


def test_nip_birth_date_must_exist() -> None:
    assert not validate_nip("198502302010121001", TODAY)  # 30 February
    assert validate_nip("198502282010121001", TODAY)


def test_campus_domains_are_configurable() -> None:
    result = parse_identity("a@unpad.ac.id", today=TODAY, campus_domains=("unpad.ac.id",))
    assert result.identity is not None


def test_mask_hides_most_of_the_value() -> None:
    assert mask("13521045") == "135***45"
    assert mask("budi@itb.ac.id") == "b***@itb.ac.id"
