"""Versions are immutable at the database level, not only by convention (models.py explains the
ranges). What the triggers allow, and nothing else:

- ``datasets_datasetversion``: INSERT only.
- ``datasets_caserevision``: INSERT into a version not yet created (``added_in`` above the
  dataset's last version); UPDATE of ``removed_in`` alone, from NULL to a version not yet created.

DELETE of either is refused unless the transaction says the whole dataset is being purged
(``SELECT set_config('agentloop.datasets_purge', 'on', true)``, set by apps.datasets when a
project or dataset is deleted): history disappears only with its owner.
Errors carry SQLSTATE 42501 (``insufficient_privilege``), like the audit log's trigger.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION datasets_purging() RETURNS boolean AS $$
    SELECT coalesce(current_setting('agentloop.datasets_purge', true), '') = 'on';
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION datasets_version_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND datasets_purging() THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'version_immutable: dataset versions cannot be changed (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER datasets_version_immutable
    BEFORE UPDATE OR DELETE ON datasets_datasetversion
    FOR EACH ROW EXECUTE FUNCTION datasets_version_immutable();

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

CREATE TRIGGER datasets_revision_guard
    BEFORE INSERT OR UPDATE OR DELETE ON datasets_caserevision
    FOR EACH ROW EXECUTE FUNCTION datasets_revision_guard();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS datasets_revision_guard ON datasets_caserevision;
DROP FUNCTION IF EXISTS datasets_revision_guard();
DROP TRIGGER IF EXISTS datasets_version_immutable ON datasets_datasetversion;
DROP FUNCTION IF EXISTS datasets_version_immutable();
DROP FUNCTION IF EXISTS datasets_purging();
"""


class Migration(migrations.Migration):
    dependencies = [("datasets", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
