"""The audit log is append-only at the database level, not only by convention."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION governance_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'governance_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER governance_auditevent_append_only
    BEFORE UPDATE OR DELETE ON governance_auditevent
    FOR EACH ROW EXECUTE FUNCTION governance_auditevent_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS governance_auditevent_append_only ON governance_auditevent;
DROP FUNCTION IF EXISTS governance_auditevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
