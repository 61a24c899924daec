"""`scripts/screenshots`: run the demo, then capture the console's alert queue, site
board and an alert's detail into docs/ (PNG), in headless Chromium.

Run by hand when the console's look changes; tests never write these files.
"""

import argparse
import asyncio
import contextlib
import re
import signal
import sys
import tempfile
from pathlib import Path
from typing import Final

from playwright.async_api import Page, ViewportSize, async_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

_URL: Final = re.compile(r"operator console: (http://\S+?)/\s")
_TOKEN: Final = re.compile(r"operator token \([a-z0-9_-]+\): (sw_\S+)")
_ALERTED: Final = "panic press"
_VIEWPORT: Final = ViewportSize(width=1280, height=760)


async def _demo_output(process: asyncio.subprocess.Process, within_s: float) -> tuple[str, str]:
    """Read the demo's output until the console URL, token and first alert are there."""
    assert process.stdout is not None
    url = token = None
    async with asyncio.timeout(within_s):
        while True:
            line = (await process.stdout.readline()).decode(errors="replace")
            if not line:
                message = "the demo stopped before its panic press alerted"
                raise RuntimeError(message)
            sys.stderr.write(line)
            if found := _URL.search(line):
                url = found.group(1)
            if found := _TOKEN.search(line):
                token = found.group(1)
            if _ALERTED in line and url and token:
                return url, token


async def _drain(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    while await process.stdout.readline():
        pass


async def _capture(url: str, token: str, out: Path) -> list[Path]:
    written = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True
        )
        context = await browser.new_context(viewport=_VIEWPORT, timezone_id="Asia/Shanghai")
        page: Page = await context.new_page()
        await page.goto(url + "/login")
        await page.fill("#token", token)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#queue tbody tr")
        await page.wait_for_timeout(500)
        written.append(out / "console-queue.png")
        await page.screenshot(path=written[-1])
        alert = await page.locator("#queue tbody tr").first.get_attribute("data-alert")
        await page.click("#queue tbody tr button.ack")
        await page.fill("#note-text", "值班员已联系药店店主。保安正在赶往现场")
        await page.click("#note-submit")
        await page.wait_for_selector("#queue tbody tr[data-state=acknowledged]")
        await page.goto(f"{url}/alerts/{alert}")
        await page.wait_for_selector("#a-audit tbody tr[data-transition=acknowledged]")
        await page.wait_for_timeout(300)
        written.append(out / "console-alert.png")
        await page.screenshot(path=written[-1], full_page=True)
        await page.goto(url + "/sites")
        await page.wait_for_selector(".tile")
        await page.wait_for_timeout(300)
        written.append(out / "console-sites.png")
        await page.screenshot(path=written[-1])
        await browser.close()
    return written


async def main(out: Path, quiet_s: float) -> None:
    """Run the demo, take the screenshots, stop the demo."""
    with tempfile.TemporaryDirectory(prefix="shouwang-screens-") as state:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "simulators",
            "demo",
            "--state-dir",
            state,
            "--quiet-s",
            str(quiet_s),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            url, token = await _demo_output(process, within_s=180)
            draining = asyncio.create_task(_drain(process))
            for path in await _capture(url, token, out):
                print(f"wrote {path}")
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 20)
            if process.returncode is None:
                process.kill()
                await process.wait()
        draining.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--quiet-s", type=float, default=8.0)
    options = parser.parse_args()
    asyncio.run(main(options.out, options.quiet_s))
