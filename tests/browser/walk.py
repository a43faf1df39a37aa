"""Every HTML page of a populated organization, visited in Chromium, with what each visit observed.

The pages come from the URL resolver (the same walk as tests/test_tenant_isolation.py), each route
once per object its kwargs can name, plus the pages of the packages the product shows (sign-in,
account, two-factor, API docs, Django admin). A route with a kwarg the world cannot resolve fails
the walk, so a new page is covered without editing this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import admin
from django.urls import resolve, reverse

from tests.browser.worlds import World
from tests.test_tenant_isolation import ROUTES

ANONYMOUS_PATHS = ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/no-such-page/"]
ACCOUNT_PATHS = ["/accounts/password/change/", "/accounts/email/", "/accounts/2fa/", "/accounts/2fa/totp/activate/",
                 "/api/docs/"]
# Runs before any page script, in every document: keeps what the browser reports.
RECORDER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => window.__csp.push(
  `${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber} ${event.sample}`));
"""
# After the page settled: violations, the payloads' flag, and markup that only an injection could have made.
OBSERVE = """() => new Promise((resolve) => setTimeout(() => {
  const injected = [];
  const snippet = (element) => element.outerHTML.slice(0, 160);
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase();
      const scripted = ["href", "src", "action", "formaction", "xlink:href", "data"].includes(name)
        && /^\\s*javascript:/i.test(attribute.value);
      if (name.startsWith("on") || name === "srcdoc" || scripted) injected.push(snippet(element));
    }
  }
  for (const script of document.scripts) {
    if (!script.src && script.type !== "application/json") injected.push(snippet(script));
  }
  for (const element of document.querySelectorAll("iframe, object, embed")) injected.push(snippet(element));
  resolve({violations: window.__csp || [], xss: window.__xss ?? null, injected, text: document.body ? document.body.innerText : ""});
}, 0))"""


@dataclass
class Visit:
    path: str
    status: int
    violations: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)
    xss: object = None
    text: str = ""


def _answers_get(path: str) -> bool:
    view_class = getattr(resolve(path.partition("?")[0]).func, "view_class", None)
    return view_class is None or hasattr(view_class, "get")


def route_paths(world: World) -> list[str]:
    """Every non-API route of the apps that answers GET (POST-only actions are not pages), once per
    value of each kwarg (the others at their first value)."""
    paths = []
    for name, _, groups in ROUTES:
        if name.startswith("api-"):
            continue
        choices = {kwarg: world.tokens[name] if kwarg == "token" else world.values[kwarg] for kwarg in groups}
        assert all(choices.values()), f"{name}: the world has no object for {[k for k, v in choices.items() if not v]}"
        first = {kwarg: values[0] for kwarg, values in choices.items()}
        variants = [first] + [{**first, kwarg: value} for kwarg, values in choices.items() for value in values[1:]]
        paths += [reverse(name, kwargs=kwargs) for kwargs in variants]
    return [path for path in dict.fromkeys(paths + world.extra_paths) if _answers_get(path)]


def admin_paths() -> list[str]:
    """The admin index, and each registered model's list and first object."""
    paths = ["/admin/"]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        paths.append(reverse(f"{prefix}_changelist"))
        manager = getattr(model, "all_tenants", model._default_manager)
        first = manager.order_by("pk").values_list("pk", flat=True).first()
        if first is not None:
            paths.append(reverse(f"{prefix}_change", args=[first]))
    return paths


class Walker:
    """One browser context; ``visit`` loads a page and reports what happened on it."""

    def __init__(self, browser, base_url: str, *, bypass_csp: bool = False):
        self.context = browser.new_context(base_url=base_url, bypass_csp=bypass_csp, viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(15_000)
        self.context.add_init_script(RECORDER)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.console.append(
            f"{message.text} ({message.location.get('url')})"))
        self.page.on("pageerror", lambda error: self.console.append(f"uncaught: {error}"))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{self.page.url}: {dialog.message}")
        dialog.dismiss()

    def login(self, email: str, password: str) -> None:
        self.page.goto("/accounts/login/")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign In").click()
        self.page.wait_for_url(lambda url: "/accounts/login/" not in url)

    def visit(self, path: str) -> Visit | None:
        """None when the answer is not an HTML page (JSON, a script)."""
        self.console.clear()
        try:
            response = self.page.goto(path)
        except Exception as error:  # noqa: BLE001 - an attachment (a dataset export) is a download, not a page
            if "Download is starting" in str(error):
                return None
            raise
        if not response.headers.get("content-type", "").startswith("text/html"):
            return None
        if self.page.locator("[hx-trigger~=load]").count():
            self.page.wait_for_load_state("networkidle")
        observed = self.page.evaluate(OBSERVE)
        # The page's own error status is not an error of the page; nor is the /favicon.ico that
        # Chromium asks for on pages that name no icon (Django admin's).
        own_status = f"the server responded with a status of {response.status}"
        errors = [text for text in self.console if own_status not in text and "/favicon.ico)" not in text]
        return Visit(path=path, status=response.status, violations=observed["violations"], console_errors=errors,
                     injected=observed["injected"], xss=observed["xss"], text=observed["text"])

    def close(self) -> None:
        self.context.close()


def walk(walker: Walker, paths: list[str]) -> list[Visit]:
    return [visit for visit in (walker.visit(path) for path in paths) if visit is not None]
