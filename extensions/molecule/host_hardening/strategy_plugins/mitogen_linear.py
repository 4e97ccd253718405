# Mitogen's linear strategy, found next to the playbooks (toolchain §8): one persistent Python per
# host through `podman exec` instead of several podman calls per task. Used by converge.yml only;
# molecule's create/destroy keep Ansible's own strategy (their async podman_container job never
# finishes under Mitogen).
from __future__ import annotations

import ansible_mitogen.loaders
import ansible_mitogen.strategy

Base = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    pass
