import pytest

from apps.core.errors import ValidationFailed
from apps.core.permissions import object_permission_grant, object_permission_has, object_permission_revoke
from apps.core.roles import Role
from apps.core.audit import SYSTEM
from apps.organizations.services import membership_remove
from apps.projects.models import ACCESS_PERMISSION, ProjectUserObjectPermission
from apps.projects.selectors import project_list_visible
from apps.projects.services import project_set_access
from tests.conftest import client_for
from tests.factories.projects import ProjectFactory

pytestmark = pytest.mark.django_db


def test_grant_and_revoke_use_the_direct_foreign_key_table(members, project):
    reviewer = members[Role.REVIEWER]

    object_permission_grant(membership=reviewer, permission=ACCESS_PERMISSION, obj=project)
    granted = object_permission_has(user=reviewer.user, permission=ACCESS_PERMISSION, obj=project)
    rows = ProjectUserObjectPermission.objects.filter(content_object=project, user=reviewer.user).count()
    object_permission_revoke(membership=reviewer, permission=ACCESS_PERMISSION, obj=project)

    assert granted is True
    assert rows == 1
    assert ProjectUserObjectPermission.objects.filter(content_object=project).count() == 0


def test_a_member_of_another_organization_cannot_be_granted(members, other_organization, project):
    from tests.factories.organizations import MembershipFactory

    stranger = MembershipFactory(organization=other_organization)

    with pytest.raises(ValidationFailed):
        object_permission_grant(membership=stranger, permission=ACCESS_PERMISSION, obj=project)

    assert ProjectUserObjectPermission.objects.filter(content_object=project).count() == 0


def test_restricted_project_is_visible_to_admins_and_named_members_only(members, organization):
    open_project = ProjectFactory(organization=organization, name="Open")
    secret = ProjectFactory(organization=organization, name="Secret")
    project_set_access(project=secret, is_restricted=True, member_ids=[members[Role.REVIEWER].pk], actor=SYSTEM)

    visible = {
        role: sorted(p.name for p in project_list_visible(organization=organization, membership=membership))
        for role, membership in members.items()
    }

    assert visible == {
        Role.OWNER: ["Open", "Secret"],
        Role.ADMIN: ["Open", "Secret"],
        Role.REVIEWER: ["Open", "Secret"],
        Role.MEMBER: ["Open"],
    }
    assert client_for(members[Role.MEMBER].user).get(f"/orgs/{organization.slug}/projects/{secret.pk}/").status_code == 404
    assert client_for(members[Role.REVIEWER].user).get(f"/orgs/{organization.slug}/projects/{secret.pk}/").status_code == 200
    assert open_project.is_restricted is False


def test_reopening_a_project_drops_grants_and_removing_a_member_drops_theirs(members, organization):
    secret = ProjectFactory(organization=organization, name="Secret")
    other_secret = ProjectFactory(organization=organization, name="Other secret")
    reviewer = members[Role.REVIEWER]
    project_set_access(project=secret, is_restricted=True, member_ids=[reviewer.pk], actor=SYSTEM)
    project_set_access(project=other_secret, is_restricted=True, member_ids=[reviewer.pk], actor=SYSTEM)

    project_set_access(project=secret, is_restricted=False, member_ids=[], actor=SYSTEM)
    remaining_after_reopen = ProjectUserObjectPermission.objects.filter(user=reviewer.user).count()
    membership_remove(membership=reviewer, acting=members[Role.OWNER], actor=SYSTEM)

    assert remaining_after_reopen == 1
    assert ProjectUserObjectPermission.objects.filter(user=reviewer.user).count() == 0
