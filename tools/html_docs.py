#!/usr/bin/env python
"""Build offline, self-contained HTML docs for this nbdev project, without Quarto; check them.

    python tools/html_docs.py --out _html             # every notebook nbdev's `nbglob` finds; then the checks
    python tools/html_docs.py --out _html --only '1*' # only notebooks whose file name matches a glob
    python tools/html_docs.py --check _html           # only the checks, on a built site

1. nbdev's docs processing (`FilterDefaults`) in `--workers` processes, each taking many notebooks. Only what
   show_doc needs runs: exported names come from the installed library (run `nbdev-export` first), so signatures
   name real types, not `__main__.Y`; a test cell with imports runs its imports only and keeps its saved outputs.
   A notebook that fails this way is processed exactly as nbdev does.
2. nbconvert (`lab` template + html_docs_assets/page.html.j2), one page per notebook named as nbdev does; maths to
   MathML (latex2mathml); pandoc/Quarto heading ids, so nbdev's symbol links (`_modidx.py`) resolve; a method with
   no heading of its own is anchored at its class; a link to an undocumented (private) symbol goes to its source.
3. Search: one entry per section in `assets/search_docs.js`, indexed in the browser by the vendored MiniSearch.
4. Checks: every relative link and `#anchor` exists; nothing loads from the network (only `<a href>` may point out);
   no page shows one machine's paths.

Exit status: 0 success; 1 a notebook failed, a broken link, an external resource or a local path (each listed); 2 bad usage.
"""
from __future__ import annotations
import argparse, ast, fnmatch, html, importlib, json, os, posixpath, re, shutil, sys, time, traceback
from collections import Counter
from multiprocessing import get_context
from pathlib import Path

HERE, ASSETS, _MARKER = Path(__file__).resolve().parent, Path(__file__).resolve().parent / 'html_docs_assets', '.html_docs'
_PAGE: dict = {}  # the page being rendered in this process: ids, search sections, warnings, where links point
_CACHE: dict = {}  # per process: the nbconvert exporter, the modidx

# ---------------------------------------------------------------- 1. nbdev processing (worker processes)

def _filter():
    "nbdev's `FilterDefaults`, its `exec_show_docs` running only what show_doc needs."
    from nbdev.config import get_config
    from nbdev.processors import FilterDefaults, exec_show_docs, _default_exp, _show_docs
    class LibShowDocs(exec_show_docs):
        def __call__(self, cell):
            if cell.cell_type != 'code' or not hasattr(self, 'k') or not self.nb.has_docs_: return
            d, trees = cell.directives_, cell.parsed_() or []
            exp = next((k for k in ('export', 'exports', 'exporti') if k in d), None)
            if exp and self._from_lib(trees, d[exp].split() or [_default_exp(self.nb)]): return
            if exp or 'exec_doc' in d: return super().__call__(cell)
            if not _show_docs(trees):  # imports (of import and test cells) run only if a show_doc needs a name
                self.pending = getattr(self, 'pending', []) + [t for t in trees if isinstance(t, (ast.Import, ast.ImportFrom))]
                return
            try: return super().__call__(cell)
            except Exception:
                if not getattr(self, 'pending', None): raise
            self.k.run(ast.unparse(ast.Module(self.pending, []))); self.pending = []
            super().__call__(cell)
        def _from_lib(self, trees, mod):
            try: ns = vars(importlib.import_module(f'{get_config().lib_name}.{mod[0]}'))
            except Exception: return False
            names = [t.name for t in trees if isinstance(t, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))] + [
                n.id for t in trees if isinstance(t, (ast.Assign, ast.AnnAssign)) for tg in getattr(t, 'targets', [getattr(t, 'target', None)])
                for n in ast.walk(tg) if isinstance(n, ast.Name)]
            if not names or any(n not in ns for n in names): return False
            self.k.user_ns.update({k: v for k, v in ns.items() if not (k.startswith('__') and k.endswith('__'))})
            return True
    class Filter(FilterDefaults):
        def base_procs(self): return [LibShowDocs if p is exec_show_docs else p for p in super().base_procs()]
    return Filter

def _init_worker(param_tables: bool):
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    import fastcore.docments as fd
    def _get_full(p, docs, eval_str=False, orig=fd._get_full):  # fastcore writes `x:NoneType=None` for `x=None`
        r = orig(p, docs, eval_str)
        if p.annotation is p.empty: r['anno'] = p.empty
        return r
    fd._get_full = _get_full
    if not param_tables: return
    from nbdev.showdoc import BasicMarkdownRenderer as R  # the Type/Default/Details table of nbdev 2 under each show_doc
    def table(sym):
        try: return '\n\n' + fd.DocmentTbl(sym)._repr_markdown_()
        except Exception: return ''
    R._repr_markdown_ = lambda self, orig=R._repr_markdown_: orig(self) + table(self.sym)

def _process(src: str):
    "Worker: nbdev docs processing of one notebook -> (src, processed notebook JSON or None, error, seconds)."
    from fastcore.nbio import read_nb, nb2str
    from nbdev.config import get_config
    from nbdev.processors import FilterDefaults
    t0 = time.time()
    os.chdir(get_config().config_path)
    os.environ['IN_TEST'] = '1'
    try:
        try: nb = read_nb(src); _filter()()(nb)
        except Exception:  # e.g. a signature that needs a name only the notebook imports: nbdev's full processing
            nb = read_nb(src); FilterDefaults()(nb); print(f'  nbs/{Path(src).name}: processed the nbdev way (every cell with imports run)')
        return src, nb2str(nb), None, time.time() - t0
    except BaseException:  # nbdev's message (naming the cell) ends the traceback
        return src, None, '    ' + traceback.format_exc().strip()[-1500:].replace('\n', '\n    '), time.time() - t0
    finally: os.environ.pop('IN_TEST', None)

def pop_frontmatter(nb) -> dict:
    import yaml
    for i, c in enumerate(nb.cells):
        m = re.match(r'^\s*---\s*\n(.*?)\n---\s*$', c.source.strip() + '\n', re.S) if c.cell_type == 'raw' else None
        if m: del nb.cells[i]; return yaml.safe_load(m.group(1)) or {}
    return {}

def tidy_cells(nb):
    "Honour `#| echo: false` (what nbdev's show_doc cells carry; `output: asis` is what nbconvert does anyway); drop keys nbformat rejects."
    cells = []
    for c in nb.cells:
        if c.cell_type == 'code':
            echo = not re.search(r'^\s*#\|\s*echo:\s*false\s*$', c.source, re.M)
            c.source = '\n'.join(l for l in c.source.splitlines() if not l.lstrip().startswith('#|')).strip()
            if not echo or not c.source: c.metadata.setdefault('transient', {})['remove_source'] = True
            if not c.source and not c.outputs: continue
        keep = ('execution_count', 'outputs') if c.cell_type == 'code' else ('attachments',)
        for k in [k for k in c if k not in ('cell_type', 'id', 'metadata', 'source', *keep)]: del c[k]
        c.metadata.pop('execution', None)
        cells.append(c)
    nb.cells = cells
    nb.metadata.pop('widgets', None)  # widget state would make nbconvert load a renderer from a CDN

# ---------------------------------------------------------------- 2. markdown and maths

_re_protect = re.compile(r'(`+).+?\1|\$\$.*?\$\$|\$[^$\n]+\$|<[^>\n]+>')
_re_dunder = re.compile(r'(?<![\w\\])__([a-z0-9][a-z0-9_]*?)__(?!\w)')
_re_link_attr = re.compile(r'\[([^\]\n]*)\]\(([^)\s]+)\)\{([^}\n]*)\}')

def _md_fix(seg: str) -> str:
    """Dunder names stay literal (`__call__` is not bold); `[t](u){k="v"}` (show_doc's source link) -> <a k="v">."""
    seg = _re_dunder.sub(r'\_\_\1\_\_', seg)
    return _re_link_attr.sub(lambda m: f'<a href="{html.escape(m[2])}" ' + ' '.join(
        f'{k}="{html.escape(v)}"' for k, v in re.findall(r'([\w-]+)="([^"]*)"', m[3])) + f'>{m[1]}</a>', seg)

def md_compat(md: str) -> str:
    out, fence, in_math = [], None, False
    for line in md.split('\n'):
        m = re.match(r'^\s*(`{3,}|~{3,})', line)
        if fence or (m and not in_math): fence = None if fence and line.strip().startswith(fence) else (fence or m[1])
        elif line.count('$$') % 2: in_math = not in_math
        elif not in_math and '$$' not in line:  # outside code spans, maths and HTML tags
            parts, pos = [], 0
            for m in _re_protect.finditer(line): parts += [_md_fix(line[pos:m.start()]), m[0]]; pos = m.end()
            line = ''.join(parts + [_md_fix(line[pos:])])
        out.append(line)
    return '\n'.join(out)

def latex_to_mathml(tex: str, display: bool) -> str:
    "latex2mathml, after fixing what it gets wrong: `\\_` in \\text{}, unbraced `\\mathcal N` (a mathvariant Chromium ignores)."
    from latex2mathml.converter import convert
    src = tex.strip()
    tex = re.sub(r'\\label\{[^}]*\}|\\nonumber|\\notag', '', tex)
    tex = re.sub(r'\\(mathcal|mathbb|mathbf|mathfrak|mathscr|mathsf|mathtt|mathit)\s+([A-Za-z0-9])', r'\\\1{\2}', tex)
    tex = re.sub(r'\\(text\w*|mbox)\{((?:[^{}]|\{[^{}]*\})*)\}', lambda m: '\\' + m[1] + '{' + re.sub(r'\\(?=[_%&#$])', '', m[2]) + '}', tex)
    tags = re.findall(r'\\tag\*?\{([^}]*)\}', tex)
    tex = re.sub(r'\\tag\*?\{([^}]*)\}', '' if len(tags) == 1 else r'\\qquad\\text{(\1)}', tex)
    tex = re.sub(r'\\(begin|end)\{(equation|align|gather|multline|alignat|flalign|eqnarray)\}', r'\\\1{\2*}', tex)
    try: mml = convert(re.sub(r'\\(begin|end)\{equation\*\}', '', tex).strip(), display='block' if display else 'inline')
    except Exception as e:
        _PAGE['warn'].append(f'cannot convert LaTeX ({type(e).__name__}: {e}): {src[:80]}')
        return f'<code class="od-math-error">{html.escape(src)}</code>'
    if unknown := sorted(set(re.findall(r'<m[io]>(\\[A-Za-z]+)</m[io]>', mml))): _PAGE['warn'].append(f'unknown LaTeX {", ".join(unknown)} in: {src[:80]}')
    mml = mml.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', '').replace('<math ', f'<math alttext="{html.escape(src)}" ', 1)
    mml = re.sub(r'<mi>&#x000([46][1-9A-Fa-f]|[57][0-9Aa]);</mi>', r'<mi mathvariant="normal">&#x000\1;</mi>', mml)  # \mathrm{d}
    if not display: return mml
    return f'<span class="od-display-math">{mml}' + (f'<span class="od-eqno">({html.escape(tags[0])})</span>' if len(tags) == 1 else '') + '</span>'

def pandoc_id(text: str) -> str:
    "Pandoc's auto identifier (Quarto's, so nbdev's doc links'): maths counts as its TeX source; duplicates get -1, -2."
    t = re.sub(r'<math [^>]*alttext="([^"]*)".*?</math>', r'\1', text, flags=re.S)
    t = re.sub(r'\s+', '-', re.sub(r'[^\w\s.-]', '', html.unescape(re.sub(r'<[^>]+>', '', t)).strip().lower()))
    hid, seen = re.sub(r'^[^a-z]+', '', t) or 'section', _PAGE['ids']
    n, seen[hid] = seen[hid], seen[hid] + 1
    return hid if n == 0 else f'{hid}-{n}'

def fix_url(url: str) -> str:
    "Site URLs (nbdev's doc links) and links to notebooks -> relative links to the built pages."
    path, hash_, frag = url.partition('#')
    if _PAGE['site_url'] and url.startswith(_PAGE['site_url']):
        path = posixpath.normpath(path[len(_PAGE['site_url']):] or 'index.html').removesuffix('.md')
    elif not re.match(r'^([a-z][\w+.-]*:|/|#)', url, re.I) and path.endswith(('.ipynb', '.qmd', '.md')):
        from nbdev.config import nbpath2html
        rel = posixpath.normpath(posixpath.join(_PAGE['src_dir'], path))
        path = _PAGE['pages'].get(rel) or nbpath2html(Path(rel)).as_posix()
    else: return url
    return posixpath.relpath(path, _PAGE['page_dir']) + hash_ + frag

def md2html(source: str, path: str = '', attachments=None) -> str:
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
        def text(self, text): _PAGE['sections'][-1][2].append(text); return super().text(text)
        def heading(self, text, level, **attrs):
            hid = pandoc_id(text)
            if level <= 3: _PAGE['sections'].append([hid, html.unescape(re.sub(r'<[^>]+>', '', text)), []])
            return f'<h{level} id="{hid}">{text}<a class="anchor-link" href="#{hid}">¶</a></h{level}>\n'
    r = Renderer(escape=False, attachments=attachments or {}, embed_images=True, path=path, anchor_link_text='¶')
    return MarkdownWithMath(renderer=r, inline=InlineParser(hard_wrap=False)).render(md_compat(source))

# ---------------------------------------------------------------- 3. pages (worker processes)

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

def render_sidebar(ctx, cur: str) -> str:
    pages = ctx['pages']
    def href(rel): return html.escape(posixpath.relpath(pages[rel], posixpath.dirname(pages[cur]) or '.'))
    def ul(items):
        return '<ul>' + ''.join(f'<li><div class="od-section">{html.escape(it[1])}</div>{ul(it[2])}</li>' if it[0] == 'section' else
                                f'<li><a href="{href(it[1])}"{" class=od-active" if it[1] == cur else ""}>'
                                f'{html.escape(str(it[2] or ctx["titles"][it[1]]))}</a></li>' for it in items) + '</ul>'
    home = next((r for r in pages if pages[r] == 'index.html'), cur)
    return (f'<nav class="od-sidebar"><div class="od-site-title"><a href="{href(home)}">{html.escape(ctx["site_title"])}</a></div>'
            f'<div class="od-site-desc">{html.escape(ctx["site_desc"])}</div><input id="od-q" type="search" '
            f'placeholder="Search (press /)" autocomplete="off" aria-label="Search"><ol id="od-results"></ol>{ul(ctx["items"])}</nav>')

def _modidx():
    "(settings, {page: {anchor: (symbol name in its module, .py file)}}, modules) from the library's `_modidx.py`."
    if 'modidx' not in _CACHE:
        from nbdev.config import get_config
        d, by_page = importlib.import_module(f'{get_config().lib_name}._modidx').d, {}
        for mod, syms in d['syms'].items():
            for sym, (url, py) in syms.items(): by_page.setdefault(url.partition('#')[0], {})[url.partition('#')[2]] = (sym[len(mod) + 1:], py)
        _CACHE['modidx'] = (d['settings'], by_page, list(d['syms']))
    return _CACHE['modidx']

def _render(job):
    "Worker: processed notebook -> (rel, page, HTML or None, search sections, warnings, ids)."
    import jinja2, nbformat
    from nbconvert import HTMLExporter, TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
    rel, nb_json, ctx = job
    nb, page, title, path = nbformat.reads(nb_json, as_version=4), ctx['pages'][rel], str(ctx['titles'][rel]), str(Path(ctx['nbs_path']) / rel).rsplit('/', 1)[0]
    _PAGE.clear()
    _PAGE.update(pages=ctx['pages'], src_dir=posixpath.dirname(rel), page_dir=posixpath.dirname(page) or '.', site_url=ctx['site_url'],
                 sections=[['', title, []]], warn=[], ids=Counter())
    try:
        tidy_cells(nb)
        if 'ex' not in _CACHE:
            class Exporter(HTMLExporter):
                @jinja2.pass_context
                def markdown2html(self, context, source):
                    return md2html(source, context['resources']['metadata']['path'], context.get('cell', {}).get('attachments', {}))
                def from_notebook_node(self, nb, resources=None, **kw):  # nbconvert's, less a BeautifulSoup pass over the page
                    resources = self._init_resources(resources)
                    self.register_filter('highlight_code', Highlight2HTML(pygments_lexer='ipython3', parent=self))
                    self.register_filter('filter_data_type', WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources))
                    return TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            _CACHE['ex'] = Exporter(template_name='lab', template_file='page.html.j2', extra_loaders=[jinja2.FileSystemLoader(str(ASSETS))],
                                    embed_images=True, sanitize_html=False, exclude_input_prompt=True, exclude_output_prompt=True)
        inline = lambda md: re.sub(r'^<p>(.*)</p>$', r'\1', md2html(md, path).strip(), flags=re.S)
        head = f'<h1 class="title" id="{pandoc_id(title)}">{inline(title)}</h1>'
        if ctx['descs'][rel]: head += f'<div class="description">{inline(str(ctx["descs"][rel]))}</div>'
        nb.metadata['title'] = ctx['site_title'] if page == 'index.html' else f'{title} – {ctx["site_title"]}'
        root = posixpath.relpath('.', posixpath.dirname(page) or '.') + '/'
        body, _ = _CACHE['ex'].from_notebook_node(nb, resources={
            'metadata': {'path': path, 'name': Path(rel).stem}, 'od_root': '' if root == './' else root, 'od_sidebar': render_sidebar(ctx, rel),
            'od_title_block': f'<header class="od-title-block">{head}</header>',
            'od_footer': f'Built offline from <code>nbs/{html.escape(rel)}</code> by tools/html_docs.py'})
    except Exception as e:
        return rel, page, None, [], [f'converting to HTML failed: {type(e).__name__}: {e}\n' + traceback.format_exc()[-1500:]], set()
    ids, alias = set(_PAGE['ids']), {}  # modidx anchors of methods without a heading (`cls.meth`) go at their class's heading
    for a in sorted(set(_modidx()[1].get(page, {})) - ids):
        p = a
        while '.' in p and p not in ids: p = p.rsplit('.', 1)[0]
        if p != a and p in ids: alias.setdefault(p, []).append(a)
    for p, names in alias.items():
        spans = ''.join(f'<span id="{html.escape(n)}"></span>' for n in names)
        body = re.sub(f'(<h[1-6] id="{re.escape(p)}">.*?</h[1-6]>)', lambda m: m[1] + spans, body, count=1, flags=re.S)
        ids.update(names)
    secs = [{'id': f'{page}#{h}' if h else page, 'href': f'{page}#{h}' if h else page, 'title': t, 'page': title,
             'text': re.sub(r'\s+', ' ', ' '.join(words))[:3000]} for h, t, words in _PAGE['sections']]
    return rel, page, body, secs, _PAGE['warn'], ids

def fix_symbol_links(body: str, page: str, ids: dict) -> tuple:
    "nbdev's links to symbols documented nowhere on the site (private helpers) -> links to their source on GitHub."
    from nbdev.doclinks import _lineno
    settings, by_page, _ = _modidx()
    fixed = []
    def sub(m):
        tgt = posixpath.normpath(posixpath.join(posixpath.dirname(page), m[1])) if m[1] else page
        sym = by_page.get(tgt, {}).get(m[2])
        if tgt not in ids or m[2] in ids[tgt] or not sym: return m[0]
        fixed.append(sym[0])
        return f'href="{settings["git_url"]}/blob/{settings["branch"]}/{sym[1]}#L{_lineno(*sym)}" title="source (not documented in these pages)"'
    return re.sub(r'href="([^"#:]*)#([^"]+)"', sub, body), fixed

# ---------------------------------------------------------------- 4. checks: broken links and anchors, external resources, local paths

_re_id = re.compile(r"""<[a-zA-Z][^>]*?\s(?:id|name)=["']([^"']+)["']""")
_re_href = re.compile(r"""<a\s[^>]*?href=["']([^"']*)["']""")
_re_net = re.compile(r"""<(?:script|link|img|iframe|frame|source|video|audio|embed|object|track|input|image|use|base|form|feimage)\b[^>]*?"""
                     r"""\s(?:src|href|srcset|poster|data|action|xlink:href)\s*=\s*["']?\s*(?:[a-z][\w+.-]*:)?//[^"'\s>]*|"""
                     r"""url\(\s*["']?\s*(?:[a-z][\w+.-]*:)?//[^)"']*|@import\s+(?:url\()?\s*["']?\s*(?:[a-z][\w+.-]*:)?//[^;]*|<meta[^>]*http-equiv=["']?refresh[^>]*>""", re.I)

_re_local = re.compile(r"(?<![\w.~-])/(?:root|home/[\w.-]+|tmp/tmp\w+|work)/[^\s<\"']{0,60}")  # one machine's paths

def check_site(out: Path, missing_ok: bool = False) -> list:
    "Broken relative links and anchors, network loads and one machine's paths in every .html page under `out` -> errors."
    pages = {f.relative_to(out).as_posix(): f.read_text(encoding='utf-8') for f in sorted(out.rglob('*.html'))}
    ids, errs = {p: set(_re_id.findall(t)) for p, t in pages.items()}, []
    for page, text in pages.items():
        errs += [f'{page}: loads an external resource: {e[:120]}' for e in _re_net.findall(text)]
        errs += [f'{page}: shows a path of one machine (a stored output or prose): {e}' for e in _re_local.findall(text)]
        for h in map(html.unescape, _re_href.findall(text)):
            if re.match(r'^([a-z][\w+.-]*:|//)', h, re.I): continue  # a hyperlink elsewhere (http:, mailto:, data:)
            path, _, frag = h.partition('#')
            tgt = posixpath.normpath(posixpath.join(posixpath.dirname(page), path.split('?')[0])) if path else page
            if tgt not in pages and not (out / tgt).exists():
                if not missing_ok: errs.append(f'{page}: broken link {h} ({tgt} does not exist)')
            elif frag and tgt in pages and frag not in ids[tgt]: errs.append(f'{page}: broken link {h} (no id "{frag}" in {tgt})')
    return errs

# ---------------------------------------------------------------- 5. driver

def build(out: Path, only: str | None, workers: int, param_tables: bool) -> int:
    import nbformat, yaml
    sys.path.insert(0, str(HERE))  # workers must find the task functions in `html_docs`: IPython replaces their `__main__`
    from html_docs import _init_worker, _modidx, _process, _render
    from nbdev.config import get_config, nbpath2html
    from nbdev.doclinks import nbglob
    cfg = get_config()
    root, nbs_path, t0 = Path(cfg.config_path).resolve(), Path(cfg.nbs_path).resolve(), time.time()
    os.chdir(root)
    if any(out == p or p in out.parents for p in (root / 'nbs', root / 'tools', root / '.git')) or out in (root, *root.parents) \
            or (out.exists() and any(out.iterdir()) and not (out / _MARKER).exists()):
        print(f'ERROR: refusing --out {out}: it holds the project, is inside nbs/, tools/ or .git, or is a folder this tool did not write', file=sys.stderr)
        return 2
    nbs = [Path(p).resolve() for p in nbglob(nbs_path, as_path=True) if not only or fnmatch.fnmatch(Path(p).name, only)]
    if not nbs: print('ERROR: no notebooks found', file=sys.stderr); return 1
    print(f'Processing {len(nbs)} notebook(s) with nbdev (FilterDefaults), {workers} worker process(es) ...', flush=True)
    errors, done, warn, used, bodies, ids, docs = [], {}, [], set(), {}, {}, []
    if sys.platform == 'linux':  # import the library (torch, diffusers, ...) once, before forking the workers that share it
        for mod in ['nbdev.processors', *_modidx()[2]]:
            try: importlib.import_module(mod)
            except Exception: pass
        print(f'  library imported in {time.time() - t0:.0f} s', flush=True)
    with get_context('fork' if sys.platform == 'linux' else 'spawn').Pool(workers, _init_worker, (param_tables,)) as pool:
        for src, nb_json, err, secs in pool.imap_unordered(_process, [str(p) for p in sorted(nbs, key=lambda p: -p.stat().st_size)]):
            rel = Path(src).relative_to(nbs_path).as_posix()
            print(f'  processed nbs/{rel} in {secs:.1f} s' if nb_json else f'ERROR: nbdev processing failed for nbs/{rel}:\n{err}', flush=True)
            if nb_json: done[rel] = nb_json
            else: errors.append(f'nbs/{rel}: nbdev processing failed')
        t1, ctx = time.time(), dict(pages={}, titles={}, descs={}, nbs_path=str(nbs_path))
        for rel in sorted(done):
            nb = nbformat.reads(done[rel], as_version=4)
            fm, done[rel] = pop_frontmatter(nb), nbformat.writes(nb)
            ctx['pages'][rel] = posixpath.join(posixpath.dirname(rel), fm.get('output-file') or nbpath2html(Path(rel)).name)
            ctx['titles'][rel], ctx['descs'][rel] = str(fm.get('title') or Path(rel).stem), fm.get('description', '')
        for p, n in Counter(ctx['pages'].values()).items():
            if n > 1: errors.append(f'several notebooks map to {p}'); ctx['pages'] = {r: q for r, q in ctx['pages'].items() if q != p}
        sb = (yaml.safe_load((nbs_path / 'sidebar.yml').read_text()) or {}) if (nbs_path / 'sidebar.yml').exists() else {}
        contents = ((sb.get('website') or {}).get('sidebar') or {}).get('contents')
        ctx['items'] = sidebar_items(contents, ctx['pages'], used, warn) if contents else [('page', r, None) for r in sorted(ctx['pages'])]
        warn = [] if only else warn + [f'nbs/{r} is not in sidebar.yml (built, not in the navigation)' for r in sorted(set(ctx['pages']) - used) if contents]
        ctx['site_url'] = (str(cfg.get('doc_host', '') or '').rstrip('/') + '/' + str(cfg.get('doc_baseurl', '') or '').strip('/')).rstrip('/') + '/'
        ctx['site_title'], ctx['site_desc'] = str(cfg.get('title', None) or cfg.lib_name), str(cfg.get('description', '') or '')
        jobs = sorted(((r, j, ctx) for r, j in done.items() if r in ctx['pages']), key=lambda j: -len(j[1]))
        for rel, page, body, secs, w, page_ids in pool.imap_unordered(_render, jobs):
            warn += [f'{page}: {x}' for x in w]
            if body is None: errors.append(f'nbs/{rel}: {w[-1]}')
            else: bodies[page], ids[page], docs = body, page_ids, docs + secs
    if out.exists(): shutil.rmtree(out)
    (out / 'assets').mkdir(parents=True)
    (out / _MARKER).write_text('written by tools/html_docs.py; this folder is deleted on every run\n')
    for page, body in bodies.items():
        body, fixed = fix_symbol_links(body, page, ids)
        if fixed: print(f'  {page}: links to the undocumented {", ".join(sorted(set(fixed)))} go to the source')
        (out / page).parent.mkdir(parents=True, exist_ok=True)
        (out / page).write_text(body, encoding='utf-8')
    css = (ASSETS / 'site.css').read_text() + ('\n/* nbs/styles.css */\n' + (nbs_path / 'styles.css').read_text() if (nbs_path / 'styles.css').exists() else '')
    (out / 'assets' / 'site.css').write_text(css)
    for src, dst in ((ASSETS / 'search.js', 'search.js'), (HERE / 'vendor/minisearch/minisearch.umd.js', 'minisearch.umd.js'),
                     (HERE / 'vendor/minisearch/LICENSE.txt', 'minisearch.LICENSE.txt')): shutil.copy(src, out / 'assets' / dst)
    docs.sort(key=lambda d: d['id'])
    (out / 'assets' / 'search_docs.js').write_text('window.OD_SEARCH_DOCS = ' + json.dumps(docs, ensure_ascii=False) + ';\n', encoding='utf-8')
    t2 = time.time()
    errors += check_site(out, missing_ok=bool(only))  # with --only, links to the pages not built are not errors
    for w in warn: print(f'WARNING: {w}')
    for e in errors: print(f'ERROR: {e}', file=sys.stderr)
    print(f'{len(bodies)} page(s) written to {out} ({len(docs)} search entries); nbdev processing {t1 - t0:.0f} s, '
          f'HTML {t2 - t1:.0f} s, checks {time.time() - t2:.0f} s; {len(errors)} error(s), {len(warn)} warning(s)')
    return 1 if errors else 0

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument('--out', default='_html', help='output folder (deleted and re-created); default _html')
    p.add_argument('--only', help="only notebooks whose file name matches this glob, e.g. '1*'")
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1, help='worker processes (default: one per CPU)')
    p.add_argument('--param-tables', action=argparse.BooleanOptionalAction, default=True,
                   help='a Type/Default/Details table under each show_doc signature (nbdev 2 style; default on)')
    p.add_argument('--check', metavar='DIR', help='only check the site in DIR: broken links and anchors, external resources, local paths')
    a = p.parse_args(argv)
    if not a.check: return build(Path(a.out).resolve(), a.only, max(1, a.workers), a.param_tables)
    errs = check_site(Path(a.check))
    for e in errs: print(f'ERROR: {e}', file=sys.stderr)
    print(f'{len(list(Path(a.check).rglob("*.html")))} page(s) checked; {len(errs)} error(s)')
    return 1 if errs else 0

if __name__ == '__main__':
    sys.exit(main())
