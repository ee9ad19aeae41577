"""LDAP login (API doc §2.1, ``auth.type: "ldap"``): settings, escaping, and the directory bind.

The ``ldap3`` library is imported only when a login reaches the directory, so a server without
LDAP settings never needs it (it is the optional extra ``pymesync[ldap]``). Settings come from
``TIMESYNC_LDAP_*`` variables, which ``timesync-server serve`` fills from its options and checks
with :func:`settings` before any worker starts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import os
import re
import ssl
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from pymesync.server import auth, errors

if TYPE_CHECKING:
    import ldap3

logger = logging.getLogger("pymesync.server")

ENV_URL = "TIMESYNC_LDAP_URL"
ENV_BIND_DN = "TIMESYNC_LDAP_BIND_DN"
ENV_SEARCH_BASE = "TIMESYNC_LDAP_SEARCH_BASE"
ENV_SEARCH_FILTER = "TIMESYNC_LDAP_SEARCH_FILTER"
ENV_SERVICE_DN = "TIMESYNC_LDAP_SERVICE_DN"
ENV_SERVICE_PASSWORD = "TIMESYNC_LDAP_SERVICE_PASSWORD"
ENV_SERVICE_PASSWORD_FILE = "TIMESYNC_LDAP_SERVICE_PASSWORD_FILE"
ENV_START_TLS = "TIMESYNC_LDAP_START_TLS"
ENV_CA_FILE = "TIMESYNC_LDAP_CA_FILE"
ENV_VERIFY = "TIMESYNC_LDAP_VERIFY"
ENV_TIMEOUT = "TIMESYNC_LDAP_TIMEOUT"
ENV_UNKNOWN_USERS = "TIMESYNC_LDAP_UNKNOWN_USERS"
ENV_NAME_ATTRIBUTE = "TIMESYNC_LDAP_NAME_ATTRIBUTE"
ENV_EMAIL_ATTRIBUTE = "TIMESYNC_LDAP_EMAIL_ATTRIBUTE"
ENV_AUTH_MODULES = "TIMESYNC_AUTH_MODULES"

DEFAULT_SEARCH_FILTER = "(uid={username})"
DEFAULT_TIMEOUT = 5.0
#: What to do with a user the directory accepts but TimeSync does not know.
UNKNOWN_USER_MODES = ("refuse", "create")
_PLACEHOLDER = "{username}"
_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]*", re.ASCII)
_TRUE, _FALSE = frozenset({"1", "yes", "true", "on"}), frozenset({"0", "no", "false", "off"})

#: Result codes of a bind that mean "these credentials do not log in" (a 401), as opposed to a
#: directory that cannot answer now (a 503): invalidCredentials, inappropriateAuthentication,
#: insufficientAccessRights, unwillingToPerform (OpenLDAP's answer to an unauthenticated bind).
_REFUSED_BIND_CODES = frozenset({48, 49, 50, 53})

#: Bounds the handler threads that wait for the directory, as :data:`auth.BCRYPT_GATE` does for
#: bcrypt: a directory that answers slowly holds at most 16 of the 40 request threads.
LDAP_GATE = auth.BcryptGate(running=8, waiting=8)


@dataclass(frozen=True)
class LdapSettings:
    """How to reach the directory and find a user's entry in it.

    Exactly one of ``bind_dn`` (a DN template with ``{username}``) and ``search_base`` (searched
    with ``search_filter``, after binding as ``service_dn`` when set) locates the user."""

    url: str
    bind_dn: str | None = None
    search_base: str | None = None
    search_filter: str = DEFAULT_SEARCH_FILTER
    service_dn: str | None = None
    service_password: str | None = field(default=None, repr=False)
    start_tls: bool = False
    ca_file: str | None = None
    verify: bool = True
    timeout: float = DEFAULT_TIMEOUT
    create_users: bool = False
    name_attribute: str = "cn"
    email_attribute: str = "mail"

    def __post_init__(self) -> None:
        check(self)


class DirectoryUser(NamedTuple):
    """What the directory says about a user whose password it accepted."""

    display_name: str | None
    email: str | None


# --- escaping ---------------------------------------------------------------------------------

_DN_SPECIAL = frozenset(',+"\\<>;=')


def escape_dn_value(value: str) -> str:
    """``value`` as one attribute value of a DN (RFC 4514 §2.4): specials, NUL, a leading ``#``
    or space and a trailing space are escaped, so a username cannot add or change RDNs."""
    escaped = []
    for index, char in enumerate(value):
        if char == "\x00":
            escaped.append("\\00")
        elif (
            char in _DN_SPECIAL or (index == 0 and char in "# ") or (index == len(value) - 1 and char == " ")
        ):
            escaped.append("\\" + char)
        else:
            escaped.append(char)
    return "".join(escaped)


_FILTER_SPECIAL = {"*": "\\2a", "(": "\\28", ")": "\\29", "\\": "\\5c", "\x00": "\\00"}


def escape_filter_value(value: str) -> str:
    """``value`` as an assertion value of a search filter (RFC 4515 §3), so ``*`` is no wildcard
    and ``)(`` opens no new clause."""
    return "".join(_FILTER_SPECIAL.get(char, char) for char in value)


# --- settings ---------------------------------------------------------------------------------


def check(config: LdapSettings) -> None:
    """Raise :class:`errors.ConfigError` (one line, no secret) for settings that cannot work."""
    parts = urlsplit(config.url)
    if "@" in parts.netloc:  # not echoed: it may hold a password
        raise errors.ConfigError(
            "the LDAP URL must not contain a user or password (use the service DN settings)"
        )
    if parts.query or parts.fragment:
        raise errors.ConfigError(f"{config.url!r} has a query or fragment; give only ldap[s]://host[:port]")
    if parts.scheme not in ("ldap", "ldaps") or not parts.hostname or parts.path not in ("", "/"):
        raise errors.ConfigError(
            f"{config.url!r} is not an LDAP server URL (ldap://host[:port] or ldaps://...)"
        )
    try:
        parts.port  # noqa: B018 (a bad port raises)
    except ValueError:
        raise errors.ConfigError(f"{config.url!r} has a bad port") from None
    if (config.bind_dn is None) == (config.search_base is None):
        raise errors.ConfigError(
            "set either an LDAP bind DN template or an LDAP search base, not both or neither"
        )
    if config.bind_dn is not None:
        _check_template(config.bind_dn, "the LDAP bind DN template")
        if config.service_dn is not None:
            raise errors.ConfigError("an LDAP service DN is used only with a search base")
    else:
        _check_template(config.search_filter, "the LDAP search filter")
        if not (config.search_filter.startswith("(") and config.search_filter.endswith(")")):
            raise errors.ConfigError("the LDAP search filter must be in parentheses, like (uid={username})")
    if (config.service_dn is None) != (config.service_password is None):
        raise errors.ConfigError("an LDAP service DN needs its password, and a password its DN")
    if config.service_password == "":
        raise errors.ConfigError("the LDAP service password is empty (that would be an unauthenticated bind)")
    if config.start_tls and parts.scheme == "ldaps":
        raise errors.ConfigError("StartTLS is for ldap:// URLs; ldaps:// is TLS from the start")
    if config.ca_file is not None:
        try:
            with open(config.ca_file, "rb"):
                pass
        except OSError as exc:
            raise errors.ConfigError(
                f"cannot read the LDAP CA file {config.ca_file}: {exc.strerror}"
            ) from None
    if not 0.1 <= config.timeout <= 60:
        raise errors.ConfigError(f"the LDAP timeout must be 0.1 to 60 seconds, not {config.timeout:g}")
    for attribute in (config.name_attribute, config.email_attribute):
        if _ATTRIBUTE.fullmatch(attribute) is None:
            raise errors.ConfigError(f"{attribute!r} is not an LDAP attribute name")
    if importlib.util.find_spec("ldap3") is None:
        raise errors.ConfigError("LDAP login needs the ldap3 package: pip install 'pymesync[ldap]'")


def _check_template(template: str, what: str) -> None:
    rest = template.replace(_PLACEHOLDER, "")
    if template.count(_PLACEHOLDER) != 1 or "{" in rest or "}" in rest:
        raise errors.ConfigError(f"{what} must contain {_PLACEHOLDER} once and no other braces")


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise errors.ConfigError(f"{name} must be yes or no, not {value!r}")


def _service_password(env: Mapping[str, str]) -> str | None:
    """The service account's password from its variable or a 0600 file (never an option)."""
    value, path = env.get(ENV_SERVICE_PASSWORD), env.get(ENV_SERVICE_PASSWORD_FILE)
    if value and path:
        raise errors.ConfigError(f"set {ENV_SERVICE_PASSWORD} or {ENV_SERVICE_PASSWORD_FILE}, not both")
    if path:
        return auth.read_private_file(path, "LDAP service password file")
    return value or None


def settings(env: Mapping[str, str]) -> LdapSettings | None:
    """The LDAP settings in ``TIMESYNC_LDAP_*``, checked; None when ``TIMESYNC_LDAP_URL`` is unset."""
    url = env.get(ENV_URL, "").strip()
    if not url:
        stray = sorted(name for name in env if name.startswith("TIMESYNC_LDAP_") and env[name])
        if stray:
            raise errors.ConfigError(f"{stray[0]} is set but {ENV_URL} is not")
        return None
    timeout_text = env.get(ENV_TIMEOUT, "").strip()
    try:
        timeout = float(timeout_text) if timeout_text else DEFAULT_TIMEOUT
    except ValueError:
        raise errors.ConfigError(f"{ENV_TIMEOUT} must be a number of seconds, not {timeout_text!r}") from None
    unknown_users = env.get(ENV_UNKNOWN_USERS, "").strip() or "refuse"
    if unknown_users not in UNKNOWN_USER_MODES:
        raise errors.ConfigError(f"{ENV_UNKNOWN_USERS} must be refuse or create, not {unknown_users!r}")
    return LdapSettings(
        url=url,
        bind_dn=env.get(ENV_BIND_DN) or None,
        search_base=env.get(ENV_SEARCH_BASE) or None,
        search_filter=env.get(ENV_SEARCH_FILTER) or DEFAULT_SEARCH_FILTER,
        service_dn=env.get(ENV_SERVICE_DN) or None,
        service_password=_service_password(env),
        start_tls=_flag(env, ENV_START_TLS, False),
        ca_file=env.get(ENV_CA_FILE) or None,
        verify=_flag(env, ENV_VERIFY, True),
        timeout=timeout,
        create_users=unknown_users == "create",
        name_attribute=env.get(ENV_NAME_ATTRIBUTE) or "cn",
        email_attribute=env.get(ENV_EMAIL_ATTRIBUTE) or "mail",
    )


def auth_modules(env: Mapping[str, str], ldap: LdapSettings | None) -> tuple[str, ...]:
    """The login types: ``TIMESYNC_AUTH_MODULES`` (a JSON array) when set, else ``password``,
    plus ``ldap`` when LDAP is configured. Enabling ``ldap`` without its settings is an error."""
    raw = env.get(ENV_AUTH_MODULES, "").strip()
    if not raw:
        return ("password", "ldap") if ldap is not None else ("password",)
    try:
        modules = json.loads(raw)
    except ValueError:
        modules = None
    if not isinstance(modules, list) or not all(isinstance(module, str) for module in modules):
        raise errors.ConfigError(f'{ENV_AUTH_MODULES} must be a JSON array of strings, like ["password"]')
    if "ldap" in modules and ldap is None:
        raise errors.ConfigError(f"{ENV_AUTH_MODULES} enables ldap but {ENV_URL} is not set")
    return tuple(modules)


#: ``serve`` options and the variables they set (the service password has no option on purpose:
#: a command line is visible to every user of the machine).
_OPTION_VARIABLES = {
    "ldap_url": ENV_URL,
    "ldap_bind_dn": ENV_BIND_DN,
    "ldap_search_base": ENV_SEARCH_BASE,
    "ldap_search_filter": ENV_SEARCH_FILTER,
    "ldap_service_dn": ENV_SERVICE_DN,
    "ldap_service_password_file": ENV_SERVICE_PASSWORD_FILE,
    "ldap_ca_file": ENV_CA_FILE,
    "ldap_timeout": ENV_TIMEOUT,
    "ldap_unknown_users": ENV_UNKNOWN_USERS,
}


def add_options(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` options for LDAP login; each overrides its ``TIMESYNC_LDAP_*`` variable."""
    group = parser.add_argument_group("LDAP login (docs/server.md, 'LDAP login')")
    group.add_argument("--ldap-url", metavar="URL", help=f"ldap://host[:port] or ldaps://... (${ENV_URL})")
    group.add_argument(
        "--ldap-bind-dn",
        metavar="TEMPLATE",
        help="bind as this DN, e.g. uid={username},ou=people,dc=example,dc=org",
    )
    group.add_argument("--ldap-search-base", metavar="DN", help="or search for the user under this DN")
    group.add_argument("--ldap-search-filter", metavar="FILTER", help=f"(default {DEFAULT_SEARCH_FILTER})")
    group.add_argument(
        "--ldap-service-dn",
        metavar="DN",
        help=f"bind as this DN to search (password: ${ENV_SERVICE_PASSWORD} or the file below)",
    )
    group.add_argument("--ldap-service-password-file", metavar="PATH", help="a file of mode 600")
    group.add_argument("--ldap-start-tls", action=argparse.BooleanOptionalAction, default=None)
    group.add_argument("--ldap-ca-file", metavar="PATH", help="CA certificates to verify the directory with")
    group.add_argument(
        "--ldap-verify",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="verify the directory's certificate (default: yes)",
    )
    group.add_argument("--ldap-timeout", type=float, metavar="SECONDS", help=f"(default {DEFAULT_TIMEOUT:g})")
    group.add_argument(
        "--ldap-unknown-users",
        choices=UNKNOWN_USER_MODES,
        help="users in the directory but not in TimeSync: refuse them (default) or create them",
    )


def apply_options(args: argparse.Namespace, env: MutableMapping[str, str]) -> LdapSettings | None:
    """Write the given ``serve`` options into ``env`` (for the workers) and check the result."""
    for name, variable in _OPTION_VARIABLES.items():
        value = getattr(args, name, None)
        if value is not None:
            env[variable] = os.path.abspath(value) if name.endswith("_file") else str(value)
    for name, variable in (("ldap_start_tls", ENV_START_TLS), ("ldap_verify", ENV_VERIFY)):
        value = getattr(args, name, None)
        if value is not None:
            env[variable] = "yes" if value else "no"
    configured = settings(env)
    auth_modules(env, configured)
    return configured


# --- the directory ----------------------------------------------------------------------------


def _unavailable() -> errors.ApiError:
    """The directory could not answer: not the client's fault, and password logins still work."""
    return errors.ApiError(
        503,
        "Service unavailable",
        "The LDAP directory cannot be reached; try again later",
        headers={"Retry-After": "5"},
    )


def authenticate(config: LdapSettings, username: str, password: str) -> DirectoryUser | None:
    """Whether the directory accepts ``password`` for ``username``: None for no (wrong password,
    no such entry, several entries), the entry's name and email for yes.

    The caller has checked that ``username`` is a valid TimeSync username; it is escaped all the
    same. An empty password is refused here, before any bind: a simple bind with an empty
    password is an unauthenticated bind, which directories answer with success. Raises a 503
    :class:`errors.ApiError` when the directory cannot be reached or fails.
    """
    if not password or not username:
        return None
    from ldap3.core.exceptions import LDAPException

    try:
        with LDAP_GATE:
            return _bind_and_read(config, username, password)
    except LDAPException as exc:
        # ldap3's messages name the socket or TLS problem; bind failures raise nothing (no secrets here)
        reason = str(exc).splitlines()[0][:200] if str(exc) else ""
        logger.warning(
            "LDAP login: the directory at %s failed: %s %s", config.url, type(exc).__name__, reason
        )
        raise _unavailable() from None


def _server(config: LdapSettings) -> ldap3.Server:
    import ldap3

    parts = urlsplit(config.url)
    use_ssl = parts.scheme == "ldaps"
    tls = None
    if use_ssl or config.start_tls:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED if config.verify else ssl.CERT_NONE,
            ca_certs_file=config.ca_file,
        )
    return ldap3.Server(
        parts.hostname or "",
        port=parts.port or (636 if use_ssl else 389),
        use_ssl=use_ssl,
        tls=tls,
        get_info=ldap3.NONE,
        connect_timeout=config.timeout,
    )


def _connection(
    server: ldap3.Server, config: LdapSettings, dn: str | None, password: str | None
) -> ldap3.Connection:
    """An open connection (TLS started when asked), not yet bound; referrals are not followed,
    so credentials never go to a host the operator did not name."""
    import ldap3

    connection = ldap3.Connection(
        server,
        user=dn,
        password=password,
        auto_bind=ldap3.AUTO_BIND_NONE,
        read_only=True,
        auto_referrals=False,
        auto_escape=False,
        raise_exceptions=False,
        receive_timeout=math.ceil(config.timeout),  # ldap3 sets SO_RCVTIMEO from whole seconds
    )
    connection.open(read_server_info=False)
    if config.start_tls and not connection.start_tls(read_server_info=False):
        connection.unbind()
        raise _unavailable()
    return connection


def _bind(connection: ldap3.Connection) -> bool:
    """True when the bind succeeded, False when the directory refused the credentials."""
    if connection.bind(read_server_info=False):
        return True
    code = connection.result.get("result") if isinstance(connection.result, dict) else None
    if code in _REFUSED_BIND_CODES:
        return False
    logger.warning("LDAP login: bind failed with result code %s", code)
    raise _unavailable()


def _bind_and_read(config: LdapSettings, username: str, password: str) -> DirectoryUser | None:
    import ldap3

    server = _server(config)
    attributes = [config.name_attribute, config.email_attribute]
    if config.bind_dn is not None:
        dn = config.bind_dn.replace(_PLACEHOLDER, escape_dn_value(username))
        entry_attributes: dict[str, Any] = {}
    else:
        assert config.search_base is not None
        search = _connection(server, config, config.service_dn, config.service_password)
        try:
            if config.service_dn is not None and not _bind(search):
                logger.warning("LDAP login: the directory refused the service DN's password")
                raise _unavailable()
            search_filter = config.search_filter.replace(_PLACEHOLDER, escape_filter_value(username))
            search.search(
                config.search_base, search_filter, ldap3.SUBTREE, attributes=attributes, size_limit=2
            )
            entries = [item for item in search.response or () if item.get("type") == "searchResEntry"]
        finally:
            search.unbind()
        if len(entries) != 1:
            return None  # no such user, or a filter that names several: never guess which
        dn, entry_attributes = entries[0]["dn"], dict(entries[0].get("attributes") or {})
    connection = _connection(server, config, dn, password)
    try:
        if not _bind(connection):
            return None
        if config.bind_dn is not None and config.create_users:
            connection.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attributes)
            found = [item for item in connection.response or () if item.get("type") == "searchResEntry"]
            entry_attributes = dict(found[0].get("attributes") or {}) if found else {}
    finally:
        connection.unbind()
    return DirectoryUser(
        _first(entry_attributes.get(config.name_attribute)),
        _first(entry_attributes.get(config.email_attribute)),
    )


def _first(value: object) -> str | None:
    """The first value of an attribute as ldap3 returns it (a list, or one value)."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return value if isinstance(value, str) and value else None
