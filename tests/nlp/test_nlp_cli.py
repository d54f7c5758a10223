from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp.cli import REJECTED_EXIT, nlp_group
from nlp.dataset import TEST_FILE, shipped_examples
from nlp.evaluate import DECISION_FIGURES, HELD_OUT_SOURCE, active_model_figures, recorded_figures
from nlp.model import HELD_OUT, LinearTextModel
from nlp.store import ModelStore

SMALL = [
    ("lupa password edunex", "reset-password"),
    ("link reset kata sandi ga masuk", "reset-password"),
    ("forgot my password", "reset-password"),
    ("reset pw gagal terus", "reset-password"),
    ("ganti password dimana", "reset-password"),
    ("ga bisa upload tugas", "tugas-pengumpulan"),
    ("submit assignment error", "tugas-pengumpulan"),
    ("tugas saya belum terkumpul", "tugas-pengumpulan"),
    ("file tugas kegedean", "tugas-pengumpulan"),
    ("tombol submit tugas hilang", "tugas-pengumpulan"),
    ("halo min", "out_of_scope"),
    ("cara bayar ukt", "out_of_scope"),
    ("jadwal wisuda kapan", "out_of_scope"),
    ("terima kasih kak", "out_of_scope"),
    ("wifi kampus mati", "out_of_scope"),
]


def _write_csv(path: Path, rows: list[tuple[str, str]], header: str = "text,label") -> Path:
    path.write_text(header + "\n" + "".join(f'"{t}",{c}\n' for t, c in rows), encoding="utf-8")
    return path


def _last_json(output: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    return result


def test_train_then_eval_small_csv(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "small.csv", SMALL)
    model = tmp_path / "m.zip"
    runner = CliRunner()
    trained = runner.invoke(nlp_group, ["train", "--data", str(data), "--out", str(model)])
    assert trained.exit_code == 0, trained.output
    assert model.is_file()
    evaluated = runner.invoke(nlp_group, ["eval", "--model", str(model), "--data", str(data)])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = _last_json(evaluated.stdout)
    assert metrics["n"] == 15
    keys = {"accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision", "handoff_rate",
            "latency_ms_p50", "latency_ms_p99", "precision_answered", "coverage_direct", "coverage_clarified",
            "clarify_rate"}  # fmt: skip
    assert keys <= set(metrics)
    assert metrics["accuracy"] == 1.0


def test_eval_record_keeps_the_figures_in_the_model_file(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "small.csv", SMALL)
    held = _write_csv(tmp_path / "held.csv", SMALL[::3])
    model = tmp_path / "m.zip"
    runner = CliRunner()
    assert runner.invoke(nlp_group, ["train", "--data", str(data), "--out", str(model)]).exit_code == 0
    before = LinearTextModel.load(model)
    evaluated = runner.invoke(nlp_group, ["eval", "--model", str(model), "--data", str(held), "--record"])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = _last_json(evaluated.stdout)
    figures = recorded_figures(LinearTextModel.read_meta(model))
    assert figures is not None
    assert (figures.source, figures.data, figures.n, figures.tickets) == (HELD_OUT_SOURCE, "held.csv", 5, 0)
    assert figures.figures == {key: metrics[key] for key in DECISION_FIGURES}
    after = LinearTextModel.load(model)  # the model itself is untouched
    assert (after.fingerprint(), after.meta["version"]) == (before.fingerprint(), before.meta["version"])


def test_eval_record_needs_the_model_file_it_writes_into(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "small.csv", SMALL)
    result = CliRunner().invoke(nlp_group, ["eval", "--data", str(data), "--record"])
    assert result.exit_code == 2
    assert "--model" in result.output


def test_train_with_held_out_rows_records_their_figures(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "small.csv", SMALL)
    held = _write_csv(tmp_path / "held.csv", SMALL[1::3])
    model = tmp_path / "m.zip"
    result = CliRunner().invoke(nlp_group, ["train", "--data", str(data), "--out", str(model), "--held-out",
                                            str(held)])
    assert result.exit_code == 0, result.output
    figures = recorded_figures(LinearTextModel.read_meta(model))
    assert figures is not None
    assert (figures.source, figures.data, figures.n) == (HELD_OUT_SOURCE, "held.csv", 5)
    assert _last_json(result.stdout)["held_out"] == LinearTextModel.read_meta(model)[HELD_OUT]


def test_train_jsonl_with_custom_columns(tmp_path: Path) -> None:
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps({"msg": t, "cat": c}) + "\n" for t, c in SMALL), encoding="utf-8")
    model = tmp_path / "m.zip"
    result = CliRunner().invoke(
        nlp_group,
        ["train", "--data", str(data), "--text-col", "msg", "--label-col", "cat", "--out", str(model)],
    )
    assert result.exit_code == 0, result.output
    assert _last_json(result.stdout)["n_train"] == 15


def test_eval_defaults_to_shipped_model() -> None:
    data = Path(__file__).resolve().parents[2] / "nlp" / "data" / "edunex-test.csv"
    result = CliRunner().invoke(nlp_group, ["eval", "--data", str(data)])
    assert result.exit_code == 0, result.output
    metrics = _last_json(result.stdout)
    assert metrics["n"] == metrics["n_in_scope"] + metrics["n_out_of_scope"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,category\nhalo,x\n", "missing column 'label'"),
        ('text,label\n"lupa password",reset-password\n"halo",\n', "line 3: empty label"),
        (
            'text,label\n"lupa password",reset-password\n"lupa pw",reset-password\n',
            "training needs at least 2",
        ),
        ('text,label\n"a",x\n,y\n', "line 3: empty text"),
        ("", "empty file"),
    ],
)
def test_bad_training_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    data = tmp_path / "bad.csv"
    data.write_text(content, encoding="utf-8")
    model = tmp_path / "m.zip"
    result = CliRunner().invoke(nlp_group, ["train", "--data", str(data), "--out", str(model)])
    assert result.exit_code == 1
    assert message in result.output
    assert not model.exists()


def test_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "a", "label": "x"}\n{"text": "b"\n', encoding="utf-8")
    result = CliRunner().invoke(nlp_group, ["train", "--data", str(data), "--out", str(tmp_path / "m.zip")])
    assert result.exit_code == 1
    assert "line 2: invalid JSON" in result.output


def test_unreadable_training_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        nlp_group, ["train", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "m.zip")]
    )
    assert result.exit_code == 1
    assert "cannot read file" in result.output
    assert not (tmp_path / "m.zip").exists()


def test_from_tickets_needs_host_context(tmp_path: Path) -> None:
    result = CliRunner().invoke(nlp_group, ["train", "--from-tickets"], obj={})
    assert result.exit_code == 1
    assert "ctx.obj['ticket_examples']" in result.output


GOOD_TICKETS = [
    ("min link reset password kok ga pernah masuk ke email ya", "reset-password"),
    ("kuis saya tertutup sendiri padahal waktu masih 20 menit", "kuis-ujian"),
    ("nilai tugas 3 saya belum muncul di edunex", "nilai"),
    ("aplikasi edunex di android force close pas buka kelas", "aplikasi-mobile"),
    ("rekaman zoom pertemuan kemarin belum ada", "konferensi-video"),
    ("saya dosen, mau tambah asisten ke kelas", "dosen-pengelolaan-kelas"),
    ("ga dapet email notifikasi tugas baru", "notifikasi"),
    ("sertifikat pelatihan belum bisa diunduh", "sertifikat"),
    ("matkul pilihan belum muncul di dashboard", "kelas-enrolment"),
    ("edunex error 502 buat semua orang", "bug-sistem"),
]


def test_from_tickets_activates_a_candidate_that_does_not_regress(tmp_path: Path) -> None:
    # Agents confirmed categories of messages like the held-out ones (here: those very messages): the
    # candidate learns them and answers them at least as precisely as the shipped model.
    texts, labels = shipped_examples(TEST_FILE)
    tickets = GOOD_TICKETS + list(zip(texts, labels, strict=True))
    obj = {"ticket_examples": lambda: tickets, "model_dir": tmp_path}
    result = CliRunner().invoke(nlp_group, ["train", "--from-tickets", "--tolerance", "0.02"], obj=obj)
    assert result.exit_code == 0, result.output
    summary = _last_json(result.stdout)
    assert summary["activated"] is True
    assert ModelStore(tmp_path).active_version() == summary["version"]
    # The activated candidate carries its figures on the rows it was compared on.
    figures = active_model_figures(tmp_path)
    assert figures is not None
    assert (figures.version, figures.source, figures.data, figures.n) == (
        summary["version"], HELD_OUT_SOURCE, TEST_FILE, summary["n_held_out"])
    assert figures.tickets == len(tickets) // 5
    assert figures.figures["precision_answered"] == summary["candidate"]["precision_answered"]  # type: ignore[index]

    restored = CliRunner().invoke(nlp_group, ["restore"], obj=obj)
    assert restored.exit_code == 0, restored.output
    assert ModelStore(tmp_path).active_version() is None


def test_from_tickets_refuses_a_regressing_candidate(tmp_path: Path) -> None:
    # Careless confirmations: the shipped messages again, each filed under the wrong category. The
    # candidate learns contradictions and gets worse on the held-out shipped test messages.
    texts, labels = shipped_examples()
    categories = sorted(set(labels))
    poisoned = [
        (t, categories[(categories.index(c) + 1) % len(categories)])
        for t, c in zip(texts, labels, strict=True)
    ]
    obj = {"ticket_examples": lambda: poisoned, "model_dir": tmp_path}
    result = CliRunner().invoke(nlp_group, ["train", "--from-tickets"], obj=obj)
    assert result.exit_code == REJECTED_EXIT, result.output
    summary = _last_json(result.stdout)
    assert summary["activated"] is False
    assert "regression" in str(summary["reason"])
    store = ModelStore(tmp_path)
    assert store.active_version() is None
    assert [v.note.startswith("rejected") for v in store.list()] == [True]
