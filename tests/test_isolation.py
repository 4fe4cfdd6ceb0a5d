"""Tenant isolation: every route that takes an object id answers 404 when asked, from another
tenant, for an object of this one — under the /t/<slug>/ prefix and under the host name.

The routes are enumerated from a real app, so a new route with an id parameter fails
``test_every_route_with_an_id_has_a_probe`` until a probe is added to tests/isolation_probes.py.
"""

from __future__ import annotations

import re

import pytest

from isolation_probes import NOT_OBJECT_IDS, PROBES, Ctx

PREFIX = re.compile(r"^/t/([a-z0-9_-]+)(?=/|$)")
SIGNIN = {"survey": ("mobile", "mobile"), "construction": ("id", "id_number")}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def id_routes(app) -> dict[str, tuple[str | None, set[str]]]:
    """Tenant-relative path → (owning tenant slug, or None when every tenant serves it; HTTP
    methods), for every route whose path has a parameter."""
    slugs: dict[str, set[str]] = {}
    methods: dict[str, set[str]] = {}
    for route in app.routes:
        prefix = PREFIX.match(route.path)
        if prefix is None or not route.path_parameters:
            continue
        path = route.path[prefix.end():]
        if path in NOT_OBJECT_IDS:
            continue
        slugs.setdefault(path, set()).add(prefix.group(1))
        methods.setdefault(path, set()).update(m for m in getattr(route, "methods", set()) if m in METHODS)
    every = set(app.state.platform.tenants.by_slug)
    return {path: (None if owners == every else next(iter(owners)) if len(owners) == 1 else None, methods[path])
            for path, owners in slugs.items()}


def fill(path: str, values: dict) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1)
        assert name in values, f"probe for {path} did not return {name!r}"
        return str(values[name])

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, path)


def test_route_enumeration_sees_the_id_routes(xs_app):
    routes = id_routes(xs_app)
    assert "/inbox/{notification_id:int}/read" in routes
    assert routes["/inbox/{notification_id:int}/read"] == (None, {"POST"})
    assert "/signin/{method_key:str}" not in routes


def test_every_route_with_an_id_has_a_probe(xs_app):
    missing = sorted(set(id_routes(xs_app)) - set(PROBES))
    assert not missing, (
        "routes that take an id have no isolation probe; add one to tests/isolation_probes.py "
        "(a function creating the object in a tenant and returning its path parameters), or, if the "
        "parameter is not an object id, list it in NOT_OBJECT_IDS with the reason:\n  "
        + "\n  ".join(missing)
    )


def test_no_stale_probes(xs_app):
    stale = sorted(set(PROBES) - set(id_routes(xs_app)))
    assert not stale, f"probes for routes that no longer exist (remove them): {stale}"


async def _sign_in_as(client, platform, make_account, slug: str, role: str):
    from core.accounts.tables import Enterprise
    from plugins.survey_association.tables import CompanyCertification

    fields = {}
    if role == "enterprise_admin":  # a company admin needs an approved company of their own
        own = Enterprise(tenant=platform.tenants.get(slug).id, name="本机构企业")
        await own.save()
        await CompanyCertification(tenant=own.tenant, enterprise=own.id, status="approved").save()
        fields["enterprise_id"] = own.id
    account, password = await make_account(slug, role=role, **fields)
    method, field = SIGNIN[slug]
    r = await client.signin(slug, method, password, **{field: getattr(account, field)})
    assert r.status_code == 303, f"could not sign in as {role} of {slug}"
    assert (await client.get(f"/t/{slug}/me")).status_code == 200
    return account


async def test_another_tenants_object_is_not_found(client, xs_app, platform, make_account):
    ctx = Ctx(platform, make_account)
    problems: list[str] = []
    for path, (owner, methods) in sorted(id_routes(xs_app).items()):
        probe = PROBES.get(path)
        if probe is None:
            continue  # reported by test_every_route_with_an_id_has_a_probe
        asker = owner or "construction"  # B: a tenant that serves the route
        holder = "survey" if asker != "survey" else "construction"  # A: owns the object
        url = fill(path, await probe.make(ctx, holder))
        await _sign_in_as(client, platform, make_account, asker, probe.role)
        for method in sorted(methods):
            for full, headers in ((f"/t/{asker}{url}", {}), (url, {"host": f"{asker}.localhost"})):
                if method == "GET":
                    r = await client.get(full, headers=headers)
                else:
                    r = await client.post(full, {}, headers=headers) if method == "POST" else \
                        await client.http.request(method, full, headers=headers)
                if r.status_code != 404:
                    problems.append(f"{method} {full} (host {headers.get('host', '-')}) as {probe.role} "
                                    f"of {asker}, object of {holder}: {r.status_code}")
    assert not problems, "another tenant's object was reachable (expected 404):\n  " + "\n  ".join(problems)


async def test_every_probed_route_answers_the_owner_with_the_object(client, xs_app, platform, make_account):
    """Positive control per probed route: in the object's own tenant, signed in as the role the
    route is for and owning the object (``Ctx.owner``), a GET answers 200 with the object's
    content and any other method is not 404. Without it a probe making objects nobody can reach
    would pass the 404 test above whatever the route did."""
    problems: list[str] = []
    for path, (owner, methods) in sorted(id_routes(xs_app).items()):
        probe = PROBES.get(path)
        if probe is None:
            continue
        slug = owner or "construction"
        account = await _sign_in_as(client, platform, make_account, slug, probe.role)
        values = await probe.make(Ctx(platform, make_account, owner=account), slug)
        url = f"/t/{slug}{fill(path, values)}"
        content = values.get("_content")
        if isinstance(content, dict):
            content = content.get(path.rsplit("/", 1)[-1], content.get(""))
        for method in sorted(methods):
            r = await (client.get(url) if method == "GET" else client.post(url, {}) if method == "POST"
                       else client.http.request(method, url))
            if method == "GET":
                body = r.content if isinstance(content, bytes) else r.text
                if r.status_code != 200 or (content is not None and content not in body):
                    problems.append(f"GET {url} as {probe.role}: {r.status_code}, "
                                    f"{'without' if content is not None else 'no'} {content!r}")
            elif r.status_code == 404 or r.status_code >= 500:
                problems.append(f"{method} {url} as {probe.role}: {r.status_code}")
        if "GET" in methods and content is None:
            problems.append(f"probe for {path} returns no _content to look for")
    assert not problems, "the owner could not reach their own object:\n  " + "\n  ".join(problems)


async def test_probe_objects_are_really_reachable_in_their_own_tenant(client, platform, make_account):
    """Positive control for the core route: the same kind of probe object, in the asker's own
    tenant and belonging to the asker, is found (so the 404 above is about the tenant)."""
    from core.notify.services import send

    tenant = platform.tenants.get("construction")
    account = await _sign_in_as(client, platform, make_account, "construction", "learner")
    [row] = await send(platform.hooks(tenant), tenant, account, "welcome", channels=("inbox",))
    r = await client.hx_post(f"/t/construction/inbox/{row.id}/read")
    assert r.status_code == 200


@pytest.mark.parametrize("path", ["/inbox/{notification_id:int}/read"])
def test_probe_registry_is_keyed_by_the_tenant_relative_path(path):
    assert path in PROBES and PROBES[path].role == "learner"
