"""How the user called `salesmachine`, so that the commands it prints run as printed.

`make run` starts the server through the repository's `./salesmachine` script, because the
command itself lives in .venv/bin, which a new shell does not have on its PATH. A banner that
said `salesmachine projects secret default` would answer "command not found" there; it says
what the user typed instead.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def invoked_as() -> str:
    """The command's name as the user can type it again, from the same directory, in a new shell.

    - Through the repository's script: as the script says it was called (`./salesmachine`).
    - Found on the PATH (an activated venv, an installed package): `salesmachine`.
    - By a path (`.venv/bin/salesmachine`): that path, which works from where it was typed.
    - As `python -m salesmachine_server`: that, with this interpreter.
    """
    told = os.environ.get("SALESMACHINE_INVOKED_AS")
    if told:
        return shlex.quote(told)
    script = sys.argv[0] if sys.argv else ""
    if not script or script.endswith(".py") or script == "-m":
        return f"{shlex.quote(sys.executable)} -m salesmachine_server"
    name = os.path.basename(script)
    on_path = shutil.which(name)
    if on_path and Path(on_path).resolve() == Path(script).resolve():
        return name
    return shlex.quote(script)
