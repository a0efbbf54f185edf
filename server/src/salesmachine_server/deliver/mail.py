"""E-mail deliveries, through the project's own SMTP server (domain/smtp_settings.py).

smtplib, on the sender's worker thread. The conversation is spelled out (EHLO, STARTTLS,
AUTH, MAIL, RCPT, DATA) rather than `send_message`, so that the log keeps the server's answer
to the message itself ("250 2.0.0 Ok: queued as ..."), which is what a user asks the mail
server's operator about. A 5xx answer refusing the message or the recipient is permanent
(failed at once, the log says why); anything else (no SMTP server configured yet, a connection
refused, a 4xx "try later") is tried again.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from salesmachine_server.deliver.outcome import KEPT_ANSWER_CHARS, KEPT_BODY_CHARS, Sent, cut
from salesmachine_server.deliver.tls import tls_context
from salesmachine_server.domain.smtp_settings import SmtpSettings

DELIVERY_HEADER = "X-Salesmachine-Delivery"


def send_mail(
    delivery_id: int,
    target: dict[str, Any],
    payload: dict[str, Any],
    smtp: SmtpSettings | None,
    *,
    timeout: float,
    ca_file: str = "",
) -> Sent:
    to = str(payload.get("to") or target.get("to") or "")
    subject = " ".join(str(payload.get("subject", "")).split())  # one header line, whatever was rendered
    text = str(payload.get("text", ""))
    request: dict[str, Any] = {"to": to, "subject": subject, "body": cut(text, KEPT_BODY_CHARS)}
    if smtp is None:
        return Sent(request, error="no SMTP server is configured for this project (Settings, or PUT /v1/settings/smtp)")
    request.update({"smtp": f"{smtp.host}:{smtp.port} ({smtp.security})", "from": smtp.from_address})
    message = EmailMessage()
    message["From"] = smtp.from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(smtp.from_address)[1].rpartition("@")[2] or None)
    message[DELIVERY_HEADER] = str(delivery_id)
    message.set_content(text)
    try:
        code, answer = _converse(smtp, to, message, timeout, tls_context(ca_file))
    except smtplib.SMTPResponseException as exc:
        words = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return Sent(
            request,
            exc.smtp_code,
            cut(words, KEPT_ANSWER_CHARS),
            f"the SMTP server answered {exc.smtp_code}: {words}",
            permanent=500 <= exc.smtp_code < 600 and isinstance(exc, _PERMANENT),
        )
    except smtplib.SMTPRecipientsRefused as exc:
        code, words_bytes = next(iter(exc.recipients.values()))
        words = words_bytes.decode("utf-8", "replace")
        return Sent(request, code, words, f"the SMTP server refused {to}: {code} {words}", permanent=500 <= code < 600)
    except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, TLS failed
        return Sent(
            request, error=f"could not talk to the SMTP server {smtp.host}:{smtp.port}: {exc or type(exc).__name__}"
        )
    return Sent(request, code, cut(answer, KEPT_ANSWER_CHARS))


# Answers about this message, not about the server's state: a 5xx one will not change.
_PERMANENT = (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


def _converse(
    smtp: SmtpSettings, to: str, message: EmailMessage, timeout: float, context: ssl.SSLContext
) -> tuple[int, str]:
    client: smtplib.SMTP
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    with client:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.username:
            client.login(smtp.username, smtp.password)
        sender = parseaddr(smtp.from_address)[1]
        code, reply = client.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        recipient = parseaddr(to)[1] or to
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        code, reply = client.data(message.as_bytes())
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
    return code, f"{code} {reply.decode('utf-8', 'replace')}"
