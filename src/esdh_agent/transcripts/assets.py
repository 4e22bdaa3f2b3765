"""The run page's inline style and script (hashed into its Content-Security-Policy).

The script only filters and expands: the node and critic selects hide the ``.filterable``
elements of other nodes or critics, the requirements' status select hides the ledger rows of
other statuses, and "expand all" opens every ``<details>``. Marks in the request link to
their requirement's row by plain anchors (no script), and ``:target`` highlights the row.
"""

from __future__ import annotations

__all__ = ["CSS", "JS"]

CSS = """
:root{--ok:#1a7f37;--bad:#cf222e;--wait:#9a6700;--mute:#57606a;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}[hidden]{display:none!important}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328}
header,main{padding:0 24px}header{background:var(--bg);border-bottom:1px solid var(--line)}
h1{font-size:20px;margin:0;padding:16px 0 4px}h2{font-size:17px;margin:28px 0 8px}
h3{font-size:15px;margin:16px 0 6px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;color:#fff;
background:var(--bad)}.badge.ok{background:var(--ok)}.badge.wait{background:var(--wait)}
.badge.mute{background:var(--mute)}#run-why{font-size:15px;margin:6px 0 12px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0 0 16px}
#run-header{grid-template-columns:max-content 1fr max-content 1fr}
dt{color:var(--mute)}dd{margin:0;word-break:break-all}
table{border-collapse:collapse;width:100%;margin:4px 0 12px}
th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{background:var(--bg)}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:var(--bg);padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap;
word-break:break-word;margin:4px 0}code{font-size:12px}
#filters{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);
padding:8px 24px;z-index:1;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
#request-prose{font-size:15px;white-space:pre-wrap;border-left:4px solid var(--line);
margin:8px 0;padding:6px 14px;background:var(--bg)}
td.src-pinned{color:#0550ae;font-weight:600}td.src-model{color:var(--wait)}
td.src-default{color:var(--mute)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:12px}
.card{border:1px solid var(--line);border-left:5px solid var(--ok);padding:8px 12px}
.card.blocking{border-left-color:var(--bad)}.card.advisory{border-left-color:var(--wait)}
.card.abstained{border-left-color:var(--mute)}.reason{font-weight:600;margin:4px 0}
.card td:nth-child(5){width:40%}tr.finding.blocking td{background:#ffebe9}.muted{color:var(--mute)}
.exchange{display:grid;grid-template-columns:1fr 1fr;gap:8px}tr.info td{color:var(--mute)}
ul{margin:4px 0;padding-left:20px}td.src-request{color:var(--ok);font-weight:600}
mark.req{background:#fff8c5;border-bottom:2px solid var(--wait);padding:0 1px}
mark.req a{color:inherit;text-decoration:none}mark.st-met{background:#dafbe1;
border-bottom-color:var(--ok)}mark.st-unmet,mark.st-refused{background:#ffebe9;
border-bottom-color:var(--bad)}mark.st-overridden{background:#eaeef2;
border-bottom-color:var(--mute)}mark.st-pending{background:#ddf4ff;border-bottom-color:#0969da}
a.req-tag{font-size:10px;margin:0 1px;color:var(--mute)}.st{font-weight:600}
.st.st-met{color:var(--ok)}.st.st-unmet,.st.st-refused{color:var(--bad)}
.st.st-not_supported,.st.st-declined{color:var(--wait)}.st.st-overridden{color:var(--mute)}
tr.req-row:target td,li:target{background:#ddf4ff}tr.req-row.st-unmet td.status{background:#ffebe9}
.warn{border-left:4px solid var(--wait);background:#fff8c5;padding:4px 10px;font-weight:600}
a.back{text-decoration:none}tr.req-row,#not-honoured li,a.req-tag{scroll-margin-top:72px}
"""

JS = """(function () {
  var node = document.getElementById('filter-node');
  var critic = document.getElementById('filter-critic');
  var status = document.getElementById('filter-req-status');
  function apply() {
    var n = node.value, c = critic.value, s = status ? status.value : '', shown = 0;
    document.querySelectorAll('.filterable').forEach(function (el) {
      var en = el.getAttribute('data-node'), ec = el.getAttribute('data-critic');
      var es = el.classList.contains('req-row') ? el.getAttribute('data-status') : s;
      el.hidden = (n !== '' && en !== n) || (c !== '' && ec !== '' && ec !== c) ||
        (s !== '' && es !== s);
      if (!el.hidden && el.classList.contains('event')) { shown += 1; }
    });
    document.getElementById('filter-count').textContent = shown + ' event(s) shown';
  }
  node.addEventListener('change', apply);
  critic.addEventListener('change', apply);
  if (status) { status.addEventListener('change', apply); }
  document.getElementById('filter-reset').addEventListener('click', function () {
    node.value = ''; critic.value = ''; if (status) { status.value = ''; } apply();
  });
  document.getElementById('expand-all').addEventListener('click', function () {
    var open = this.getAttribute('data-open') !== 'true';
    document.querySelectorAll('details').forEach(function (d) { d.open = open; });
    this.setAttribute('data-open', String(open));
    this.textContent = open ? 'collapse all' : 'expand all';
  });
  apply();
})();"""
