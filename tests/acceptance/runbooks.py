"""The ```sh blocks of a docs/OPERATIONS.md section, in order, each ending with a newline:
the runbook tests run them as written."""

import re

from leadshop_proc import REPO


def runbook_blocks(section: str) -> list[str]:
    text = (REPO / "docs" / "OPERATIONS.md").read_text()
    body = text[text.index(section):]
    body = body[: body.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", body, re.S)


def record_recovery_time(procedure: str, seconds: float) -> None:
    """A runbook test's measured time from its first command to the verified end state, kept in
    target/recovery-times.json (docs/BENCHMARKS.md records them; nothing asserts a bound)."""
    import json

    out = REPO / "target" / "recovery-times.json"
    out.parent.mkdir(exist_ok=True)
    times = json.loads(out.read_text()) if out.exists() else {}
    times[procedure] = round(seconds, 2)
    out.write_text(json.dumps(times, indent=2, sort_keys=True) + "\n")
    print(f"recovery time, {procedure}: {seconds:.2f} s")
