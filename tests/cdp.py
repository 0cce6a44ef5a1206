"""A headless Chromium driven over the DevTools protocol, with the standard library only.

Chromium is started with ``--remote-debugging-pipe``: it reads JSON commands on file descriptor 3
and writes JSON replies and events on descriptor 4, each message ending in a NUL byte. No port is
opened and no WebSocket client is needed. The page's own activity is observed from inside the
browser: every request it makes (``Network.requestWillBeSent``), every console message and
uncaught exception (``Runtime``), and the browser's own error log (``Log``: failed loads, blocked
content, CSP and mixed-content errors). That is sturdier than scraping ``--enable-logging``
output, whose format changes between releases.

Usage as a script (e.g. for the README's screenshot)::

    python tests/cdp.py out/demo/report.html docs/report.png --width 1280 --height 1600 [--anchor ID]
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe"]


def find_chromium() -> str | None:
    """Path of Debian's ``chromium`` (or another Chromium/Chrome on PATH), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _high(fd: int) -> int:
    import fcntl

    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return new


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, binary: str, *, width: int = 1280, height: int = 900, timeout: float = 60.0) -> None:
        self.binary, self.width, self.height, self.timeout = binary, width, height, timeout
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._buffer = b""

    def __enter__(self) -> Chromium:
        self._profile = tempfile.TemporaryDirectory(prefix="trainfree-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()
        # The shell puts the two pipe ends on the descriptors Chromium expects (3: commands in, 4: replies out);
        # they are first moved above 9 so that neither can be one of 3 and 4 already.
        cmd_r, res_w = _high(cmd_r), _high(res_w)
        script = f'exec "$0" "$@" 3<&{cmd_r} 4>&{res_w} {cmd_r}<&- {res_w}>&-'
        self._proc = subprocess.Popen(
            ["bash", "-c", script, self.binary, *FLAGS, f"--user-data-dir={self._profile.name}",
             f"--window-size={self.width},{self.height}", "about:blank"],
            pass_fds=(cmd_r, res_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(cmd_r)
        os.close(res_w)
        target = next(t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self._session = self.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable", session=True)
        self.send("Emulation.setDeviceMetricsOverride", session=True, width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._cmd_w)
        os.close(self._res_r)
        self._profile.cleanup()

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._res_r, 1 << 16)
            if not chunk:
                err = self._proc.stderr.read().decode(errors="replace")[-2000:] if self._proc.stderr else ""
                raise RuntimeError(f"Chromium closed the DevTools pipe (exit {self._proc.poll()}): {err}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept in ``events``."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self._session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        """Wait for the next event ``method`` (it may have arrived already)."""
        deadline = time.monotonic() + self.timeout
        seen = len(self.events)
        for e in self.events[:seen]:
            if e["method"] == method:
                return e
        while True:
            e = self._read_message(deadline)
            if "method" in e:
                self.events.append(e)
                if e["method"] == method:
                    return e

    def open(self, path: Path) -> None:
        """Load a local file and wait until it and everything it embeds have loaded."""
        self.send("Page.navigate", session=True, url=Path(path).resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        res = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, *, full_page: bool = False) -> bytes:
        """The viewport (or the whole page) as PNG bytes."""
        if full_page:
            h = int(self.evaluate("document.documentElement.scrollHeight"))
            self.send("Emulation.setDeviceMetricsOverride", session=True, width=self.width, height=h,
                      deviceScaleFactor=1, mobile=False)
        data = self.send("Page.captureScreenshot", session=True, format="png")["data"]
        return base64.b64decode(data)

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and the browser's own error log entries."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{p['type']}: " + " ".join(str(a.get("value", a.get("description")))
                                                              for a in p.get("args", [])))
            elif e["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(f"log {p['entry']['source']}: {p['entry']['text']} {p['entry'].get('url', '')}")
            elif e["method"] == "Network.loadingFailed":
                out.append(f"failed load: {p.get('errorText')}")
        return out


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Screenshot a local HTML file with headless Chromium.")
    ap.add_argument("page")
    ap.add_argument("png")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1600)
    ap.add_argument("--anchor", default=None, help="id of the element to scroll to the top first")
    args = ap.parse_args()
    binary = find_chromium()
    if binary is None:
        sys.exit("chromium is not installed: apt-get install -y chromium")
    with Chromium(binary, width=args.width, height=args.height) as browser:
        browser.open(Path(args.page))
        if args.anchor:
            browser.evaluate(f"document.getElementById({json.dumps(args.anchor)}).scrollIntoView()")
        Path(args.png).write_bytes(browser.screenshot())
        for line in browser.errors():
            print(line, file=sys.stderr)
    print(args.png)


if __name__ == "__main__":
    main()
