def navigation(request):
    """Organization switcher entries for the signed-in user (the tenant itself comes from the URL)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from apps.organizations.selectors import organization_list_for_user

    return {"nav_memberships": organization_list_for_user(user=user)}
