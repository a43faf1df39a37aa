"""Prompt versions and label history are append-only in the database, not only by convention;
labels and versions point inside their own prompt and project (composite foreign keys)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION experiments_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('agentloop.purging_project', true) = OLD.project_id::text THEN
        RETURN OLD;  -- the project itself is being deleted (apps.core.sql.project_purge_allow)
    END IF;
    RAISE EXCEPTION '% is immutable (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege', HINT = 'version_immutable';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER experiments_promptversion_immutable
    BEFORE UPDATE OR DELETE ON experiments_promptversion
    FOR EACH ROW EXECUTE FUNCTION experiments_append_only();

CREATE TRIGGER experiments_promptlabelmove_append_only
    BEFORE UPDATE OR DELETE ON experiments_promptlabelmove
    FOR EACH ROW EXECUTE FUNCTION experiments_append_only();

ALTER TABLE experiments_promptversion ADD CONSTRAINT experiments_promptversion_prompt_project_fk
    FOREIGN KEY (project_id, prompt_id) REFERENCES experiments_prompt (project_id, id)
    DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE experiments_promptlabel ADD CONSTRAINT experiments_promptlabel_version_same_prompt_fk
    FOREIGN KEY (project_id, prompt_id, version_id) REFERENCES experiments_promptversion (project_id, prompt_id, id)
    DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE experiments_promptlabelmove ADD CONSTRAINT experiments_promptlabelmove_to_same_prompt_fk
    FOREIGN KEY (project_id, prompt_id, to_version_id) REFERENCES experiments_promptversion (project_id, prompt_id, id)
    DEFERRABLE INITIALLY DEFERRED;
"""

BACKWARD = """
ALTER TABLE experiments_promptlabelmove DROP CONSTRAINT IF EXISTS experiments_promptlabelmove_to_same_prompt_fk;
ALTER TABLE experiments_promptlabel DROP CONSTRAINT IF EXISTS experiments_promptlabel_version_same_prompt_fk;
ALTER TABLE experiments_promptversion DROP CONSTRAINT IF EXISTS experiments_promptversion_prompt_project_fk;
DROP TRIGGER IF EXISTS experiments_promptlabelmove_append_only ON experiments_promptlabelmove;
DROP TRIGGER IF EXISTS experiments_promptversion_immutable ON experiments_promptversion;
DROP FUNCTION IF EXISTS experiments_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("experiments", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
