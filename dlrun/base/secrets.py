"""Secrets on the command line (a password in a storage URL) are never written: not to a file,
not to a console line (DESIGN: Outputs).

Hydra writes the command line into multirun.yaml and every job's .hydra/ files, and dlrun's
record keeps it too, so `dlrun` masks the password of a URL it reads itself (SECRET_KEYS: the
sweep's storage) before Hydra sees it (`postgresql://me:***@host/db`) and keeps the real value
in this process's environment
(ENV_SECRETS, inherited by the trials' processes, written nowhere); the one reader that needs
the real value (the sweep's storage) asks `revealed(value)`.
"""

from __future__ import annotations

import json
import os
import re

ENV_SECRETS = "DLRUN_SECRETS"  # {masked value: real value}, JSON, for this process and its children
MASK = "***"
SECRET_KEYS = ("hydra.sweeper.storage",)  # the keys whose value dlrun reveals where it uses it
# scheme://user:password@host: the password is what lies between the user's colon and the @
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*:)(?P<password>[^\s@'\"]+)(?P<at>@)")


def masked(text: str) -> str:
    """`text` with every URL's password shown as ***."""
    return _URL_PASSWORD.sub(lambda match: match["head"] + MASK + match["at"], str(text))


def _known() -> dict:
    try:
        return dict(json.loads(os.environ.get(ENV_SECRETS, "{}")))
    except ValueError:
        return {}


def hide_in_arguments(args) -> list:
    """The command line with the password of each URL dlrun reads itself (SECRET_KEYS) masked;
    the real values kept for `revealed`. Other keys are left alone: a user's own code would get
    the mask instead of its value."""
    known, hidden = _known(), []
    for arg in args:
        shown = masked(arg) if arg.split("=", 1)[0].lstrip("+~") in SECRET_KEYS else arg
        if shown != arg:
            known[shown.split("=", 1)[-1]] = arg.split("=", 1)[-1]
        hidden.append(shown)
    if known:
        os.environ[ENV_SECRETS] = json.dumps(known)
    return hidden


def revealed(value):
    """The real value of a value `hide_in_arguments` masked; any other value as it is."""
    return _known().get(value, value) if isinstance(value, str) and MASK in value else value
