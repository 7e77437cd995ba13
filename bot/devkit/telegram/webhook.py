"""Webhook mode: after ``setWebhook`` updates are POSTed to the URL with
``X-Telegram-Bot-Api-Secret-Token``, retried until the bot answers 2xx; a method in the webhook's answer is
executed, as Telegram does."""

from __future__ import annotations

import asyncio
import json
import re
import time

import aiohttp

from .core import ServerCore
from .models import Call, now
from .protocol import JsonDict, _bad, _coerce

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class WebhookMixin(ServerCore):
    """setWebhook, deleteWebhook, getWebhookInfo, and the delivery of updates to the webhook."""

    async def _set_webhook(self, params: JsonDict) -> bool:
        url = params.get("url") or ""
        if not url:
            return await self._delete_webhook(params)
        if not isinstance(url, str) or not re.match(r"^https?://\S+$", url):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token") or None
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._webhook_allowed = frozenset(str(a) for a in allowed) or None
        self.webhook_url = url
        self.webhook_secret = secret
        self._webhook_error = None
        self._terminate_polls("Conflict: terminated by setWebhook request")
        return True

    async def _delete_webhook(self, params: JsonDict) -> bool:
        self.webhook_url = None
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        info: JsonDict = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            if self._webhook_allowed is not None:
                info["allowed_updates"] = sorted(self._webhook_allowed)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _webhook_loop(self) -> None:
        while True:
            await self._signal.wait_until(lambda: True if self.webhook_url and self._pending else None, None)
            update, url = self._pending[0], self.webhook_url
            assert url is not None and self._client is not None
            headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
            status: int | None = None
            reply: JsonDict | None = None
            self._inflight += 1
            try:
                async with self._client.post(
                    url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
                ) as response:
                    status = response.status
                    if 200 <= status < 300:
                        reply = await self._read_webhook_reply(response)
                    else:
                        self._webhook_error = (now(), f"Wrong response from the webhook: {status} {response.reason}")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                self._webhook_error = (now(), f"Connection failed: {type(exc).__name__}")
            finally:
                self._inflight -= 1
            self.webhook_deliveries.append((time.monotonic(), int(update["update_id"]), status))
            if status is not None and 200 <= status < 300:
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
                if reply and isinstance(reply.get("method"), str):
                    method = self._canonical(reply.pop("method"))
                    params = {key: _coerce(key, value) for key, value in reply.items()}
                    self.calls.append(Call(time.monotonic(), method, params))
                    await self._invoke(method, params)
                self._touch()
            else:
                self._touch()
                await asyncio.sleep(self.webhook_retry_delay)

    @staticmethod
    async def _read_webhook_reply(response: aiohttp.ClientResponse) -> JsonDict | None:
        """A webhook may answer with a method call: JSON ``{"method": ...}`` or a multipart form (aiogram)."""
        if response.content_type == "multipart/form-data":
            fields: JsonDict = {}
            reader = aiohttp.MultipartReader.from_response(response)
            while True:
                part = await reader.next()
                if part is None:
                    break
                if isinstance(part, aiohttp.BodyPartReader) and part.name:
                    fields[part.name] = await part.text()
            return fields
        body = await response.read()
        if not body.strip():
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
