"""The rails lock (`{state}/rails.lock`): defined once in `unconscious.rails_lock`, which the
live-tree commands share; see there."""

from unconscious.rails_lock import LockTimeout, rails_lock

__all__ = ["LockTimeout", "rails_lock"]
