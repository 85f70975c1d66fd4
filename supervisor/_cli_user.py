"""``hero-assistance user enroll|list|disable|enable|invite``: operator actions on a project's users.

They talk to the running server over its Unix socket with no identity header, which the server
treats as the local operator (admin): whoever can open the socket is the operator.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import trio

from hero_assistance.core import HeroAssistanceError, RpcError
from hero_assistance.transport import connect

from ._cli_common import add_socket_options, rpc_socket


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "user",
        help="enroll, list, disable users of a project (as the local operator)",
        description="Operator actions on a project's users, over the server's Unix socket.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    enroll = actions.add_parser("enroll", help="enroll a user by email", description="Enroll a user by email.")
    add_socket_options(enroll)
    enroll.add_argument("email", help="the user's email address")
    enroll.add_argument(
        "--role",
        choices=["customer", "support", "admin"],
        default="customer",
        help="the user's role (default customer)",
    )
    enroll.add_argument("--name", metavar="DISPLAY_NAME", help="display name (default: the email's local part)")
    enroll.add_argument("--invite", action="store_true", help="also issue a one-time sign-in token and print it")
    enroll.set_defaults(func=_enroll)

    listing = actions.add_parser("list", help="list users", description="List the project's users.")
    add_socket_options(listing)
    listing.add_argument("--role", choices=["customer", "support", "admin"], help="only this role")
    listing.add_argument("--query", metavar="TEXT", help="only users whose email or name contains TEXT")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_list)

    for action, status, text in (
        ("disable", "disabled", "disable a user: signed out on every device"),
        ("enable", "active", "enable a disabled user again"),
    ):
        sub = actions.add_parser(action, help=text, description=text[0].upper() + text[1:] + ".")
        add_socket_options(sub)
        sub.add_argument("email", help="the user's email address")
        sub.set_defaults(func=_set_status, status=status)

    invite = actions.add_parser(
        "invite",
        help="issue a one-time sign-in token for an enrolled user",
        description="Issue a one-time sign-in token (usable from any device, once).",
    )
    add_socket_options(invite)
    invite.add_argument("email", help="the user's email address")
    invite.set_defaults(func=_invite)


def _run(args: argparse.Namespace, action: Any) -> int:
    async def main() -> int:
        async with connect(f"unix:{rpc_socket(args)}") as client:
            return int(await action(client))

    try:
        return trio.run(main)
    except RpcError as exc:
        print(f"hero-assistance user {args.action}: {exc.message}", file=sys.stderr)
        return 1
    except HeroAssistanceError as exc:
        print(
            f"hero-assistance user {args.action}: cannot reach the {args.project} server at {rpc_socket(args)}: {exc}",
            file=sys.stderr,
        )
        return 1


async def _find(client: Any, email: str) -> dict[str, Any]:
    page = await client.call("user.list", query=email, limit=200)
    for user in page["items"]:
        if user["email"].lower() == email.strip().lower():
            return dict(user)
    raise RpcError(-32003, f"no user with email {email}")


def _enroll(args: argparse.Namespace) -> int:
    async def action(client: Any) -> int:
        user = await client.call("user.enroll", email=args.email, role=args.role, display_name=args.name)
        print(f"enrolled {user['email']} as {user['role']} (id {user['id']})")
        if args.invite:
            issued = await client.call("auth.issue_magic_link", email=user["email"])
            print(f"sign-in token (single use, expires {issued['expires_at']}): {issued['token']}")
        return 0

    return _run(args, action)


def _list(args: argparse.Namespace) -> int:
    async def action(client: Any) -> int:
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200, "cursor": cursor}
            if args.role:
                params["role"] = args.role
            if args.query:
                params["query"] = args.query
            page = await client.call("user.list", **params)
            for user in page["items"]:
                if args.json:
                    print(json.dumps(user))
                else:
                    print(
                        f"{user['id']:>6}  {user['role']:<8}  {user['status']:<8}  {user['email']}  "
                        f"{user['display_name']}"
                    )
            cursor = page["next_cursor"]
            if not cursor:
                return 0

    return _run(args, action)


def _set_status(args: argparse.Namespace) -> int:
    async def action(client: Any) -> int:
        user = await _find(client, args.email)
        updated = await client.call("user.update", id=user["id"], status=args.status)
        print(f"{updated['email']} is now {updated['status']}")
        return 0

    return _run(args, action)


def _invite(args: argparse.Namespace) -> int:
    async def action(client: Any) -> int:
        issued = await client.call("auth.issue_magic_link", email=args.email)
        print(issued["token"])
        print(f"(single use, expires {issued['expires_at']})", file=sys.stderr)
        return 0

    return _run(args, action)
