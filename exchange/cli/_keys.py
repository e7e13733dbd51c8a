"""``ptx keys status|protect|unprotect [FOLDER]``: a folder's private keys at rest, encrypted with a passphrase or not.

FOLDER is a workspace folder (a party's, ``workspace/parties/AA``, or the network's; default ``$PTX_WORKSPACE`` or
``./workspace``); its keys are every ``*.key`` file below it that holds a PEM private key (for the network folder,
its party folders' too). ``protect`` encrypts the plain ones under ``PTX_KEY_PASSPHRASE`` or, on a terminal, a
new passphrase typed twice; ``unprotect`` decrypts them again. Every key is opened before any is written, each
file is replaced in one step and stays mode 0600 (:func:`exchange._keystore.protect_files`). Services then need
the passphrase to start: ``PTX_KEY_PASSPHRASE``, or the prompt of ``ptx serve`` on a terminal.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import click
import typer

from exchange._errors import Code, ConfigurationError
from exchange._i18n import _
from exchange._passphrase import PASSPHRASE_ENV, configured_passphrase, environment_passphrase, use_prompt
from exchange.cli._app import app, interactive
from exchange.cli._console import pad

keys_app = typer.Typer(
    help="Private keys at rest: encrypt a folder's keys with a passphrase, decrypt them, or show which are.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

FolderArgument = Annotated[
    Path | None,
    typer.Argument(help="A workspace or party folder (default: $PTX_WORKSPACE or ./workspace).", show_default=False),
]

_INDEX_NAME = "workspace.yaml"  # exchange._workspace.INDEX_NAME, without importing the workspace at start-up
_PARTIES_DIR = "parties"  # exchange._workspace.PARTIES_DIR


def key_files(folder: Path, *, parties: bool = True) -> list[Path]:
    """The private key files of a workspace folder (with ``parties``, its party folders' too)."""
    if not (folder / _INDEX_NAME).is_file():
        raise ConfigurationError(f"no workspace at {folder} (no {_INDEX_NAME})", code=Code.CONFIG_INVALID)
    found = []
    for path in sorted(folder.rglob("*.key")):
        if not parties and path.relative_to(folder).parts[0] == _PARTIES_DIR:
            continue
        if path.is_file() and not path.is_symlink() and _holds_private_key(path):
            found.append(path)
    return found


def _holds_private_key(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return head.lstrip().startswith(b"-----BEGIN ") and b"PRIVATE KEY-----" in head


def open_keys(folder: Path) -> int:
    """Open every key a service on ``folder`` holds, now: a missing or wrong passphrase stops it before it listens,
    with the code and the file, and the prompt (on a terminal) comes once, at start. The number opened."""
    from exchange._keystore import key_store

    store = key_store()
    files = key_files(folder, parties=False)
    for path in files:
        store.load(path)
    return len(files)


def new_passphrase() -> bytes:
    """The passphrase to encrypt with: ``PTX_KEY_PASSPHRASE``, else typed twice on a terminal."""
    secret = environment_passphrase()
    if secret is None and interactive():
        typed = click.prompt(_("New passphrase for the private keys"), hide_input=True, confirmation_prompt=True,
                             err=True)
        secret = str(typed).encode("utf-8") or None
        use_prompt(lambda: str(typed))  # keys this command opens later take the same answer, not a second prompt
    if secret is None:
        raise ConfigurationError(
            f"no passphrase to encrypt with: set {PASSPHRASE_ENV} (or run the command on a terminal to type one)",
            code=Code.KEY_PASSPHRASE_REQUIRED,
        )
    return secret


def _folder(option: Path | None) -> Path:
    return option if option is not None else Path(os.environ.get("PTX_WORKSPACE", "workspace"))


def _shown(folder: Path, path: Path) -> str:
    return str(path.relative_to(folder))


@keys_app.command("status")
def status(folder: FolderArgument = None) -> None:
    """List the folder's key files, each encrypted or plain."""
    from rich.cells import cell_len

    from exchange._keystore import FileKeyStore

    root = _folder(folder)
    store = FileKeyStore()
    files = key_files(root)
    encrypted = 0
    width = max(cell_len(_("encrypted")), cell_len(_("plain")))
    for path in files:
        protected = store.is_encrypted(path)
        encrypted += protected
        typer.echo(pad(_("encrypted") if protected else _("plain"), width) + f"  {_shown(root, path)}")
    typer.echo(_("{count} key file(s) in {folder}: {encrypted} encrypted, {plain} plain").format(
        count=len(files), folder=root, encrypted=encrypted, plain=len(files) - encrypted))


@keys_app.command("protect")
def protect(folder: FolderArgument = None) -> None:
    """Encrypt the folder's plain keys in place with a passphrase (PTX_KEY_PASSPHRASE, or typed twice)."""
    from exchange._keystore import protect_files

    root = _folder(folder)
    files = key_files(root)
    changed = protect_files(files, new_passphrase())
    for path in changed:
        typer.echo(_("encrypted") + f"  {_shown(root, path)}")
    typer.echo(_("{count} key file(s) encrypted in {folder} ({already} already were); services on it now start "
                 "with {variable} set or on a terminal").format(
        count=len(changed), folder=root, already=len(files) - len(changed), variable=PASSPHRASE_ENV))


@keys_app.command("unprotect")
def unprotect(folder: FolderArgument = None) -> None:
    """Decrypt the folder's encrypted keys in place (the passphrase from PTX_KEY_PASSPHRASE, or asked)."""
    from exchange._keystore import unprotect_files

    root = _folder(folder)
    files = key_files(root)
    changed = unprotect_files(files, configured_passphrase)
    for path in changed:
        typer.echo(_("decrypted") + f"  {_shown(root, path)}")
    typer.echo(_("{count} key file(s) decrypted in {folder} ({already} already were plain)").format(
        count=len(changed), folder=root, already=len(files) - len(changed)))


__all__ = ["key_files", "keys_app", "new_passphrase", "open_keys"]
