"""`scripts/tflocal`: the seed's terraform commands, verbatim, against a local leadshop and
moto (one account id on both), on a copy of the repository so nothing is written into the
checkout: plan, apply, a plan with no changes, `leadshop verify`, destroy refused and then done
with the rollback override, and `down` stopping both servers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from local_cloud import BIN, REPO, TERRAFORM

pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")


def test_the_seed_commands_run_verbatim_through_tflocal(tmp_path):
    root = tmp_path / "repo"
    for part in ("infrastructure", "config"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns(".terraform", "*_override.tf"))
    shutil.copytree(REPO / "infrastructure" / "rollback", root / "infrastructure" / "rollback", dirs_exist_ok=True)
    (root / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "tflocal", root / "scripts" / "tflocal")
    module = root / "infrastructure" / "terraform"
    state = tmp_path / "tflocal"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"TFLOCAL_DIR": str(state), "LEADSHOP_BIN": str(BIN)})

    def tflocal(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        run = subprocess.run([str(root / "scripts" / "tflocal"), *args], cwd=module, env=env,
                             capture_output=True, text=True, timeout=900)
        # Terraform colours its output (as a user sees it); the assertions read the text.
        run.stdout, run.stderr = (re.sub(r"\x1b\[[0-9;]*m", "", t) for t in (run.stdout, run.stderr))
        if ok:
            assert run.returncode == 0, f"tflocal {' '.join(args)}:\n{run.stdout[-5000:]}\n{run.stderr[-5000:]}"
        return run

    try:
        # The seed's two commands, as written in PRP-000.
        plan = tflocal("plan", '-var-file=environments/dev.tfvars')
        assert "Plan: " in plan.stdout and " to add, 0 to change, 0 to destroy" in plan.stdout
        assert "the AWS Budget is skipped" in plan.stderr
        tflocal("apply", '-var-file=environments/dev.tfvars', "-auto-approve")
        again = tflocal("plan", "-var-file=environments/dev.tfvars", "-detailed-exitcode", ok=False)
        assert again.returncode == 0 and "No changes." in again.stdout, again.stdout[-5000:] + again.stderr[-3000:]
        # Nothing left in the module: the override lives for one command, the state elsewhere.
        assert sorted(p.name for p in module.iterdir() if p.suffix in (".tf", ".tfstate")) == sorted(
            p.name for p in (REPO / "infrastructure" / "terraform").iterdir() if p.suffix == ".tf")
        assert (state / "states" / "dev" / "terraform.tfstate").exists()

        # The AWS CLI and leadshop verify against the same local AWS, from `tflocal env`.
        exports = tflocal("env").stdout
        venv = dict(env)
        for line in exports.splitlines():
            k, _, v = line.removeprefix("export ").partition("=")
            venv[k] = v.strip("'")
        identity = subprocess.run(["aws", "sts", "get-caller-identity", "--query", "Account", "--output", "text"],
                                  env=venv, capture_output=True, text=True, check=True).stdout.strip()
        assert identity == "123456789012"
        check = subprocess.run([str(BIN), "verify", "--bucket", "leadshop-assets-dev", "--log-bucket",
                                "leadshop-security-logs-dev", "--account-id", identity, "--skip", "metrics"],
                               env=venv, capture_output=True, text=True, timeout=120)
        assert check.returncode == 0 and "no drift" in check.stdout, check.stdout + check.stderr

        # Destroy: refused by prevent_destroy, then the rollback runbook's override.
        refused = tflocal("destroy", "-var-file=environments/dev.tfvars", "-auto-approve", ok=False)
        assert refused.returncode != 0 and "Instance cannot be destroyed" in refused.stderr
        shutil.copy(root / "infrastructure" / "rollback" / "allow_destroy_override.tf", module)
        done = tflocal("destroy", "-var-file=environments/dev.tfvars", "-auto-approve")
        assert "Destroy complete!" in done.stdout
        (module / "allow_destroy_override.tf").unlink()
    finally:
        services = json.loads((state / "services.json").read_text()) if (state / "services.json").exists() else {}
        tflocal("down")
    for pid in (services.get("leadshop_pid"), services.get("moto_pid")):
        assert pid and not Path(f"/proc/{pid}").exists() or _zombie(pid), pid


def _zombie(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" in status.read_text()
