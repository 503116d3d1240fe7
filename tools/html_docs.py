#!/usr/bin/env python
"""Build offline, self-contained HTML docs for this nbdev project, without Quarto.

Usage (from anywhere inside the repository, after `pip install -e ".[dev]"` and `nbdev-export`):

    python tools/html_docs.py --out _html                 # every notebook under nbs/
    python tools/html_docs.py --out _html --only '1*'     # only notebooks whose file name matches a glob
    python tools/html_docs.py --out _html --workers 1     # process notebooks one at a time
    python tools/html_docs.py --out _html --no-param-tables  # show_doc exactly as nbdev 3 / Quarto (no tables)

Then open `_html/index.html` in a browser. Every page is a single standalone .html file. The --out
folder is deleted and re-created on every run (also with --only); the tool refuses a folder it did not
write itself (no `.html_docs` marker) and anything containing the project, nbs/ or tools/.

What it does, in order:

1. **nbdev's own notebook processing.** Notebooks are found with nbdev's `nbglob` (the same rules
   as `nbdev-docs`: recursive, files and folders starting with `_` or `.` skipped). Each one is run
   through `nbdev.serve_drv.main((src, dst, FilterDefaults))` in its own Python subprocess: this is
   exactly what `nbdev-docs` / `nbdev-proc-nbs` do for every notebook before Quarto renders it
   (`nbdev/quarto.py::_pre_docs` -> `nbdev/serve.py::proc_nbs` -> `serve_drv.main`). So
   `show_doc` entries are added for exported symbols and re-executed (with `IN_TEST=1`),
   `#| hide` / `#| export` cells are removed, `# Export -` headings are dropped, the `# Title` +
   `> summary` cell becomes frontmatter, and backticked symbols become doc links. (nbdev 3.3.26's
   `show_doc` renders the signature with the docments as `# comments` plus the docstring, not a
   table. By default this tool also appends fastcore's `DocmentTbl` parameter table (Type /
   Default / Details, as nbdev 2 did) to every `show_doc`; `--no-param-tables` turns that off.) Unlike
   `nbdev-docs` it does NOT rewrite `nbs/nbdev.yml`, `nbs/sidebar.yml` or `<lib>/_modidx.py`:
   run `nbdev-export` first so `_modidx.py` (used for the doc links) is current.
   If processing a notebook fails, its path and error are printed and the exit status is 1
   (all other notebooks are still built).
2. **Quarto cell options** that nbdev leaves for Quarto are honoured: `#| include: false`
   (cell dropped), `#| echo: false` (code hidden), `#| output: false` (outputs dropped),
   `#| output: asis` (text output rendered as markdown), `#| code-fold: true|show` (+
   `#| code-summary`). The `#| ...` lines themselves are not shown.
3. **nbconvert** (`HTMLExporter`, `lab` template) converts each processed notebook into one HTML
   page: figures are embedded as data URIs, local images referenced from markdown are embedded
   too, no input/output prompts. The page name follows nbdev (`nbdev.config.nbpath2html`): the
   numeric prefix is stripped and the name lower-cased, so `10_diffusion_basics.ipynb` becomes
   `diffusion_basics.html`, matching the URLs in `_modidx.py` and on the Quarto site.
4. **LaTeX to MathML, server side**, with `latex2mathml`: `$...$`, `$$...$$`, `\\begin{env}...`
   in markdown cells, markdown outputs (e.g. `show_doc` docstrings) and `text/latex` outputs.
   Browsers render MathML natively, so no MathJax/KaTeX is needed. `\\tag{n}` is shown as a
   right-aligned equation number; environments are not auto-numbered (write `\\tag`); `\\label`
   is dropped. `mathvariant` (e.g. from `\\mathcal N`), which Chromium's MathML Core ignores, is
   mapped to Unicode math letters. Unknown commands are reported as warnings with the page name.
5. **Navigation and links.** A sidebar is built from `nbs/sidebar.yml` (Quarto's
   `website: sidebar: contents:` format: paths, `section:`/`contents:`, `href:`/`text:`,
   `auto:` globs). Links to `.ipynb`/`.qmd`/`.md` files become links to their pages, and absolute
   links into the project's own doc site (nbdev's symbol links) become relative links.
   Quarto-only markdown (`[text](url){attrs}`, `[text]{.class}`, `::: {.callout-note}` fenced
   divs, `{#id}` heading attributes) is converted or stripped. Heading ids follow pandoc/Quarto
   (lower case), so `utils.html#add_noise` style anchors work.
6. **No external URLs.** nbconvert's require.js, MathJax, mermaid and widget `<script>` tags are
   never emitted and each page carries a Content-Security-Policy that blocks network loads.
   Every page is then checked: any `src=`/`href=`/`url()` that loads something from http(s)
   (anything but a plain `<a href>` hyperlink) is an error (exit status 1).

Exit status: 0 success; 1 a notebook failed or a page references an external resource; 2 bad usage.
Warnings (a sidebar entry without a notebook, a page missing from the sidebar, a broken link,
LaTeX that latex2mathml does not know) are printed but do not change the exit status.
"""
from __future__ import annotations

import argparse
import base64
import fnmatch
import html
import mimetypes
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# --------------------------------------------------------------------------------------------
# 1. nbdev processing (one subprocess per notebook, like nbdev's own `proc_nbs` workers)
# --------------------------------------------------------------------------------------------

def _add_param_tables():
    "Default (`--no-param-tables` disables): append fastcore's `DocmentTbl` (the nbdev 2 style table) to `show_doc`."
    from fastcore.docments import DocmentTbl
    from nbdev import showdoc
    orig = showdoc.BasicMarkdownRenderer._repr_markdown_
    def _repr_markdown_(self):
        try: tbl = DocmentTbl(self.sym)._repr_markdown_()
        except Exception: tbl = ''
        return orig(self) + (f'\n\n{tbl}' if tbl else '')
    showdoc.BasicMarkdownRenderer._repr_markdown_ = _repr_markdown_


def _proc_one(src: str, dst: str) -> int:
    "Child process: run nbdev's docs processors (`FilterDefaults`) on `src`, write to `dst`."
    from nbdev.config import get_config
    from nbdev.processors import FilterDefaults
    import nbdev.serve_drv
    if os.environ.get('HTML_DOCS_PARAM_TABLES'): _add_param_tables()
    os.chdir(get_config().config_path)  # `_pre_docs` anchors the cwd at the project root too
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    try:
        nbdev.serve_drv.main((Path(src), Path(dst), FilterDefaults))
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _err_summary(stderr: str, n: int = 25) -> str:
    "The useful tail of a child's traceback (nbdev's message names the failing cell)."
    lines = [l for l in stderr.rstrip().splitlines() if l.strip()]
    start = max((i for i, l in enumerate(lines) if l.startswith('Exception: Error')), default=None)
    lines = lines[start:] if start is not None else lines[-n:]
    return '\n'.join('    ' + l for l in lines[:n])


def process_notebooks(nbs, nbs_path: Path, proc_dir: Path, workers: int, timeout: int):
    "Process every notebook; return {src: processed path} and a list of (src, error) failures."
    def run(src):
        dst = proc_dir / src.relative_to(nbs_path)
        cmd = [sys.executable, os.path.abspath(__file__), '--_proc-one', str(src), str(dst)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return src, None, f'    timed out after {timeout} s'
        if r.returncode != 0 or not dst.exists():
            return src, None, _err_summary(r.stderr or r.stdout or f'exit status {r.returncode}')
        return src, dst, None
    ok, failed = {}, []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        for src, dst, err in ex.map(run, nbs):
            rel = src.relative_to(nbs_path.parent) if nbs_path.parent in src.parents else src
            if err is None:
                ok[src] = dst
                print(f'  processed {rel}')
            else:
                failed.append((src, err))
                print(f'ERROR: nbdev processing failed for {rel}:\n{err}', file=sys.stderr)
    return ok, failed

# --------------------------------------------------------------------------------------------
# 2. Quarto cell options left in the processed notebook
# --------------------------------------------------------------------------------------------

_re_qopt = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')


def _split_options(src: str):
    "Leading `#| key: value` lines of a code cell -> (options dict, remaining source)."
    opts, lines = {}, src.splitlines()
    i = 0
    while i < len(lines):
        m = _re_qopt.match(lines[i])
        if not m:
            if lines[i].strip().startswith('#|'): i += 1; continue  # a flag-style directive: drop it
            break
        opts[m.group(1).lower()] = m.group(2).strip().strip('"\'')
        i += 1
    return opts, '\n'.join(lines[i:])


def _false(v): return str(v).lower() in ('false', 'no', '0')
def _true(v): return str(v).lower() in ('true', 'yes', '1')


_CELL_KEYS = {'code': ('cell_type', 'execution_count', 'id', 'metadata', 'outputs', 'source'),
              'markdown': ('cell_type', 'id', 'metadata', 'source', 'attachments'),
              'raw': ('cell_type', 'id', 'metadata', 'source', 'attachments')}


def apply_quarto_options(nb):
    "Honour the Quarto cell options nbdev leaves behind (echo, include, output, code-fold)."
    from nbformat import NotebookNode
    cells = []
    for cell in nb.cells:
        if cell.cell_type == 'code':
            opts, cell.source = _split_options(cell.source)
            if _false(opts.get('include', 'true')): continue
            if _false(opts.get('echo', 'true')) or not cell.source.strip():
                cell.metadata.setdefault('transient', {})['remove_source'] = True
            out = opts.get('output', 'true').lower()
            if _false(out): cell.outputs = []
            elif out == 'asis':
                new = []
                for o in cell.get('outputs', []):
                    if o.output_type == 'stream' and o.get('name') == 'stdout':
                        o = NotebookNode(output_type='display_data', metadata={}, data={'text/markdown': o.text})
                    elif o.output_type in ('execute_result', 'display_data') and 'text/markdown' not in o.data \
                            and 'text/html' not in o.data and 'text/plain' in o.data:
                        o.data['text/markdown'] = o.data.pop('text/plain')
                    new.append(o)
                cell.outputs = new
            fold = opts.get('code-fold')
            if fold and not _false(fold):
                cell.metadata['od_fold'] = 'show' if fold.lower() == 'show' else 'closed'
                cell.metadata['od_fold_summary'] = opts.get('code-summary', 'Code')
            if cell.metadata.get('transient', {}).get('remove_source') and not cell.get('outputs'): continue
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop('widgets', None)  # widget state would make nbconvert load a CDN renderer
    for cell in nb.cells:  # nbdev leaves private keys (e.g. `has_sd`) that fail nbformat validation
        for k in [k for k in cell if k not in _CELL_KEYS.get(cell.cell_type, ())]: del cell[k]
        cell.metadata.pop('execution', None)  # execnb stores float timings where nbformat wants strings


def pop_frontmatter(nb) -> dict:
    "Remove the YAML frontmatter raw cell nbdev's FrontmatterProc inserted; return it as a dict."
    import yaml
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'raw' and c.source.lstrip().startswith('---'):
            m = re.match(r'^\s*---\s*\n(.*?)\n---\s*$', c.source.strip() + '\n', re.S)
            if m:
                del nb.cells[i]
                try: return yaml.safe_load(m.group(1)) or {}
                except yaml.YAMLError: return {}
    return {}

# --------------------------------------------------------------------------------------------
# 3. Markdown: Quarto-isms, math -> MathML, heading ids
# --------------------------------------------------------------------------------------------

_re_link_attr = re.compile(r'(!?)\[([^\]\n]*)\]\(([^)\s]+)(?:\s+"([^"]*)")?\)\{([^}\n]*)\}')
_re_span = re.compile(r'(?<![!\]\\])\[([^\]\n]+)\]\{([^}\n]*)\}')
_re_head_attr = re.compile(r'^(\s{0,3}#{1,6}\s.*?)\s*\{[^}\n]*\}\s*$')
_re_div_open = re.compile(r'^\s*:{3,}\s*(?:\{([^}]*)\}|([\w-]+))\s*$')
_re_div_close = re.compile(r'^\s*:{3,}\s*$')
_re_protect = re.compile(r'(`+)(?:.+?)\1|\$\$.*?\$\$|\$[^$\n]+\$')
_CALLOUTS = {'note': 'Note', 'tip': 'Tip', 'warning': 'Warning', 'important': 'Important', 'caution': 'Caution'}


def _parse_attrs(s: str):
    "Pandoc attribute block `#id .cls key=val` -> (id, classes, {key: val})."
    ident, classes, kv = None, [], {}
    for m in re.finditer(r'([\w-]+)=("[^"]*"|\'[^\']*\'|\S+)|#([\w:.-]+)|\.([\w-]+)', s):
        if m.group(1): kv[m.group(1)] = m.group(2).strip('"\'')
        elif m.group(3): ident = m.group(3)
        elif m.group(4): classes.append(m.group(4))
    return ident, classes, kv


def _attr_html(ident, classes, kv):
    a = ''
    if ident: a += f' id="{html.escape(ident)}"'
    if classes: a += f' class="{html.escape(" ".join(classes))}"'
    for k, v in kv.items():
        if re.fullmatch(r'[\w-]+', k): a += f' {k}="{html.escape(v)}"'
    return a


def _inline_compat(text: str) -> str:
    "`[t](u){attrs}` -> <a>/<img> with attributes, `[t]{.cls}` -> <span>; outside code/math."
    def link(m):
        bang, txt, url, title, attrs = m.groups()
        ident, classes, kv = _parse_attrs(attrs)
        if bang:
            style = ';'.join(f'{k}:{v}' for k, v in kv.items() if k in ('width', 'height'))
            kv = {k: v for k, v in kv.items() if k not in ('width', 'height', 'fig-align')}
            if style: kv['style'] = (kv.get('style', '') + ';' + style).strip(';')
            return f'<img src="{html.escape(url)}" alt="{html.escape(txt)}"{_attr_html(ident, classes, kv)}>'
        t = f' title="{html.escape(title)}"' if title else ''
        return f'<a href="{html.escape(url)}"{t}{_attr_html(ident, classes, kv)}>{txt}</a>'
    def span(m):
        ident, classes, kv = _parse_attrs(m.group(2))
        return f'<span{_attr_html(ident, classes, kv)}>{m.group(1)}</span>'
    out, pos = [], 0
    for m in _re_protect.finditer(text):
        seg = text[pos:m.start()]
        out.append(_re_span.sub(span, _re_link_attr.sub(link, seg)))
        out.append(m.group(0))
        pos = m.end()
    seg = text[pos:]
    out.append(_re_span.sub(span, _re_link_attr.sub(link, seg)))
    return ''.join(out)


def quarto_md_compat(md: str) -> str:
    "Convert the Quarto/pandoc markdown extensions nbdev and authors use into plain markdown+HTML."
    lines, out, fence, in_math = md.split('\n'), [], None, False
    for line in lines:
        s = line.strip()
        if fence:
            out.append(line)
            if s.startswith(fence): fence = None
            continue
        m = re.match(r'^\s*(`{3,}|~{3,})', line)
        if m and not in_math:
            fence = m.group(1)
            out.append(line)
            continue
        if line.count('$$') % 2: in_math = not in_math
        if in_math or '$$' in line:
            out.append(line)
            continue
        m = _re_div_open.match(line)
        if m:
            ident, classes, kv = _parse_attrs(m.group(1) or '.' + m.group(2))
            cal = next((c.split('-', 1)[1] for c in classes if c.startswith('callout-')), None)
            if cal: classes = classes + ['od-callout']
            title = kv.pop('title', None) or (_CALLOUTS.get(cal, cal.title()) if cal else None)
            out += ['', f'<div{_attr_html(ident, classes, {})}>', '']
            if title: out += [f'<p class="od-callout-title">{html.escape(title)}</p>', '']
            continue
        if _re_div_close.match(line):
            out += ['', '</div>', '']
            continue
        m = _re_head_attr.match(line)
        if m: line = m.group(1)
        out.append(_inline_compat(line))
    return '\n'.join(out)


class MathWarnings(list):
    "Collects LaTeX problems for the page being rendered."


_MATH_WARN = MathWarnings()
_NUMBERED_ENVS = ('equation', 'align', 'gather', 'multline', 'alignat', 'flalign', 'eqnarray')


# MathML Core (what Chromium implements) ignores `mathvariant` other than "normal": the generator has to
# use the Unicode mathematical alphanumerics instead. latex2mathml does that for braced `\mathcal{N}`
# but emits mathvariant="script" for `\mathcal N`, so map the ASCII letters/digits here.
_MV = {'bold': (0x1D400, 0x1D41A, 0x1D7CE), 'italic': (0x1D434, 0x1D44E, None),
       'bold-italic': (0x1D468, 0x1D482, 0x1D7CE), 'script': (0x1D49C, 0x1D4B6, None),
       'bold-script': (0x1D4D0, 0x1D4EA, 0x1D7CE), 'fraktur': (0x1D504, 0x1D51E, None),
       'double-struck': (0x1D538, 0x1D552, 0x1D7D8), 'bold-fraktur': (0x1D56C, 0x1D586, 0x1D7CE),
       'sans-serif': (0x1D5A0, 0x1D5BA, 0x1D7E2), 'bold-sans-serif': (0x1D5D4, 0x1D5EE, 0x1D7EC),
       'sans-serif-italic': (0x1D608, 0x1D622, 0x1D7E2), 'monospace': (0x1D670, 0x1D68A, 0x1D7F6)}
_MV_HOLES = {'italic': {'h': 0x210E},
             'script': dict(B=0x212C, E=0x2130, F=0x2131, H=0x210B, I=0x2110, L=0x2112, M=0x2133, R=0x211B,
                            e=0x212F, g=0x210A, o=0x2134),
             'fraktur': dict(C=0x212D, H=0x210C, I=0x2111, R=0x211C, Z=0x2128),
             'double-struck': dict(C=0x2102, H=0x210D, N=0x2115, P=0x2119, Q=0x211A, R=0x211D, Z=0x2124)}
_re_mv = re.compile(r'<(mi|mn)((?:\s+[\w-]+="[^"]*")*?)\s+mathvariant="([a-z-]+)"((?:\s+[\w-]+="[^"]*")*)>([^<]*)</\1>')


def _mv_char(c: str, variant: str) -> str | None:
    upper, lower, digit = _MV[variant]
    if c in _MV_HOLES.get(variant, {}): return chr(_MV_HOLES[variant][c])
    if 'A' <= c <= 'Z': return chr(upper + ord(c) - 65)
    if 'a' <= c <= 'z': return chr(lower + ord(c) - 97)
    if '0' <= c <= '9' and digit: return chr(digit + ord(c) - 48)
    return None


def _fix_mathvariant(mml: str) -> str:
    def sub(m):
        tag, pre, variant, post, text = m.groups()
        chars = html.unescape(text)
        if variant in _MV:
            mapped = [_mv_char(c, variant) for c in chars]
            if chars and all(mapped): return f'<{tag}{pre}{post}>{"".join(mapped)}</{tag}>'
        return m.group(0)
    mml = _re_mv.sub(sub, mml)
    # braced \mathrm{d} comes out as an escaped ASCII letter with no mathvariant: keep it upright
    return re.sub(r'<mi>&#x000([46][1-9A-Fa-f]|[57][0-9Aa]);</mi>', r'<mi mathvariant="normal">&#x000\1;</mi>', mml)


def latex_to_mathml(tex: str, display: bool) -> str:
    "LaTeX -> MathML with latex2mathml; `\\tag{}` becomes a right-aligned number."
    from latex2mathml.converter import convert
    tex = re.sub(r'\\label\{[^}]*\}|\\nonumber|\\notag', '', tex)
    tags = re.findall(r'\\tag\*?\{([^}]*)\}', tex)
    if len(tags) == 1: tex = re.sub(r'\\tag\*?\{[^}]*\}', '', tex)
    else: tex = re.sub(r'\\tag\*?\{([^}]*)\}', r'\\qquad\\text{(\1)}', tex)
    # environments: never auto-number (latex2mathml would restart at (1) in every equation)
    tex = re.sub(r'\\(begin|end)\{(%s)\}' % '|'.join(_NUMBERED_ENVS), r'\\\1{\2*}', tex)
    tex = re.sub(r'\\(begin|end)\{equation\*\}', '', tex)
    try:
        mml = convert(tex.strip(), display='block' if display else 'inline')
    except Exception as e:  # keep the source visible rather than failing the page
        _MATH_WARN.append(f'cannot convert LaTeX ({type(e).__name__}: {e}): {tex.strip()[:80]}')
        return f'<code class="od-math-error">{html.escape(tex)}</code>'
    unknown = sorted(set(re.findall(r'<m[io]>(\\[A-Za-z]+)</m[io]>', mml)))
    if unknown: _MATH_WARN.append(f'unknown LaTeX command(s) {", ".join(unknown)} in: {tex.strip()[:80]}')
    mml = _fix_mathvariant(mml.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', ''))  # xmlns implied in HTML
    if display:
        no = f'<span class="od-eqno">({html.escape(tags[0])})</span>' if len(tags) == 1 else ''
        return f'<span class="od-display-math">{mml}{no}</span>'
    return mml


def pandoc_id(text: str) -> str:
    "Pandoc/Quarto auto identifier for a heading (lower case, spaces -> '-')."
    t = re.sub(r'<[^>]+>', '', text)
    t = html.unescape(t).strip().lower()
    t = re.sub(r'[^\w\s.-]', '', t, flags=re.UNICODE)
    t = re.sub(r'\s+', '-', t)
    t = re.sub(r'^[^a-z]+', '', t)
    return t or 'section'


def make_markdown(path: str, attachments: dict):
    "A mistune Markdown instance: nbconvert's math-aware parsers + a MathML/pandoc-id renderer."
    from mistune import HTMLRenderer
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath, MathInlineParser

    class InlineParser(MathInlineParser):
        # pandoc's rule: `$` opens only before a non-space and closes only after one, not before a digit
        SPECIFICATION = {**MathInlineParser.SPECIFICATION,
                         'inline_math_tex': r'(?s:(?<![$\\])\$(?![\s$])(?P<math_inline_tex>.+?)(?<![\s$\\])\$(?![\d$]))'}
        # code spans before math, so `$` inside backticks stays code
        DEFAULT_RULES = ('escape', 'codespan', *[r for r in MathInlineParser.DEFAULT_RULES if r not in ('escape', 'codespan')])

    class Renderer(IPythonRenderer):
        # nbconvert re-serialises every raw HTML fragment with BeautifulSoup when embedding images,
        # which turns an opening `<a ...>` into `<a ...></a>`: only do that for fragments with an <img>
        def inline_html(self, h):
            return self._html_embed_images(h) if '<img' in h.lower() else h
        def block_html(self, h):
            return HTMLRenderer.block_html(self, self._html_embed_images(h) if '<img' in h.lower() else h)
        def block_math(self, body): return latex_to_mathml(body, True)
        def inline_math(self, body): return latex_to_mathml(body, False)
        def latex_environment(self, name, body):
            return latex_to_mathml(f'\\begin{{{name}}}{body}\\end{{{name}}}', True)
        def heading(self, text, level, **attrs):
            hid = pandoc_id(text)
            return f'<h{level} id="{hid}">{text}<a class="anchor-link" href="#{hid}">¶</a></h{level}>\n'

    r = Renderer(escape=False, attachments=attachments, embed_images=True, path=path, anchor_link_text='¶')
    return MarkdownWithMath(renderer=r, inline=InlineParser(hard_wrap=False))


def md2html(source: str, path: str = '', attachments=None) -> str:
    return make_markdown(path, attachments or {}).render(quarto_md_compat(source))

# --------------------------------------------------------------------------------------------
# 4. nbconvert exporter and page template
# --------------------------------------------------------------------------------------------

_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{% block html_head_js %}<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; font-src data:; media-src data:">{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block html_head_css %}<style type="text/css">{{ resources.od_css }}</style>{% endblock html_head_css %}
{% block body_header %}<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
<div class="od-layout">
{{ resources.od_sidebar }}
<main class="od-main">
{{ resources.od_title_block }}
{% endblock body_header %}
{% block body_footer %}
<footer class="od-footer">{{ resources.od_footer }}</footer>
</main>
</div>
</body>
{% endblock body_footer %}
{% block footer_js %}{% endblock footer_js %}
{% block input_group -%}
{%- if cell.metadata.get('od_fold') -%}
<details class="od-fold"{% if cell.metadata.get('od_fold') == 'show' %} open{% endif %}><summary>{{ cell.metadata.get('od_fold_summary', 'Code') | e }}</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock input_group %}
"""

_CSS = r"""
:root { --od-sidebar-w: 270px; }
body.jp-Notebook { margin: 0; padding: 0; font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.od-layout { display: flex; min-height: 100vh; }
.od-sidebar { flex: 0 0 var(--od-sidebar-w); width: var(--od-sidebar-w); box-sizing: border-box; padding: 1.2rem 1rem;
  border-right: 1px solid #e3e3e3; background: #f8f9fa; position: sticky; top: 0; height: 100vh; overflow-y: auto; font-size: 14px; }
.od-sidebar .od-site-title { font-size: 1.25rem; font-weight: 600; margin: 0 0 .3rem 0; }
.od-sidebar .od-site-title a { color: #212529; text-decoration: none; }
.od-sidebar .od-site-desc { color: #6c757d; font-size: 12px; margin-bottom: 1rem; }
.od-sidebar ul { list-style: none; margin: 0; padding-left: 0; }
.od-sidebar ul ul { padding-left: .8rem; }
.od-sidebar li { margin: .15rem 0; }
.od-sidebar a { color: #2c3e50; text-decoration: none; display: block; padding: .15rem .4rem; border-radius: 4px; }
.od-sidebar a:hover { background: #e9ecef; }
.od-sidebar a.od-active { background: #2780e3; color: #fff; }
.od-sidebar .od-section { font-weight: 600; color: #495057; margin-top: .8rem; padding: .15rem .4rem; text-transform: none; }
.od-main { flex: 1 1 auto; min-width: 0; max-width: 1000px; padding: 1.5rem 2.5rem 3rem 2.5rem; box-sizing: border-box; }
.od-title-block h1.title { font-size: 2.2rem; margin: 0 0 .3rem 0; }
.od-title-block .description { font-style: italic; font-size: 1.2rem; opacity: .7; margin-bottom: 1.5rem; }
.od-footer { margin-top: 3rem; color: #6c757d; font-size: 12px; border-top: 1px solid #e3e3e3; padding-top: .5rem; }
.jp-Cell { padding: 0; margin-bottom: .6rem; }
.jp-InputPrompt, .jp-OutputPrompt { display: none; }
.jp-RenderedHTMLCommon h1, .jp-RenderedHTMLCommon h2, .jp-RenderedHTMLCommon h3 { margin-top: 1.4rem; }
.jp-RenderedHTMLCommon a.anchor-link { display: none; margin-left: .3em; text-decoration: none; opacity: .5; }
.jp-RenderedHTMLCommon :is(h1,h2,h3,h4,h5,h6):hover > a.anchor-link { display: inline; }
.jp-RenderedHTMLCommon table { border-collapse: collapse; }
.od-display-math { display: flex; align-items: center; justify-content: center; margin: .8em 0; }
.od-display-math > math { flex: 1 1 auto; overflow-x: auto; overflow-y: hidden; padding: .2em 0; }
mtd[columnalign="left"] { text-align: left; padding-left: 0; }
mtd[columnalign="right"] { text-align: right; padding-right: 0; }
.od-eqno { flex: 0 0 auto; margin-left: 1em; }
math { font-size: 1.1em; }
math [mathvariant^="bold"] { font-weight: bold; }
math mi[mathvariant="bold"], math mi[mathvariant="normal"] { font-style: normal; text-transform: none; }
math [mathvariant="italic"] { font-style: italic; }
.od-math-error { color: #b00; }
details.od-fold > summary { cursor: pointer; color: #6c757d; font-size: 13px; margin: .2rem 0; }
.od-callout { border-left: 4px solid #2780e3; background: #f3f8fd; padding: .4rem 1rem; margin: 1rem 0; border-radius: 4px; }
.od-callout.callout-warning, .od-callout.callout-caution { border-left-color: #ff7518; background: #fff6ef; }
.od-callout.callout-important { border-left-color: #e31a1c; background: #fdf0f0; }
.od-callout.callout-tip { border-left-color: #3fb618; background: #f3fbf0; }
.od-callout-title { font-weight: 600; margin-bottom: .2rem; }
.jp-RenderedMarkdown hr { border: 0; border-top: 1px solid #dee2e6; margin: 1.5rem 0 .8rem 0; }
.jp-RenderedMarkdown pre, .jp-RenderedMarkdown code { font-family: var(--jp-code-font-family, SFMono-Regular, Menlo, Consolas, monospace); }
.jp-RenderedMarkdown .highlight, .jp-RenderedMarkdown > pre { background: #f6f8fa; border-radius: 4px; margin: .6rem 0 1rem 0; }
.jp-RenderedMarkdown .highlight pre, .jp-RenderedMarkdown > pre { padding: .6rem .8rem; margin: 0; font-size: 13px; line-height: 1.45; }
.jp-RenderedHTMLCommon a code { color: #2780e3; }
"""


def _ensure_template_path():
    "In a `--system-site-packages` venv jupyter looks for nbconvert's templates under the venv only."
    import nbconvert
    from jupyter_core.paths import jupyter_path
    if any((Path(d) / 'nbconvert' / 'templates' / 'lab').is_dir() for d in jupyter_path()): return
    site = Path(nbconvert.__file__).resolve().parents[1]  # .../lib/pythonX.Y/site-packages
    cands = [Path(sys.base_prefix) / 'share' / 'jupyter', site.parents[2] / 'share' / 'jupyter', site.parents[1] / 'share' / 'jupyter']
    extra = [str(c) for c in cands if (c / 'nbconvert' / 'templates' / 'lab').is_dir()]
    if extra: os.environ['JUPYTER_PATH'] = os.pathsep.join(extra + [p for p in os.environ.get('JUPYTER_PATH', '').split(os.pathsep) if p])


def make_exporter():
    import jinja2
    from nbconvert import HTMLExporter
    _ensure_template_path()

    class OfflineHTMLExporter(HTMLExporter):
        @jinja2.pass_context
        def markdown2html(self, context, source):
            cell = context.get('cell', {})
            path = context.get('resources', {}).get('metadata', {}).get('path', '')
            return md2html(source, path, cell.get('attachments', {}))

    e = OfflineHTMLExporter(template_name='lab', template_file='offline.html.j2',
                            extra_loaders=[jinja2.DictLoader({'offline.html.j2': _TEMPLATE})])
    e.embed_images = True
    e.exclude_input_prompt = True
    e.exclude_output_prompt = True
    e.sanitize_html = False
    return e


def latex_outputs_to_mathml(nb):
    "`text/latex` outputs (e.g. sympy) get a MathML `text/html` rendering."
    for cell in nb.cells:
        for o in cell.get('outputs', []):
            d = o.get('data', {})
            if 'text/latex' in d and 'text/html' not in d:
                tex = d['text/latex'].strip()
                m = re.fullmatch(r'(?s)\$\$(.*)\$\$|\$(.*)\$|\\\[(.*)\\\]', tex)
                body = next((g for g in m.groups() if g is not None), tex) if m else tex
                d['text/html'] = latex_to_mathml(body, True)

# --------------------------------------------------------------------------------------------
# 5. Sidebar
# --------------------------------------------------------------------------------------------

def _norm(p: str) -> str:
    return posixpath.normpath(p.strip().lstrip('/').removeprefix('./'))


def load_sidebar(nbs_path: Path):
    import yaml
    f = nbs_path / 'sidebar.yml'
    if not f.exists(): return None
    d = yaml.safe_load(f.read_text()) or {}
    sb = (d.get('website') or {}).get('sidebar')
    if isinstance(sb, list): sb = sb[0] if sb else {}
    return (sb or {}).get('contents')


def sidebar_items(contents, nbs_path: Path, pages: dict, warnings: list, used: set):
    "Resolve sidebar.yml contents -> nested list of ('page', src_rel) / ('link', href, text) / ('section', title, items)."
    res = []
    for it in contents or []:
        if isinstance(it, str):
            rel = _norm(it)
            if rel in pages: res.append(('page', rel)); used.add(rel)
            elif rel.endswith(('.ipynb', '.qmd', '.md')): warnings.append(f'sidebar.yml lists {it} but nbs/{rel} does not exist (or failed); entry left out')
            else: res.append(('link', it, it))
        elif isinstance(it, dict) and 'auto' in it:
            pats = it['auto'] if isinstance(it['auto'], list) else [it['auto']]
            for pat in pats:
                pat = _norm(pat)
                for rel in sorted(pages):
                    if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat + '/*'):
                        if rel not in used: res.append(('page', rel)); used.add(rel)
        elif isinstance(it, dict) and ('section' in it or 'contents' in it):
            title = it.get('section') or it.get('text') or ''
            sub = sidebar_items(it.get('contents', []), nbs_path, pages, warnings, used)
            href = it.get('href')
            if href and _norm(href) in pages: used.add(_norm(href)); sub.insert(0, ('page', _norm(href)))
            if sub: res.append(('section', str(title), sub))
        elif isinstance(it, dict) and 'href' in it:
            rel = _norm(it['href'])
            if rel in pages: res.append(('page', rel, it.get('text'))); used.add(rel)
            elif '://' in it['href']: res.append(('link', it['href'], it.get('text') or it['href']))
            else: warnings.append(f'sidebar.yml lists {it["href"]} but nbs/{rel} does not exist (or failed); entry left out')
    return res


def render_sidebar(items, cur_rel: str, pages: dict, titles: dict, site_title: str, site_desc: str) -> str:
    cur_page = pages[cur_rel]
    def href(rel): return posixpath.relpath(pages[rel], posixpath.dirname(cur_page) or '.')
    def ul(items):
        out = ['<ul>']
        for it in items:
            if it[0] == 'page':
                rel = it[1]
                text = (it[2] if len(it) > 2 and it[2] else None) or titles.get(rel) or rel
                cls = ' class="od-active"' if rel == cur_rel else ''
                out.append(f'<li><a href="{html.escape(href(rel))}"{cls}>{html.escape(str(text))}</a></li>')
            elif it[0] == 'link':
                out.append(f'<li><a href="{html.escape(it[1])}">{html.escape(str(it[2]))}</a></li>')
            else:
                out.append(f'<li><div class="od-section">{html.escape(it[1])}</div>{ul(it[2])}</li>')
        out.append('</ul>')
        return ''.join(out)
    home = next((r for r in pages if pages[r] == 'index.html'), None)
    home_href = html.escape(href(home)) if home else '#'
    return (f'<nav class="od-sidebar"><div class="od-site-title"><a href="{home_href}">{html.escape(site_title)}</a></div>'
            f'<div class="od-site-desc">{html.escape(site_desc)}</div>{ul(items)}</nav>')

# --------------------------------------------------------------------------------------------
# 6. Post-processing: links, images, external-resource check
# --------------------------------------------------------------------------------------------

_RESOURCE_ATTRS = {'script': ['src'], 'link': ['href'], 'img': ['src', 'srcset'], 'iframe': ['src'], 'frame': ['src'],
                   'source': ['src', 'srcset'], 'video': ['src', 'poster'], 'audio': ['src'], 'embed': ['src'],
                   'object': ['data'], 'track': ['src'], 'input': ['src'], 'image': ['href', 'xlink:href'],
                   'use': ['href', 'xlink:href'], 'base': ['href'], 'form': ['action'], 'feimage': ['href', 'xlink:href']}
_re_ext = re.compile(r'^\s*(?:https?:)?//', re.I)
_re_css_ext = re.compile(r'''url\(\s*['"]?\s*(?:https?:)?//|@import\s+['"]?\s*(?:url\()?\s*['"]?(?:https?:)?//''', re.I)


def external_resources(page_html: str) -> list:
    "Everything in a page that would load from the network (plain <a href> hyperlinks are fine)."
    import bs4
    soup = bs4.BeautifulSoup(page_html, 'html.parser')
    bad = []
    for tag in soup.find_all(True):
        for attr in _RESOURCE_ATTRS.get(tag.name.lower(), []):
            v = tag.get(attr)
            if v and any(_re_ext.match(p.strip().split(' ')[0]) for p in str(v).split(',')):
                bad.append(f'<{tag.name} {attr}="{str(v)[:100]}">')
        if tag.name == 'meta' and str(tag.get('http-equiv', '')).lower() == 'refresh' and 'http' in str(tag.get('content', '')):
            bad.append(f'<meta http-equiv=refresh content="{tag.get("content")}">')
        st = tag.get('style')
        if st and _re_css_ext.search(st): bad.append(f'style="{st[:100]}"')
        if tag.name == 'style' and _re_css_ext.search(tag.get_text()): bad.append('<style> with url(http...) / @import')
        if tag.name == 'script' and re.search(r'https?://', tag.get_text()): bad.append('<script> whose code contains an http(s) URL')
    return bad


def _data_uri(p: Path) -> str:
    mime = mimetypes.guess_type(p.name)[0] or 'application/octet-stream'
    return f'data:{mime};base64,{base64.b64encode(p.read_bytes()).decode("ascii")}'


def postprocess(page_html: str, src_rel: str, page_rel: str, nbs_path: Path, pages: dict, site_url: str, warnings: list) -> str:
    "Rewrite .ipynb/site links to local pages, embed remaining local images, add pandoc-style ids."
    import bs4
    soup = bs4.BeautifulSoup(page_html, 'html.parser')
    src_dir = posixpath.dirname(src_rel)
    page_dir = posixpath.dirname(page_rel) or '.'
    by_page = {v: k for k, v in pages.items()}
    for a in soup.find_all('a', href=True):
        h = a['href'].strip()
        if site_url and h.startswith(site_url):
            path, _, frag = h[len(site_url):].partition('#')
            path = _norm(path or 'index.html')
            if path.endswith('.md') and path[:-3] in by_page: path = path[:-3]
            if path in by_page:
                a['href'] = posixpath.relpath(path, page_dir) + (f'#{frag}' if frag else '')
            continue
        if re.match(r'^[a-z][\w+.-]*:', h, re.I) or h.startswith(('#', '//')) or not h: continue
        path, _, frag = h.partition('#')
        path = path.split('?')[0]
        if not path.endswith(('.ipynb', '.qmd', '.md')): continue
        target = _norm(posixpath.join(src_dir, path))
        if target in pages: dest = pages[target]
        else:
            from nbdev.config import nbpath2html
            dest = nbpath2html(Path(target)).as_posix()
            warnings.append(f'link to {h} but nbs/{target} is not a built page')
        a['href'] = posixpath.relpath(dest, page_dir) + (f'#{frag}' if frag else '')
    for img in soup.find_all('img', src=True):
        s = img['src'].strip()
        if s.startswith('data:') or re.match(r'^[a-z][\w+.-]*:', s, re.I) or s.startswith('//'): continue
        p = (nbs_path / src_dir / s.split('?')[0]).resolve()
        if p.is_file(): img['src'] = _data_uri(p)
        else: warnings.append(f'image {s} not found (relative to nbs/{src_dir or "."})')
    return str(soup)

# --------------------------------------------------------------------------------------------
# 7. Driver
# --------------------------------------------------------------------------------------------

_MARKER = '.html_docs'


def _unsafe_out(out: Path, root: Path) -> str | None:
    "Refuse to delete anything but an empty folder or one this tool wrote."
    root = root.resolve()
    if out == root or out in root.parents or out == Path(out.anchor): return f'{out} contains the project'
    if out.exists() and not out.is_dir(): return f'{out} is a file'
    if out.exists() and any(out.iterdir()) and not (out / _MARKER).exists():
        return f'{out} is not empty and was not written by this tool (no {_MARKER} file)'
    for p in (root / 'nbs', root / '.git', root / 'tools'):
        if out == p or p in out.parents: return f'{out} is inside {p}'
    return None


def build(out: Path, only: str | None, workers: int, timeout: int) -> int:
    import nbformat
    from nbdev.config import get_config, nbpath2html
    from nbdev.doclinks import nbglob

    cfg = get_config()
    os.chdir(cfg.config_path)
    why = _unsafe_out(out, Path(cfg.config_path))
    if why:
        print(f'ERROR: refusing to use --out {out}: {why}', file=sys.stderr)
        return 2
    nbs_path = Path(cfg.nbs_path).resolve()
    nbs = sorted(nbglob(nbs_path, as_path=True), key=str)
    nbs = [Path(p).resolve() for p in nbs]
    if only: nbs = [p for p in nbs if fnmatch.fnmatch(p.name, only)]
    if not nbs:
        print(f'ERROR: no notebooks found under {nbs_path}', file=sys.stderr)
        return 1
    print(f'Processing {len(nbs)} notebook(s) with nbdev (FilterDefaults), {workers} at a time ...')
    failed_total = []
    with tempfile.TemporaryDirectory(prefix='html_docs_proc_') as tmp:
        done, failed = process_notebooks(nbs, nbs_path, Path(tmp), workers, timeout)
        failed_total += [(s, e) for s, e in failed]

        # Load processed notebooks, frontmatter, page names
        pages, titles, descs, nbs_proc = {}, {}, {}, {}
        for src in nbs:
            if src not in done: continue
            rel = src.relative_to(nbs_path).as_posix()
            nb = nbformat.read(str(done[src]), as_version=4)
            fm = pop_frontmatter(nb)
            page = posixpath.join(posixpath.dirname(rel), fm.get('output-file') or nbpath2html(Path(rel)).name) \
                if posixpath.dirname(rel) else (fm.get('output-file') or nbpath2html(Path(rel)).name)
            pages[rel], titles[rel], descs[rel], nbs_proc[rel] = page, fm.get('title') or Path(rel).stem, fm.get('description', ''), nb

    dups = {p for p in pages.values() if list(pages.values()).count(p) > 1}
    for p in sorted(dups):
        print(f'ERROR: several notebooks map to {p}: ' + ', '.join(r for r, q in pages.items() if q == p), file=sys.stderr)
        failed_total.append((p, 'duplicate page name'))

    warnings = []
    used = set()
    contents = load_sidebar(nbs_path)
    if contents is None:
        items = [('page', r) for r in sorted(pages)]
    else:
        items = sidebar_items(contents, nbs_path, pages, warnings, used)
        for r in sorted(set(pages) - used): warnings.append(f'nbs/{r} is not in sidebar.yml (page built, not in the navigation)')

    site_url = (str(cfg.get('doc_host', '') or '').rstrip('/') + '/' + str(cfg.get('doc_baseurl', '') or '').strip('/')).rstrip('/') + '/'
    if site_url == '/': site_url = ''
    site_title = str(cfg.get('title', None) or cfg.get('lib_name', 'docs'))
    site_desc = str(cfg.get('description', '') or '')
    css_extra = (nbs_path / 'styles.css').read_text() if (nbs_path / 'styles.css').exists() else ''

    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / _MARKER).write_text('written by tools/html_docs.py; this folder is deleted on every run\n')
    exporter = make_exporter()
    external = []
    for rel, nb in nbs_proc.items():
        if pages[rel] in dups: continue
        page_warn = []
        try:
            _MATH_WARN.clear()
            apply_quarto_options(nb)
            latex_outputs_to_mathml(nb)
            src_dir = (nbs_path / rel).parent
            title_html = f'<h1 class="title" id="{pandoc_id(str(titles[rel]))}">{md2html(str(titles[rel]), str(src_dir))}</h1>'
            title_html = re.sub(r'<h1 class="title"([^>]*)><p>(.*?)</p>\s*</h1>', r'<h1 class="title"\1>\2</h1>', title_html, flags=re.S)
            if descs[rel]:
                d = md2html(str(descs[rel]), str(src_dir)).strip()
                d = re.sub(r'^<p>(.*)</p>$', r'\1', d, flags=re.S)
                title_html += f'<div class="description">{d}</div>'
            nb.metadata['title'] = f'{titles[rel]} – {site_title}' if rel != 'index.ipynb' else site_title
            resources = {'metadata': {'path': str(src_dir), 'name': Path(rel).stem},
                         'od_css': _CSS + '\n/* nbs/styles.css */\n' + css_extra,
                         'od_sidebar': render_sidebar(items, rel, pages, titles, site_title, site_desc),
                         'od_title_block': f'<header class="od-title-block">{title_html}</header>',
                         'od_footer': f'Built offline from <code>nbs/{html.escape(rel)}</code> by tools/html_docs.py'}
            body, _ = exporter.from_notebook_node(nb, resources=resources)
            page_warn += [f'LaTeX: {w}' for w in _MATH_WARN]
            body = postprocess(body, rel, pages[rel], nbs_path, pages, site_url, page_warn)
        except Exception as e:
            tb = traceback.format_exc().strip().splitlines()
            print(f'ERROR: converting nbs/{rel} to HTML failed: {type(e).__name__}: {str(e)[:1500]}\n'
                  + '\n'.join('    ' + l for l in tb[-8:]), file=sys.stderr)
            failed_total.append((rel, str(e)))
            continue
        bad = external_resources(body)
        if bad:
            external.append((pages[rel], bad))
        dest = out / pages[rel]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(body, encoding='utf-8')
        warnings += [f'{pages[rel]}: {w}' for w in page_warn]
        print(f'  wrote {dest} ({len(body) // 1024} KB)')

    for w in warnings: print(f'WARNING: {w}')
    for page, bad in external:
        print(f'ERROR: {page} references external resources: ' + '; '.join(bad[:5]), file=sys.stderr)
    print(f'{len(list(out.rglob("*.html")))} page(s) written to {out}; {len(failed_total)} notebook(s) failed; '
          f'{len(external)} page(s) with external resources; {len(warnings)} warning(s)')
    if failed_total:
        print('FAILED notebooks:', file=sys.stderr)
        for s, _ in failed_total:
            print(f'  {Path(s).relative_to(cfg.config_path) if Path(s).is_absolute() else s}', file=sys.stderr)
    return 1 if (failed_total or external) else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog='See the module docstring for details.')
    p.add_argument('--out', default='_html', help='output folder (deleted and re-created); default _html')
    p.add_argument('--only', default=None, help="only notebooks whose file name matches this glob, e.g. '1*'")
    p.add_argument('--workers', type=int, default=min(4, os.cpu_count() or 1), help='notebooks processed in parallel')
    p.add_argument('--timeout', type=int, default=1800, help='seconds allowed to process one notebook')
    p.add_argument('--param-tables', action=argparse.BooleanOptionalAction, default=True,
                   help='show a Type/Default/Details table under each show_doc signature (default on; nbdev 2 style). '
                        '--no-param-tables gives exactly what nbdev 3 / the Quarto site shows: the signature only')
    p.add_argument('--_proc-one', nargs=2, metavar=('SRC', 'DST'), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a._proc_one: return _proc_one(*a._proc_one)
    if a.param_tables: os.environ['HTML_DOCS_PARAM_TABLES'] = '1'  # read by the _proc_one children
    else: os.environ.pop('HTML_DOCS_PARAM_TABLES', None)
    return build(Path(a.out).resolve(), a.only, a.workers, a.timeout)


if __name__ == '__main__':
    sys.exit(main())
