"""The files that put the guard into a LiteLLM proxy, written the way docs/guard.md says.

LiteLLM loads custom guardrails and callbacks from Python files beside its ``config.yaml``,
so a deployment needs three small files next to the config: the one-line :data:`SHIM`
module, the guard settings, and the config's guard section (:data:`GUARD_SECTION`).  Tests
and benchmarks write them with :func:`write_proxy_files`, so what they run is what the
documentation tells operators to write.  Importing this module does not import LiteLLM.
"""

from __future__ import annotations

from pathlib import Path

SHIM_NAME = "distillguard_litellm"
SHIM = "from distillguard.guard.adapters.litellm import DistillGuardGuardrail, exchange_logger\n"
GUARD_SECTION = f"""
guardrails:
  - guardrail_name: distillguard
    litellm_params:
      guardrail: {SHIM_NAME}.DistillGuardGuardrail
      mode: [pre_call, post_call]
      default_on: true
litellm_settings:
  callbacks: {SHIM_NAME}.exchange_logger
"""


def write_proxy_files(directory: Path, model_list: str, settings: str | None) -> Path:
    """Write ``config.yaml`` (models, plus the guard when ``settings`` is given), the shim and
    ``settings.yaml``; return the settings path to export as DISTILLGUARD_GUARD_SETTINGS."""
    directory.mkdir(parents=True, exist_ok=True)
    config = model_list
    if settings is not None:
        config += GUARD_SECTION
        (directory / f"{SHIM_NAME}.py").write_text(SHIM)
        (directory / "settings.yaml").write_text(settings)
    (directory / "config.yaml").write_text(config)
    return directory / "settings.yaml"
