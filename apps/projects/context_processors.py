def navigation(request):
    """The projects of the page's organization that the caller may see, for the project switcher.

    The organization and membership are the ones the page's tenant mixin resolved from the URL
    (apps.organizations.tenancy sets them on the request); other pages get nothing.
    """
    organization = getattr(request, "organization", None)
    membership = getattr(request, "membership", None)
    if organization is None or membership is None:
        return {}
    from apps.projects.selectors import project_list_visible

    return {"nav_projects": project_list_visible(organization=organization, membership=membership)}
