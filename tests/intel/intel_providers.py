"""Two small hand-made providers hit by one campaign, in the contract's input format.

The campaign keeps its card, its throwaway sign-up domain, its datacenter /24 and its
wrapper at both providers, but harvests different tasks at each; ordinary customers differ
entirely.  Small enough to ingest and feature in a few seconds, specific enough that every
assertion about what is shared and what matches can be exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from distillguard.results import AccountResult, ClusterResult, write_results

CAMPAIGN_CARD = "pm_campaign_card_0001"
CAMPAIGN_DOMAIN = "qzvxkl.xyz"
CAMPAIGN_NET = "45.76.12"
RARE_CARD = "pm_rare_card_0002"
"""Used by only 3 campaign accounts: below the k-floor of 5, so never shared (the other 5 share
:data:`CAMPAIGN_CARD`)."""
WRAPPER = (
    "Think step by step and write out your complete reasoning before giving the final answer.\n\n"
    "{task}\n\nPut the final answer in \\boxed{{}}."
)
_WORD_TEXT = (
    "apple river stone cloud violet market engine garden letter silver window bridge "
    "candle forest harbor island jacket kettle ladder meadow needle orchard pencil quartz "
    "rocket saddle timber umbrella valley wagon yellow zebra anchor basket cactus dragon "
    "ember"
)
WORDS = tuple(_WORD_TEXT.split())
START = datetime(2026, 10, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Provider:
    """Where one provider's files are, and who is who."""

    exchanges: Path
    accounts: Path
    campaign: list[str]
    benign: list[str]


def _task(rng: random.Random, number: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(12))
    return f"Problem {number}: how many {words} are there if each has {rng.randint(2, 99)}?"


def _chat(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 20))) + "?"


def make_provider(directory: Path, seed: int, *, campaign_accounts: int = 8) -> Provider:
    """Write exchanges.jsonl and accounts.jsonl of one provider into ``directory``."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    accounts: list[dict[str, object]] = []
    exchanges: list[dict[str, object]] = []
    campaign = [f"acct_{seed}_c{i}" for i in range(campaign_accounts)]
    benign = [f"acct_{seed}_b{i}" for i in range(25)]
    for index, account in enumerate(campaign):
        accounts.append(
            {
                "account_id": account,
                "created_at": (START - timedelta(days=3)).isoformat(),
                "email_domain": CAMPAIGN_DOMAIN,
                "payment_fingerprint": RARE_CARD if index < 3 else CAMPAIGN_CARD,
                "signup_ip": f"{CAMPAIGN_NET}.{rng.randint(2, 250)}",
                "country": "US",
                "verification": "email",
                "program": "paid",
            }
        )
        for n in range(30):
            exchanges.append(
                {
                    "exchange_id": f"x_{seed}_{account}_{n}",
                    "timestamp": (START + timedelta(minutes=7 * n + index)).isoformat(),
                    "account_id": account,
                    "client_ip": f"{CAMPAIGN_NET}.{rng.randint(2, 250)}",
                    "model": "nw-large-1",
                    "messages": [
                        {
                            "role": "user",
                            "content": WRAPPER.format(task=_task(rng, seed * 1000 + n)),
                        }
                    ],
                }
            )
    for index, account in enumerate(benign):
        accounts.append(
            {
                "account_id": account,
                "created_at": (START - timedelta(days=200)).isoformat(),
                "email_domain": "gmail.com",
                "payment_fingerprint": f"pm_{seed}_{index}",
                "signup_ip": f"73.{seed % 200}.{index}.{rng.randint(2, 250)}",
                "country": "US",
                "verification": "phone",
                "program": "paid",
            }
        )
        for n in range(rng.randint(3, 12)):
            exchanges.append(
                {
                    "exchange_id": f"x_{seed}_{account}_{n}",
                    "timestamp": (START + timedelta(hours=n * 5, minutes=index)).isoformat(),
                    "account_id": account,
                    "client_ip": f"73.{seed % 200}.{index}.{rng.randint(2, 250)}",
                    "model": "nw-large-1",
                    "messages": [{"role": "user", "content": _chat(rng)}],
                }
            )
    provider = Provider(
        directory / "exchanges.jsonl", directory / "accounts.jsonl", campaign, benign
    )
    provider.exchanges.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in exchanges))
    provider.accounts.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in accounts))
    return provider


def write_verdicts(directory: Path, provider: Provider) -> Path:
    """A results directory in which the provider's campaign is one `distillation` cluster."""
    accounts = [AccountResult(a, 0.95, "distillation", "c-campaign") for a in provider.campaign] + [
        AccountResult(a, 0.01, "benign") for a in provider.benign
    ]
    cluster = ClusterResult(
        cluster_id="c-campaign",
        account_ids=sorted(provider.campaign),
        score=0.95,
        verdict="distillation",
        exchanges=30 * len(provider.campaign),
        capabilities=["reasoning"],
        first_seen=START,
        last_seen=START + timedelta(days=1),
    )
    write_results(directory, accounts, [cluster], {"detectors": []})
    return directory


def export_args(results: Path, provider: Provider, key_file: Path | None, out: Path) -> list[str]:
    """`distillguard intel export` of a provider's results from its contract files."""
    key = ["--key-file", str(key_file)] if key_file else []
    data = ["--exchanges", str(provider.exchanges), "--accounts", str(provider.accounts)]
    return ["intel", "export", "--results", str(results), *data, *key, "--out", str(out)]


def hunt_args(bundle: Path, provider: Provider, key_file: Path, out: Path) -> list[str]:
    """`distillguard intel hunt` of one bundle over a provider's contract files."""
    data = ["--exchanges", str(provider.exchanges), "--accounts", str(provider.accounts)]
    return ["intel", "hunt", "--bundle", str(bundle), *data, "--key-file", str(key_file),
            "--out", str(out)]  # fmt: skip
