#!/usr/bin/env python
"""Build offline, self-contained HTML docs for this nbdev project, without Quarto; check them.

    python tools/html_docs.py --out _html             # build every notebook nbdev's `nbglob` finds, then check
    python tools/html_docs.py --out _html --only '1*' # only notebooks whose file name matches a glob
    python tools/html_docs.py --check _html           # only check an already built site

1. nbdev's own docs processing (`nbdev.processors.FilterDefaults`: show_doc cells added and run, hidden and
   exported cells removed, frontmatter, doc links), in `--workers` processes that each handle many notebooks
   (as nbdev's `proc_nbs` does). One change: exported cells are not re-executed; their names are taken from
   the installed library module (`pip install -e .`, run `nbdev-export` first), so signatures show the real
   type names (`unidiffuser.x.Y`, not `__main__.Y`). A cell whose names the module lacks is executed as in nbdev.
2. nbconvert (`lab` template) writes one page per notebook, named as nbdev does (`nbpath2html`), figures
   embedded; maths becomes MathML with latex2mathml; headings get pandoc/Quarto ids (so nbdev's symbol links,
   `_modidx.py`'s `page.html#anchor`, resolve); links to notebooks and to the doc site become relative links.
3. A search box: a corpus (one entry per section) is written at build time to `assets/search_docs.js` and
   indexed in the browser by the vendored MiniSearch (`tools/vendor/minisearch`, MIT).
4. Checks (also `--check`): every relative link and `#anchor` must exist, and nothing may load from the
   network (only plain `<a href>` may point outside). Each failure is listed with its page; exit status 1.

Exit status: 0 success; 1 a notebook failed, a broken link or an external resource; 2 bad usage.
"""
from __future__ import annotations
import argparse, ast, fnmatch, html, importlib, json, os, posixpath, re, shutil, sys, time, traceback
from collections import Counter
from html.parser import HTMLParser
from multiprocessing import get_context
from pathlib import Path

HERE = Path(__file__).resolve().parent
_MARKER = '.html_docs'

# ---------------------------------------------------------------- 1. nbdev processing (worker processes)

def _defined_names(trees):
    names = []
    for t in trees:
        if isinstance(t, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names.append(t.name)
        elif isinstance(t, (ast.Assign, ast.AnnAssign)):
            for tg in (t.targets if isinstance(t, ast.Assign) else [t.target]):
                names += [n.id for n in ast.walk(tg) if isinstance(n, ast.Name)]
        elif isinstance(t, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split('.')[0] for a in t.names if a.name != '*']
    return names


def _filter():
    "nbdev's `FilterDefaults`, with `exec_show_docs` taking exported names from the library instead of re-running cells."
    from nbdev.config import get_config
    from nbdev.processors import FilterDefaults, exec_show_docs, _default_exp, _show_docs

    class LibShowDocs(exec_show_docs):
        def __call__(self, cell):
            if cell.cell_type != 'code' or not hasattr(self, 'k') or not self.nb.has_docs_: return
            d, trees = cell.directives_, cell.parsed_() or []
            exp = next((k for k in ('export', 'exports', 'exporti') if k in d), None)
            if exp and self._from_lib(cell, d[exp].split() or [_default_exp(self.nb)]): return
            imps = [t for t in trees if isinstance(t, (ast.Import, ast.ImportFrom))]
            if exp or 'exec_doc' in d or _show_docs(trees) or len(imps) == len(trees): return super().__call__(cell)
            if not imps or d.get('eval') == 'false': return  # a test cell: show_doc needs only its top-level imports
            self.k.run(ast.unparse(ast.Module(imps, [])))
            if self.k.exc: raise Exception(f'Error in cell {cell.idx_} (its imports):\n{cell.source}\n{self.k.exc!r}')
        def _from_lib(self, cell, mod):
            try: ns = vars(importlib.import_module(f'{get_config().lib_name}.{mod[0]}'))
            except Exception: return False
            names = _defined_names(cell.parsed_() or [])
            if not names or any(n not in ns for n in names): return False
            self.k.user_ns.update({k: v for k, v in ns.items() if not (k.startswith('__') and k.endswith('__'))})
            return True

    class Filter(FilterDefaults):
        def base_procs(self): return [LibShowDocs if p is exec_show_docs else p for p in super().base_procs()]
    return Filter


def _init_worker(param_tables: bool):
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    if not param_tables: return
    from fastcore.docments import DocmentTbl   # the Type/Default/Details table (nbdev 2 style) under each show_doc
    from nbdev import showdoc
    orig = showdoc.BasicMarkdownRenderer._repr_markdown_
    def _repr_markdown_(self):
        try: tbl = DocmentTbl(self.sym)._repr_markdown_()
        except Exception: tbl = ''
        return orig(self) + (f'\n\n{tbl}' if tbl else '')
    showdoc.BasicMarkdownRenderer._repr_markdown_ = _repr_markdown_


def _process(src: str):
    "Worker: nbdev docs processing of one notebook -> (src, processed notebook JSON or None, error, seconds)."
    from fastcore.nbio import read_nb, nb2str
    from nbdev.config import get_config
    t0 = time.time()
    os.chdir(get_config().config_path)
    os.environ['IN_TEST'] = '1'
    try:
        try: nb = read_nb(src); _filter()()(nb)
        except Exception:  # e.g. a signature needing a name only the notebook imports: nbdev's own, full processing
            from nbdev.processors import FilterDefaults
            nb = read_nb(src); FilterDefaults()(nb); print(f'  nbs/{Path(src).name}: processed the nbdev way (all cells with imports run)')
        return src, nb2str(nb), None, time.time() - t0
    except BaseException:
        lines = traceback.format_exc().strip().splitlines()
        i = max((i for i, l in enumerate(lines) if l.startswith('Exception: Error')), default=max(0, len(lines) - 15))
        return src, None, '\n'.join('    ' + l for l in lines[i:i + 25]), time.time() - t0
    finally: os.environ.pop('IN_TEST', None)


def pop_frontmatter(nb) -> dict:
    import yaml
    for i, c in enumerate(nb.cells):
        m = re.match(r'^\s*---\s*\n(.*?)\n---\s*$', c.source.strip() + '\n', re.S) if c.cell_type == 'raw' else None
        if m:
            del nb.cells[i]
            return yaml.safe_load(m.group(1)) or {}
    return {}


def tidy_cells(nb):
    "Honour the cell options nbdev leaves for Quarto (include, echo, output incl. asis) and drop keys nbformat rejects."
    from nbformat import NotebookNode
    keep = {'code': {'cell_type', 'execution_count', 'id', 'metadata', 'outputs', 'source'}}
    cells = []
    for c in nb.cells:
        if c.cell_type == 'code':
            lines = c.source.splitlines()
            opts = dict(m.groups() for m in (re.match(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$', l) for l in lines) if m)
            c.source = '\n'.join(l for l in lines if not l.lstrip().startswith('#|')).strip()
            if opts.get('include') == 'false': continue
            if opts.get('output') == 'false': c.outputs = []
            if opts.get('output') == 'asis':
                c.outputs = [NotebookNode(output_type='display_data', metadata={}, data={'text/markdown': o.text})
                             if o.output_type == 'stream' and o.get('name') == 'stdout' else o for o in c.outputs]
            if opts.get('echo') == 'false' or not c.source: c.metadata.setdefault('transient', {})['remove_source'] = True
            if not c.source and not c.outputs: continue
        for k in [k for k in c if k not in keep.get(c.cell_type, {'cell_type', 'id', 'metadata', 'source', 'attachments'})]: del c[k]
        c.metadata.pop('execution', None)
        cells.append(c)
    nb.cells = cells
    nb.metadata.pop('widgets', None)  # widget state would make nbconvert load a renderer from a CDN

# ---------------------------------------------------------------- 2. markdown and maths

_PAGE: dict = {}  # state of the page being rendered in this process: ids, search sections, warnings, link map
_re_protect = re.compile(r'(`+).+?\1|\$\$.*?\$\$|\$[^$\n]+\$|<[^>\n]+>')
_re_dunder = re.compile(r'(?<![\w\\])__([a-z0-9][a-z0-9_]*?)__(?!\w)')
_re_link_attr = re.compile(r'\[([^\]\n]*)\]\(([^)\s]+)\)\{([^}\n]*)\}')


def _md_line(line: str) -> str:
    "Outside code and maths: dunder names stay literal (`__call__` is not bold); `[t](u){attrs}` -> <a>."
    def fix(seg):
        seg = _re_dunder.sub(r'\_\_\1\_\_', seg)
        return _re_link_attr.sub(lambda m: f'<a href="{html.escape(m[2])}" ' + ' '.join(
            f'{k}="{html.escape(v)}"' for k, v in re.findall(r'([\w-]+)="([^"]*)"', m[3])) + f'>{m[1]}</a>', seg)
    out, pos = [], 0
    for m in _re_protect.finditer(line):
        out += [fix(line[pos:m.start()]), m[0]]
        pos = m.end()
    return ''.join(out + [fix(line[pos:])])


def md_compat(md: str) -> str:
    out, fence, in_math = [], None, False
    for line in md.split('\n'):
        m = re.match(r'^\s*(`{3,}|~{3,})', line)
        if fence or (m and not in_math):
            fence = None if fence and line.strip().startswith(fence) else (fence or m[1])
        elif line.count('$$') % 2: in_math = not in_math
        elif not in_math and '$$' not in line: line = _md_line(line)
        out.append(line)
    return '\n'.join(out)


def _tex_fix(tex: str) -> str:
    "What latex2mathml gets wrong: `\\_` etc. inside \\text{}, unbraced `\\mathcal N` (mathvariant Chromium ignores), \\label."
    tex = re.sub(r'\\label\{[^}]*\}|\\nonumber|\\notag', '', tex)
    tex = re.sub(r'\\(mathcal|mathbb|mathbf|mathfrak|mathscr|mathsf|mathtt|mathit)\s+([A-Za-z0-9])', r'\\\1{\2}', tex)
    unesc = lambda m: '\\' + m[1] + '{' + re.sub(r'\\(?=[_%&#$])', '', m[2]) + '}'
    return re.sub(r'\\(text\w*|mbox)\{((?:[^{}]|\{[^{}]*\})*)\}', unesc, tex)


def latex_to_mathml(tex: str, display: bool) -> str:
    from latex2mathml.converter import convert
    src, tex = tex.strip(), _tex_fix(tex)
    tags = re.findall(r'\\tag\*?\{([^}]*)\}', tex)
    tex = re.sub(r'\\tag\*?\{([^}]*)\}', '' if len(tags) == 1 else r'\\qquad\\text{(\1)}', tex)
    tex = re.sub(r'\\(begin|end)\{(equation|align|gather|multline|alignat|flalign|eqnarray)\}', r'\\\1{\2*}', tex)
    tex = re.sub(r'\\(begin|end)\{equation\*\}', '', tex)
    try: mml = convert(tex.strip(), display='block' if display else 'inline')
    except Exception as e:
        _PAGE.setdefault('warn', []).append(f'cannot convert LaTeX ({type(e).__name__}: {e}): {src[:80]}')
        return f'<code class="od-math-error">{html.escape(src)}</code>'
    unknown = sorted(set(re.findall(r'<m[io]>(\\[A-Za-z]+)</m[io]>', mml)))
    if unknown: _PAGE.setdefault('warn', []).append(f'unknown LaTeX {", ".join(unknown)} in: {src[:80]}')
    mml = mml.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', '').replace('<math ', f'<math alttext="{html.escape(src)}" ', 1)
    mml = re.sub(r'<mi>&#x000([46][1-9A-Fa-f]|[57][0-9Aa]);</mi>', r'<mi mathvariant="normal">&#x000\1;</mi>', mml)  # \mathrm{d}
    if not display: return mml
    no = f'<span class="od-eqno">({html.escape(tags[0])})</span>' if len(tags) == 1 else ''
    return f'<span class="od-display-math">{mml}{no}</span>'


def pandoc_id(text: str) -> str:
    "Pandoc's auto identifier (what Quarto and nbdev's doc links use): maths counts as its TeX source."
    t = re.sub(r'<math [^>]*alttext="([^"]*)".*?</math>', r'\1', text, flags=re.S)
    t = html.unescape(re.sub(r'<[^>]+>', '', t)).strip().lower()
    t = re.sub(r'\s+', '-', re.sub(r'[^\w\s.-]', '', t))
    return re.sub(r'^[^a-z]+', '', t) or 'section'


def _unique_id(hid: str) -> str:
    seen = _PAGE.setdefault('ids', Counter())
    n, seen[hid] = seen[hid], seen[hid] + 1
    return hid if n == 0 else f'{hid}-{n}'


def fix_url(url: str) -> str:
    "Site URLs (nbdev's doc links) and links to notebooks -> relative links to the built pages."
    pages, src_dir, page_dir, site = _PAGE['pages'], _PAGE['src_dir'], _PAGE['page_dir'], _PAGE['site_url']
    path, hash_, frag = url.partition('#')
    if site and url.startswith(site):
        path = posixpath.normpath(path[len(site):] or 'index.html').removesuffix('.md')
    elif not re.match(r'^([a-z][\w+.-]*:|/|#)', url, re.I) and path.endswith(('.ipynb', '.qmd', '.md')):
        rel = posixpath.normpath(posixpath.join(src_dir, path))
        from nbdev.config import nbpath2html
        path = pages.get(rel) or nbpath2html(Path(rel)).as_posix()
    else: return url
    return posixpath.relpath(path, page_dir) + hash_ + frag


def make_markdown(path: str, attachments: dict):
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath, MathInlineParser

    class InlineParser(MathInlineParser):  # pandoc's `$` rule; code spans before maths
        SPECIFICATION = {**MathInlineParser.SPECIFICATION,
                         'inline_math_tex': r'(?s:(?<![$\\])\$(?![\s$])(?P<math_inline_tex>.+?)(?<![\s$\\])\$(?![\d$]))'}
        DEFAULT_RULES = ('escape', 'codespan', *[r for r in MathInlineParser.DEFAULT_RULES if r not in ('escape', 'codespan')])

    class Renderer(IPythonRenderer):
        def inline_html(self, h): return self._html_embed_images(h) if '<img' in h.lower() else h
        def block_html(self, h): return super(IPythonRenderer, self).block_html(self._html_embed_images(h) if '<img' in h.lower() else h)
        def block_math(self, body): return latex_to_mathml(body, True)
        def inline_math(self, body): return latex_to_mathml(body, False)
        def latex_environment(self, name, body): return latex_to_mathml(f'\\begin{{{name}}}{body}\\end{{{name}}}', True)
        def link(self, text, url, title=None): return super().link(text, fix_url(url), title)
        def text(self, text):
            _PAGE['sections'][-1][2].append(text)
            return super().text(text)
        def heading(self, text, level, **attrs):
            hid = _unique_id(pandoc_id(text))
            if level <= 3: _PAGE['sections'].append([hid, html.unescape(re.sub(r'<[^>]+>', '', text)), []])
            return f'<h{level} id="{hid}">{text}<a class="anchor-link" href="#{hid}">¶</a></h{level}>\n'

    r = Renderer(escape=False, attachments=attachments, embed_images=True, path=path, anchor_link_text='¶')
    return MarkdownWithMath(renderer=r, inline=InlineParser(hard_wrap=False))


def md2html(source: str, path: str = '', attachments=None) -> str:
    return make_markdown(path, attachments or {}).render(md_compat(source))

# ---------------------------------------------------------------- 3. pages (worker processes)

_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{% block html_head_js %}<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'self' 'unsafe-inline'; font-src data:; media-src data:">
<script src="{{ resources.od_root }}assets/minisearch.umd.js"></script>{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block html_head_css %}<style>{{ resources.od_css }}</style>{% endblock html_head_css %}
{% block body_header %}<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light" data-od-root="{{ resources.od_root }}">
<div class="od-layout">{{ resources.od_sidebar }}<main class="od-main">{{ resources.od_title_block }}
{% endblock body_header %}
{% block body_footer %}<footer class="od-footer">{{ resources.od_footer }}</footer></main></div>
<script>{{ resources.od_js }}</script></body>{% endblock body_footer %}
{% block footer_js %}{% endblock footer_js %}
"""

_JS = r"""(function () {
  var root = document.body.dataset.odRoot, q = document.getElementById('od-q'), out = document.getElementById('od-results'), ms = null;
  function index(cb) {
    if (ms) return cb();
    var s = document.createElement('script'); s.src = root + 'assets/search_docs.js';
    s.onload = function () {
      ms = new MiniSearch({fields: ['title', 'page', 'text'], storeFields: ['title', 'page', 'href'],
                           searchOptions: {boost: {title: 3, page: 2}, prefix: true, fuzzy: 0.15}});
      ms.addAll(window.OD_SEARCH_DOCS); cb();
    };
    document.head.appendChild(s);
  }
  function show() {
    var v = q.value.trim(); out.innerHTML = '';
    if (!v) return;
    index(function () {
      var hits = ms.search(v).slice(0, 20);
      if (!hits.length) { out.innerHTML = '<li class="od-none">No results</li>'; return; }
      hits.forEach(function (h) {
        var li = document.createElement('li'), a = document.createElement('a');
        a.href = root + h.href; a.textContent = h.title; li.appendChild(a);
        var p = document.createElement('span'); p.textContent = h.page; li.appendChild(p); out.appendChild(li);
      });
    });
  }
  q.addEventListener('input', show); q.addEventListener('focus', function () { index(function () {}); });
  document.addEventListener('keydown', function (e) { if (e.key === '/' && document.activeElement !== q) { e.preventDefault(); q.focus(); } });
})();"""

_CSS = r"""
body.jp-Notebook { margin: 0; font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.od-layout { display: flex; min-height: 100vh; }
.od-sidebar { flex: 0 0 270px; box-sizing: border-box; padding: 1.2rem 1rem; border-right: 1px solid #e3e3e3; background: #f8f9fa;
  position: sticky; top: 0; height: 100vh; overflow-y: auto; font-size: 14px; }
.od-site-title { font-size: 1.25rem; font-weight: 600; margin-bottom: .3rem; } .od-site-title a { color: #212529; }
.od-site-desc { color: #6c757d; font-size: 12px; margin-bottom: .8rem; }
#od-q { width: 100%; box-sizing: border-box; padding: .35rem .5rem; border: 1px solid #ced4da; border-radius: 4px; margin-bottom: .5rem; }
#od-results { list-style: none; padding: 0; margin: 0 0 .8rem 0; } #od-results span { display: block; color: #6c757d; font-size: 11px; padding-left: .4rem; }
.od-sidebar ul { list-style: none; margin: 0; padding-left: 0; } .od-sidebar ul ul { padding-left: .8rem; }
.od-sidebar a { color: #2c3e50; text-decoration: none; display: block; padding: .15rem .4rem; border-radius: 4px; }
.od-sidebar a:hover { background: #e9ecef; } .od-sidebar a.od-active { background: #2780e3; color: #fff; }
.od-section { font-weight: 600; color: #495057; margin-top: .8rem; padding: .15rem .4rem; }
.od-main { flex: 1 1 auto; min-width: 0; max-width: 1000px; padding: 1.5rem 2.5rem 3rem; box-sizing: border-box; }
h1.title { font-size: 2.2rem; margin: 0 0 .3rem 0; } .od-title-block .description { font-style: italic; font-size: 1.2rem; opacity: .7; margin-bottom: 1.5rem; }
.od-footer { margin-top: 3rem; color: #6c757d; font-size: 12px; border-top: 1px solid #e3e3e3; padding-top: .5rem; }
.jp-InputPrompt, .jp-OutputPrompt { display: none; }
.jp-RenderedHTMLCommon a.anchor-link { display: none; margin-left: .3em; text-decoration: none; opacity: .5; }
.jp-RenderedHTMLCommon :is(h1,h2,h3,h4,h5,h6):hover > a.anchor-link { display: inline; }
.od-display-math { display: flex; align-items: center; justify-content: center; margin: .8em 0; }
.od-display-math > math { flex: 1 1 auto; overflow-x: auto; padding: .2em 0; } .od-eqno { flex: 0 0 auto; margin-left: 1em; }
math { font-size: 1.1em; } math [mathvariant^="bold"] { font-weight: bold; } .od-math-error { color: #b00; }
.jp-RenderedMarkdown .highlight { background: #f6f8fa; border-radius: 4px; } .jp-RenderedMarkdown .highlight pre { padding: .6rem .8rem; font-size: 13px; }
.jp-RenderedHTMLCommon a code { color: #2780e3; }
"""


def render_sidebar(ctx, cur: str) -> str:
    pages, titles = ctx['pages'], ctx['titles']
    def href(rel): return html.escape(posixpath.relpath(pages[rel], posixpath.dirname(pages[cur]) or '.'))
    def ul(items):
        li = []
        for it in items:
            if it[0] == 'section': li.append(f'<li><div class="od-section">{html.escape(it[1])}</div>{ul(it[2])}</li>')
            else:
                cls = ' class="od-active"' if it[1] == cur else ''
                li.append(f'<li><a href="{href(it[1])}"{cls}>{html.escape(str(it[2] or titles[it[1]]))}</a></li>')
        return '<ul>' + ''.join(li) + '</ul>'
    home = next((r for r in pages if pages[r] == 'index.html'), cur)
    return (f'<nav class="od-sidebar"><div class="od-site-title"><a href="{href(home)}">{html.escape(ctx["site_title"])}</a></div>'
            f'<div class="od-site-desc">{html.escape(ctx["site_desc"])}</div>'
            '<input id="od-q" type="search" placeholder="Search (press /)" autocomplete="off" aria-label="Search">'
            f'<ol id="od-results"></ol>{ul(ctx["items"])}</nav>')


def sidebar_items(contents, pages: dict, used: set, warn: list):
    "Quarto's sidebar `contents`: notebook paths, `section:` + `contents:`, `href:` + `text:`."
    res = []
    for it in contents or []:
        if isinstance(it, dict) and 'contents' in it:
            res.append(('section', str(it.get('section') or it.get('text') or ''), sidebar_items(it['contents'], pages, used, warn)))
            continue
        rel = posixpath.normpath(str(it['href'] if isinstance(it, dict) else it).lstrip('/'))
        if rel in pages: res.append(('page', rel, it.get('text') if isinstance(it, dict) else None)); used.add(rel)
        else: warn.append(f'sidebar.yml lists {rel} but it is not a built page; left out')
    return res


_EXPORTER: dict = {}  # per process: the nbconvert exporter, the modidx


def _render(job):
    "Worker: processed notebook -> (rel, page path, HTML, search sections, warnings)."
    import jinja2, nbformat
    from nbconvert import HTMLExporter
    rel, nb_json, ctx = job
    nb, page = nbformat.reads(nb_json, as_version=4), ctx['pages'][rel]
    src_dir = posixpath.dirname(rel)
    _PAGE.clear()
    _PAGE.update(pages=ctx['pages'], src_dir=src_dir, page_dir=posixpath.dirname(page) or '.', site_url=ctx['site_url'],
                 sections=[['', ctx['titles'][rel], []]], warn=[])
    try:
        tidy_cells(nb)
        for c in nb.cells:  # `text/latex` outputs (e.g. sympy) get a MathML rendering
            for o in c.get('outputs', []):
                d = o.get('data', {})
                if 'text/latex' in d and 'text/html' not in d:
                    d['text/html'] = latex_to_mathml(re.sub(r'^\s*\$+|\$+\s*$', '', d['text/latex']), True)
        path = str(Path(ctx['nbs_path']) / src_dir)
        if 'ex' not in _EXPORTER:
            class Exporter(HTMLExporter):
                @jinja2.pass_context
                def markdown2html(self, context, source):
                    return md2html(source, context['resources']['metadata']['path'], context.get('cell', {}).get('attachments', {}))
            _EXPORTER['ex'] = Exporter(template_name='lab', template_file='offline.html.j2', embed_images=True, sanitize_html=False,
                                       extra_loaders=[jinja2.DictLoader({'offline.html.j2': _TEMPLATE})],
                                       exclude_input_prompt=True, exclude_output_prompt=True)
        ex = _EXPORTER['ex']
        title = str(ctx['titles'][rel])
        inline = lambda md: re.sub(r'^<p>(.*)</p>$', r'\1', md2html(md, path).strip(), flags=re.S)
        head = f'<h1 class="title" id="{_unique_id(pandoc_id(title))}">{inline(title)}</h1>'
        if ctx['descs'][rel]: head += f'<div class="description">{inline(str(ctx["descs"][rel]))}</div>'
        nb.metadata['title'] = ctx['site_title'] if page == 'index.html' else f'{title} – {ctx["site_title"]}'
        root = posixpath.relpath('.', posixpath.dirname(page) or '.') + '/'
        res = {'metadata': {'path': path, 'name': Path(rel).stem}, 'od_css': _CSS + ctx['css_extra'], 'od_js': _JS,
               'od_root': '' if root == './' else root, 'od_sidebar': render_sidebar(ctx, rel),
               'od_title_block': f'<header class="od-title-block">{head}</header>',
               'od_footer': f'Built offline from <code>nbs/{html.escape(rel)}</code> by tools/html_docs.py'}
        body, _ = ex.from_notebook_node(nb, resources=res)
    except Exception as e:
        return rel, page, None, [], [f'converting to HTML failed: {type(e).__name__}: {e}\n' + traceback.format_exc()[-1500:]]
    ids = set(_PAGE['ids'])
    alias = {}  # `_modidx.py` anchors of methods without their own heading (`cls.meth`): placed at the class heading
    for a in sorted(set(_modidx()[1].get(page, {})) - ids):
        p = a
        while '.' in p and p not in ids: p = p.rsplit('.', 1)[0]
        if p != a and p in ids: alias.setdefault(p, []).append(a)
    for p, names in alias.items():
        spans = ''.join(f'<span id="{html.escape(n)}"></span>' for n in names)
        body = re.sub(f'(<h[1-6] id="{re.escape(p)}">.*?</h[1-6]>)', lambda m: m[1] + spans, body, count=1, flags=re.S)
        ids.update(names)
    secs = [{'id': f'{page}#{s[0]}' if s[0] else page, 'href': f'{page}#{s[0]}' if s[0] else page, 'title': s[1],
             'page': ctx['titles'][rel], 'text': re.sub(r'\s+', ' ', ' '.join(s[2]))[:3000]} for s in _PAGE['sections']]
    return rel, page, body, secs, _PAGE['warn'], ids

def _modidx():
    "(settings, {page: {anchor: (qualified name, .py file)}}) from the library's `_modidx.py`."
    if 'modidx' not in _EXPORTER:
        from nbdev.config import get_config
        d, by_page = importlib.import_module(f'{get_config().lib_name}._modidx').d, {}
        for mod, syms in d['syms'].items():
            for sym, (url, py) in syms.items():
                page, _, a = url.partition('#')
                by_page.setdefault(page, {})[a] = (sym[len(mod) + 1:], py)
        _EXPORTER['modidx'] = (d['settings'], by_page)
    return _EXPORTER['modidx']


def fix_symbol_links(body: str, page: str, ids: dict) -> tuple:
    "nbdev links to symbols with no documentation on the site (private helpers) -> links to their source on GitHub."
    from nbdev.doclinks import _lineno
    settings, by_page = _modidx()
    fixed = []
    def sub(m):
        tgt = posixpath.normpath(posixpath.join(posixpath.dirname(page), m[1])) if m[1] else page
        sym = by_page.get(tgt, {}).get(m[2])
        if tgt not in ids or m[2] in ids[tgt] or not sym: return m[0]
        fixed.append(sym[0])
        return f'href="{settings["git_url"]}/blob/{settings["branch"]}/{sym[1]}#L{_lineno(sym[0], sym[1])}" title="source (not documented in these pages)"'
    return re.sub(r'href="([^"#:]*)#([^"]+)"', sub, body), fixed

# ---------------------------------------------------------------- 4. checks: broken links, external resources

_RES = {'script': 'src', 'link': 'href', 'img': 'src srcset', 'iframe': 'src', 'frame': 'src', 'source': 'src srcset', 'video': 'src poster',
        'audio': 'src', 'embed': 'src', 'object': 'data', 'track': 'src', 'input': 'src', 'image': 'href xlink:href',
        'use': 'href xlink:href', 'base': 'href', 'form': 'action', 'feimage': 'href xlink:href'}
_re_net = re.compile(r'^\s*(?:[a-z][\w+.-]*:)?//', re.I)
_re_css_net = re.compile(r'''url\(\s*['"]?\s*(?:[a-z][\w+.-]*:)?//|@import''', re.I)


class _Scan(HTMLParser):
    def __init__(self):
        super().__init__(); self.ids, self.links, self.ext, self.tag = set(), [], [], None
    def handle_starttag(self, tag, attrs):
        a, self.tag = dict(attrs), tag
        if a.get('id'): self.ids.add(a['id'])
        if tag == 'a' and a.get('name'): self.ids.add(a['name'])
        if tag == 'a' and a.get('href'): self.links.append(a['href'])
        for k in _RES.get(tag, '').split():
            if a.get(k) and any(_re_net.match(p) for p in (a[k].split(',') if k == 'srcset' else [a[k]])): self.ext.append(f'<{tag} {k}="{a[k][:100]}">')
        if a.get('style') and _re_css_net.search(a['style']): self.ext.append(f'style="{a["style"][:100]}"')
        if tag == 'meta' and (a.get('http-equiv') or '').lower() == 'refresh': self.ext.append('<meta http-equiv="refresh">')
    def handle_data(self, data):
        if self.tag == 'style' and _re_css_net.search(data): self.ext.append('<style> with url(//...) or @import')


def check_site(out: Path, missing_ok: bool = False) -> list:
    "Broken relative links / anchors and network loads in every .html page under `out` -> list of error lines."
    scans = {}
    for f in sorted(out.rglob('*.html')):
        s = _Scan(); s.feed(f.read_text(encoding='utf-8')); scans[f.relative_to(out).as_posix()] = s
    errs = []
    for page, s in scans.items():
        errs += [f'{page}: loads an external resource: {e}' for e in s.ext]
        for h in s.links:
            if re.match(r'^([a-z][\w+.-]*:|//)', h, re.I): continue  # a hyperlink elsewhere (http:, mailto:, data:)
            path, _, frag = h.partition('#')
            tgt = posixpath.normpath(posixpath.join(posixpath.dirname(page), path.split('?')[0])) if path else page
            if tgt not in scans and not (out / tgt).exists():
                if not missing_ok: errs.append(f'{page}: broken link {h} ({tgt} does not exist)')
            elif frag and tgt in scans and frag not in scans[tgt].ids: errs.append(f'{page}: broken link {h} (no id "{frag}" in {tgt})')
    return errs

# ---------------------------------------------------------------- 5. driver

def build(out: Path, only: str | None, workers: int, param_tables: bool) -> int:
    import nbformat, yaml
    sys.path.insert(0, str(HERE))  # workers find the task functions in `html_docs`: IPython replaces their `__main__`
    from html_docs import _init_worker, _process, _render
    from nbdev.config import get_config, nbpath2html
    from nbdev.doclinks import nbglob
    cfg = get_config()
    root = Path(cfg.config_path).resolve()
    os.chdir(root)
    bad = [p for p in (root, root / 'nbs', root / 'tools', root / '.git') if out == p or p in out.parents or (p == root and out in p.parents)]
    if bad or (out.exists() and any(out.iterdir()) and not (out / _MARKER).exists()):
        print(f'ERROR: refusing --out {out}: it contains or is inside the project, or is a non-empty folder this tool did not write', file=sys.stderr)
        return 2
    t0 = time.time()
    nbs_path = Path(cfg.nbs_path).resolve()
    nbs = sorted(Path(p).resolve() for p in nbglob(nbs_path, as_path=True))
    nbs = [p for p in nbs if not only or fnmatch.fnmatch(p.name, only)]
    if not nbs: print('ERROR: no notebooks found', file=sys.stderr); return 1
    nbs.sort(key=lambda p: -p.stat().st_size)  # biggest first: better balance across workers
    print(f'Processing {len(nbs)} notebook(s) with nbdev (FilterDefaults), {workers} worker process(es) ...', flush=True)
    errors, done = [], {}
    with get_context('fork' if sys.platform == 'linux' else 'spawn').Pool(workers, _init_worker, (param_tables,)) as pool:
        for src, nb_json, err, secs in pool.imap_unordered(_process, [str(p) for p in nbs]):
            rel = Path(src).relative_to(nbs_path).as_posix()
            print(f'  processed nbs/{rel} in {secs:.1f} s' if nb_json else f'ERROR: nbdev processing failed for nbs/{rel}:\n{err}', flush=True)
            if nb_json: done[rel] = nb_json
            else: errors.append(f'nbs/{rel}: nbdev processing failed')
        t1 = time.time()
        ctx = dict(pages={}, titles={}, descs={}, nbs_path=str(nbs_path), css_extra='')
        for rel in sorted(done):
            nb = nbformat.reads(done[rel], as_version=4)
            fm = pop_frontmatter(nb)
            done[rel] = nbformat.writes(nb)
            ctx['pages'][rel] = posixpath.join(posixpath.dirname(rel), fm.get('output-file') or nbpath2html(Path(rel)).name)
            ctx['titles'][rel], ctx['descs'][rel] = str(fm.get('title') or Path(rel).stem), fm.get('description', '')
        for p, n in Counter(ctx['pages'].values()).items():
            if n > 1: errors.append(f'several notebooks map to {p}'); ctx['pages'] = {r: q for r, q in ctx['pages'].items() if q != p}
        warn, used = [], set()
        sb = (yaml.safe_load((nbs_path / 'sidebar.yml').read_text()) or {}) if (nbs_path / 'sidebar.yml').exists() else {}
        contents = ((sb.get('website') or {}).get('sidebar') or {}).get('contents')
        ctx['items'] = sidebar_items(contents, ctx['pages'], used, warn) if contents else [('page', r, None) for r in sorted(ctx['pages'])]
        if only: warn.clear()
        warn += [f'nbs/{r} is not in sidebar.yml (built, not in the navigation)' for r in sorted(set(ctx['pages']) - used) if contents and not only]
        ctx['site_url'] = (str(cfg.get('doc_host', '') or '').rstrip('/') + '/' + str(cfg.get('doc_baseurl', '') or '').strip('/')).rstrip('/') + '/'
        ctx['site_title'], ctx['site_desc'] = str(cfg.get('title', None) or cfg.lib_name), str(cfg.get('description', '') or '')
        if (nbs_path / 'styles.css').exists(): ctx['css_extra'] = '\n/* nbs/styles.css */\n' + (nbs_path / 'styles.css').read_text()
        if out.exists(): shutil.rmtree(out)
        (out / 'assets').mkdir(parents=True)
        (out / _MARKER).write_text('written by tools/html_docs.py; this folder is deleted on every run\n')
        docs, bodies, ids = [], {}, {}
        jobs = sorted(((r, j, ctx) for r, j in done.items() if r in ctx['pages']), key=lambda j: -len(j[1]))
        for rel, page, body, secs, w, page_ids in pool.imap_unordered(_render, jobs):
            warn += [f'{page}: {x}' for x in w]
            if body is None: errors.append(f'nbs/{rel}: {w[-1]}'); continue
            bodies[page], ids[page], docs = body, page_ids, docs + secs
    for page, body in bodies.items():
        body, fixed = fix_symbol_links(body, page, ids)
        if fixed: print(f'  {page}: links to undocumented {", ".join(sorted(set(fixed)))} go to their source')
        (out / page).parent.mkdir(parents=True, exist_ok=True)
        (out / page).write_text(body, encoding='utf-8')
    vendor = HERE / 'vendor' / 'minisearch'
    shutil.copy(vendor / 'minisearch.umd.js', out / 'assets')
    shutil.copy(vendor / 'LICENSE.txt', out / 'assets' / 'minisearch.LICENSE.txt')
    docs.sort(key=lambda d: d['id'])
    (out / 'assets' / 'search_docs.js').write_text('window.OD_SEARCH_DOCS = ' + json.dumps(docs, ensure_ascii=False) + ';\n', encoding='utf-8')
    t2 = time.time()
    errors += check_site(out, missing_ok=bool(only))  # with --only, links to pages not built are not errors
    for w in warn: print(f'WARNING: {w}')
    for e in errors: print(f'ERROR: {e}', file=sys.stderr)
    print(f'{len(done)} page(s) written to {out} ({len(docs)} search entries); nbdev processing {t1 - t0:.0f} s, '
          f'HTML {t2 - t1:.0f} s, checks {time.time() - t2:.0f} s; {len(errors)} error(s), {len(warn)} warning(s)')
    return 1 if errors else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument('--out', default='_html', help='output folder (deleted and re-created); default _html')
    p.add_argument('--only', help="only notebooks whose file name matches this glob, e.g. '1*'")
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1, help='worker processes (default: one per CPU)')
    p.add_argument('--param-tables', action=argparse.BooleanOptionalAction, default=True,
                   help='a Type/Default/Details table under each show_doc signature (nbdev 2 style; default on)')
    p.add_argument('--check', metavar='DIR', help='only check the site in DIR: broken links and anchors, external resources')
    a = p.parse_args(argv)
    if a.check:
        errs = check_site(Path(a.check))
        for e in errs: print(f'ERROR: {e}', file=sys.stderr)
        print(f'{len(list(Path(a.check).rglob("*.html")))} page(s) checked; {len(errs)} error(s)')
        return 1 if errs else 0
    return build(Path(a.out).resolve(), a.only, max(1, a.workers), a.param_tables)


if __name__ == '__main__':
    sys.exit(main())
