from django.urls import path

from apps.organizations import token_views, views

urlpatterns = [
    path("orgs/", views.OrganizationListView.as_view(), name="organization_list"),
    path("orgs/<slug:org>/members/", views.MemberListView.as_view(), name="member_list"),
    path("orgs/<slug:org>/members/<int:member>/role/", views.MemberRoleView.as_view(), name="member_role"),
    path("orgs/<slug:org>/members/<int:member>/remove/", views.MemberRemoveView.as_view(), name="member_remove"),
    path(
        "orgs/<slug:org>/invitations/<int:invitation>/revoke/",
        views.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path("orgs/<slug:org>/settings/", views.OrganizationSettingsView.as_view(), name="organization_settings"),
    path("orgs/<slug:org>/settings/tokens/", token_views.OrgTokenCreateView.as_view(), name="org_token_create"),
    path(
        "orgs/<slug:org>/settings/tokens/<str:token_id>/revoke/",
        token_views.OrgTokenRevokeView.as_view(),
        name="org_token_revoke",
    ),
    path("invitations/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
]
