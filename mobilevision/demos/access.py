"""Who may use the web demo: the logins of `--auth USER:PASSWORD` or `--auth-file PATH`, which
Gradio checks on its login page (launch(auth=...)), and the warning printed when the demo listens
beyond this machine.

A password is never printed: an error about a login names the flag, the file and the line, and
says what is wrong with it, not what it holds.
"""

from __future__ import annotations

from pathlib import Path

from mobilevision.errors import MobileVisionError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def read_logins(*, auth: str | None = None, auth_file: str | Path | None = None) -> list[tuple[str, str]]:
    """[(user, password)] of `auth` ("user:password") and of `auth_file` (one "user:password" a
    line; blank lines and lines starting with # skipped); empty when neither is given. A password
    may hold ":", a user may not."""
    logins = []
    if auth is not None:
        logins.append(parse_login(auth, where="--auth"))
    if auth_file is not None:
        path = Path(auth_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
            raise MobileVisionError(f"--auth-file {path}: cannot read it ({reason}); give a text file of "
                                    "USER:PASSWORD lines") from error
        for number, line in enumerate(lines, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                logins.append(parse_login(line.strip(), where=f"--auth-file {path}, line {number}"))
        if not logins:
            raise MobileVisionError(f"--auth-file {path}: no login in it; write one USER:PASSWORD a line")
    return logins


def parse_login(text: str, *, where: str) -> tuple[str, str]:
    """(user, password) of "user:password"; `where` names the flag (and line) in the error."""
    user, colon, password = text.partition(":")
    if not colon or not user.strip() or not password:
        # The text itself is not shown: it may be a password typed without its user.
        raise MobileVisionError(f"{where}: not a login; write USER:PASSWORD, both non-empty")
    return user.strip(), password


def exposure_warning(*, host: str, port: int, protected: bool) -> str | None:
    """The one-line warning for a demo served on `host`: None on this machine's own addresses."""
    if host in LOCAL_HOSTS:
        return None
    if protected:
        return (f"--host {host}: the demo is open to the network on port {port} behind a login sent over plain "
                "HTTP; serve it only on a network you trust")
    return (f"--host {host}: anyone who can reach this machine on port {port} can use the demo; require a login "
            "with --auth-file PATH (USER:PASSWORD lines)")
