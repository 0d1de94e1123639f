"""The ```sh blocks of a docs/OPERATIONS.md section, in order, each ending with a newline:
the runbook tests run them as written."""

import re

from leadshop_proc import REPO


def runbook_blocks(section: str) -> list[str]:
    text = (REPO / "docs" / "OPERATIONS.md").read_text()
    body = text[text.index(section):]
    body = body[: body.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", body, re.S)
