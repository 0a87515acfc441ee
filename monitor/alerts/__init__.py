"""Alert delivery: the channels (email, webhook, apprise) and how alerts and notices are
rendered.

Each channel implements :class:`Channel` (``send(alert)``, ``send_digest(digest)``,
``send_notice(notice)``) and raises :class:`~monitor.errors.DeliveryError` classified as
transient, permanent or disabling; retries and backoff live only in the outbox. Apprise
itself is imported only when an :class:`AppriseChannel` first sends.
"""

from monitor.alerts.apprise_channel import AppriseChannel
from monitor.alerts.base import Channel, classify_http_status, classify_smtp_code
from monitor.alerts.email import EmailChannel, classify_smtp_error
from monitor.alerts.render import (
    digest_payload,
    highlight_html,
    highlight_text,
    notice_payload,
    render_digest_email,
    render_email,
    render_notice_email,
    webhook_payload,
)
from monitor.alerts.webhook import WebhookChannel, secret_key, sign, verify

__all__ = [
    "AppriseChannel",
    "Channel",
    "EmailChannel",
    "WebhookChannel",
    "classify_http_status",
    "classify_smtp_code",
    "classify_smtp_error",
    "digest_payload",
    "highlight_html",
    "highlight_text",
    "notice_payload",
    "render_digest_email",
    "render_email",
    "render_notice_email",
    "secret_key",
    "sign",
    "verify",
    "webhook_payload",
]
