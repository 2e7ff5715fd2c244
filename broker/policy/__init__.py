"""The sharing policy engine: YAML rules compiled into an index, default deny.

`load_policy_set` validates a directory against the registry and catalog;
`PolicySet.evaluate` is the one decision function the broker calls.
"""

from broker.policy.compile import PolicySet, compile_sources, load_policy_set
from broker.policy.model import Decision, RequestContext, Rule

__all__ = ["Decision", "PolicySet", "RequestContext", "Rule", "compile_sources",
           "load_policy_set"]
