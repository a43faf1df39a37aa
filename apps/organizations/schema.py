"""The management API's two security schemes in the OpenAPI schema (registered at ready())."""

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OrganizationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.organizations.authentication.OrganizationTokenAuthentication"
    name = "OrganizationToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "Organization API token: `Authorization: Bearer al_ot_<token id>_<secret>`. It acts as the "
                "member who created it, within its scopes (read, review, datasets, admin) and never above "
                "that member's current role. No CSRF token is needed. A token of another organization is a "
                "404 like a stranger's; an invalid or revoked one is 401 `invalid_token`; a missing scope is "
                "403 `token_scope`."
            ),
        }


class SessionWithCsrfScheme(SessionScheme):
    """drf-spectacular's cookie scheme, saying that writes need the CSRF header too."""

    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            **super().get_security_definition(auto_schema),
            "description": (
                "The browser session cookie of a signed-in member. Unsafe methods also need the CSRF "
                "token: the `csrftoken` cookie echoed in an `X-CSRFToken` header."
            ),
        }
