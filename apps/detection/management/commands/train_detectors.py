"""Retrain the punt model, then the rephrase model (which reads the punt decisions), on the
development part of the labelled corpus and write ``apps/detection/data/punt_model.json`` and ``apps/detection/data/rephrase_model.json``
(``apps.detection.detectors.punt_model``, ``apps.detection.detectors.rephrase_model``).

    ./manage.py train_detectors [--dir bench/corpus/detection] [--check]

Prints the cross-validated choice (regularisation, threshold) and the figures each variant
reaches on the development part through the real detector pass; those figures are stored in the
files and ``tests/detection/test_punt_model.py`` and ``test_rephrase_model.py`` reproduce them. The held-out part is never
read here. ``--check`` fits and prints without writing.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from django.core.management.base import BaseCommand
from django.test import override_settings

from apps.detection import evaluation, training
from apps.detection.detectors import punt_model, rephrase_model
from apps.detection.config import DETECTORS, DetectorConfig


def _figures(counts) -> dict:
    return {**dataclasses.asdict(counts), "precision": round(counts.precision or 0, 4),
            "recall": round(counts.recall or 0, 4), "f1": round(counts.f1 or 0, 4)}


def punt_dev_figures(sessions, data: dict) -> dict:
    """Agent-punted counts of the punt model ``data`` on ``sessions`` through ``run_detectors``."""
    config = DetectorConfig(enabled=frozenset({"agent_punted"}))
    with punt_model.using(punt_model.PuntModel(data)):
        flagged = evaluation.predict(sessions, config)
    return _figures(evaluation.evaluate(sessions, flagged).by_kind["agent_punted"])


def dev_figures(sessions, data: dict) -> dict:
    """Rephrase counts of each variant of ``data`` on ``sessions`` through ``run_detectors``."""
    model = rephrase_model.model_from_json(data)
    config = DetectorConfig()
    config.params["rephrase"] = {**config.p("rephrase"), "min_probability": data["min_probability"]}
    figures = {}
    for name in data["variants"]:
        with override_settings(SEMANTIC_VIEW=name == "semantic"):
            flagged = evaluation.predict(sessions, config, rephrase_model=model)
        figures[name] = _figures(evaluation.evaluate(sessions, flagged).by_kind["rephrase"])
    return figures


class Command(BaseCommand):
    help = "Retrain the punt and rephrase models on the development part of the detection corpus."

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, default=evaluation.CORPUS_DIR)
        parser.add_argument("--check", action="store_true", help="fit and print, do not write the file")

    def handle(self, *args, dir: Path, check: bool, **options):
        sessions = evaluation.load_corpus(dir)
        dev = [s for s in sessions if s.split == "dev"]
        punt = training.fit_punt(sessions, DetectorConfig(), directory=dir)
        punt["figures_dev"] = punt_dev_figures(dev, punt)
        chosen, figures = punt["cross_validated"], punt["figures_dev"]
        self.stdout.write(
            f"punt      5-fold F1 {chosen['f1']:.3f} (C={chosen['C']}, threshold {chosen['threshold']}); fitted on all: "
            f"tp {figures['tp']} fp {figures['fp']} fn {figures['fn']}  P {figures['precision']:.2f} "
            f"R {figures['recall']:.2f} F1 {figures['f1']:.2f}"
        )
        with punt_model.using(punt_model.PuntModel(punt)):  # the rephrase model reads the new punt decisions
            data = training.fit(sessions, DetectorConfig(), directory=dir)
            data["figures_dev"] = dev_figures(dev, data)
        self.stdout.write(f"{len(dev)} development sessions, {data['pairs']} candidate pairs, {data['positives']} rephrases")
        for name, chosen in data["cross_validated"].items():
            figures = data["figures_dev"][name]
            self.stdout.write(
                f"{name:<9} 5-fold F1 {chosen['f1']:.3f} (C={chosen['C']}, threshold {chosen['threshold']}); "
                f"fitted on all, at min_probability {data['min_probability']}: tp {figures['tp']} fp {figures['fp']} "
                f"fn {figures['fn']}  P {figures['precision']:.2f} R {figures['recall']:.2f} F1 {figures['f1']:.2f}"
            )
        default = DETECTORS["rephrase"][1]["min_probability"]
        if default != data["min_probability"]:
            self.stdout.write(self.style.WARNING(
                f"The Detectors tab default min_probability is {default}; this fit picked {data['min_probability']}: "
                "update apps/detection/config.py."
            ))
        if not check:
            punt_model.MODEL_PATH.write_text(json.dumps(punt, indent=1) + "\n", encoding="utf-8")
            rephrase_model.MODEL_PATH.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            self.stdout.write(f"wrote {punt_model.MODEL_PATH} and {rephrase_model.MODEL_PATH}")
