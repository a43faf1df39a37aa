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
from apps.detection import evaluation
from apps.detection.detectors import agent_punted as punt_module
from apps.detection.detectors import escalation as escalation_module
from apps.detection.detectors.text import Cues, folded, words

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
        "phrase": "i can't help", "family": "explicit", "probability": 0.872,
        "explain": "cue 'i can't help'; not quoted; no clarifying question; 0 helpful words besides; "
                   "6 words, no figure, no steps; probability 0.87",
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
        raw = frustration_module._EXPLICIT.pattern.search(text) or frustration_module._REPEAT.pattern.search(text)
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


# --- the cue families generalise: phrasings written for these tests, not taken from the corpus ---


@pytest.mark.parametrize("question", [
    "Can I please be put in touch with a representative",
    "is there someone I can speak to about a complaint",
    "hand me over to a person please",
    "ring me back when someone is free",
    "could one of your advisers give me a ring",
    "who do I speak to about getting this fixed",
    "can u put me thru to someone",
    "Id like to speak to a supervsior",
    "i need to talk to a person not a machine",
    "this bot is useless, human please",
    "i'd like to speak to a solicitor not a chatbot",
    "is there really nobody who can make an exception",
    "can i talk to a reprasentitive pls",
    "can i tallk to a humman",
    "Quiero hablar con una persona",
    "Könnte mich bitte jemand zurückrufen?",
    "Je voudrais parler à un conseiller",
    "me liguem por favor",
])
def test_escalation_generalises_to_other_phrasings(question):
    assert ask(question) is not None, question
    assert may_escalate(question)


@pytest.mark.parametrize("question", [
    "Do I need to speak to an adviser before switching tariff?",  # a requirement question
    "I talked to a real person last week",  # a past contact
    "is this a real person or a bot",  # who is on the other end
    "I want to cancel my callback request",
    "can i chat to someone on saturday",  # support hours
    "how do I add live chat to my site",  # setting the feature up
    "can our customers chat with a real person if we integrate your api",  # about the feature
    "I'll speak to someone at the branch then",  # the user's own plan
    "I need someone to sign for the parcel",
    "you can call me Sam",
    "how do I contact someone at the embassy",
])
def test_escalation_look_alikes_in_other_phrasings_do_not_fire(question):
    assert ask(question) is None, question


@pytest.mark.parametrize(("question", "answer"), [
    ("can I bring a second bag on my connecting flight", "You'd need to check with the airline for that."),
    ("is my parcel insured", "Your courier will be able to answer that."),
    ("how do I get a refund for the concert", "Refunds for events are handled by the ticket provider."),
    ("webhooks stopped working", "Could you provide more details?"),  # asks for nothing in particular
    ("can you check my account balance", "I'm just a virtual assistant and don't have access to accounts."),
    ("how do I transfer my pension", "Pension transfers are a complex area and you should seek independent financial advice."),
    ("my parcel is missing", "I'd recommend getting in touch with the courier."),
    ("do you allow dogs", "We love welcoming guests of all kinds to our hotel!"),
    ("Wann kommt meine Bestellung?", "Das kann ich leider nicht sagen. Bitte wenden Sie sich an den Kundenservice."),
    ("posso cancelar?", "Não sei. Entre em contato com o suporte."),
])
def test_agent_punted_generalises_to_implicit_deflections(question, answer):
    assert punt(answer, question) is not None, answer


@pytest.mark.parametrize(("question", "answer"), [
    ("do you offer drone insurance", "No, we don't offer drone insurance. Our gadget cover only includes phones, tablets and laptops."),
    ("the app won't load", "We had an outage this morning that's now fixed. Please update the app and try again."),
    ("is breakdown cover included", "It depends on whether you added breakdown cover. You did — so yes, roadside recovery is included."),
    ("the app crashes", "Which phone and app version are you on? And does it crash on opening or when you tap something?"),
    ("how do I get a fit note", "Ask your GP surgery — they issue fit notes after an appointment, or online through the NHS app."),
])
def test_agent_punted_helpful_answers_in_other_phrasings_do_not_fire(question, answer):
    assert punt(answer, question) is None, answer


@pytest.mark.parametrize(("question", "reply"), [
    ("did you even read my message", True),
    ("how many times do I have to say it", True),
    ("great job of ignoring my question", True),
    ("not collect, DELIVER. to my house", True),
    ("lovely, very informative. can i talk to someone who actually knows", True),
    ("Das hilft mir nicht", True),
])
def test_frustration_generalises(question, reply):
    assert frustration(question, reply=reply) is not None, question


@pytest.mark.parametrize(("question", "reply"), [
    ("can you understand spanish?", True),
    ("it says ACCOUNT NOT FOUND with the email i signed up with", True),  # capitals quoting the screen
    ("what's the cut-off time for same-day CHAPS on bank holidays", True),  # a lone acronym
    ("again: the settlement figure for agreement 40021877", True),  # a repair, not annoyance
])
def test_frustration_look_alikes_in_other_phrasings_do_not_fire(question, reply):
    assert frustration(question, reply=reply) is None, question


def _corpus_texts():
    for session in evaluation.load_corpus() + evaluation.load_corpus(realistic=True):
        for turn in session.turns:
            yield turn.data.question
            yield turn.data.answer


def test_cue_families_searched_by_alternative_find_what_the_whole_alternation_finds():
    # Given every cue family, and the corpus texts plus random texts built from their words
    families = [punt_module._REFUSAL, punt_module._DEFLECT, punt_module._VAGUE, frustration_module._EXPLICIT,
                frustration_module._REPEAT, frustration_module._MOCK_PRAISE] + [c for _, c in escalation_module._FAMILIES]
    texts = [folded(text).replace("’", "'") for text in _corpus_texts()]
    texts += [n[0] for text in _corpus_texts() if (n := escalation_module._normalised(text))]
    rng = random.Random(14)
    vocabulary = sorted({word for text in texts for word in text.split()})
    texts += [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 30))) for _ in range(3000)]

    for cues in families:
        for text in texts:
            # Then the trigger-word search finds the same leftmost match as the alternation
            whole, split = cues.pattern.search(text), cues.search(text)
            assert (whole and whole.start()) == (split and split.start()), (cues.pattern.pattern[:60], text)


def test_cues_index_alternatives_by_a_word_they_need():
    cues = Cues(r"\bcall\s+me\b|\b(?:talk|speak)\s+to\s+(?:a|an)\s+(?:human|agent)\b|\bcal+back\b")

    assert cues.search("please call me") is not None
    assert cues.search("speak to an agent") is not None
    assert cues.search("speak to a friend") is None  # "speak" is there, "human|agent" is not: not even tried
    assert cues.search("calllback") is not None  # no fixed first word: this alternative always runs
    assert cues.candidates(set(words("speak to a friend"))) == [cues._alternatives[2]]


def test_the_escalation_prefilter_passes_every_corpus_question_that_asks():
    for question in _corpus_texts():
        if asked_for_human(question):
            assert may_escalate(question), question


def test_the_frustration_keyword_prefilter_passes_every_corpus_message_a_family_matches():
    for text in _corpus_texts():
        lowered = folded(text).replace("’", "'")
        if frustration_module._EXPLICIT.pattern.search(lowered) or frustration_module._REPEAT.pattern.search(lowered):
            assert not frustration_module._KEYWORDS.isdisjoint(words(lowered)), text
