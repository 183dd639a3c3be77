"""Nova's server state machine: vm states, task states, and the status string the
API shows for each pair."""

from __future__ import annotations

ACTIVE = "active"
BUILDING = "building"
PAUSED = "paused"
SUSPENDED = "suspended"
STOPPED = "stopped"
RESCUED = "rescued"
RESIZED = "resized"
SOFT_DELETED = "soft-delete"
DELETED = "deleted"
ERROR = "error"
SHELVED = "shelved"
SHELVED_OFFLOADED = "shelved_offloaded"

# task states
SCHEDULING = "scheduling"
NETWORKING = "networking"
SPAWNING = "spawning"
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_PENDING_UPLOAD = "image_pending_upload"
IMAGE_UPLOADING = "image_uploading"
IMAGE_BACKUP = "image_backup"
REBOOTING = "rebooting"
REBOOTING_HARD = "rebooting_hard"
PAUSING = "pausing"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
RESUMING = "resuming"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
RESCUING = "rescuing"
UNRESCUING = "unrescuing"
REBUILDING = "rebuilding"
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_MIGRATED = "resize_migrated"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
RESIZE_CONFIRMING = "resize_confirming"
MIGRATING = "migrating"
DELETING = "deleting"
SHELVING = "shelving"
SHELVING_OFFLOADING = "shelving_offloading"
UNSHELVING = "unshelving"
REBUILD_SPAWNING = "rebuild_spawning"

_STATUS = {
    ACTIVE: "ACTIVE", BUILDING: "BUILD", STOPPED: "SHUTOFF", RESIZED: "VERIFY_RESIZE",
    PAUSED: "PAUSED", SUSPENDED: "SUSPENDED", RESCUED: "RESCUE", ERROR: "ERROR",
    DELETED: "DELETED", SOFT_DELETED: "SOFT_DELETED", SHELVED: "SHELVED",
    SHELVED_OFFLOADED: "SHELVED_OFFLOADED",
}

_TASK_STATUS = {
    REBOOTING: "REBOOT", REBOOTING_HARD: "HARD_REBOOT", REBUILDING: "REBUILD",
    REBUILD_SPAWNING: "REBUILD", MIGRATING: "MIGRATING", RESIZE_PREP: "RESIZE",
    RESIZE_MIGRATING: "RESIZE", RESIZE_MIGRATED: "RESIZE", RESIZE_FINISH: "RESIZE",
    RESIZE_REVERTING: "REVERT_RESIZE",
}

# which vm states show a task's own status (Nova's table)
_TASK_STATUS_STATES = {
    ACTIVE: {REBOOTING, REBOOTING_HARD, REBUILDING, REBUILD_SPAWNING, MIGRATING,
             RESIZE_PREP, RESIZE_MIGRATING, RESIZE_MIGRATED, RESIZE_FINISH},
    STOPPED: {REBUILDING, REBUILD_SPAWNING, RESIZE_PREP, RESIZE_MIGRATING, RESIZE_MIGRATED,
              RESIZE_FINISH},
    RESIZED: {RESIZE_REVERTING},
    PAUSED: {MIGRATING},
    ERROR: {REBUILDING, REBUILD_SPAWNING},
}


def status(vm_state: str, task_state: str | None) -> str:
    if task_state and task_state in _TASK_STATUS_STATES.get(vm_state, ()):
        return _TASK_STATUS[task_state]
    return _STATUS.get(vm_state, "UNKNOWN")


# status filter value -> the vm states (and task states) it stands for
def states_for_status(value: str) -> tuple[set[str], set[str] | None] | None:
    value = value.upper()
    vm_states = {vm for vm, name in _STATUS.items() if name == value}
    if vm_states:
        return vm_states, None
    tasks = {task for task, name in _TASK_STATUS.items() if name == value}
    if tasks:
        return set(_TASK_STATUS_STATES), tasks
    return None
