"""Child processes that do not outlive the process that made them."""

from __future__ import annotations

import os
import threading
import time

# How often a child looks whether its parent is still there.
PARENT_CHECK_SECONDS = 1.0


def exit_with_parent(parent: int) -> None:
    """In a child process (a pool's initializer): exit once `parent` is gone. A parent killed
    outright (SIGKILL, the OOM killer) cannot shut its pool down, and a pool's child holds
    both ends of its own task pipe, so it would wait for work forever, an orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
