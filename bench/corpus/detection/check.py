"""Validate the hand-labelled detection corpus and print what it holds.

    python3 bench/corpus/detection/check.py [--dir DIR ...] [--allow-new-tags]

Plain python3, stdlib only, so it runs before any virtualenv exists. Checks every ``*.jsonl``
file in the folder (default: this script's folder): every line parses; ids are unique across
all files; a domain file ``<domain>.jsonl`` holds only sessions of that domain with ids
``<domain>-<nnn>``; ``realistic_*.jsonl`` files hold long sessions (10–20 turns) of known
domains with ids ``<file stem>-<nnn>`` (or ``<domain>-<kebab-case>``); labels come from the five
detector kinds; tags come from
the vocabulary in README.md (mirrored in TAGS below); a positive tag goes with its label and a
label with at least one positive tag; a look-alike tag never sits on a turn labelled positive
for that detector; rephrase (and its look-alike tags) never on a session's last turn, a rephrase
only when the next turn's gap is <= 600 s and ``rephrase-neg:late`` only when it is > 600 s;
1–5 turns per session outside realistic files.

``--dir`` may be given more than once (ids must then be unique across all the folders). An
input of more than 30 characters written word for word in two sessions is a warning: every
session is meant to be written on its own, not from a template.

Prints, per detector, positives and hard look-alike negatives (per tag too), and the
development / held-out split sizes (held-out when int(sha256(id).hexdigest(), 16) % 10 >= 7).
Exits 1 when anything is wrong.
"""

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

KINDS = ("rephrase", "escalation", "agent_punted", "frustration", "factual_claim")

# Tag prefix -> detector kind, for positives and for look-alike negatives.
POSITIVE_PREFIX = {
    "rephrase": "rephrase",
    "escalation": "escalation",
    "punt": "agent_punted",
    "frustration": "frustration",
    "claim": "factual_claim",
}
NEGATIVE_PREFIX = {f"{prefix}-neg": kind for prefix, kind in POSITIVE_PREFIX.items()}

TAGS = {
    "rephrase": (
        "synonym", "register", "reorder", "shorter", "longer", "typo", "chain", "repair-cue",
    ),
    "rephrase-neg": ("follow-up-same-words", "different-entity", "builds-on-answer", "late", "new-topic"),
    "escalation": ("explicit", "callback", "manager", "implicit", "misspelled"),
    "escalation-neg": ("already-spoke", "support-hours", "quoted", "about-human-feature", "negated"),
    "punt": ("explicit", "implicit", "refusal"),
    "punt-neg": ("quoted", "clarifying", "partial-then-answer", "answer-then-support"),
    "frustration": ("explicit", "sarcasm", "caps", "repeat"),
    "frustration-neg": ("situation", "polite-complaint", "caps-acronym"),
    "claim": ("price", "amount", "date", "quote", "promise"),
    "claim-neg": ("vague", "user-number", "version-or-id"),
}
VOCABULARY = {f"{prefix}:{name}" for prefix, names in TAGS.items() for name in names}

DOMAINS = (
    "telecom", "insurance", "saas", "retail", "banking", "healthcare-admin",
    "travel", "utilities", "food-delivery", "education", "government-services", "gaming", "real-estate",
    "automotive", "hr-payroll", "logistics", "hospitality", "fitness", "legal-services", "pet-care", "crypto-exchange",
)
REPHRASE_WINDOW = 600
TAG_SHAPE = re.compile(r"^([a-z]+(?:-neg)?):([a-z0-9]+(?:-[a-z0-9]+)*)$")


def held_out(session_id):
    return int(hashlib.sha256(session_id.encode("utf-8")).hexdigest(), 16) % 10 >= 7


def check_turn(where, turn, index, turns, allow_new_tags, errors, warnings):
    if not isinstance(turn, dict):
        errors.append(f"{where}: turn is not an object")
        return
    for key, kind in (("input", str), ("output", str), ("labels", list), ("tags", list)):
        if not isinstance(turn.get(key), kind):
            errors.append(f"{where}: '{key}' missing or not a {kind.__name__}")
            return
    extra = set(turn) - {"input", "output", "gap_seconds", "labels", "tags"}
    if extra:
        errors.append(f"{where}: unknown keys {sorted(extra)}")
    if not turn["input"].strip() or not turn["output"].strip():
        errors.append(f"{where}: empty input or output")
    gap = turn.get("gap_seconds")
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or gap < 0:
        errors.append(f"{where}: gap_seconds must be a number >= 0")
    elif index == 0 and gap != 0:
        errors.append(f"{where}: the first turn's gap_seconds must be 0")
    labels, tags = turn["labels"], turn["tags"]
    if len(set(labels)) != len(labels) or len(set(tags)) != len(tags):
        errors.append(f"{where}: duplicate label or tag")
    for label in labels:
        if label not in KINDS:
            errors.append(f"{where}: unknown label {label!r}")
    positive_kinds, negative_kinds = set(), set()
    for tag in tags:
        shape = TAG_SHAPE.match(tag) if isinstance(tag, str) else None
        prefix = shape.group(1) if shape else None
        if prefix not in POSITIVE_PREFIX and prefix not in NEGATIVE_PREFIX:
            errors.append(f"{where}: tag {tag!r} is not '<detector>:<kebab-case>' or '<detector>-neg:<kebab-case>'")
            continue
        if tag not in VOCABULARY:
            (warnings if allow_new_tags else errors).append(f"{where}: tag {tag!r} is not in the vocabulary")
        if prefix in POSITIVE_PREFIX:
            positive_kinds.add(POSITIVE_PREFIX[prefix])
        else:
            negative_kinds.add(NEGATIVE_PREFIX[prefix])
    for kind in sorted(positive_kinds - set(labels)):
        errors.append(f"{where}: a positive {kind} tag without the {kind!r} label")
    for kind in sorted(set(labels) & set(KINDS) - positive_kinds):
        errors.append(f"{where}: label {kind!r} without a tag naming its kind of case")
    for kind in sorted(negative_kinds & set(labels)):
        errors.append(f"{where}: a look-alike {kind} tag on a turn labelled {kind!r}")
    rephrase_tagged = "rephrase" in labels or any(t.startswith("rephrase-neg:") for t in tags)
    if rephrase_tagged:
        if index == len(turns) - 1:
            errors.append(f"{where}: rephrase (or a rephrase look-alike) on the session's last turn")
        else:
            next_gap = turns[index + 1].get("gap_seconds") if isinstance(turns[index + 1], dict) else None
            if isinstance(next_gap, (int, float)):
                if "rephrase" in labels and next_gap > REPHRASE_WINDOW:
                    errors.append(f"{where}: rephrase but the next turn comes {next_gap} s later (> {REPHRASE_WINDOW})")
                if "rephrase-neg:late" in tags and next_gap <= REPHRASE_WINDOW:
                    errors.append(f"{where}: rephrase-neg:late but the next turn comes within {REPHRASE_WINDOW} s")


def check_file(path, seen_ids, allow_new_tags, errors, warnings):
    stem = path.stem
    realistic = stem.startswith("realistic_")
    if not realistic and stem not in DOMAINS:
        warnings.append(f"{path.name}: domain {stem!r} is not one of the known domains")
    sessions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path.name}:{number}"
        if not line.strip():
            errors.append(f"{where}: blank line")
            continue
        try:
            session = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: does not parse ({exc})")
            continue
        if not isinstance(session, dict) or set(session) != {"id", "domain", "turns"}:
            errors.append(f"{where}: a session is an object with exactly id, domain and turns")
            continue
        session_id, domain, turns = session["id"], session["domain"], session["turns"]
        if not isinstance(session_id, str) or not isinstance(domain, str) or not isinstance(turns, list):
            errors.append(f"{where}: id and domain are strings, turns a list")
            continue
        where = f"{where} ({session_id})"
        if session_id in seen_ids:
            errors.append(f"{where}: id already used in {seen_ids[session_id]}")
        seen_ids[session_id] = path.name
        if realistic:
            if domain not in DOMAINS:
                errors.append(f"{where}: unknown domain {domain!r}")
            if not (re.fullmatch(re.escape(stem) + r"-\d{3,}", session_id)
                    or re.fullmatch(re.escape(domain) + r"-[a-z0-9]+(?:-[a-z0-9]+)*", session_id)):
                errors.append(f"{where}: id must be '{stem}-<nnn>' or '{domain}-<kebab-case>'")
            if not 10 <= len(turns) <= 20:
                errors.append(f"{where}: a realistic session has 10-20 turns, not {len(turns)}")
        else:
            if domain != stem:
                errors.append(f"{where}: domain {domain!r} in {path.name}")
            if not re.fullmatch(re.escape(stem) + r"-\d{3,}", session_id):
                errors.append(f"{where}: id must be '{stem}-<nnn>'")
            if not 1 <= len(turns) <= 5:
                errors.append(f"{where}: 1-5 turns per session, not {len(turns)}")
        for index, turn in enumerate(turns):
            check_turn(f"{where} turn {index + 1}", turn, index, turns, allow_new_tags, errors, warnings)
        sessions.append(session)
    return sessions


def summarize(name, sessions):
    """Counts of one group of sessions: turns, positives and look-alikes per detector, tags."""
    positives, negatives, tags = Counter(), Counter(), Counter()
    turns = unlabelled = 0
    for session in sessions:
        labels_in_session = False
        for turn in session["turns"]:
            if not isinstance(turn, dict):
                continue
            turns += 1
            for label in turn.get("labels", []):
                positives[label] += 1
                labels_in_session = True
            for kind in {NEGATIVE_PREFIX.get(t.split(":")[0]) for t in turn.get("tags", [])} - {None}:
                negatives[kind] += 1
            tags.update(turn.get("tags", []))
        unlabelled += not labels_in_session
    return {"name": name, "sessions": len(sessions), "turns": turns, "unlabelled": unlabelled,
            "positives": positives, "negatives": negatives, "tags": tags}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, action="append",
                        help="a folder of .jsonl files (repeatable; default: this script's folder)")
    parser.add_argument("--allow-new-tags", action="store_true",
                        help="a well-formed tag outside the vocabulary is a warning, not an error")
    args = parser.parse_args(argv)
    folders = args.dir or [Path(__file__).resolve().parent]
    files = [path for folder in folders for path in sorted(folder.glob("*.jsonl"))]
    if not files:
        print(f"no .jsonl files in {', '.join(map(str, folders))}")
        return 1
    errors, warnings, seen_ids, by_file = [], [], {}, {}
    for path in files:
        if path.name in by_file:
            errors.append(f"{path}: a file of the same name is in another folder")
            continue
        by_file[path.name] = check_file(path, seen_ids, args.allow_new_tags, errors, warnings)
    inputs = {}
    for group in by_file.values():
        for session in group:
            for turn in session["turns"]:
                text = turn.get("input") if isinstance(turn, dict) else None
                if isinstance(text, str) and len(text) > 30:
                    key = " ".join(text.lower().split())
                    if key in inputs and inputs[key] != session["id"]:
                        warnings.append(f"{session['id']}: input written word for word as in {inputs[key]}: {text[:60]!r}")
                    inputs.setdefault(key, session["id"])

    print(f"{'file':<28}{'sessions':>9}{'turns':>7}{'no label':>9}  " + "  ".join(f"{k[:10]:>10}" for k in KINDS))
    for name, sessions in by_file.items():
        s = summarize(name, sessions)
        cells = "  ".join(f"{s['positives'][k]:>4}/{s['negatives'][k]:<5}" for k in KINDS)
        print(f"{name:<28}{s['sessions']:>9}{s['turns']:>7}{s['unlabelled']:>9}  {cells}")
    print("(cells: positives/look-alike negatives, counted in turns)")

    short = [s for name, group in by_file.items() if not name.startswith("realistic_") for s in group]
    realistic = [s for name, group in by_file.items() if name.startswith("realistic_") for s in group]
    for title, group in (("short sessions (1-5 turns)", short), ("realistic mix", realistic)):
        if not group:
            continue
        s = summarize(title, group)
        print(f"\n{title}: {s['sessions']} sessions, {s['turns']} turns, {s['unlabelled']} sessions with no label, "
              f"{len({x['domain'] for x in group})} domains")
        for kind in KINDS:
            print(f"  {kind:<14} positives {s['positives'][kind]:>4}   look-alike negatives {s['negatives'][kind]:>4}")
        labelled_turns = sum(1 for x in group for t in x["turns"] if isinstance(t, dict) and t.get("labels"))
        if s["turns"]:
            print(f"  turns with any label: {labelled_turns} ({100 * labelled_turns / s['turns']:.1f}%)")
        dev = [x for x in group if not held_out(x["id"])]
        held = [x for x in group if held_out(x["id"])]
        for part_name, part in (("development", dev), ("held-out", held)):
            p = summarize(part_name, part)
            cells = ", ".join(f"{k} {p['positives'][k]}/{p['negatives'][k]}" for k in KINDS)
            print(f"  {part_name:<12} {p['sessions']:>4} sessions, {p['turns']:>5} turns; pos/neg: {cells}")
    if short:
        tags = summarize("all", short)["tags"]
        print("\ntags (short sessions):")
        for tag in sorted(VOCABULARY | set(tags)):
            marker = "" if tag in VOCABULARY else "   (not in the vocabulary)"
            print(f"  {tag:<38}{tags[tag]:>5}{marker}")

    for warning in warnings:
        print(f"warning: {warning}")
    for error in errors:
        print(f"error: {error}")
    print(f"\n{len(errors)} errors, {len(warnings)} warnings")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
