"""The learned punt model: the shipped file, its figures on the development part, punts without
any stock words and their look-alikes, and the explanation a reviewer reads."""

import pytest

from apps.detection import evaluation, training
from apps.detection.config import DEFAULT_PUNT_PHRASES
from apps.detection.detectors import punt_model
from apps.detection.detectors.agent_punted import agent_punted, punt_cues
from apps.detection.management.commands.train_detectors import punt_dev_figures


@pytest.fixture(scope="module")
def corpus():
    return evaluation.load_corpus()


def test_the_model_file_loads_for_this_corpus():
    model = punt_model.loaded()

    assert tuple(model.data["features"]) == punt_model.FEATURES
    assert len(model.weights) == len(punt_model.FEATURES)
    assert model.data["corpus_sha256"] == training.corpus_hash(evaluation.CORPUS_DIR)


def test_the_model_reproduces_its_training_figures_on_the_development_part(corpus):
    data = punt_model.loaded().data
    dev = [s for s in corpus if s.split == "dev"]

    assert punt_dev_figures(dev, data) == data["figures_dev"]


def test_every_feature_lies_in_the_unit_interval_so_the_early_decision_is_exact(corpus):
    for session in corpus[:200]:
        for turn in session.turns:
            cues = punt_cues(turn.data.answer, DEFAULT_PUNT_PHRASES, turn.data.question)

            values = punt_model.answer_features(turn.data.question, cues)

            assert all(0.0 <= v <= 1.0 for v in values), (turn.data.answer, values)


def punt(answer: str, question: str) -> dict | None:
    return agent_punted(answer, DEFAULT_PUNT_PHRASES, question)


# Written here, not copied from the corpus.
@pytest.mark.parametrize(("question", "answer"), [
    ("why did my order get split into two parcels", "Sorry, I'm not able to help with that here."),
    ("how much is the upgrade to the family plan", "Upgrade prices vary depending on a few factors."),
])
def test_a_punt_is_flagged_with_its_probability(question, answer):
    found = punt(answer, question)

    assert found is not None
    assert 0.0 < found["probability"] <= 1.0
    assert found["explain"].endswith(f"probability {found['probability']:.2f}")


@pytest.mark.parametrize(("question", "answer"), [
    ("thanks, that's all", "You're welcome!"),
    ("can i talk to a real person", "Of course, transferring you to an agent now."),
    ("how do i export my invoices",
     "Go to Billing > Invoices, tick the months you need and press Export; you get a PDF per invoice by email."),
    ("how much is the late checkout", "Late checkout is £25 until 2pm, free for gold members."),
])
def test_look_alike_short_or_courteous_answers_are_not_punts(question, answer):
    assert punt(answer, question) is None


def test_an_answer_the_early_bound_rules_out_is_the_full_models_decision_too():
    model = punt_model.loaded()
    question, answer = "how do i reset my router", "Hold the reset button for 10 seconds, then wait 2 minutes for the lights."
    cues = punt_cues(answer, DEFAULT_PUNT_PHRASES, question)

    logit = model.logit(punt_model.answer_features(question, cues))

    assert logit < model.cut
    assert punt_model.decide(answer, question, cues) is None


def _texts(corpus):
    """Development questions and answers, and random recombinations of their words."""
    import random

    rng = random.Random(5)
    pairs = [(t.data.question, t.data.answer) for s in corpus if s.split == "dev" for t in s.turns if t.data.answer]
    pool = [text for pair in pairs for text in pair]
    for _ in range(1500):
        question, answer = rng.choice(pool).split(), rng.choice(pool).split()
        rng.shuffle(question)
        rng.shuffle(answer)
        pairs.append((" ".join(question[:rng.randint(0, 20)]) + rng.choice(["", "?"]),
                      " ".join(answer[:rng.randint(1, 30)]) + rng.choice(["", ".", "?", " — thanks!"])))
    return pairs + [  # written here: the prefilters' edge cases
        ("why not", "Transferring  you now"), ("it isn't working", "I will  be  with   you shortly."),
        ("ok thanks", "Nous vous mettons en  relation."), ("is it free", "—no, £5 per cent"), ("hi", "x_today, étoday"),
        ("help", " - "), ("help", "   "), ("help", "Sorry! Thanks."), ("ça ne marche pas", "Désolé, je ne sais pas."),
    ]


def test_each_prefiltered_feature_is_its_regex_alone(corpus):
    from apps.detection.detectors import agent_punted as cue_pass

    for question, answer in _texts(corpus):
        cues = punt_cues(answer, DEFAULT_PUNT_PHRASES, question)
        text, lowered = cues.text, punt_model.folded(question)

        values = dict(zip(punt_model.FEATURES, punt_model.answer_features(question, cues)))

        assert values == {**values,
            "asks_why": float(punt_model._WHY.search(lowered) is not None),
            "states_problem": float("?" not in question and punt_model._PROBLEM.search(lowered) is not None),
            "question_asks": float(punt_model._ASKS.search(lowered) is not None),
            "generic_statement": float(punt_model._GENERIC_STATEMENT.search(text) is not None),
            "steps": float(punt_model._STEPS.search(text) is not None),
            "verdict": float(cue_pass._VERDICT.search(text) is not None),
            "addresses_user": float(punt_model._ADDRESSES_USER.search(text) is not None),
            "figure": float(cue_pass._NUMBER.search(text) is not None),
            "hands_over": float(punt_model._HANDS_OVER.search(text) is not None),
            "courtesy_only": float(all(cue_pass._APOLOGY.match(c) for c in cue_pass._clauses(text))),
            "answer_digit": float(cue_pass._DIGIT.search(text) is not None),
        }, (question, answer)


def test_the_bounded_decision_is_the_full_models_on_every_answer(corpus):
    model = punt_model.loaded()
    for question, answer in _texts(corpus):
        cues = punt_cues(answer, DEFAULT_PUNT_PHRASES, question)
        uncued_long = cues.rule is None and not any(cues[1:6]) and cues.text.count(" ") >= punt_model.UNCUED_WORDS

        decided = punt_model.decide(answer, question, cues)

        flagged = not uncued_long and model.logit(punt_model.answer_features(question, cues)) >= model.cut
        assert (decided is not None) == flagged, (question, answer)
