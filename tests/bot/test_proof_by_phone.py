"""Proof by the WhatsApp number on record (issue 13): the directory's optional phone column, imported from
CSV as E.164, proves a WhatsApp address that writes from it; any other number proves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.directory import DirectoryImportError, DirectoryRecord, import_records, read_directory_csv
from bot.i18n import catalog
from bot.identity import normalise_phone
from models import ChannelIdentity, ChannelKind, Contact, ContactRole, DirectoryEntry, ProofLevel, ProofMethod
from tests.conftest import FlowHarness

HEADER = "id_number,name,email,role,faculty,program,status,phone\n"
SARI = DirectoryRecord("13522077", "Sari Nomor (Fiktif)", "sari.nomor@students.itb.ac.id", ContactRole.STUDENT,
                       "STEI", "Teknik Informatika", "active", "+6281399990001")


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("0813-9999-0001", "+6281399990001"),
        ("+62 813 9999 0001", "+6281399990001"),
        ("62(813)99990001", "+6281399990001"),
        ("0062 813 9999 0001", "+6281399990001"),
        ("+14155550100", "+14155550100"),
        ("12345", None),
        ("nomor saya", None),
        ("+0813", None),
    ],
)
def test_normalise_phone(written: str, e164: str | None) -> None:
    assert normalise_phone(written) == e164


def test_the_csv_phone_column_is_optional_normalised_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "13522077,Sari,s@itb.ac.id,student,STEI,IF,active,0813-9999-0001\n"
                             "13522078,Tono,t@itb.ac.id,student,STEI,IF,active,\n", encoding="utf-8")
    assert [r.phone for r in read_directory_csv(good)] == ["+6281399990001", ""]
    without = tmp_path / "without.csv"
    without.write_text(HEADER.replace(",phone", "") + "13522077,Sari,s@itb.ac.id,student,STEI,IF,active\n",
                       encoding="utf-8")
    assert read_directory_csv(without)[0].phone == ""
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "13522077,Sari,s@itb.ac.id,student,STEI,IF,active,call me\n", encoding="utf-8")
    with pytest.raises(DirectoryImportError, match="line 2: column phone"):
        read_directory_csv(bad)


async def test_whatsapp_from_the_number_on_record_is_proven_and_greeted_by_name(flow: FlowHarness) -> None:
    await import_records([SARI])
    assert (await DirectoryEntry.get(id_number="13522077")).phone == "+6281399990001"
    number = "whatsapp:+6281399990001"
    replies = await flow.on(ChannelKind.WHATSAPP, number, "halo", phone="+6281399990001")
    # First met: the greeting and the notice once, then as herself.
    assert replies[0] == catalog("id").t("greeting")
    assert replies[-1] == catalog("id").t("welcome_back", name_suffix=", Kak Sari")
    identity = await ChannelIdentity.get(channel=ChannelKind.WHATSAPP)
    assert (identity.proof, identity.proof_method) == (ProofLevel.PROVEN, ProofMethod.ADDRESS)
    assert (await Contact.get(id=identity.contact_id)).id_number == "13522077"  # type: ignore[attr-defined]


async def test_another_number_proves_nothing_even_typing_the_nim(flow: FlowHarness) -> None:
    await import_records([SARI])
    number = "whatsapp:+6281399990002"
    await flow.on(ChannelKind.WHATSAPP, number, "halo", phone="+6281399990002")
    replies = await flow.on(ChannelKind.WHATSAPP, number, "13522077", phone="+6281399990002")
    assert replies[0] == catalog("id").t("identity_noted")
    assert not any("Sari" in r for r in replies)
    identity = await ChannelIdentity.get(channel=ChannelKind.WHATSAPP)
    assert (identity.proof, identity.claimed_number) == (ProofLevel.CLAIMED, "13522077")
    assert not await Contact.exists(id_number="13522077")
