from __future__ import annotations

import numpy as np
import pytest

from nlp import OUT_OF_SCOPE, Classifier, Decision, Prediction, load_classifier, seed_templates
from nlp.dataset import TEST_FILE, shipped_examples
from nlp.decision import TARGET_COVERAGE, TARGET_PRECISION
from nlp.evaluate import evaluate
from nlp.features import FeatureSpec
from nlp.model import Calibration, LinearTextModel

CATEGORIES = {
    "akun-login", "reset-password", "kelas-enrolment", "tugas-pengumpulan", "kuis-ujian", "nilai",
    "materi-video", "konferensi-video", "sertifikat", "notifikasi", "dosen-pengelolaan-kelas",
    "aplikasi-mobile", "bug-sistem",
}  # fmt: skip


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return load_classifier()


def test_shipped_model_knows_every_category(shipped: Classifier) -> None:
    assert set(shipped.labels) == CATEGORIES | {OUT_OF_SCOPE}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("min sy lupa password edunex, link resetnya ga masuk email", "reset-password"),
        ("I can't upload my assignment, the submit button is missing", "tugas-pengumpulan"),
        ("video rekaman kuliah di materi ga bisa diputar", "materi-video"),
        ("sertifikat kursus saya belum terbit padahal sudah selesai", "sertifikat"),
    ],
)
def test_clear_messages_are_answered(shipped: Classifier, text: str, expected: str) -> None:
    prediction = shipped.predict(text)
    assert (prediction.label, prediction.handoff, prediction.reason) == (expected, False, "confident")


def test_top_three_are_sorted_probabilities(shipped: Classifier) -> None:
    prediction = shipped.predict("nilai uts saya belum keluar")
    probs = [p for _, p in prediction.top]
    assert len(prediction.top) == 3
    assert probs == sorted(probs, reverse=True)
    assert prediction.top[0] == (prediction.label, prediction.confidence)
    assert 0.0 < prediction.confidence <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "🙏😭🙏",
        "?!?!...",
        "x" * 10_000,
        "ข้อความภาษาไทย",
        "これは日本語のメッセージです",
        "\x00\x01",
    ],
)
def test_odd_input_is_handed_off_never_raised(shipped: Classifier, text: str) -> None:
    prediction = shipped.predict(text)
    assert isinstance(prediction, Prediction)
    assert prediction.handoff is True


def test_long_message_is_classified(shipped: Classifier) -> None:
    text = "saya tidak bisa login ke edunex, akun terkunci. " * 250
    prediction = shipped.predict(text)
    assert prediction.label == "akun-login"


def test_greeting_only_is_out_of_scope(shipped: Classifier) -> None:
    prediction = shipped.predict("halo min")
    assert (prediction.label, prediction.handoff, prediction.reason) == (OUT_OF_SCOPE, True, "out_of_scope")


def _toy_model(coef_rows: dict[str, list[float]], *, threshold: float, margin: float) -> LinearTextModel:
    """Three labels, one word feature each, so the probabilities are set by hand through the weights."""
    labels = ["a", "b", OUT_OF_SCOPE]
    vocab = list(coef_rows)
    coef = np.asarray([coef_rows[w] for w in vocab], dtype=np.float64)
    return LinearTextModel(
        labels=labels,
        spec=FeatureSpec(use_char=False),
        steps=("lower",),
        word_vocab=vocab,
        char_vocab=[],
        word_idf=np.ones(len(vocab)),
        char_idf=np.zeros(0),
        coef=coef,
        intercept=np.zeros(3),
        calibration=Calibration(scale=1.0, threshold=threshold, margin=margin),
    )


@pytest.mark.parametrize(
    ("text", "label", "reason"),
    [
        ("clear", "a", "confident"),  # p(a) = 0.84, margin 0.73
        ("weak", "a", "low_confidence"),  # p(a) = 0.49 < 0.6
        ("tie", "a", "ambiguous"),  # p(a) = 0.6 but p(b) = 0.39: margin 0.21 < 0.25
        ("chat", OUT_OF_SCOPE, "out_of_scope"),
        ("zzz", "a", "empty"),  # no known feature at all
    ],
)
def test_handoff_rule(text: str, label: str, reason: str) -> None:
    model = _toy_model(
        {
            "clear": [3.0, 1.0, 0.0],
            "weak": [1.0, 0.0, 0.6],
            "tie": [5.0, 4.57, 0.0],
            "chat": [0.0, 0.0, 3.0],
        },
        threshold=0.6,
        margin=0.25,
    )
    prediction = Classifier(model).predict(text)
    assert (prediction.label, prediction.reason, prediction.handoff) == (label, reason, reason != "confident")


def test_threshold_and_margin_can_be_overridden() -> None:
    model = _toy_model({"weak": [1.0, 0.0, 0.6]}, threshold=0.6, margin=0.0)
    assert Classifier(model, threshold=0.4).predict("weak").reason == "confident"


def test_seed_templates_cover_every_category_in_both_languages() -> None:
    templates = seed_templates()
    assert {(t.category, t.lang) for t in templates} == {
        (c, lang) for c in CATEGORIES for lang in ("id", "en")
    }
    assert len(templates) == 26
    for template in templates:
        assert "{ticket}" not in template.body
        assert len(template.body) > 200


def test_prediction_built_the_old_way_follows_handoff() -> None:
    # Test doubles and older callers build a Prediction from the first five fields.
    answered = Prediction("nilai", 0.9, (("nilai", 0.9),), False, "confident")
    handed = Prediction("nilai", 0.2, (("nilai", 0.2),), True, "low_confidence")
    assert (answered.decision, answered.candidates) == (Decision.ANSWER, ())
    assert (handed.decision, handed.candidates) == (Decision.HANDOFF, ())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"handoff": False, "decision": Decision.CLARIFY},
        {"handoff": False, "decision": Decision.HANDOFF},
        {"handoff": True, "decision": Decision.HANDOFF, "candidates": (("a", 0.5),)},
    ],
)
def test_inconsistent_prediction_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"prediction|candidates"):
        Prediction("a", 0.5, (("a", 0.5),), reason="x", **kwargs)  # type: ignore[arg-type]


def _clarifying_model() -> LinearTextModel:
    # p(a) ~ 0.53, p(b) ~ 0.42 for "split": below the 0.9 answer threshold, but a and b together hold
    # more than the 0.9 clarification mass.
    return _toy_model({"split": [3.0, 2.76, 0.0], "clear": [5.0, 0.0, 0.0]}, threshold=0.9, margin=0.0)


def test_unsure_between_two_labels_is_a_clarification() -> None:
    prediction = Classifier(_clarifying_model()).predict("split")
    assert prediction.decision is Decision.CLARIFY
    assert prediction.handoff is True  # callers that know no clarification hand it to a person
    assert [label for label, _ in prediction.candidates] == ["a", "b"]
    assert sum(p for _, p in prediction.candidates) >= 0.9


def test_excluded_label_is_neither_answer_nor_candidate() -> None:
    classifier = Classifier(_clarifying_model())
    assert classifier.predict("clear").label == "a"
    prediction = classifier.predict("split", exclude={"a"})
    assert prediction.label == "b"
    assert all(label != "a" for label, _ in prediction.top if _ > 0)
    assert all(label != "a" for label, _ in prediction.candidates)


def test_shipped_model_records_its_operating_point() -> None:
    classifier = load_classifier()
    validation = classifier.validation
    assert validation["source"] == "out-of-fold"
    assert validation["precision_answered"] >= validation["target_precision"]
    assert classifier.rule.clarify_mass == classifier.model.calibration.clarify_mass


def test_shipped_model_meets_the_targets_on_validation_data() -> None:
    # Issue 14: of the messages the bot answered itself, 12 % got the wrong template. The validation
    # file (never trained on) must now see the precision target met without giving up coverage.
    metrics = evaluate(load_classifier(), *shipped_examples(TEST_FILE))
    assert metrics["precision_answered"] >= TARGET_PRECISION
    assert metrics["coverage_clarified"] >= TARGET_COVERAGE
