"""Detection quality on the hand-labelled corpus: precision, recall and F1 per detector on the
development and held-out parts, flagged counts per tag (each kind of positive and of look-alike
negative), and the lift of the flagged set on the long production-like sessions.

    .venv/bin/python bench/detection_quality.py [--dir bench/corpus/detection] [--errors 20] [--without-semantic]

``--errors N`` prints up to N misclassified turns per detector from the development part only
(looking at held-out mistakes would be fitting on them).
No database: the detectors run in process, exactly as a worker's pass runs them.
The rephrase figures are printed twice: with the semantic view and without it (the model
variant a deployment without the ``semantic`` extra runs); ``--without-semantic`` prints only
the latter for every table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def _figure(value) -> str:
    return "   —" if value is None else f"{value:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--errors", type=int, default=0)
    parser.add_argument("--without-semantic", action="store_true", help="run the rephrase model without its semantic view")
    args = parser.parse_args()
    if args.without_semantic:
        os.environ["AGENTLOOP_SEMANTIC_VIEW"] = "false"

    import django

    django.setup()
    from django.test import override_settings

    from apps.detection import evaluation, semantic

    options = {}
    sessions = evaluation.load_corpus(args.dir)
    parts = {"dev": [s for s in sessions if s.split == "dev"], "heldout": [s for s in sessions if s.split == "heldout"]}
    print(f"corpus: {len(sessions)} sessions ({len(parts['dev'])} development, {len(parts['heldout'])} held out), "
          f"{sum(len(s.turns) for s in sessions)} turns, {len({s.domain for s in sessions})} domains")
    started = time.perf_counter()
    flagged = evaluation.predict(sessions, **options)
    elapsed = time.perf_counter() - started
    reports = {name: evaluation.evaluate(part, flagged) for name, part in parts.items()}

    print(f"\n{'detector':<14} {'part':<8} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>5} {'rec':>5} {'F1':>5}")
    for kind in evaluation.KINDS:
        for name, report in reports.items():
            c = report.by_kind[kind]
            print(f"{kind:<14} {name:<8} {c.tp:>4} {c.fp:>4} {c.fn:>4} {_figure(c.precision):>5} {_figure(c.recall):>5} {_figure(c.f1):>5}")

    print(f"\n{'tag':<38} {'dev flagged':>12} {'held-out flagged':>17}")
    tags = sorted(set(reports["dev"].by_tag) | set(reports["heldout"].by_tag))
    for tag in tags:
        cells = []
        for name in parts:
            hit, total = reports[name].by_tag.get(tag, (0, 0))
            cells.append(f"{hit}/{total}")
        kind, negative = evaluation.tag_kind(tag)
        print(f"{tag:<38} {cells[0]:>12} {cells[1]:>17}   {'(should stay unflagged)' if negative else ''}")

    realistic = evaluation.load_corpus(args.dir, realistic=True)
    if realistic:
        result = evaluation.lift(realistic, evaluation.predict(realistic, **options))
        print(f"\nrealistic mix: {len(realistic)} sessions, {result.turns} turns, {result.failures} failures "
              f"(base rate {result.base_rate:.1%}); flagged {result.flagged}, of which {result.flagged_failures} failures "
              f"({result.flagged_precision:.1%}); lift {result.lift:.1f}x (target >= 5x)")
    print(f"\ndetector pass over the corpus: {elapsed * 1000:.0f} ms "
          f"(rephrase semantic view: {'on' if semantic.available() else 'off'})")
    if semantic.available():
        with override_settings(SEMANTIC_VIEW=False):
            lexical = evaluation.predict(sessions, **options)
        print("\nrephrase without the semantic view (the lexical model variant):")
        for name, part in parts.items():
            c = evaluation.evaluate(part, lexical).by_kind["rephrase"]
            print(f"{'rephrase':<14} {name:<8} {c.tp:>4} {c.fp:>4} {c.fn:>4} {_figure(c.precision):>5} {_figure(c.recall):>5} {_figure(c.f1):>5}")

    if args.errors:
        for kind in evaluation.KINDS:
            mistakes = [e for e in reports["dev"].errors if e[0] == kind][: args.errors]
            if mistakes:
                print(f"\n-- {kind}: development mistakes --")
                for _, what, text in mistakes:
                    print(f"  {what}: {text[:160]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
