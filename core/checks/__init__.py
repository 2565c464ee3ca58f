"""vfio-tui's prerequisite checks and guided fixes (`vfio-tui check`).

Public API:
    run_checks(host, *, for_address=None, vm=None, hypervisor=None) -> list[CheckResult]
    apply_fix(host, check_id, *, yes=False) -> FixResult      (preview unless yes)
    undo_fix(host, check_id) -> FixResult                     (journal id cfg-N, fix id or check id)
    restore_config(host, journal_id) -> FixResult             (for `vfio-tui restore --config ID`)
    list_config_changes(host) -> list[dict]
"""

from __future__ import annotations

from vfio_tui.core.checks.fixes import apply_fix, list_config_changes, plan_fix, restore_config, undo_fix
from vfio_tui.core.checks.result import CheckResult, FixResult
from vfio_tui.core.checks.runner import ALL_CHECK_IDS, overall_exit_code, run_checks
from vfio_tui.core.checks.textfile import ConfigParseError
from vfio_tui.core.configfiles import FileChange

__all__ = [
    "ALL_CHECK_IDS",
    "CheckResult",
    "ConfigParseError",
    "FileChange",
    "FixResult",
    "apply_fix",
    "list_config_changes",
    "overall_exit_code",
    "plan_fix",
    "restore_config",
    "run_checks",
    "undo_fix",
]
