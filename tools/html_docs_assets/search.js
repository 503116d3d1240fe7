// Search box of the offline docs (tools/html_docs.py): MiniSearch over assets/search_docs.js, loaded on first use.
(function () {
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
})();
