"""What every page of the site inlines: its style sheet and its script (sortable tables, filters).

No page loads anything: charts are inline SVG (matplotlib's, drawn when the site is written), and
the script below is the only code, written into each page, so the site works from ``file://`` with
no network.

The script: a click on a table's header cell sorts the table's rows by that column (numbers by the
cell's ``data-value`` when it has one, text otherwise; a second click reverses), and the page's
filter menus (``select[data-filter=dtype|device|machine]``) hide every element carrying a
``data-dtype`` / ``data-device`` / ``data-machine`` attribute that does not match.
"""

from __future__ import annotations

__all__ = ["SCRIPT", "STYLE"]

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em;
       color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1.05em; }
nav { font-size: 0.9em; margin-bottom: 1em; } nav a { margin-right: 1em; }
table.sortable { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.88em; }
table.sortable th, table.sortable td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
table.sortable th { background: #f2f2f2; cursor: pointer; user-select: none; white-space: nowrap; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; }
table.sortable td.text { text-align: left; }
figure.chart { margin: 1em 0; } figure.chart svg { max-width: 100%; height: auto; }
figure.chart figcaption { font-size: 0.85em; color: #555; }
.filters { background: #fafafa; border: 1px solid #ddd; padding: 0.5em 1em; margin: 1em 0; }
.filters label { margin-right: 1.5em; }
.note { color: #555; font-size: 0.9em; }
.regression { color: #b00; font-weight: bold; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var v = cell.getAttribute("data-value");
    if (v !== null && v !== "" && !isNaN(Number(v))) { return Number(v); }
    return cell.textContent.trim().toLowerCase();
  }
  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.cells, th);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      var order = x < y ? -1 : (x > y ? 1 : 0);
      return ascending ? order : -order;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function applyFilters() {
    var wanted = {};
    document.querySelectorAll("select[data-filter]").forEach(function (s) {
      wanted[s.getAttribute("data-filter")] = s.value;
    });
    document.querySelectorAll("[data-dtype],[data-device],[data-machine]").forEach(function (el) {
      var shown = Object.keys(wanted).every(function (k) {
        var have = el.getAttribute("data-" + k);
        return wanted[k] === "" || have === null || have === wanted[k];
      });
      el.style.display = shown ? "" : "none";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable th").forEach(function (th) {
      th.addEventListener("click", function () { sortBy(th.closest("table"), th); });
    });
    document.querySelectorAll("select[data-filter]").forEach(function (s) {
      s.addEventListener("change", applyFilters);
    });
  });
})();
"""
