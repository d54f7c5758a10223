"""Text normalisation for how people really write to a campus helpdesk.

Each step is a small pure function so that the benchmark script can switch steps off one at a time and
measure what each buys on a validation split (see ``benchmarks/results-nlp.md``). A trained model stores
the steps it was trained with, so inference always normalises exactly as training did.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from nlp.textscan import Finder, substitute

# Tokens that replace personal identifiers. They are plain words (underscores are word characters) so
# the tokenizer keeps them, and they can never collide with a real Indonesian or English word.
URL_MARK = "_url_"
EMAIL_MARK = "_email_"
NIM_MARK = "_nim_"
NIP_MARK = "_nip_"
NUM_MARK = "_num_"

# The URL pattern is ``(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|id|ac\.id|org|net|io)(?:/\S*)?\b``
# and the e-mail one ``\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b``, as the shipped model was trained with. Run with
# ``re.sub`` they cost the square of the length of a run like "a-a-a-…" or "a.a.a.…" (2,000 characters took
# 100 ms, inside the classifier). They are searched in linear time instead (nlp.textscan), with exactly the
# same matches: a web address with a scheme or www. ...
_WEB_ADDRESS = Finder(
    re.compile(r"(?:https?://|www\.)\S+"),
    starts=re.compile(r"(?=https?://|www\.)"),
    probe=re.compile(r"(?:https?://|www\.)(?=\S)"),
)
# ... or a host name with a known top-level domain. A match can only begin at the first word character of
# a run of them that is followed by '.' or '-' (the first label goes on, or ends at a dot): a later start in
# the same dotted run reaches a subset of the same top-level domains, so a failed try fails for every
# start up to the end of that run, which is skipped. (After a match, the next one cannot begin in the
# middle of a word: the pattern ends on a word boundary.)
_HOST = Finder(
    re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.(?:com|id|ac\.id|org|net|io)(?:/\S*)?\b"),
    starts=re.compile(r"(?<!\w)(?=\w+[.-])"),
    run=re.compile(r"[\w-]+(?:\.[\w-]+)*"),
)
# An e-mail begins at the first word character of a run of [\w.+-] that reaches '@' and a dotted domain;
# every later start in that run reaches the same '@' and domain, so a failed try skips the run.
_EMAIL = Finder(
    re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    starts=re.compile(r"(?<![\w.+-])[.+-]*(?=\w[\w.+-]*@[\w-]+\.[\w-])"),
    run=re.compile(r"[\w.+-]+"),
)
# ITB student numbers (NIM) have 8 digits, civil-servant staff numbers (NIP) 18; spaces inside an NIP
# ("19800101 200501 1 001") are common when people copy it from a letter.
_NIP = re.compile(r"(?<!\d)\d{8}\s?\d{6}\s?\d\s?\d{3}(?!\d)")
_NIM = re.compile(r"(?<!\d)\d{8}(?!\d)")
_NUMBER = re.compile(r"(?<![\w])\d+(?:[.,:]\d+)*(?![\w])")
# Three or more of the same letter is emphasis ("tolonggg", "pleaseee"); no Indonesian or English word
# needs it, while two ("maaf", "zoom") must survive.
_REPEAT = re.compile(r"([a-z])\1{2,}")
# Indonesian reduplication written with a digit: "tugas2" -> "tugas tugas" (plural), "temen2" likewise.
_REDUP = re.compile(r"\b([a-z]{2,})2\b")
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")

# Chat abbreviations and slang seen in Indonesian helpdesk messages, mapped to the standard word, so
# that "gk bisa", "ga bisa" and "tidak bisa" share features. Only forms that are unambiguous in a
# helpdesk chat: "dl" (dulu / download) or "buat" (make / for) stay as written, since a wrong expansion
# costs more than the classifier's own n-grams lose.
# Written as "short=standard" pairs (an underscore stands for a space) to stay reviewable at a glance.
_SLANG_PAIRS = """
gk=tidak ga=tidak gak=tidak ngga=tidak nggak=tidak enggak=tidak engga=tidak tdk=tidak tak=tidak
kagak=tidak g=tidak gaa=tidak blm=belum blom=belum belom=belum sy=saya aku=saya aq=saya gw=saya
gue=saya ane=saya km=kamu lu=kamu min=admin mimin=admin kak=kakak ka=kakak bu=ibu pak=bapak
dsn=dosen udh=sudah udah=sudah sdh=sudah dah=sudah uda=sudah gmn=bagaimana gimana=bagaimana
gmna=bagaimana bgmn=bagaimana knp=kenapa napa=kenapa kok=kenapa ngapa=kenapa bgt=banget
bngt=banget bener=benar bnr=benar tp=tapi tpi=tapi trs=terus trus=terus krn=karena karna=karena
dgn=dengan dg=dengan sm=sama yg=yang dr=dari utk=untuk untk=untuk dlm=dalam jd=jadi jdi=jadi
lg=lagi lgi=lagi aja=saja aj=saja sj=saja bs=bisa bsa=bisa gabisa=tidak_bisa gbs=tidak_bisa
gakbisa=tidak_bisa gada=tidak_ada gaada=tidak_ada kalo=kalau klo=kalau kl=kalau klw=kalau
mau=ingin pengen=ingin pgn=ingin pingin=ingin tlg=tolong tlng=tolong mhn=mohon bnyk=banyak
byk=banyak skrg=sekarang skrng=sekarang sekrg=sekarang td=tadi tdi=tadi kmrn=kemarin
kemaren=kemarin bsk=besok bsok=besok hrs=harus msh=masih masi=masih emg=memang emang=memang
sbnrnya=sebenarnya gitu=begitu gt=begitu gini=begini ngerjain=mengerjakan ngumpulin=mengumpulkan
ngirim=mengirim nyoba=mencoba coba2=mencoba liat=lihat ngeliat=melihat dapet=dapat dpt=dapat
ilang=hilang kluar=keluar makasih=terima_kasih mksh=terima_kasih makasi=terima_kasih
trims=terima_kasih thx=thanks tq=thanks ty=thanks pls=please plis=please plz=please pw=password
pass=password passwd=password sandi=password katasandi=password matkul=mata_kuliah
mk=mata_kuliah mhs=mahasiswa mahasiwa=mahasiswa tgs=tugas tgas=tugas kls=kelas notif=notifikasi
app=aplikasi apk=aplikasi aplikasinya=aplikasi vidio=video vid=video sertif=sertifikat
serti=sertifikat certif=sertifikat acc=akun acount=akun e-mail=email imel=email eror=error
erorr=error errror=error lemot=lambat lelet=lambat donlot=download unduh=download
uplod=upload aplod=upload unggah=upload
"""
SLANG: dict[str, str] = {
    short: standard.replace("_", " ")
    for short, _, standard in (pair.partition("=") for pair in _SLANG_PAIRS.split())
}

Step = Callable[[str], str]


def _lower(text: str) -> str:
    # NFKC folds full-width and stylised letters (common in pasted text) to plain ones.
    return unicodedata.normalize("NFKC", text).lower()


def _mask(text: str) -> str:
    text = substitute(_EMAIL.sub(f" {EMAIL_MARK} ", text), f" {URL_MARK} ", _WEB_ADDRESS, _HOST)
    text = _NIP.sub(f" {NIP_MARK} ", text)
    text = _NIM.sub(f" {NIM_MARK} ", text)
    return _NUMBER.sub(f" {NUM_MARK} ", text)


def _repeat(text: str) -> str:
    return _REPEAT.sub(r"\1", text)


def _punct(text: str) -> str:
    # Emoji, punctuation and symbols carry no category signal but create char n-grams like "in? ".
    return _NON_WORD.sub(" ", text)


def _slang(text: str) -> str:
    text = _REDUP.sub(r"\1 \1", text)
    return " ".join(SLANG.get(word, word) for word in text.split())


STEPS: dict[str, Step] = {
    "lower": _lower,
    "mask": _mask,
    "repeat": _repeat,
    "punct": _punct,
    "slang": _slang,
}
# The order matters: masking needs the raw punctuation of e-mails and URLs, and the slang map needs
# punctuation gone so that "gk," matches "gk". Steps switched off are skipped, the order stays.
STEP_ORDER: tuple[str, ...] = ("lower", "mask", "repeat", "punct", "slang")
DEFAULT_STEPS: tuple[str, ...] = STEP_ORDER


def make_normalizer(steps: Iterable[str] = DEFAULT_STEPS) -> Callable[[str], str]:
    wanted = set(steps)
    unknown = wanted - set(STEPS)
    if unknown:
        raise ValueError(f"unknown normalisation steps: {sorted(unknown)}")
    chain = [STEPS[name] for name in STEP_ORDER if name in wanted]

    def run(text: str) -> str:
        for step in chain:
            text = step(text)
        return _SPACES.sub(" ", text).strip()

    return run


_default = make_normalizer(DEFAULT_STEPS)


def normalize(text: str) -> str:
    """Normalise one message with the default steps (the ones the shipped model was trained with)."""
    return _default(text)
