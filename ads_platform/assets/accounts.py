"""``ad_accounts``: the accounts to pull, and the dynamic partition set they feed."""

import datetime as dt
import os

import dagster as dg

from ads_platform.ingestion import accounts as acc
from ads_platform.ingestion.failures import describe
from ads_platform.ingestion.insights import ACCOUNT_FIELDS
from ads_platform.meta.redaction import register_secret
from ads_platform.meta.stats import CallStats
from ads_platform.partitions import ad_accounts_partitions
from ads_platform.resources import PlatformResource
from ads_platform.settings import SettingsError


@dg.asset(
    key="ad_accounts",
    group_name="meta_ads",
    kinds={"python", "parquet"},
    description="Ad accounts from the settings (and from me/adaccounts when discovery is "
    "on): name, currency, time zone, status. Adds new accounts to the `ad_accounts` "
    "partition set; accounts removed from the settings stay, marked inactive.",
)
def ad_accounts(
    context: dg.AssetExecutionContext, platform: PlatformResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    settings = platform.settings()
    lake = platform.lake(settings)
    stats = CallStats()
    seen: list[acc.AccountRow] = []
    problems: list[str] = []
    for account in settings.enabled_accounts:
        token_env = account.token_env
        try:

            def read(token: str, _token_env: str, account_id: str = account.id) -> acc.AccountRow:
                with platform.client(settings, token, stats) as client:
                    return acc.row_from_node(
                        client.get_account(account_id, ACCOUNT_FIELDS), "settings"
                    )

            seen.append(platform.with_token(settings, account.id, read))
        except Exception as exc:
            _, message = describe(exc, account_id=account.id, token_env=token_env)
            problems.append(message)
            context.log.warning(message)
            known = acc.known_account(lake, account.id)
            if known is not None:
                seen.append(known)
    discovered: list[str] = []
    if settings.discovery.enabled and settings.discovery.token_env:
        try:
            token = os.environ.get(settings.discovery.token_env, "").strip()
            if not token:
                raise SettingsError(
                    f"discovery is on but environment variable {settings.discovery.token_env} "
                    "is not set"
                )
            register_secret(token)
            with platform.client(settings, token, stats) as client:
                for node in client.list_ad_accounts():
                    row = acc.row_from_node(node, "discovered")
                    if all(r.account_id != row.account_id for r in seen):
                        seen.append(row)
                        discovered.append(row.account_id)
        except Exception as exc:
            _, message = describe(
                exc, account_id="me/adaccounts", token_env=settings.discovery.token_env
            )
            problems.append(message)
    active = {a.id for a in settings.enabled_accounts} | set(discovered)
    frame = acc.merge_accounts(lake, seen, active, dt.datetime.now(dt.UTC))
    existing = set(context.instance.get_dynamic_partitions(ad_accounts_partitions.name or ""))
    new = sorted(active - existing)
    if new:
        context.instance.add_dynamic_partitions(ad_accounts_partitions.name or "", new)
    return dg.MaterializeResult(
        metadata={
            "accounts": len(frame),
            "active": int(frame["is_active"].sum()),
            "new_partitions": ", ".join(new) or "none",
            "discovered": ", ".join(discovered) or "none",
            "problems": "\n".join(problems) or "none",
            "api_calls": int(stats.total("calls")),
            "preview": dg.MetadataValue.md(
                frame.drop(columns=["first_seen_at", "last_seen_at"]).to_markdown(index=False)
            ),
        }
    )
