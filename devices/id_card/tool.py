"""`kiosk devices read-card`: a technician's tool that reads one card and prints it.

This is an explicit, attended tool, so the card is printed to stdout (never to the log).
Exit status: 0 card read, 1 no card within the timeout, 2 a device error (its reason_key is
printed on stderr).
"""
from __future__ import annotations

import json

import click

from devices.interfaces import CardRecord, ConfigurationError, DeviceError
from devices.registry import open_device


def card_to_json(record: CardRecord) -> dict:
    photo = record.photo_bgr
    return {
        "card_type": record.card_type.value,
        "name": record.name,
        "sex": record.sex,
        "nation": record.nation,
        "birth_date": record.birth_date.isoformat(),
        "address": record.address,
        "id_number": record.id_number,
        "authority": record.authority,
        "valid_from": record.valid_from.isoformat(),
        "valid_until": record.valid_until.isoformat() if record.valid_until else None,
        "english_name": record.english_name,      # foreigner's cards; "" on the others
        "nationality": record.nationality,        # ISO 3166-1 alpha-3, foreigner's cards
        "photo": {"width": int(photo.shape[1]) if photo is not None else 0,
                  "height": int(photo.shape[0]) if photo is not None else 0},
    }


def _plain(record: CardRecord) -> str:
    d = card_to_json(record)
    labels = [("card_type", "证件类型 card type"), ("name", "姓名 name"), ("sex", "性别 sex"),
              ("nation", "民族 nation"), ("birth_date", "出生 birth"), ("address", "住址 address"),
              ("id_number", "号码 number"), ("authority", "签发机关 authority"),
              ("valid_from", "有效期起 valid from"), ("valid_until", "有效期止 valid until")]
    lines = [f"{label}: {d[key] if d[key] is not None else '长期 long-term'}" for key, label in labels]
    if d["english_name"]:
        lines.insert(2, f"英文名 English name: {d['english_name']}")
    if d["nationality"]:
        lines.append(f"国籍 nationality: {d['nationality']}")
    lines.append(f"照片 photo: {d['photo']['width']}x{d['photo']['height']}")
    return "\n".join(lines)


@click.command("read-card")
@click.option("--url", required=True, envvar="KIOSK_ID_CARD_URL",
              help="Reader URL, e.g. idcard+serial:///dev/ttyUSB0 or idcard+serial://socket://127.0.0.1:7001")
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds to wait for a card.")
def read_card(url: str, as_json: bool, timeout: float) -> None:
    """Read one ID card and print it (technician tool: shows personal data on screen)."""
    try:
        reader = open_device(url, expected_kind="id_card")
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    except DeviceError as exc:
        click.echo(f"error {exc.reason_key}: {exc}", err=True)
        raise SystemExit(2) from None
    try:
        record = reader.read_card(timeout)
    except DeviceError as exc:
        click.echo(f"error {exc.reason_key}: {exc}", err=True)
        raise SystemExit(2) from None
    finally:
        reader.close()
    if record is None:
        click.echo(f"no card within {timeout:g} s", err=True)
        raise SystemExit(1)
    if as_json:
        click.echo(json.dumps(card_to_json(record), ensure_ascii=False, indent=2))
    else:
        click.echo(_plain(record))
