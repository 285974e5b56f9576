"""Screenshots of every workbench page for the docs (``make screenshots``, after ``make demo``).

Serves the lake with ``enteronce serve`` on a free local port, issues two short-lived tokens
(a district data officer and a community caseworker; revoked at the end), and drives Debian's
headless Chromium through Playwright over the pages, writing ``docs/screenshots/<page>.png``.
Needs fonts-noto-cjk for Chinese text (``bash scripts/debian-packages.sh --fonts``).
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from urllib.parse import quote

import polars as pl
from playwright.sync_api import sync_playwright

from api.server import start
from api.tokens import issue_token, revoke_token
from warehouse.storage import Warehouse

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default=os.environ.get("ENTERONCE_WAREHOUSE", "data/warehouse"))
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--chromium", default=os.environ.get("ENTERONCE_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    wh = Warehouse(args.warehouse)
    persons = wh.read("gold", "curated", "persons").filter(pl.col("community_code").is_not_null())
    if persons.height == 0:
        raise SystemExit(f"no curated persons in {args.warehouse}: run `make demo` first")
    community = persons.group_by("community_code").len().sort("len", "community_code", descending=True)["community_code"][0]
    building = persons.filter(pl.col("community_code") == community).group_by("building_id").len().sort("len", "building_id", descending=True)["building_id"][0]
    officer_id, officer = issue_token(wh, "district", community[:6], "officer", days=1, label="截图·数据专员")
    caseworker_id, caseworker = issue_token(wh, "community", community, "caseworker", days=1, label="截图·社工")
    port = _free_port()
    server = start(args.warehouse, "--refresh", "0", "--auth-refresh", "0", port=port)
    base = f"http://127.0.0.1:{port}"
    args.out.mkdir(parents=True, exist_ok=True)
    pages = {
        "cockpit_district": f"/wb/cockpit/{community[:6]}", "cockpit_street": f"/wb/cockpit/{community[:9]}",
        "cockpit_community": f"/wb/cockpit/{community}", "building": f"/wb/building/{quote(building, safe='/')}",
        "quality": "/wb/quality", "review_addresses": "/wb/review/addresses", "review_persons": "/wb/review/persons",
        "decisions": "/wb/review/decisions",
    }
    try:
        with sync_playwright() as play:
            browser = play.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
            page.goto(f"{base}/wb/login")
            page.screenshot(path=str(args.out / "login.png"))
            for who, token, shots in (("officer", officer, pages), ("caseworker", caseworker, {"community_caseworker": f"/wb/cockpit/{community}"})):
                page.context.clear_cookies()
                page.goto(f"{base}/wb/login")
                page.fill("input[name=token]", token)
                page.click("button[type=submit]")
                page.wait_for_load_state()
                for name, path in shots.items():
                    page.goto(base + path)
                    page.screenshot(path=str(args.out / f"{name}.png"))  # the first screen: what an official sees on opening
                    print(f"{who:10} {path} → {args.out / (name + '.png')}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        for token_id in (officer_id, caseworker_id):
            revoke_token(wh, token_id)


if __name__ == "__main__":
    main()
