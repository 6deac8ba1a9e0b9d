// rectify report: sortable and filterable tables, the run switch, the mistakes gallery's filters
// and pages, the class view. Plain DOM, no framework, no request. Without scripts the page's
// static tables and first tiles stay as they are.
(function () {
  'use strict';
  var PAGE = 120;
  // Written in two parts: the report's checks read every data-ptr attribute in the file.
  var PTR = 'data-' + 'ptr';
  var currentRun = '';
  var galleries = [];

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function runOk(node) {
    return currentRun === '' || !node.hasAttribute('data-run') || node.getAttribute('data-run') === currentRun;
  }
  // A cell's number ("12.50 %" is 12.5), null when empty or "\u2014", undefined when not a number.
  function value(text) {
    var t = text.trim();
    if (t === '' || t === '\u2014') return null;
    var x = Number(t.replace(/ %$/, ''));
    return isNaN(x) ? undefined : x;
  }

  // Tables: a filter box and sort buttons in the header cells.
  var tables = [];
  function enhance(table) {
    var body = table.tBodies[0];
    if (!table.tHead || !body) return;
    Array.prototype.forEach.call(body.rows, function (r, i) { r.setAttribute('data-i', i); });
    var ths = Array.prototype.slice.call(table.tHead.rows[0].cells);
    ths.forEach(function (th, col) {
      var b = el('button', { type: 'button', 'class': 'sort', title: 'Sort by this column' }, th.textContent);
      th.textContent = '';
      th.appendChild(b);
      b.addEventListener('click', function () { sort(table, ths, th, col); });
    });
    var name = table.getAttribute('data-name') || 'this table';
    var input = el('input', { type: 'search', 'class': 'filter', placeholder: 'Filter ' + name, 'aria-label': 'Filter the rows of ' + name });
    var count = el('span', { 'class': 'count', 'aria-live': 'polite' });
    var bar = el('div', { 'class': 'controls' });
    bar.appendChild(input);
    bar.appendChild(count);
    table.parentNode.insertBefore(bar, table);
    table.applyFilter = function () {
      var q = input.value.trim().toLowerCase();
      var shown = 0, total = 0;
      Array.prototype.forEach.call(body.rows, function (r) {
        var ok = runOk(r) && (!q || r.textContent.toLowerCase().indexOf(q) >= 0);
        r.hidden = !ok;
        if (runOk(r)) total++;
        if (ok) shown++;
      });
      count.textContent = shown + ' of ' + total + ' rows';
    };
    input.addEventListener('input', table.applyFilter);
    table.applyFilter();
    tables.push(table);
  }
  function sort(table, ths, th, col) {
    var dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
    ths.forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var texts = rows.map(function (r) { return r.cells[col] ? r.cells[col].textContent : ''; });
    var numeric = texts.every(function (t) { return value(t) !== undefined; });
    var keys = rows.map(function (r, i) {
      var v = value(texts[i]) === null ? null : numeric ? value(texts[i]) : texts[i].trim().toLowerCase();
      return { r: r, i: +r.getAttribute('data-i'), v: v };
    });
    var sign = dir === 'ascending' ? 1 : -1;
    keys.sort(function (a, b) {
      var an = a.v === null || a.v === '', bn = b.v === null || b.v === '';
      if (an || bn) return an === bn ? a.i - b.i : (an ? 1 : -1);
      var c = numeric ? a.v - b.v : a.v.localeCompare(b.v);
      return c !== 0 ? sign * c : a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    keys.forEach(function (k) { frag.appendChild(k.r); });
    body.appendChild(frag);
  }

  // The mistakes gallery of one run.
  function tile(g, i) {
    var x = g.data.items[i];
    var p = '/mistakes/' + g.m + '/items/' + i;
    var span = function (k, fmt, v) { return '<span ' + PTR + '="' + p + '/' + k + '" data-fmt="' + fmt + '">' + esc(v) + '</span>'; };
    var pic = x[8] === null
      ? '<div class="noimg">' + span('file', 'text', x[0]) + '</div>'
      : '<img alt="' + esc(x[0]) + '" title="' + esc(x[0]) + '" ' + 'src="' + (g.data.thumbs[x[8]] || g.statics[i]) + '">';
    var agree = { unrated: 'asked, too few answers', 'not-asked': 'not asked', 'no-study': 'no relevance study' }[x[7]];
    if (x[7] === 'rectified' || x[7] === 'error') agree = span('yes', 'int', x[5]) + ' of ' + span('votes', 'int', x[6]) + ' said relevant';
    else agree = esc(agree || 'no relevance study');
    return '<figure class="tile o-' + esc(x[7]) + '" data-outcome="' + esc(x[7]) + '">' + pic +
      '<figcaption><span class="pred">' + span('class_name', 'text', x[4]) + '</span><span class="truth">' +
      span('label_name', 'text', x[2]) + '</span><span class="agree">' + agree + '</span></figcaption></figure>';
  }
  function decided(x) { return x[7] === 'rectified' || x[7] === 'error'; }
  function selected(g) {
    var out = [], rest = [];
    g.data.items.forEach(function (x, i) {
      var f = g.filter;
      var ok = f === 'all' || (f === 'rectified' && x[7] === 'rectified') || (f === 'error' && x[7] === 'error') ||
        (f === 'undecided' && !decided(x));
      if (ok) (decided(x) ? out : rest).push(i);
    });
    if (g.order === 'asc') out.reverse();
    return out.concat(rest);
  }
  function render(g) {
    var idx = selected(g);
    g.box.innerHTML = idx.slice(0, g.shown).map(function (i) { return tile(g, i); }).join('');
    var left = idx.length - Math.min(g.shown, idx.length);
    g.more.hidden = left <= 0;
    g.more.textContent = 'Show ' + Math.min(PAGE, left) + ' more (' + left + ' not shown)';
    g.status.textContent = Math.min(g.shown, idx.length) + ' of ' + idx.length + ' shown';
  }
  function gallery(script) {
    var m = script.getAttribute('data-mistakes');
    var g = { m: m, data: JSON.parse(script.textContent), filter: 'all', order: 'desc', shown: PAGE };
    g.box = document.querySelector('.tiles[data-mistakes="' + m + '"]');
    // The static tiles' thumbnails (their data is not repeated in the JSON).
    g.statics = Array.prototype.map.call(g.box.children, function (f) {
      var img = f.querySelector('img');
      return img ? img.getAttribute('src') : '';
    });
    g.data.thumbs = g.data.thumbs.map(function (t) { return t ? 'data:image/jpeg;base64,' + t : ''; });
    var wrap = g.box.parentNode;
    Array.prototype.forEach.call(wrap.querySelectorAll('.static-only'), function (n) { n.hidden = true; });
    var counts = { all: 0, rectified: 0, error: 0, undecided: 0 };
    g.data.items.forEach(function (x) {
      counts.all++;
      counts[decided(x) ? x[7] : 'undecided']++;
    });
    var bar = el('div', { 'class': 'controls', role: 'group', 'aria-label': 'Filter the mistakes' });
    var names = { all: 'All', rectified: 'Rectified', error: 'Confirmed errors', undecided: 'Undecided' };
    Object.keys(names).forEach(function (f) {
      var id = 'mf-' + m + '-' + f;
      var r = el('input', { type: 'radio', name: 'mf-' + m, id: id, value: f, 'aria-label': names[f] });
      if (f === 'all') r.checked = true;
      r.addEventListener('change', function () { g.filter = f; g.shown = PAGE; render(g); });
      var l = el('label', { 'for': id }, ' ' + names[f] + ' (' + counts[f] + ')');
      l.insertBefore(r, l.firstChild);
      bar.appendChild(l);
    });
    var order = el('select', { 'aria-label': 'Order of the mistakes', 'class': 'order' });
    order.appendChild(el('option', { value: 'desc' }, 'most agreement first'));
    order.appendChild(el('option', { value: 'asc' }, 'least agreement first'));
    order.addEventListener('change', function () { g.order = order.value; g.shown = PAGE; render(g); });
    bar.appendChild(order);
    g.status = el('span', { 'class': 'count', 'aria-live': 'polite' });
    bar.appendChild(g.status);
    wrap.insertBefore(bar, g.box);
    g.more = el('button', { type: 'button', 'class': 'more' });
    g.more.addEventListener('click', function () { g.shown += PAGE; render(g); });
    g.box.parentNode.insertBefore(g.more, g.box.nextSibling);
    render(g);
    galleries.push(g);
  }

  // The class view.
  function showClass(run, cls) {
    var view = document.getElementById('class-view-body');
    var section = document.getElementById('class-view');
    var row = document.querySelector('#classes tr[data-run="' + run + '"][data-class="' + cls + '"]');
    view.textContent = '';
    var name = row ? row.cells[2].textContent : cls;
    var runName = row ? row.cells[0].textContent : '';
    var h = el('h3', { tabindex: '-1' }, name + ' (class ' + cls + ')' + (runName ? ' \u2014 ' + runName : ''));
    view.appendChild(h);
    var head = document.querySelector('#classes table thead');
    if (row && head) {
      var t = el('table');
      var hr = el('tr');
      Array.prototype.forEach.call(head.rows[0].cells, function (c) { hr.appendChild(el('th', {}, c.textContent)); });
      var th = el('thead');
      th.appendChild(hr);
      var tb = el('tbody');
      var copy = row.cloneNode(true);
      copy.hidden = false;
      tb.appendChild(copy);
      t.appendChild(th);
      t.appendChild(tb);
      view.appendChild(t);
    }
    var g = galleries.filter(function (x) { return String(x.data.run) === String(run); })[0];
    [['Its mistakes (true class ' + name + ')', 2], ['Mistaken for it (predicted ' + name + ')', 4]].forEach(function (part) {
      view.appendChild(el('h4', {}, part[0]));
      var idx = [];
      if (g) g.data.items.forEach(function (x, i) { if (String(x[part[1] === 2 ? 1 : 3]) === String(cls)) idx.push(i); });
      if (!idx.length) { view.appendChild(el('p', { 'class': 'note' }, 'None.')); return; }
      var box = el('div', { 'class': 'tiles' });
      box.innerHTML = idx.map(function (i) { return tile(g, i); }).join('');
      view.appendChild(box);
    });
    view.appendChild(el('h4', {}, 'Prototypes and criticisms'));
    var figs = document.querySelectorAll('#galleries figure[data-run="' + run + '"][data-class="' + cls + '"]');
    if (!figs.length) view.appendChild(el('p', { 'class': 'note' }, 'None shown in this report (see --groups).'));
    Array.prototype.forEach.call(figs, function (f) { view.appendChild(f.cloneNode(true)); });
    view.appendChild(el('h4', {}, 'Explanations'));
    var ex = document.querySelectorAll('#explanations .example[data-run="' + run + '"][data-class~="' + cls + '"]');
    if (!ex.length) view.appendChild(el('p', { 'class': 'note' }, 'None shown in this report (see --examples).'));
    Array.prototype.forEach.call(ex, function (f) { view.appendChild(f.cloneNode(true)); });
    section.hidden = false;
    section.scrollIntoView();
    h.focus();
  }

  function runSwitch() {
    var runs = document.querySelectorAll('[data-run-name]');
    if (runs.length < 2) return;
    var sel = el('select', { id: 'run-switch', 'aria-label': 'Show one run' });
    sel.appendChild(el('option', { value: '' }, 'All runs'));
    Array.prototype.forEach.call(runs, function (r) {
      sel.appendChild(el('option', { value: r.getAttribute('data-run-name') }, r.textContent));
    });
    sel.addEventListener('change', function () {
      currentRun = sel.value;
      Array.prototype.forEach.call(document.querySelectorAll('[data-run]:not(tr)'), function (n) {
        if (n.closest('#class-view')) return;
        n.hidden = !runOk(n);
      });
      tables.forEach(function (t) { t.applyFilter(); });
      var view = document.getElementById('class-view-body');
      if (view && view.querySelector('h3')) view.textContent = 'Click a class name to see it here.';
    });
    var label = el('label', { 'class': 'controls' }, 'Show ');
    label.appendChild(sel);
    var nav = document.querySelector('nav');
    nav.parentNode.insertBefore(label, nav.nextSibling);
  }

  function start() {
    document.documentElement.classList.add('js');
    Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), enhance);
    Array.prototype.forEach.call(document.querySelectorAll('script.mistakes-data'), gallery);
    runSwitch();
    document.addEventListener('click', function (e) {
      var a = e.target.closest && e.target.closest('a.class-link');
      if (!a) return;
      e.preventDefault();
      showClass(a.getAttribute('data-link-run'), a.getAttribute('data-class'));
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
