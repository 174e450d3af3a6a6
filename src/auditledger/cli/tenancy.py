"""``auditledger orgs``, ``users`` and ``credentials``: manage who may write and read."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from auditledger.cli.common import DatabaseOption, console, fail, open_services, settings_from
from auditledger.tenancy import tokens
from auditledger.tenancy.model import CredentialKind, Role

orgs = typer.Typer(help="Create and list organizations.", no_args_is_help=True)
users = typer.Typer(help="Create users and give them roles in organizations.", no_args_is_help=True)
credentials = typer.Typer(
    help="Issue, list and revoke API credentials (ingest for the platform, read for people).",
    no_args_is_help=True,
)


@orgs.command("create")
def orgs_create(
    slug: Annotated[str, typer.Argument(help="Permanent short name used in URLs, e.g. acme.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create an organization with an empty audit log."""
    with open_services(settings_from(database_url)) as svc:
        org = svc.tenancy.create_org(slug, name)
        console.print(f"created organization [bold]{org.slug}[/] ({org.name})")


@orgs.command("list")
def orgs_list(database_url: DatabaseOption = None) -> None:
    """List organizations with their log sizes."""
    with open_services(settings_from(database_url)) as svc:
        table = Table("slug", "name", "events", "retention (days)", "legal hold")
        for org in svc.tenancy.repo.list_orgs():
            table.add_row(
                org.slug,
                org.name,
                str(svc.log.head(org.id).tree_size),
                str(org.retention_days or f"{svc.settings.retention_days} (default)"),
                "yes" if org.legal_hold else "no",
            )
        console.print(table)


@users.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Sign-in name, e.g. an email address.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Password (prompted for when omitted; use --generate for a random one)."),
    ] = None,
    generate: Annotated[bool, typer.Option(help="Generate and print a random password.")] = False,
    org: Annotated[str | None, typer.Option(help="Organization to add the user to.")] = None,
    role: Annotated[Role, typer.Option(help="Role in --org.")] = Role.MEMBER,
    database_url: DatabaseOption = None,
) -> None:
    """Create a user who can sign in to the web UI."""
    if password is None:
        password = (
            tokens.generate_password()
            if generate
            else typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        )
    with open_services(settings_from(database_url)) as svc:
        user = svc.tenancy.create_user(username, name, password)
        console.print(f"created user [bold]{user.username}[/]")
        if generate:
            console.print(f"password: [bold]{password}[/]")
        if org:
            svc.tenancy.add_member(svc.tenancy.org(org), user, role)
            console.print(f"added to {org} as {role.value}")


@users.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="An existing user.")],
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    role: Annotated[Role, typer.Option(help="Role in the organization.")] = Role.MEMBER,
    database_url: DatabaseOption = None,
) -> None:
    """Give a user a role in an organization (replacing any earlier role there)."""
    with open_services(settings_from(database_url)) as svc:
        svc.tenancy.add_member(svc.tenancy.org(org), svc.tenancy.user(username), role)
        console.print(f"{username} is now {role.value} of {org}")


@users.command("remove")
def users_remove(
    username: Annotated[str, typer.Argument(help="An existing user.")],
    org: Annotated[str, typer.Argument(help="Organization slug.")],
    database_url: DatabaseOption = None,
) -> None:
    """Take a user out of an organization."""
    with open_services(settings_from(database_url)) as svc:
        removed = svc.tenancy.repo.remove_membership(
            svc.tenancy.org(org).id, svc.tenancy.user(username).id
        )
        console.print(
            f"removed {username} from {org}" if removed else f"{username} was not in {org}"
        )


@users.command("set-password")
def users_set_password(
    username: Annotated[str, typer.Argument(help="An existing user.")],
    database_url: DatabaseOption = None,
) -> None:
    """Set a user's password (prompted for)."""
    password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    from auditledger.tenancy.passwords import password_problem

    problem = password_problem(password)
    if problem is not None:
        fail(f"password {problem}")
    with open_services(settings_from(database_url)) as svc:
        user = svc.tenancy.user(username)
        svc.tenancy.repo.set_password(user.id, tokens.hash_password(password))
        console.print(f"password of {username} changed")


@users.command("unlock")
def users_unlock(
    username: Annotated[str, typer.Argument(help="The username whose sign-ins are throttled.")],
    database_url: DatabaseOption = None,
) -> None:
    """Forget a username's failed sign-ins, everywhere: it may sign in again at once."""
    from auditledger.auth.throttle import SignInThrottle

    with open_services(settings_from(database_url)) as svc:
        removed = SignInThrottle(svc.db, svc.clock).unlock(username)
        console.print(f"unlocked {username} ({removed} throttle counter(s) cleared)")


@users.command("list")
def users_list(
    org: Annotated[str | None, typer.Option(help="Only this organization's users.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """List users (with roles, for one organization)."""
    with open_services(settings_from(database_url)) as svc:
        org_id = svc.tenancy.org(org).id if org else None
        table = Table("username", "name", "role")
        for user, role in svc.tenancy.repo.list_users(org_id):
            table.add_row(user.username, user.display_name, role.value if role else "")
        console.print(table)


@credentials.command("create")
def credentials_create(
    kind: Annotated[CredentialKind, typer.Option(help="ingest (the platform) or read (people).")],
    name: Annotated[str, typer.Option(help="What it is for, e.g. 'platform-prod'.")],
    org: Annotated[
        str | None,
        typer.Option(help="Organization; omit with --kind ingest for a platform-wide credential."),
    ] = None,
    role: Annotated[
        Role | None, typer.Option(help="For read credentials: admin or member.")
    ] = None,
    expires_days: Annotated[
        int | None, typer.Option(min=1, help="Expire after this many days.")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Issue a credential and print its token (shown once; only a hash is stored)."""
    from datetime import timedelta

    with open_services(settings_from(database_url)) as svc:
        organization = svc.tenancy.org(org) if org else None
        issued = svc.tenancy.issue_credential(
            kind,
            name,
            org=organization,
            role=role,
            expires_in=timedelta(days=expires_days) if expires_days else None,
        )
        scope = org or "every organization"
        console.print(f"{kind.value} credential [bold]{issued.credential.public_id}[/] for {scope}")
        console.print(f"token (shown once): [bold]{issued.token}[/]")


@credentials.command("list")
def credentials_list(
    org: Annotated[str | None, typer.Option(help="Only this organization's credentials.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """List credentials (never their secrets)."""
    with open_services(settings_from(database_url)) as svc:
        org_id = svc.tenancy.org(org).id if org else None
        now = svc.clock.now()
        slugs = {o.id: o.slug for o in svc.tenancy.repo.list_orgs()}
        table = Table("id", "kind", "name", "organization", "role", "state")
        for cred in svc.tenancy.repo.list_credentials(org_id):
            table.add_row(
                cred.public_id,
                cred.kind.value,
                cred.name,
                slugs.get(cred.org_id, "(all)") if cred.org_id else "(all)",
                cred.role.value if cred.role else "",
                "active" if cred.is_active(now) else "revoked/expired",
            )
        console.print(table)


@credentials.command("revoke")
def credentials_revoke(
    public_id: Annotated[str, typer.Argument(help="The credential's id (from `list`).")],
    database_url: DatabaseOption = None,
) -> None:
    """Revoke a credential at once."""
    with open_services(settings_from(database_url)) as svc:
        svc.tenancy.revoke_credential(public_id)
        console.print(f"revoked {public_id}")
