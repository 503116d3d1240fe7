#!/usr/bin/env python
"""Render pages of the built offline docs in headless Chromium and report what a reader would see.

    python tools/html_docs.py --out _html
    python tools/check_pages.py _html --shots _shots                 # index + 4 notebook pages (maths, images, code)
    python tools/check_pages.py _html --shots _shots --pages index.html sampling.html

Chromium (Debian: `apt-get install -y chromium`) is driven over the Chrome DevTools Protocol with the
`websocket-client` package (installed with jupyter_server, a dev dependency). For every page it reports:
console errors (console.error, uncaught exceptions, browser log errors such as CSP violations or failed
loads), images that did not load (naturalWidth 0), the number of <math> elements and how many Chromium laid
out (MathML rendered, non-zero size), TeX left as text outside code (`$...$`, `\\frac`, ...), and, on the first
page, whether the search box returns results. A screenshot of each page goes to --shots.
Exit status: 0 all pages pass; 1 a page fails; 2 Chromium could not be started.
"""
from __future__ import annotations
import argparse, base64, json, os, shutil, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

PAGES = ['index.html', 'unidiffuser_theory.html', 'sampling.html', 'pipeline.html', 'uvit.html']
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--hide-scrollbars', '--remote-debugging-port=0', '--window-size=1280,1000']
PROBE = r"""(() => {
  const imgs = [...document.images], maths = [...document.querySelectorAll('math')];
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT,
    {acceptNode: n => n.parentElement.closest('code, pre, script, style, math, .highlight') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  const tex = [];
  while (walker.nextNode()) {
    const m = walker.currentNode.textContent.match(/\$[^$\s][^$]*\$|\\(frac|mathbb|mathcal|epsilon|alpha|sum|text|begin)\b/);
    if (m) tex.push(m[0].slice(0, 60));
  }
  return {images: imgs.length, broken_images: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => (i.alt || i.src).slice(0, 80)),
          math: maths.length, math_rendered: maths.filter(m => m instanceof MathMLElement && m.getBoundingClientRect().width > 0).length,
          tex_as_text: tex.slice(0, 5), code_cells: document.querySelectorAll('.jp-CodeCell, .highlight').length,
          title: document.title};
})()"""


class CDP:
    def __init__(self, ws_url):
        import websocket
        self.ws, self.n, self.events = websocket.create_connection(ws_url, timeout=60, suppress_origin=True), 0, []
    def send(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({'id': self.n, 'method': method, 'params': params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('id') == self.n:
                if 'error' in msg: raise RuntimeError(f'{method}: {msg["error"]}')
                return msg.get('result', {})
            self.events.append(msg)
    def wait(self, method, timeout=60):
        t0 = time.time()
        while time.time() - t0 < timeout:
            for i, e in enumerate(self.events):
                if e.get('method') == method: return self.events.pop(i)
            self.ws.settimeout(max(0.1, timeout - (time.time() - t0)))
            try: self.events.append(json.loads(self.ws.recv()))
            except Exception: break
        raise TimeoutError(method)
    def eval(self, expr):
        r = self.send('Runtime.evaluate', expression=expr, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in r: raise RuntimeError(str(r['exceptionDetails'])[:300])
        return r['result'].get('value')


def errors_in(events) -> list:
    errs = []
    for e in events:
        m, p = e.get('method'), e.get('params', {})
        if m == 'Runtime.exceptionThrown': errs.append('exception: ' + p['exceptionDetails'].get('exception', {}).get('description', p['exceptionDetails'].get('text', ''))[:200])
        elif m == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
            errs.append('console.error: ' + ' '.join(str(a.get('value', a.get('description', ''))) for a in p.get('args', []))[:200])
        elif m == 'Log.entryAdded' and p['entry'].get('level') == 'error':
            errs.append(f'{p["entry"].get("source")}: {p["entry"].get("text", "")[:200]} {p["entry"].get("url", "")[:100]}')
    return errs


def check(site: Path, pages: list, shots: Path, chromium: str) -> int:
    shots.mkdir(parents=True, exist_ok=True)
    prof = tempfile.mkdtemp(prefix='check_pages_')
    proc = subprocess.Popen([chromium, *FLAGS, f'--user-data-dir={prof}', 'about:blank'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = Path(prof) / 'DevToolsActivePort'
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip(): break
            time.sleep(0.1)
        else: print('ERROR: Chromium did not start (no DevToolsActivePort)', file=sys.stderr); return 2
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list'))
        cdp = CDP(next(t for t in targets if t['type'] == 'page')['webSocketDebuggerUrl'])
        for d in ('Page', 'Runtime', 'Log'): cdp.send(f'{d}.enable')
        cdp.send('Emulation.setDeviceMetricsOverride', width=1280, height=1000, deviceScaleFactor=1, mobile=False)
        results, failed = {}, 0
        for i, page in enumerate(pages):
            f = (site / page).resolve()
            if not f.exists(): print(f'FAIL {page}: not in {site}'); failed += 1; continue
            cdp.events.clear()
            cdp.send('Page.navigate', url=f.as_uri())
            cdp.wait('Page.loadEventFired')
            time.sleep(0.5)
            r = cdp.eval(PROBE)
            if i == 0:  # the search box: type a query, expect result links
                cdp.eval("(() => { const q = document.getElementById('od-q'); q.value = 'guidance'; q.dispatchEvent(new Event('input')); })()")
                time.sleep(1.0)
                r['search_results'] = cdp.eval("document.querySelectorAll('#od-results li a').length")
            png = cdp.send('Page.captureScreenshot', format='png')['data']
            (shots / (page.replace('/', '_').removesuffix('.html') + '.png')).write_bytes(base64.b64decode(png))
            if i == 0: cdp.eval("(() => { const q = document.getElementById('od-q'); q.value = ''; q.dispatchEvent(new Event('input')); })()")
            time.sleep(0.2)
            r['console_errors'] = errors_in(cdp.events)
            bad = [k for k in ('console_errors', 'broken_images', 'tex_as_text') if r[k]]
            if r['math'] != r['math_rendered']: bad.append('math_not_rendered')
            if i == 0 and not r.get('search_results'): bad.append('search')
            results[page] = {**r, 'verdict': 'FAIL: ' + ', '.join(bad) if bad else 'PASS'}
            failed += bool(bad)
            print(f'{"FAIL" if bad else "PASS"} {page}: {len(r["console_errors"])} console error(s); images {r["images"]} '
                  f'({len(r["broken_images"])} not loaded); MathML {r["math_rendered"]}/{r["math"]} rendered; '
                  f'TeX left as text: {len(r["tex_as_text"])}; code blocks {r["code_cells"]}'
                  + (f'; search "guidance": {r["search_results"]} result(s)' if 'search_results' in r else ''))
            for k in ('console_errors', 'broken_images', 'tex_as_text'):
                for x in r[k]: print(f'    {k}: {x}')
        (shots / 'report.json').write_text(json.dumps(results, indent=1))
        print(f'{len(pages) - failed} page(s) passed, {failed} failed; screenshots and report.json in {shots}')
        return 1 if failed else 0
    finally:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill()
        shutil.rmtree(prof, ignore_errors=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('site', type=Path, help='the built site (tools/html_docs.py --out)')
    p.add_argument('--shots', type=Path, required=True, help='folder for the screenshots and report.json')
    p.add_argument('--pages', nargs='+', default=PAGES, help=f'pages relative to the site (default: {" ".join(PAGES)})')
    p.add_argument('--chromium', default=shutil.which('chromium') or shutil.which('chromium-browser') or 'chromium')
    a = p.parse_args(argv)
    return check(a.site, a.pages, a.shots, a.chromium)


if __name__ == '__main__':
    sys.exit(main())
