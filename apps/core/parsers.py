"""Request parsers. Kept apart from apps.core.api: DRF reads DEFAULT_PARSER_CLASSES while
``rest_framework.views`` is being imported, so this module must not import DRF views."""

import json

from rest_framework import exceptions, parsers

from apps.core.text import InvalidText, clean_json


class StrictJSONParser(parsers.JSONParser):
    """JSON only; NUL characters stripped, lone surrogates rejected (PostgreSQL cannot store them)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            raw = stream.read() if stream is not None else b""
            data = json.loads(raw.decode("utf-8")) if raw else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"Malformed JSON: {exc}", code="malformed_json") from exc
        try:
            return clean_json(data)
        except InvalidText as exc:
            raise exceptions.ParseError(str(exc), code="invalid_unicode") from exc
