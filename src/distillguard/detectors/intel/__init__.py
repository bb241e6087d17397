"""Shared-intelligence detector DG-601: peers' indicators found in our own traffic.

Runs only when the scan is given peers' bundles (``distillguard scan --intel BUNDLE
--intel-key KEY``, or ``[detectors.DG-601] bundles = [...]`` and ``key_file = "..."`` in the
configuration); otherwise it observes nothing.  The matching itself is
:func:`distillguard.intel.hunt.hunt`, the same as ``distillguard intel hunt``.
"""

from distillguard.detectors.intel.shared_match import DETECTORS, INFO, IntelSettings

__all__ = ["DETECTORS", "INFO", "IntelSettings"]
