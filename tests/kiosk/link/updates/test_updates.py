"""Signed catalogue and site-profile updates, end to end over a real back office on loopback.

publish (the back office's Publisher, as `backoffice publish` uses it) -> the uploader's signed
GETs -> verify (signature, every hash, no downgrade) -> stage -> apply between visits through
the session, with rollback when the new content does not load. Tampering happens where an
attacker would do it: on the back office's disk, on the wire (between HTTP and the verifier),
or in the terminal's key store.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
import time

import httpx
import nacl.signing
import pytest
from sqlalchemy import select

from backoffice.db import PublishedUpdate
from flows.catalog import load_catalog
from kiosk.visit import intents as I
from kiosk.link import updates as ku
from kiosk.config import load_config
from kiosk.visit.settings import session_settings
from protocol.keys import public_key_text
from protocol.updates import SITE_PROFILE_FILE, UpdateRefused, catalog_files

from tests.kiosk.link.updates.update_kit import catalog_copy, not_offered_text, session_over

PACKAGED = "This station does not offer this service."


def stored_bundle(server, kind: str, version: int):
    return server.services.publisher.dir / f"{kind}-{version}.tar"


def member_offset(blob: bytes, name: str) -> tuple[int, int]:
    """(offset, size) of a member's data inside the tar bytes."""
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
        info = tar.getmember(name)
        return info.offset_data, info.size


def flip(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def apply_now(applier: ku.UpdateApplier, session) -> None:
    """Ask the session to apply, and wait until its thread has done it."""
    assert applier.poll(session)
    deadline = time.monotonic() + 10
    while applier.queued and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not applier.queued, "the session did not run the apply task"


def first_version(server, kiosk, tmp_path) -> None:
    """Publish, fetch and apply catalogue version A for this kiosk's site."""
    server.services.publisher.publish_catalog(catalog_copy(tmp_path, "A"), kiosk.site)
    result = kiosk.uploader.check_updates()
    assert list(result.staged) == ["catalog"] and result.refused == {}
    assert ku.UpdateSlot(kiosk.state_dir, "catalog").apply_staged() is not None


# ---- the whole path ------------------------------------------------------------------------

def test_publish_fetch_verify_apply_end_to_end(server, kiosk, packaged, tmp_path):
    assert (kiosk.keys / ku.PUBLISHER_PUBLIC_FILE).exists(), "enrolment stores the publisher key"
    catalog = ku.load_active_catalog(kiosk.state_dir, packaged)
    assert not_offered_text(catalog) == PACKAGED      # nothing applied yet: packaged catalogue
    view = server.services.publisher.publish_catalog(catalog_copy(tmp_path, "v-new"), kiosk.site)

    listing = kiosk.uploader.get("/api/v1/updates")
    assert listing.status_code == 200
    offer = listing.json()["updates"]["catalog"]
    assert offer["version"] == view.version and offer["site"] == kiosk.site
    assert listing.json()["updates"]["site-profile"] is None

    result = kiosk.uploader.check_updates()
    assert result.staged == {"catalog": view.version} and result.refused == {}
    slot = ku.UpdateSlot(kiosk.state_dir, "catalog")
    assert slot.version("staged") == view.version and slot.version("current") is None

    session = session_over(catalog, tmp_path)
    seen = []
    applier = ku.UpdateApplier(kiosk.state_dir, on_catalog=seen.append)
    try:
        apply_now(applier, session)
        assert not_offered_text(session.catalog) == "This station does not offer this service (v-new)."
        assert seen and seen[0] is session.catalog
        assert os.readlink(kiosk.state_dir / "catalog" / "current") == f"versions/{view.version}"
        assert slot.version("staged") is None
        assert kiosk.uploader.check_updates().staged == {}       # nothing new: nothing fetched
    finally:
        session.stop()
    assert not_offered_text(ku.load_active_catalog(kiosk.state_dir, packaged)).endswith("(v-new).")

    assert kiosk.uploader.send_heartbeat()
    beat = next(t for t in server.services.fleet.terminals() if t.id == kiosk.terminal_id).heartbeat
    assert beat["versions"]["catalog"] == str(view.version)
    assert beat["updates"]["catalog"]["version"] == view.version
    assert beat["updates"]["catalog"]["failed"] is None


def test_site_profile_update_changes_the_site_between_visits(server, kiosk, packaged, tmp_path):
    profile = tmp_path / "profile.toml"
    profile.write_text(f'[site]\nid = "{kiosk.site}"\nkind = "bank_branch"\n'
                       'name = { zh = "建设银行天府支行", en = "CCB Tianfu" }\nphone = "028-1234"\n'
                       'nearest_24h_station = "天府广场 24 小时自助站"\n'
                       'opening_hours = [{ days = "mon-fri", open = "09:00", close = "17:00" }]\n',
                       encoding="utf-8")
    view = server.services.publisher.publish_site_profile(profile, kiosk.site)
    assert kiosk.uploader.check_updates().staged == {"site-profile": view.version}

    def reload():
        return load_config(overrides={"state_dir": str(kiosk.state_dir)})
    before = reload()
    assert before.site.kind == "government_hall"
    session = session_over(ku.load_active_catalog(kiosk.state_dir, packaged), tmp_path)
    session.settings = session_settings(before)
    profiles = []
    try:
        apply_now(ku.UpdateApplier(kiosk.state_dir, reload, on_profile=profiles.append), session)
        assert session.settings.site_name == "建设银行天府支行" and session.settings.phone == "028-1234"
        assert session.settings.nearest_24h_station == "天府广场 24 小时自助站"
    finally:
        session.stop()
    after = reload()
    assert profiles and profiles[0].site == after.site
    assert after.site.kind == "bank_branch" and after.site.opening_hours
    assert str(kiosk.state_dir / "site-profile" / "current" / "site.toml") in after.sources


# ---- refused and kept ----------------------------------------------------------------------

def _tamper_stored(server, view, where: str) -> None:
    """Flip one byte of the stored bundle. Except for "bundle", the attacker also rewrites
    the bundle's SHA-256 in the database, so the terminal's inner checks must catch it."""
    path = stored_bundle(server, "catalog", view.version)
    blob = path.read_bytes()
    member = {"file": "files/prompts.yaml", "manifest": "manifest.json",
              "signature": "manifest.sig"}.get(where)
    if member is None:
        flip(path, len(blob) // 2)
        return
    offset, size = member_offset(blob, member)
    flip(path, offset + size // 2)
    with server.services.db.write() as session:
        row = session.scalar(select(PublishedUpdate).where(
            PublishedUpdate.kind == "catalog", PublishedUpdate.version == view.version))
        row.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("where,reason", [
    ("bundle", "update.bundle_hash_mismatch"), ("file", "update.hash_mismatch"),
    ("manifest", "update.bad_signature"), ("signature", "update.bad_signature")])
def test_a_tampered_catalogue_update_is_refused_and_the_old_one_kept(server, kiosk, packaged,
                                                                     tmp_path, where, reason):
    first_version(server, kiosk, tmp_path)
    view = server.services.publisher.publish_catalog(catalog_copy(tmp_path, "B"), kiosk.site)
    _tamper_stored(server, view, where)

    result = kiosk.uploader.check_updates()
    assert result.staged == {} and result.refused == {"catalog": reason}
    slot = ku.UpdateSlot(kiosk.state_dir, "catalog")
    assert slot.version("staged") is None and slot.version("current") == view.version - 1
    assert not any(p.name == str(view.version) for p in slot.versions.iterdir())
    assert not_offered_text(ku.load_active_catalog(kiosk.state_dir, packaged)).endswith("(A).")
    assert kiosk.uploader.check_updates().refused == {}      # not fetched again and again
    kiosk.uploader.send_heartbeat()
    beat = next(t for t in server.services.fleet.terminals() if t.id == kiosk.terminal_id).heartbeat
    assert beat["updates"]["catalog"]["failed"]["version"] == view.version
    assert beat["updates"]["catalog"]["failed"]["reason_key"] == result.refused["catalog"]
    alarms = [a for a in server.services.alarms.current() if a.terminal_id == kiosk.terminal_id]
    assert [a.kind for a in alarms] == ["update_failed"]     # on the fleet page
    assert alarms[0].detail == f"catalog version {view.version}: {reason}"


def test_wrong_publisher_key_is_refused(server, kiosk, packaged, tmp_path):
    first_version(server, kiosk, tmp_path)
    ku.store_publisher_key(kiosk.keys, public_key_text(nacl.signing.SigningKey.generate()))
    from kiosk.link.uploader import attach_updater
    attach_updater(kiosk.uploader, kiosk.keys, kiosk.site)
    server.services.publisher.publish_catalog(catalog_copy(tmp_path, "B"), kiosk.site)
    assert kiosk.uploader.check_updates().refused == {"catalog": "update.bad_signature"}
    assert not_offered_text(ku.load_active_catalog(kiosk.state_dir, packaged)).endswith("(A).")


def test_a_replayed_older_version_is_refused(server, kiosk, tmp_path):
    first_version(server, kiosk, tmp_path)
    old_version = ku.UpdateSlot(kiosk.state_dir, "catalog").version()
    old_blob = stored_bundle(server, "catalog", old_version).read_bytes()
    server.services.publisher.publish_catalog(catalog_copy(tmp_path, "B"), kiosk.site)
    real_get = kiosk.uploader.get
    old_sha = hashlib.sha256(old_blob).hexdigest()

    def replaying_get(path: str):      # a man in the middle answers with the genuine old bundle
        response = real_get(path)
        if path == "/api/v1/updates":
            listing = response.json()
            listing["updates"]["catalog"]["sha256"] = old_sha
            return httpx.Response(200, json=listing)
        return httpx.Response(200, content=old_blob)
    kiosk.uploader.updater.get = replaying_get
    assert kiosk.uploader.check_updates().refused == {"catalog": "update.wrong_version"}

    def downgrading_get(path: str):    # ... or offers the old version as the newest
        response = real_get(path)
        if path == "/api/v1/updates":
            listing = response.json()
            listing["updates"]["catalog"].update(version=old_version, sha256=old_sha)
            return httpx.Response(200, json=listing)
        return httpx.Response(200, content=old_blob)
    kiosk.uploader.updater.get = downgrading_get
    assert kiosk.uploader.check_updates().staged == {}
    slot = ku.UpdateSlot(kiosk.state_dir, "catalog")
    assert slot.version() == old_version and slot.version("staged") is None
    with pytest.raises(UpdateRefused) as refused:   # and staging it by hand is impossible too
        ku.Updater(kiosk.state_dir, kiosk.uploader.updater.publisher_key, kiosk.site,
                   lambda path: httpx.Response(200, content=old_blob)).fetch(
            slot, {"version": old_version, "sha256": old_sha})
    assert refused.value.reason_key == "update.not_newer"


def test_a_signed_but_invalid_catalogue_is_refused(server, kiosk, tmp_path):
    first_version(server, kiosk, tmp_path)
    broken = catalog_copy(tmp_path, "broken")
    matter = broken / "matters" / "NP-OLD-ALLOWANCE.yaml"
    matter.write_text(matter.read_text(encoding="utf-8") + "\nmaterials: [\n", encoding="utf-8")
    from backoffice.publishing import PublishError
    with pytest.raises(PublishError):          # `backoffice publish` refuses it ...
        server.services.publisher.publish_catalog(broken, kiosk.site)
    # ... so publish it past the validation, signed with the real key (a publisher bug)
    view = server.services.publisher._publish("catalog", kiosk.site, catalog_files(broken))
    assert kiosk.uploader.check_updates().refused == {"catalog": "update.catalog_invalid"}
    slot = ku.UpdateSlot(kiosk.state_dir, "catalog")
    assert slot.version() == view.version - 1 and slot.version("staged") is None
    assert slot.failure()["version"] == view.version
    assert "NP-OLD-ALLOWANCE.yaml" in slot.failure()["detail"]


def test_a_signed_bundle_with_files_that_are_not_catalogue_is_refused(server, kiosk, tmp_path):
    content = catalog_files(catalog_copy(tmp_path, "B"))
    with pytest.raises(ValueError):               # not even buildable: names are plain
        server.services.publisher._publish("catalog", kiosk.site,
                                           {**content, "matters/../../run.sh": b"x"})
    server.services.publisher._publish("catalog", kiosk.site,
                                       {**content, "hooks/post-apply.sh": b"rm -rf /"})
    assert kiosk.uploader.check_updates().refused == {"catalog": "update.unexpected_files"}
    assert not (kiosk.state_dir / "catalog" / "versions").exists() or \
        not any((kiosk.state_dir / "catalog" / "versions").iterdir())


def test_a_site_profile_that_fails_at_the_next_start_is_rolled_back(server, kiosk, tmp_path):
    profile = tmp_path / "profile.toml"
    text = (f'[site]\nid = "{kiosk.site}"\nkind = "bank_branch"\nname = {{ zh = "第一版" }}\n'
            'phone = "028-1"\n')
    for name in ("第一版", "第二版"):
        profile.write_text(text.replace("第一版", name), encoding="utf-8")
        server.services.publisher.publish_site_profile(profile, kiosk.site)
        kiosk.uploader.check_updates()
        ku.UpdateSlot(kiosk.state_dir, "site-profile").apply_staged()
    slot = ku.UpdateSlot(kiosk.state_dir, "site-profile")
    overrides = {"state_dir": str(kiosk.state_dir)}
    assert ku.load_config_or_roll_back(load_config, None, overrides).site.name.zh == "第二版"
    current = slot.path() / SITE_PROFILE_FILE    # e.g. written by a newer schema
    current.write_text(current.read_text(encoding="utf-8") + 'opening_hours = "always"\n',
                       encoding="utf-8")
    config = ku.load_config_or_roll_back(load_config, None, overrides)
    assert config.site.name.zh == "第一版"
    assert slot.failure()["reason_key"] == "update.rolled_back_at_start"
    assert "opening_hours" in slot.failure()["detail"]
    slot.roll_back("update.rolled_back_at_start")    # no previous: the site file's [site] again
    assert ku.load_config_or_roll_back(load_config, None, overrides).site.kind == "government_hall"


def test_a_catalogue_that_fails_at_apply_time_is_rolled_back(server, kiosk, packaged, tmp_path):
    first_version(server, kiosk, tmp_path)
    view = server.services.publisher.publish_catalog(catalog_copy(tmp_path, "B"), kiosk.site)
    assert kiosk.uploader.check_updates().staged == {"catalog": view.version}
    staged = ku.UpdateSlot(kiosk.state_dir, "catalog").path("staged")
    # content that matches its hashes but does not load (as after an app upgrade that
    # changed the schema between staging and applying)
    manifest = json.loads((staged / ku.MANIFEST_COPY).read_text())
    broken = b"stages: [\n"
    (staged / "tree.yaml").write_bytes(broken)
    for entry in manifest["files"]:
        if entry["path"] == "tree.yaml":
            entry.update(sha256=hashlib.sha256(broken).hexdigest(), bytes=len(broken))
    (staged / ku.MANIFEST_COPY).write_text(json.dumps(manifest))
    session = session_over(ku.load_active_catalog(kiosk.state_dir, packaged), tmp_path)
    try:
        apply_now(ku.UpdateApplier(kiosk.state_dir), session)
        assert not_offered_text(session.catalog).endswith("(A).")
    finally:
        session.stop()
    slot = ku.UpdateSlot(kiosk.state_dir, "catalog")
    assert slot.version() == view.version - 1
    assert slot.status()["failed"]["reason_key"] == "update.rolled_back"


def test_a_catalogue_that_fails_at_the_next_start_is_rolled_back(server, kiosk, packaged, tmp_path):
    first_version(server, kiosk, tmp_path)
    view = server.services.publisher.publish_catalog(catalog_copy(tmp_path, "B"), kiosk.site)
    kiosk.uploader.check_updates()
    slot = ku.UpdateSlot(kiosk.state_dir, "catalog")
    assert slot.apply_staged() == view.version
    (slot.path("current") / "matters" / "NP-OLD-ALLOWANCE.yaml").unlink()  # a bundle member gone
    (slot.path("current") / "matters" / "LP-EST-FOOD.yaml").write_text("code: [\n")
    catalog = ku.load_active_catalog(kiosk.state_dir, packaged)
    assert not_offered_text(catalog).endswith("(A).")
    assert slot.version() == view.version - 1
    assert slot.status()["failed"] == {"version": view.version,
                                       "reason_key": "update.rolled_back_at_start",
                                       "at": slot.failure()["at"]}
    slot.roll_back("update.rolled_back_at_start")             # A broken too: packaged one
    assert not_offered_text(ku.load_active_catalog(kiosk.state_dir, packaged)) == PACKAGED


def test_a_catalogue_changed_on_disk_is_not_used_at_the_next_start(server, kiosk, packaged,
                                                                   tmp_path):
    first_version(server, kiosk, tmp_path)
    view = server.services.publisher.publish_catalog(catalog_copy(tmp_path, "B"), kiosk.site)
    kiosk.uploader.check_updates()
    slot = ku.UpdateSlot(kiosk.state_dir, "catalog")
    assert slot.apply_staged() == view.version
    assert json.loads((slot.path() / ku.MANIFEST_COPY).read_text())["version"] == view.version
    prompts = slot.path() / "prompts.yaml"        # still valid YAML, but not what was signed
    prompts.write_text(prompts.read_text(encoding="utf-8").replace("(B).", "(edited)."),
                       encoding="utf-8")
    assert not_offered_text(ku.load_active_catalog(kiosk.state_dir, packaged)).endswith("(A).")
    assert slot.failure()["detail"] == "prompts.yaml changed"


def test_applying_never_happens_mid_visit(server, kiosk, packaged, tmp_path):
    catalog = load_catalog(packaged)
    view = server.services.publisher.publish_catalog(catalog_copy(tmp_path, "B"), kiosk.site)
    kiosk.uploader.check_updates()
    session = session_over(catalog, tmp_path)
    applier = ku.UpdateApplier(kiosk.state_dir)
    try:
        session.send(I.StartVisit("NP-OLD-ALLOWANCE"))
        deadline = time.monotonic() + 5
        while (session.snapshot is None or session.snapshot.screen == "attract") \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        assert session.snapshot.screen == "guide"
        assert applier.poll(session)
        session.send(I.Next())                 # the visit goes on; the update waits
        time.sleep(0.5)
        slot = ku.UpdateSlot(kiosk.state_dir, "catalog")
        assert session.plan is not None and applier.queued
        assert slot.version() is None and slot.version("staged") == view.version
        assert session.catalog is catalog
        session.send(I.Cancel())               # the applicant leaves ...
        deadline = time.monotonic() + 10
        while applier.queued and time.monotonic() < deadline:
            time.sleep(0.02)
        assert slot.version() == view.version  # ... and the update goes in between visits
        assert not_offered_text(session.catalog).endswith("(B).")
    finally:
        session.stop()


def test_the_uploader_loop_checks_for_updates(server, kiosk, tmp_path):
    view = server.services.publisher.publish_catalog(catalog_copy(tmp_path, "B"), kiosk.site)
    kiosk.uploader.update_check_s = 0.2
    kiosk.uploader.idle_poll_s = 0.1
    stop = threading.Event()
    loop = threading.Thread(target=kiosk.uploader.run, args=(stop,), daemon=True)
    loop.start()
    try:
        slot = ku.UpdateSlot(kiosk.state_dir, "catalog")
        deadline = time.monotonic() + 20
        while slot.version("staged") != view.version and time.monotonic() < deadline:
            time.sleep(0.05)
        assert slot.version("staged") == view.version
    finally:
        stop.set()
        loop.join(10)


def test_update_endpoints_are_for_enrolled_terminals_of_that_site(server, kiosk, tmp_path):
    view = server.services.publisher.publish_catalog(catalog_copy(tmp_path, "B"), kiosk.site)
    anonymous = httpx.get(f"{server.base_url}/api/v1/updates")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "backoffice.auth.missing_headers"
    other_token = server.services.fleet.create_token("UPD-OTHER", "another-site")
    from kiosk.link.enrolment import enrol
    from kiosk.link.uploader import uploader_from_settings
    enrol(server.base_url, other_token, "UPD-OTHER", tmp_path / "other" / "keys")
    other = uploader_from_settings(tmp_path / "other", server.base_url, "UPD-OTHER",
                                   site_id="another-site")
    try:
        assert other.get("/api/v1/updates").json()["updates"]["catalog"] is None
        response = other.get(f"/api/v1/updates/catalog/{view.version}")
        assert response.status_code == 404
    finally:
        other.close()
        other.outbox.close()


def test_kiosk_updates_check_and_status_for_a_technician(server, kiosk, tmp_path):
    from click.testing import CliRunner

    from kiosk.cli import main as kiosk_main
    site_file = tmp_path / "kiosk.toml"
    site_file.write_text(f'terminal_id = "{kiosk.terminal_id}"\nstate_dir = "{kiosk.state_dir}"\n'
                         f'[site]\nid = "{kiosk.site}"\n[backoffice]\nurl = "{server.base_url}"\n',
                         encoding="utf-8")
    run = ["--config", str(site_file), "updates"]
    assert "catalog      in use packaged" in CliRunner().invoke(kiosk_main, [*run, "status"]).output
    view = server.services.publisher.publish_catalog(catalog_copy(tmp_path, "B"), kiosk.site)
    checked = CliRunner().invoke(kiosk_main, [*run, "check"])
    assert checked.exit_code == 0, checked.output
    assert f"catalog: version {view.version} verified and staged" in checked.output
    assert f"version {view.version} waits for a moment between visits" in checked.output
    server.services.publisher.publish_catalog(catalog_copy(tmp_path, "C"), kiosk.site)
    flip(stored_bundle(server, "catalog", view.version + 1), 700)
    refused = CliRunner().invoke(kiosk_main, [*run, "check"])
    assert refused.exit_code == 1
    assert f"version {view.version + 1} refused: update.bundle_hash_mismatch" in refused.output
    status = json.loads(CliRunner().invoke(kiosk_main, [*run, "status", "--json"]).output)
    assert status["catalog"]["staged"] == view.version and status["catalog"]["version"] is None


def test_applying_waits_for_a_progress_query_to_end_too(packaged, tmp_path):
    session = session_over(load_catalog(packaged), tmp_path)
    ran = []
    try:
        session.send(I.StartProgress())
        deadline = time.monotonic() + 5
        while (session.snapshot is None or session.snapshot.screen == "attract") \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        assert session.snapshot.screen == "progress"
        session.when_idle(ran.append)
        time.sleep(0.5)
        assert ran == []                      # a citizen is looking up a case
        session.send(I.Cancel())
        deadline = time.monotonic() + 10
        while not ran and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ran == [session]
    finally:
        session.stop()
