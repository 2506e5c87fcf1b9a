"""Every public page shares one <head> block (web/partials/head.html, written into the pages by
``npm run heads``) and has what a search engine and a phone need: a language, a title, a meta
description of its own, no script that blocks the first paint."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
PUBLIC_PAGES = ["index.html", "institution.html", "results.html", "credit.html", "dashboard.html", "complaint.html"]
START = "  <!-- common head: web/partials/head.html (npm run heads) -->\n"
END = "  <!-- /common head -->\n"


def _head(page: str) -> str:
    html = (WEB / page).read_text(encoding="utf-8")
    return html[html.index("<head>") : html.index("</head>")]


def test_the_pages_list_is_the_generators() -> None:
    # web/heads.mjs writes the block into these pages; a page added there is checked here too
    assert f"PUBLIC_PAGES = {PUBLIC_PAGES!r}".replace("'", '"') in (WEB / "heads.mjs").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PUBLIC_PAGES)
def test_page_has_the_common_head(page: str) -> None:
    head = _head(page)
    partial = (WEB / "partials" / "head.html").read_text(encoding="utf-8")
    assert START in head, f"{page}: no common head markers"
    assert END in head, f"{page}: no common head markers"
    block = head[head.index(START) + len(START) : head.index(END)]
    assert block == partial, f"{page}: its common head is not web/partials/head.html (cd web && npm run heads)"


@pytest.mark.parametrize("page", PUBLIC_PAGES)
def test_page_is_described_and_nothing_blocks_its_first_paint(page: str) -> None:
    html = (WEB / page).read_text(encoding="utf-8")
    head = _head(page)
    assert '<html lang="zh-CN">' in html
    assert re.search(r"<title>[^<]{4,}</title>", head)
    description = re.search(r'<meta name="description" content="([^"]+)">', head)
    assert description, f"{page}: no meta description"
    assert len(description.group(1)) >= 30, f"{page}: its meta description says too little"
    for script in re.findall(r"<script[^>]*>", html):
        assert "defer" in script or 'type="module"' in script or "async" in script, f"{page}: {script} blocks parsing"


def test_descriptions_differ() -> None:
    descriptions = [re.findall(r'<meta name="description" content="([^"]+)">', _head(p)) for p in PUBLIC_PAGES]
    assert all(len(d) == 1 for d in descriptions)
    assert len({d[0] for d in descriptions}) == len(PUBLIC_PAGES)


@pytest.mark.parametrize("page", PUBLIC_PAGES)
def test_libraries_are_named_with_their_current_fingerprint(page: str) -> None:
    # the platform lets a browser keep vendor/x.js?v=<fingerprint> for a year (shared/app.py), so the
    # fingerprint must be the built file's (cd web && npm run vendor renews them)
    for file, fingerprint in re.findall(r'(?:src|href)="(vendor/[^"?]+)\?v=([0-9a-f]+)"', _head(page)):
        assert (WEB / file).exists(), f"{page}: {file} is not built (cd web && npm ci && npm run vendor)"
        assert fingerprint == hashlib.sha256((WEB / file).read_bytes()).hexdigest()[:12], f"{page}: {file}"
    assert not re.search(r'(?:src|href)="vendor/[^"?]+"', _head(page)), f"{page}: a library without fingerprint"


@pytest.mark.parametrize("page", ["results.html", "credit.html"])
def test_district_lists_are_the_citys_eleven(page: str) -> None:
    # the pages list the districts themselves rather than download the directory to find them
    with (WEB.parent / "shared" / "reference_data" / "gz_districts.csv").open(encoding="utf-8") as file:
        city = sorted((row["district_code"], row["district_name"]) for row in csv.DictReader(file))
    select = re.search(r'<select id="district"[^>]*>(.*?)</select>', (WEB / page).read_text(encoding="utf-8"), re.S)
    assert select, page
    options = re.findall(r'<option value="(\d+)">([^<]+)</option>', select.group(1))
    assert options == city
    assert len(options) == 11
