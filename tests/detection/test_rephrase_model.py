"""The learned rephrase model: the shipped file, its figures, its floors, look-alikes per tag,
the model without its semantic view, its explanation on the turn page, and the task run twice."""

import datetime as dt
import uuid

import numpy as np
import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from apps.core.roles import Role
from apps.detection import evaluation, semantic, training
from apps.detection.detectors import rephrase_model
from apps.detection.config import DETECTORS, DetectorConfig
from apps.detection.detectors.rephrase import FEATURES, SEMANTIC_FEATURE, pair_features, rephrase_candidates
from apps.detection.detectors.runner import run_detectors
from apps.detection.management.commands.train_detectors import dev_figures
from apps.traces.presenters import signal_explanation
from tests.conftest import client_for

NOW = dt.datetime(2026, 2, 2, 12, 0, tzinfo=dt.UTC)
# Held-out floors: what the shipped model reached on the held-out part when it was trained
# (semantic 0.82, lexical 0.77 on the 1,071-session corpus, where the previous model reached 0.81
# and 0.72), minus a small margin — under the 0.90, which this model does not reach
# (README "Rephrase model"). Raise them with the model, never lower them silently.
HELD_OUT_F1_FLOOR = {"semantic": 0.80, "lexical": 0.77}


@pytest.fixture(scope="module")
def corpus():
    return evaluation.load_corpus()


def test_the_model_file_loads_with_both_variants_for_this_corpus():
    model = rephrase_model.loaded()

    assert model.lexical.features == FEATURES
    assert model.semantic is not None and model.semantic.features == (*FEATURES, SEMANTIC_FEATURE)
    assert model.data["corpus_sha256"] == training.corpus_hash(evaluation.CORPUS_DIR)
    assert model.data["min_probability"] == DETECTORS["rephrase"][1]["min_probability"]


def test_the_model_reproduces_its_training_figures_on_the_development_part(corpus):
    data = rephrase_model.loaded().data
    dev = [s for s in corpus if s.split == "dev"]

    assert dev_figures(dev, data) == data["figures_dev"]


@pytest.mark.parametrize("variant", ["semantic", "lexical"])
def test_held_out_floor(corpus, variant):
    heldout = [s for s in corpus if s.split == "heldout"]

    with override_settings(SEMANTIC_VIEW=variant == "semantic"):
        counts = evaluation.evaluate(heldout, evaluation.predict(heldout)).by_kind["rephrase"]

    assert counts.f1 >= HELD_OUT_F1_FLOOR[variant], counts


def pair(first, first_answer, second, *, gap_seconds=40):
    a = evaluation.TurnData(id=uuid.uuid4(), session_id="s", end_user_id="u", created_at=NOW, question=first, answer=first_answer)
    b = evaluation.TurnData(id=uuid.uuid4(), session_id="s", end_user_id="u", created_at=NOW + dt.timedelta(seconds=gap_seconds),
                            question=second, answer="Thanks for the details, here is what I found.")
    return a, b


def flagged(a, b) -> dict | None:
    result = run_detectors([[a, b]], DetectorConfig(enabled=frozenset({"rephrase"})), now=NOW + dt.timedelta(hours=1))
    values = [d.value for d in result.detections if d.kind == "rephrase" and d.turn_id == a.id]
    return values[0] if values else None


# One look-alike per rephrase tag of the corpus, written here (not copied from it).
LOOK_ALIKES = {
    "rephrase:synonym": ("how do i stop my gym membership", "Memberships can be changed in the app.",
                         "what's the way to cancel my fitness club subscription"),
    "rephrase:register": ("yo why cant i log in", "Logins can fail for many reasons.",
                          "Good morning. Could you please explain why I am unable to sign in to my account?"),
    "rephrase:reorder": ("can I pay the deposit by card for the flat", "Deposits are handled by the agent.",
                         "for the flat, the deposit - is paying by card possible?"),
    "rephrase:shorter": ("I was wondering whether there is any way to change the delivery address on an order I already placed",
                         "Orders are shipped quickly.", "change delivery address?"),
    "rephrase:longer": ("roaming prices?", "It depends.",
                        "how much does it cost to use my phone data and calls while I'm travelling in spain next week"),
    "rephrase:typo": ("how do I reset my password", "Passwords keep your account safe.", "how do i resett my pasword"),
    "rephrase:chain": ("when does the pool open", "The pool is a popular facility.", "what time can i swim at the pool"),
    "rephrase:repair-cue": ("how long is the warranty on the blender", "Our blenders are very reliable.",
                            "that's not what I asked, how long is the warranty"),
    "rephrase-neg:follow-up-same-words": ("how do i add a card to apple pay",
                                          "Open Wallet, tap +, choose Debit or Credit Card and follow the steps; "
                                          "your bank sends a code to verify it.",
                                          "how do i remove a card from apple pay"),
    "rephrase-neg:different-entity": ("what's the baggage allowance to Madrid",
                                      "Flights to Madrid include one 23 kg checked bag and 8 kg cabin bag on Standard fares.",
                                      "and to Lisbon?"),
    "rephrase-neg:builds-on-answer": ("how do I export my invoices",
                                      "Go to Billing > Invoices, tick the ones you need and click Export CSV.",
                                      "I clicked Export CSV but where does the file go"),
    "rephrase-neg:late": ("how do I reset my password", "Passwords keep your account safe.",
                          "how can I change my password"),
    "rephrase-neg:new-topic": ("is the museum open on monday",
                               "Yes, we are open Monday 10:00-18:00; last entry is at 17:00.",
                               "do you have lockers for backpacks"),
}


# Look-alikes the shipped model still gets wrong (strict: a retrain that fixes one must say so).
# The corpus has 56 development rephrases; these shapes are rarer in it than in these examples.
KNOWN_MISSES = {
    "rephrase:typo": "a typo'd repeat after a non-answer stays under the threshold",
    "rephrase-neg:builds-on-answer": "a question built on the answer's words ('I clicked Export CSV but …') scores 0.70: "
                                     "users correcting an answer echo its words too ('not collect, DELIVER')",
}


@pytest.mark.parametrize("tag", [
    pytest.param(tag, marks=pytest.mark.xfail(reason=KNOWN_MISSES[tag], strict=True)) if tag in KNOWN_MISSES else tag
    for tag in sorted(LOOK_ALIKES)
])
def test_look_alike_per_corpus_tag(tag):
    first, answer, second = LOOK_ALIKES[tag]
    a, b = pair(first, answer, second, gap_seconds=1800 if tag == "rephrase-neg:late" else 40)

    value = flagged(a, b)

    assert (value is not None) == (not tag.startswith("rephrase-neg:")), value


def test_every_rephrase_tag_of_the_corpus_has_a_look_alike(corpus):
    tags = {tag for s in corpus for t in s.turns for tag in t.tags if tag.startswith("rephrase")}

    assert tags == set(LOOK_ALIKES)


def test_the_value_carries_a_probability_and_explains_itself():
    a, b = pair("how long is the warranty on the blender", "Our blenders are very reliable.",
                "no, I asked how long the warranty lasts")

    value = flagged(a, b)

    assert value["next_turn_id"] == str(b.id)
    assert DETECTORS["rephrase"][1]["min_probability"] <= value["probability"] <= 1.0
    assert value["explain"].startswith("repair cue 'no, i asked'; word similarity ")
    assert "semantic " in value["explain"] and "different number/id/name: no" in value["explain"]
    assert signal_explanation(value) == value["explain"]


def test_without_the_semantic_view_the_lexical_variant_runs():
    a, b = pair("how long is the warranty on the blender", "Our blenders are very reliable.",
                "that's not what I asked, how long is the warranty")

    with override_settings(SEMANTIC_VIEW=False):
        variant = rephrase_model.loaded().variant()
        value = flagged(a, b)

    assert variant is rephrase_model.loaded().lexical and semantic.available()  # the view is installed, only off
    assert value is not None and "semantic" not in value["explain"]


def test_a_fallback_explanation_from_the_value_keys():
    assert signal_explanation({"phrase": "i don't know", "previous_turn_id": "x"}) == "phrase: i don't know"
    assert signal_explanation({"score": 0.82, "flag": True}) == "score: 0.82"
    assert signal_explanation(True) == "" and signal_explanation("vip") == "vip"


@pytest.mark.django_db
def test_task_twice_stores_one_rephrase_shown_with_its_explanation_on_the_turn_page(project, members):
    from apps.detection.models import DetectorSettings
    from apps.detection.tasks import detect_session_task
    from apps.traces.models import Signal
    from tests.factories.traces import TurnFactory

    DetectorSettings.objects.create(project=project, detector="random_sample", enabled=False)
    start = timezone.now() - dt.timedelta(hours=1)
    first = TurnFactory(project=project, session_id="s1", created_at=start, input="how long is the warranty on the blender",
                        output="Our blenders are very reliable.")
    TurnFactory(project=project, session_id="s1", created_at=start + dt.timedelta(seconds=40),
                input="that's not what I asked, how long is the warranty", output="Two years.")

    detect_session_task.apply(kwargs={"project_id": str(project.pk), "session_id": "s1"})
    detect_session_task.apply(kwargs={"project_id": str(project.pk), "session_id": "s1"})

    signals = list(Signal.objects.for_project(project).filter(kind="rephrase"))
    assert [s.turn_id for s in signals] == [first.id]
    page = client_for(members[Role.MEMBER].user).get(
        reverse("turn_detail", kwargs={"org": project.organization.slug, "project": project.pk, "turn": first.id})
    ).content.decode()
    assert 'data-testid="signal-explain">repair cue &#x27;that&#x27;s not what i asked&#x27;; word similarity' in page


def test_a_text_embedded_word_by_word_equals_its_whole_tokenisation():
    found = semantic.model()
    texts = ["how do I reset my password?", "Hello, World!! resett pasword", "cuánto cuesta el envío a Madrid", "ok"]

    vectors = semantic._embed(texts)

    for text, vector in zip(texts, vectors):
        whole = found.embedding[found.tokenizer.encode(text, add_special_tokens=False).ids].sum(axis=0)
        assert np.allclose(vector, whole / np.linalg.norm(whole), atol=1e-6), text
    assert not semantic._embed(["", "   "]).any()


@pytest.mark.parametrize("word", [
    "1234,", "#4821?", "10:30am", "£49.99", "2026-01-05", "order#12", "x1y2z3", "A-1b", "7", "v2.3.1", "٣4", "ü9é",
    "<s>1", "1</s>", "12<unk>",
])
def test_a_word_with_digits_is_tokenised_as_a_whole_word_is(word):
    tokenizer = semantic.model().tokenizer
    assert semantic._digits_stand_alone(tokenizer)

    ids = semantic._token_ids(tokenizer, word)

    assert ids == tokenizer.encode(word, add_special_tokens=False).ids


@pytest.mark.parametrize("variant", ["semantic", "lexical"])
def test_the_staged_decision_equals_scoring_every_feature_of_every_pair(corpus, variant):
    groups = [pairs for s in corpus if (pairs := rephrase_candidates([t.data for t in s.turns], 600))]
    model = rephrase_model.loaded()
    threshold = model.data["min_probability"]

    with override_settings(SEMANTIC_VIEW=variant == "semantic"):
        chosen = model.variant()
        staged = {(a.id, b.id): value["probability"] for a, b, value in rephrase_model.score_pairs(
            groups, punted=set(), min_probability=threshold)}
        matrix, _ = pair_features(groups, punted=set())
        if chosen.uses_semantic:
            flat = [pair for group in groups for pair in group]
            matrix = np.column_stack([matrix, semantic.cosines([(a.question, b.question) for a, b in flat])])
    probabilities = 1.0 / (1.0 + np.exp(-chosen.logits(matrix)))
    full = {(a.id, b.id): round(float(p), 3) for (a, b), p in zip((p for g in groups for p in g), probabilities) if p >= threshold}

    assert staged == full and len(full) > 50


def test_a_reply_to_a_clarifying_question_is_not_a_rephrase():
    a, b = pair("how do i change my delivery slot", "Sure — is it for this week's order or for your regular weekly slot?",
                "this weeks one")

    assert flagged(a, b) is None


@pytest.mark.parametrize("second", [
    "not the bin collection, the recycling one. which day is that",
    "ok but which day is recycling",
    "you already said that. which day is recycling collected",
])
def test_a_correction_after_a_vague_answer_is_a_rephrase(second):
    a, b = pair("which day is the recycling collected on my street", "Collections run on different days across the borough.",
                second)

    value = flagged(a, b)

    assert value is not None and value["explain"].startswith("repair cue "), value
