"""Request parsers. Kept apart from apps.core.api: DRF reads DEFAULT_PARSER_CLASSES while
``rest_framework.views`` is being imported, so this module must not import DRF views."""

from django.conf import settings
from rest_framework import parsers

from apps.core.body import PayloadTooLarge, decode_json


class StrictJSONParser(parsers.JSONParser):
    """The management API's JSON: the same door as ingestion (``decode_json``: depth limit,
    UTF-8, finite numbers, NUL stripped, lone surrogates refused, each a 400 with its code) and
    the same size limit, enforced while reading (413 ``payload_too_large``)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
        return decode_json(raw) if raw else {}
