"""Erasure: the one change a case revision's content may undergo after it is written.

An end user's deletion must remove the content copied from their turns from every version,
past ones included, while versions stay immutable for everything else. The guard of migration
0002 gains one allowed UPDATE, only inside a transaction that says it is erasing
(``SELECT set_config('agentloop.datasets_erase', 'on', true)``, set by
apps.datasets.services.erasure): the content columns set to their empty values and
``erased_at`` set once, every other column unchanged. The revision keeps its place in its
versions (ids, positions, ranges, lineage ids), so version counts and diffs stay true.
"""

import importlib
import re

from django.db import migrations, models

GUARD = """
CREATE OR REPLACE FUNCTION datasets_erasing() RETURNS boolean AS $$
    SELECT coalesce(current_setting('agentloop.datasets_erase', true), '') = 'on';
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION datasets_revision_guard() RETURNS trigger AS $$
DECLARE
    last_version integer;
    probe datasets_caserevision%ROWTYPE;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF datasets_purging() THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'version_immutable: case revisions cannot be deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' AND datasets_erasing() AND OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
       AND NEW.input = '' AND NEW.expected_output = '' AND NEW.history = '[]'::jsonb
       AND NEW.context = '{}'::jsonb AND NEW.metadata = '{}'::jsonb THEN
        probe := NEW;
        probe.input := OLD.input;
        probe.expected_output := OLD.expected_output;
        probe.history := OLD.history;
        probe.context := OLD.context;
        probe.metadata := OLD.metadata;
        probe.erased_at := OLD.erased_at;
        IF ROW(probe.*) IS NOT DISTINCT FROM ROW(OLD.*) THEN
            RETURN NEW;
        END IF;
    END IF;
    SELECT coalesce(max(number), 0) INTO last_version
        FROM datasets_datasetversion WHERE project_id = NEW.project_id AND dataset_id = NEW.dataset_id;
    IF TG_OP = 'INSERT' THEN
        IF NEW.added_in <= last_version THEN
            RAISE EXCEPTION 'version_immutable: version % of dataset % exists; a case cannot be added to it',
                NEW.added_in, NEW.dataset_id USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    probe := NEW;
    probe.removed_in := OLD.removed_in;
    IF OLD.removed_in IS NULL AND NEW.removed_in IS NOT NULL AND NEW.removed_in > last_version
       AND ROW(probe.*) IS NOT DISTINCT FROM ROW(OLD.*) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'version_immutable: a case revision cannot be edited (only ended, by a new version)'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _previous_guard() -> str:
    """Migration 0002's guard function, restored on the way back."""
    forward = importlib.import_module("apps.datasets.migrations.0002_versions_immutable").FORWARD
    body = re.search(r"CREATE OR REPLACE FUNCTION datasets_revision_guard\(\).*?LANGUAGE plpgsql;", forward, re.S)
    return body.group(0) + "\nDROP FUNCTION IF EXISTS datasets_erasing();"


class Migration(migrations.Migration):

    dependencies = [
        ('datasets', '0002_versions_immutable'),
    ]

    operations = [
        migrations.AddField(
            model_name='caserevision',
            name='erased_at',
            field=models.DateTimeField(blank=True, help_text="Content erased on an end user's request (apps.datasets.services.erasure).", null=True),
        ),
        migrations.RunSQL(GUARD, _previous_guard()),
    ]
