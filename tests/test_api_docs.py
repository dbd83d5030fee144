"""Every service's API documentation renders offline: Swagger UI and ReDoc load their scripts, styles and
icon from the service itself (no CDN, no font service), and those assets are served."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from shared.auth import generate_dev_keys
from tests.test_authz_matrix import services

pytestmark = pytest.mark.integration
ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_every_service_serves_its_api_docs_with_local_assets(tmp_path: Path, page: str) -> None:
    _, public = generate_dev_keys(tmp_path / "keys")
    apps = services(tmp_path, public)
    assert len(apps) >= 6
    for name, app in apps.items():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=f"http://{name}") as c:
            r = await c.get(page)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), name
            found = ASSET.findall(r.text)
            assert len(found) >= 2, (name, page, found)
            assert "http" not in r.text.replace("http-equiv", ""), f"{name}{page} names another origin"
            # relative, so the page works behind the ingress's /api/<service>/ prefix as well as at /
            assert "'./openapi.json'" in r.text or '"./openapi.json"' in r.text, (name, page)
            for url in found:
                assert url.startswith("./docs-assets/"), (name, page, url)
                asset = await c.get(urljoin(page, url))
                assert asset.status_code == 200 and len(asset.content) > 1000, (name, url)
            assert (await c.get("/openapi.json")).json()["info"]["title"].startswith("Peerline")
