#!/usr/bin/env python3
"""Renders report.html files in headless Chromium and fails on a page error.

    .ci/render_report.py OUT_DIR REPORT.html [REPORT.html ...]

For each report: loads it, collects uncaught exceptions, console errors and failed loads
(the DevTools protocol over --remote-debugging-pipe, so no WebSocket library is needed),
checks every chart (<svg>) has a size on the page, and writes a full-page screenshot to
OUT_DIR/<report's directory name>.png. Exits 1 naming each page and error, 2 on bad usage.
Standard library only.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Chromium:
    """One headless browser, spoken to over the DevTools pipe (fd 3 in, fd 4 out)."""

    def __init__(self, binary):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # The browser reads commands on its fd 3 and writes replies and events on fd 4.
        self.profile = tempfile.mkdtemp(prefix="fleetsim-chromium-")
        args = [
            binary,
            "--headless=new",
            "--remote-debugging-pipe",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={self.profile}",
            "about:blank",
        ]

        def fds():
            # Out of the way first, so neither end is already 3 or 4; dup2 leaves them
            # inheritable, and close_fds=False keeps them across exec.
            r, w = 100, 101
            os.dup2(to_browser_r, r)
            os.dup2(from_browser_w, w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            args,
            preexec_fn=fds,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.next_id = 0
        self.buffer = b""
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                self.log.seek(0)
                tail = self.log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"chromium closed its DevTools pipe; it said:\n{tail}")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=30.0):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, method, session, timeout=60.0):
        deadline = time.monotonic() + timeout
        for m in self.events:
            if m.get("method") == method and m.get("sessionId") == session:
                return
        while True:
            m = self._read_message(deadline)
            self.events.append(m)
            if m.get("method") == method and m.get("sessionId") == session:
                return

    def close(self):
        try:
            self.call("Browser.close", timeout=5.0)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


CHARTS = """(() => {
  const svgs = [...document.querySelectorAll('svg')];
  const empty = svgs.filter(s => { const r = s.getBoundingClientRect();
                                   return r.width < 1 || r.height < 1; }).length;
  return JSON.stringify({charts: svgs.length, empty,
                         height: document.documentElement.scrollHeight,
                         title: document.title});
})()"""


def errors_of(events, session):
    """Page errors among the events of one page: exceptions, console errors, failed loads."""
    out = []
    for m in events:
        if m.get("sessionId") != session:
            continue
        p = m.get("params", {})
        method = m.get("method")
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description") or d.get("text", "")
            out.append(f"uncaught exception: {text}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"console.{p['type']}: {args}")
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            out.append(f"{e.get('source', 'log')} error: {e.get('text', '')} {e.get('url', '')}".strip())
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"failed to load a resource: {p.get('errorText', '')}")
    return out


def render(browser, path, out_dir):
    """Loads one report; returns (its errors, a line describing it)."""
    url = "file://" + os.path.abspath(path)
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.call(f"{domain}.enable", session=session)
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    browser.call("Page.navigate", {"url": url}, session=session)
    browser.wait_for("Page.loadEventFired", session)
    facts = json.loads(
        browser.call("Runtime.evaluate", {"expression": CHARTS, "returnByValue": True}, session=session)[
            "result"
        ]["value"]
    )
    errors = errors_of(browser.events, session)
    if facts["charts"] == 0:
        errors.append("no chart (<svg>) on the page")
    if facts["empty"]:
        errors.append(f"{facts['empty']} of {facts['charts']} charts have no size on the page")
    height = min(int(facts["height"]), 30000)
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session, timeout=120.0)
    name = os.path.basename(os.path.dirname(os.path.abspath(path))) or "report"
    png = os.path.join(out_dir, f"{name}.png")
    with open(png, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    browser.call("Target.closeTarget", {"targetId": target})
    return errors, f"{path}: {facts['charts']} charts, {height} px tall, screenshot {png}"


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out_dir, reports = argv[1], argv[2:]
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        print("render_report: no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    for r in reports:
        if not os.path.isfile(r):
            print(f"render_report: {r}: no such file", file=sys.stderr)
            return 2
    os.makedirs(out_dir, exist_ok=True)
    browser = Chromium(binary)
    failed = 0
    try:
        for r in reports:
            errors, line = render(browser, r, out_dir)
            print(line)
            for e in errors:
                print(f"  page error: {e}", file=sys.stderr)
            failed += bool(errors)
    finally:
        browser.close()
    if failed:
        print(f"render_report: {failed} of {len(reports)} reports have page errors", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
