"""HTML of the machine page's device-key section (pure: the JSON `sections.DeviceKeySection` loads in, escaped HTML
out): every key the machine's manufacturer bound, in binding order, with its status and validity window, who bound
and revoked it (and the lessee that approved a change during a lease), each with its transaction; the lease lock
and a change waiting for the lessee.
"""

from __future__ import annotations

from typing import Any

from fedpm.explorer import pages


def _step(label: str, step: dict[str, Any] | None, names: dict[str, str]) -> str:
    if not step:
        return ""
    approved = f' · approved by {pages.who(step["approved_by"], names)} (lessee)' if step.get("approved_by") else ""
    return (f'<li class="step" data-step="{pages.esc(label)}"><div class="top"><span class="kind">{pages.esc(label)}</span> '
            f'{pages.who(step["by"], names)}{approved}</div><div class="detail">{pages.esc(pages.when(step["time"]))}</div>'
            f'{pages.ref(step["tx"], step["block"])}</li>')


def render_device_keys(section: dict[str, Any]) -> str:
    names, keys = section.get("names", {}), section["keys"]
    notes = []
    if section.get("lock"):
        lock = section["lock"]
        notes.append(f'<div class="note lock" data-lessee="{pages.esc(lock["lesseeOrg"])}">{pages.badge("paused", "leased")} '
                     f'keys locked by the lease contract <span class="hash">{pages.esc(lock["holder"])}</span>: a change needs '
                     f'{pages.esc(lock["lesseeOrg"])}\'s approval</div>')
    if section.get("waiting"):
        w = section["waiting"]
        notes.append(f'<div class="note waiting" data-hash="{pages.esc(w["hash"])}">{pages.badge("pending", "waiting for the lessee")} '
                     f'{pages.esc(w["change"])}, requested by {pages.who(w["requestedBy"], names)}</div>')
    if not keys:
        return "".join(notes) + '<div class="note">No device key bound yet. The manufacturer binds one with <code>fedpm device register</code>.</div>'
    cards = []
    for k in keys:
        until = f'until {pages.when(k["validUntil"])}' if k["validUntil"] else "until rotated or revoked"
        rows = (f'<dt>device</dt><dd class="hash">{pages.esc(k["device"])}</dd>'
                f'<dt>signs for</dt><dd>readings from {pages.esc(pages.when(k["validFrom"]))}, {pages.esc(until)}</dd>')
        steps = _step("rotated in by" if k["rotatedIn"] else "bound by", k["bound"], names) + _step("revoked by", k["revoked"], names)
        cards.append(f'<li class="card device-key" data-device="{pages.esc(k["device"])}" data-status="{pages.esc(k["status"])}">'
                     f'<h3>{pages.badge(k["status"])} key {pages.esc(pages.short(k["device"]))}</h3><dl>{rows}</dl>'
                     f'<ol class="ledger">{steps}</ol></li>')
    return "".join(notes) + f'<ol class="cards device-keys">{"".join(cards)}</ol>'
