"""The cue detectors (escalation, agent punted, frustration, factual claim) on written examples:
one positive and one look-alike negative per corpus tag, misspellings, quotes, negation, the
explanations a reviewer reads, the exact prefilters, and a detector pass run twice."""

import datetime as dt
import random
import uuid

import pytest
from django.utils import timezone

from apps.detection.config import DEFAULT_PUNT_PHRASES, DetectorConfig, validate_params
from apps.detection.detectors import frustration as frustration_module
from apps.detection.detectors.agent_punted import agent_punted
from apps.detection.detectors.base import TurnData
from apps.detection.detectors.escalation import asked_for_human, escalation, may_escalate
from apps.detection.detectors.factual_claim import factual_claim
from apps.detection.detectors.frustration import frustration
from apps.detection.detectors.runner import run_detectors
from apps.detection.detectors.text import words

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def ask(question: str) -> dict | None:
    return escalation(TurnData(id=uuid.uuid4(), question=question))


@pytest.mark.parametrize(("tag", "question"), [
    ("escalation:explicit", "can you put me through to a real person please"),
    ("escalation:callback", "rather not type all this, could someone give me a ring this afternoon"),
    ("escalation:manager", "I want to take this up with your supervisor"),
    ("escalation:implicit", "is there somebody else I could talk to? this isn't going anywhere"),
    ("escalation:misspelled", "let me tlak to a humna"),
])
def test_escalation_fires_on_each_kind_of_request(tag, question):
    found = ask(question)

    assert found is not None, tag
    assert found["explain"].startswith("cue '")


@pytest.mark.parametrize(("tag", "question"), [
    ("escalation-neg:already-spoke", "your colleague on the phone told me on monday the parcel was re-sent, has it shipped"),
    ("escalation-neg:support-hours", "what are your phone support hours on bank holidays"),
    ("escalation-neg:quoted", 'the error page says "please speak to an agent" but I only want to reset my pin'),
    ("escalation-neg:about-human-feature", "do your users get to chat with a real agent or is it self-service only? evaluating vendors"),
    ("escalation-neg:negated", "I don't want to talk to a person, just send me the invoice copy"),
])
def test_escalation_look_alikes_do_not_fire(tag, question):
    assert ask(question) is None, tag


def test_escalation_explains_typos_and_quotes():
    found = ask('the form says "call us" but I\'d like to spek to a pearson instead')

    assert found["family"] == "explicit"
    assert found["explain"] == "cue 'like to speak to a person'; misspelt spek→speak, pearson→person; outside the quoted part; not negated"


def test_escalation_project_phrases_and_reported_signal():
    assert asked_for_human("Bitte einen Mitarbeiter", ("einen mitarbeiter",))["family"] == "phrase"
    assert asked_for_human("Bitte einen Mitarbeiter") is None
    assert validate_params("escalation", {"phrases": "Einen Mitarbeiter\n\n"}) == {"phrases": ["einen mitarbeiter"]}
    assert escalation(TurnData(id=uuid.uuid4(), question="ok", signals={"escalation": 1}))["reason"] == "signal"


def test_the_escalation_prefilter_passes_every_question_a_family_matches():
    # Given many questions built from cue words, misspellings and others, in mixed case
    rng = random.Random(14)
    words = ["talk", "tlak", "to", "a", "human", "humna", "speak", "with", "your", "manager", "mangaer", "call", "me",
             "back", "ring", "is", "there", "anyone", "else", "i", "can", "real", "person", "live", "chat", "please",
             "the", "order", "refund", "want", "need", "supervisor", "agent", "agnet", "phone", "someone", "don't"]
    for _ in range(3000):
        question = " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
        question = "".join(c.upper() if rng.random() < 0.3 else c for c in question)

        # Then the prefilter never rules out a question that asks
        if asked_for_human(question):
            assert may_escalate(question), question


def punt(answer: str, question: str = "") -> dict | None:
    return agent_punted(answer, DEFAULT_PUNT_PHRASES, question)


@pytest.mark.parametrize(("tag", "question", "answer"), [
    ("punt:explicit", "is the sauna open on sundays", "I'm not sure, sorry."),
    ("punt:implicit", "how much is the late checkout", "Late checkout charges vary by property."),
    ("punt:implicit", "can I change the meter reading I sent", "You may want to check our website for that."),
    ("punt:implicit", "when will the engineer arrive", "Engineers are scheduled as soon as possible."),
    ("punt:refusal", "what's my neighbour's account balance", "I can't share information about other accounts."),
])
def test_agent_punted_fires_on_each_kind_of_punt(tag, question, answer):
    found = punt(answer, question)

    assert found is not None, tag
    assert found["explain"]


@pytest.mark.parametrize(("tag", "question", "answer"), [
    ("punt-neg:quoted", "what does the status mean",
     'The status "I don\'t know" on your form means the field was left empty; pick your employer type to fix it.'),
    ("punt-neg:clarifying", "how do I cancel", "I'm not sure which subscription you mean — the magazine or the streaming add-on?"),
    ("punt-neg:partial-then-answer", "when does the pool reopen",
     "I don't know the exact hour, but the pool reopens on Thursday after the tiles are replaced, and the gym stays open meanwhile."),
    ("punt-neg:answer-then-support", "how do I add a second driver",
     "Open the booking, choose Extras → Additional driver and enter their licence details; the fee is shown before you pay. "
     "If the option is greyed out, contact support."),
])
def test_agent_punted_look_alikes_do_not_fire(tag, question, answer):
    assert punt(answer, question) is None, tag


def test_the_punt_explanation_names_the_cue():
    assert punt("Sorry, I can't help with that.") == {
        "phrase": "i can't help", "family": "explicit",
        "explain": "cue 'i can't help'; not quoted; no clarifying question; 0 helpful words besides",
    }


@pytest.mark.parametrize(("tag", "question", "reply"), [
    ("frustration:explicit", "this chatbot is completely useless", False),
    ("frustration:sarcasm", 'oh wonderful, "restart the router" again. so helpful', True),
    ("frustration:caps", "I SAID THE BLUE ONE", False),
    ("frustration:caps", "no, it is NOT working", True),
    ("frustration:repeat", "you already told me that twice", True),
])
def test_frustration_fires_on_each_kind(tag, question, reply):
    found = frustration(question, reply=reply)

    assert found is not None, tag
    assert found["explain"].endswith("a reply to an answer" if reply else "first message")


@pytest.mark.parametrize(("tag", "question", "reply"), [
    ("frustration-neg:situation", "my boiler broke on christmas eve, worst week ever", False),
    ("frustration-neg:polite-complaint", "I'm afraid I have to complain: the courier left my parcel in the rain.", False),
    ("frustration-neg:caps-acronym", "can I pay by SEPA or do you need my BIC", True),
    ("frustration-neg:caps-acronym", "the PDF won't open on my iPad", False),
    ("frustration-neg:situation", "the shop was NOT open when I got there, annoying", False),  # one stressed word, first message
])
def test_frustration_look_alikes_do_not_fire(tag, question, reply):
    assert frustration(question, reply=reply) is None, tag


def test_the_frustration_keyword_prefilter_is_exact():
    # Given messages built from cue words and others, the patterns without the prefilter agree
    rng = random.Random(3)
    vocabulary = ["you", "are", "not", "helping", "useless", "keep", "asking", "already", "told", "said", "third", "time",
             "again", "the", "order", "why", "do", "waste", "of", "my", "did", "didn't", "help", "bot", "stupid", "read",
             "same", "thing", "even", "can't", "able", "answer"]
    for _ in range(2000):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 8)))
        raw = frustration_module._EXPLICIT.search(text) or frustration_module._REPEAT.search(text)
        assert (raw is None) or not frustration_module._KEYWORDS.isdisjoint(words(text)), text


@pytest.mark.parametrize(("tag", "question", "answer"), [
    ("claim:price", "how much is the upgrade", "The upgrade to Premium is £12.50 a month."),
    ("claim:amount", "how much data do I get", "Your plan includes 40 GB of data."),
    ("claim:date", "when is the filing deadline", "The deadline is 30 September at midnight."),
    ("claim:quote", "what would the removal cost", "For a two-bedroom move from Leeds to York the quote is €890 including VAT."),
    ("claim:promise", "the kettle arrived broken", "I'm sorry. We will refund the kettle within 3 working days."),
])
def test_factual_claim_fires_on_each_kind(tag, question, answer):
    found = factual_claim(answer, question)

    assert found is not None, tag
    assert found["explain"].startswith(found["family"])


@pytest.mark.parametrize(("tag", "question", "answer"), [
    ("claim-neg:vague", "is the gym expensive", "Most members find it good value for what's included."),
    ("claim-neg:user-number", "I paid 45 on the 3rd, did it go through", "Yes, I can see the payment of 45 from the 3rd."),
    ("claim-neg:version-or-id", "my game crashes", "Update to 2.4.1 and check ticket ZX-40213 in your inbox for the steps."),
])
def test_factual_claim_look_alikes_do_not_fire(tag, question, answer):
    assert factual_claim(answer, question) is None, tag


def test_the_new_detectors_run_in_the_pass_and_can_be_turned_off():
    first = TurnData(id=uuid.uuid4(), session_id="s", created_at=NOW, question="what's the fee",
                     answer="The fee is €9.")
    second = TurnData(id=uuid.uuid4(), session_id="s", created_at=NOW + dt.timedelta(minutes=1),
                      question="you already said that, I asked about the deposit", answer="Noted.")

    both = run_detectors([[first, second]], DetectorConfig(enabled=frozenset({"frustration", "factual_claim"})), now=NOW)
    none = run_detectors([[first, second]], DetectorConfig(enabled=frozenset()), now=NOW)

    assert sorted((d.kind, d.turn_id == first.id) for d in both.detections) == [("factual_claim", True), ("frustration", False)]
    assert none.detections == []


@pytest.mark.django_db
def test_the_detection_task_twice_stores_each_cue_signal_once(project):
    from apps.detection.models import DetectorSettings
    from apps.detection.tasks import detect_session_task
    from apps.traces.models import Signal
    from tests.factories.traces import TurnFactory

    DetectorSettings.all_tenants.create(project=project, detector="random_sample", enabled=False)
    start = timezone.now() - dt.timedelta(hours=1)
    TurnFactory(project=project, session_id="cue", end_user_id="u", created_at=start,
                input="how much is shipping", output="Shipping is €4.90 within Germany.")
    TurnFactory(project=project, session_id="cue", end_user_id="u", created_at=start + dt.timedelta(minutes=1),
                input="useless. can someone call me back", output="I can't help with that.")

    for _ in range(2):
        detect_session_task.apply(kwargs={"project_id": str(project.pk), "session_id": "cue"})

    kinds = sorted(Signal.objects.for_project(project).filter(source="detector").values_list("kind", flat=True))
    assert kinds == ["abandonment", "agent_punted", "escalation", "factual_claim", "frustration"]
    value = Signal.objects.for_project(project).get(kind="frustration").value
    assert value["explain"] == "cue 'useless'; a reply to an answer"
