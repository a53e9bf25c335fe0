"""Load a page in headless chromium over the DevTools protocol and report what a reader would see:
console errors, exceptions and failed loads, the number of tables, broken images, and each audio element's
duration or media error. Uses tornado's websocket client (installed with dask.distributed)."""
from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-port=0",
         "--autoplay-policy=no-user-gesture-required", "--window-size=1400,2000"]

# Waits for every audio element to load its metadata (or fail), then describes the page.
INSPECT = """
(async () => {
  const audio = [...document.querySelectorAll('audio')];
  await Promise.all(audio.map(a => a.readyState >= 1 || a.error ? null : new Promise(done => {
    a.addEventListener('loadedmetadata', done); a.addEventListener('error', done); a.load();
  })));
  const imgs = [...document.images];
  return JSON.stringify({
    tables: document.querySelectorAll('table').length,
    bold: document.querySelectorAll('td strong').length,
    images: imgs.length,
    broken_images: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
    audio: audio.map(a => ({src: a.getAttribute('src'), duration: a.duration,
                            error: a.error ? a.error.code : null})),
  });
})()
"""


def load_page(chromium: str, url: str, user_data_dir: Path, screenshot: Path | None = None,
              timeout: float = 60, expression: str = INSPECT) -> dict:
    """What ``expression`` (a script returning a JSON string; by default INSPECT) finds on the loaded page."""
    user_data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([chromium, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = _devtools_port(user_data_dir, proc, timeout)
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        return asyncio.run(asyncio.wait_for(_drive(ws_url, url, screenshot, expression), timeout))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _devtools_port(user_data_dir: Path, proc, timeout: float) -> int:
    marker = user_data_dir / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with status {proc.returncode}")
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


async def _drive(ws_url: str, url: str, screenshot: Path | None, expression: str) -> dict:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(ws_url, max_message_size=256 * 2**20)
    counter = 0
    errors: list[str] = []
    events: list[dict] = []

    async def call(method: str, **params) -> dict:
        nonlocal counter
        counter += 1
        ws.write_message(json.dumps({"id": counter, "method": method, "params": params}))
        while True:
            message = json.loads(await ws.read_message())
            if message.get("id") == counter:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            events.append(message)

    for domain in ("Page", "Runtime", "Log"):
        await call(f"{domain}.enable")
    await call("Page.navigate", url=url)
    while not any(e.get("method") == "Page.loadEventFired" for e in events):
        events.append(json.loads(await ws.read_message()))
    result = await call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
    dom = json.loads(result["result"]["value"])
    if screenshot is not None:
        import base64

        shot = await call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
    ws.close()
    return {"errors": errors, "dom": dom}
