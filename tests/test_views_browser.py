"""The HTML views open in a headless browser (issue 17): plotly draws the surface with WebGL.

Runs Chromium (Debian's `chromium`; .ci/run installs it where apt-get can) headless on a page
written by :func:`statmech_nn.views.write_views`: the DOM after the page's scripts have run
holds plotly's WebGL scene, its colour bar titled with the loss's unit and the replica menu,
and no "WebGL is not supported" notice; a screenshot shows a surface (many colours where the
scene is), not a blank page. Skipped where no Chromium is installed; test_views.py checks
the same files structurally everywhere.
"""

import shutil
import subprocess

import numpy as np
import pytest
from matplotlib import image
from test_views import plane_slice

from statmech_nn import views

BROWSER = next(
    (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no headless Chromium installed")
# software WebGL (SwiftShader): there is no GPU on CI
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--virtual-time-budget=15000",
]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser")
    paths = [out / f"random.{ext}" for ext in ("html", "vts", "json")]
    views.write_views(plane_slice(), *paths)
    return paths[0]


def chromium(*args: str) -> str:
    done = subprocess.run(
        [BROWSER, *FLAGS, *args], capture_output=True, text=True, timeout=180, check=True
    )
    return done.stdout


def test_the_page_renders_a_webgl_surface_with_its_colour_bar_and_menu(page):
    dom = chromium("--dump-dom", page.as_uri())
    assert 'class="gl-container"' in dom  # plotly's 3-D scene was built ...
    assert "<canvas" in dom  # ... on a WebGL canvas
    assert ">WebGL is not supported" not in dom  # plotly's notice when WebGL fails
    assert ">L (nats)<" in dom  # the colour bar's title, rendered as SVG text
    assert 'class="updatemenu-header"' in dom  # the replica menu


def test_a_screenshot_shows_a_surface_not_a_blank_page(page, tmp_path):
    png = tmp_path / "shot.png"
    chromium("--window-size=900,700", f"--screenshot={png}", page.as_uri())
    pixels = image.imread(png)[150:550, 150:650, :3]  # the middle of the scene
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200, len(colours)  # a shaded colour-mapped surface, not one fill
