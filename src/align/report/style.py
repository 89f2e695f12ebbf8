"""The style sheet of the HTML report: inlined in the page, print rules included."""

CSS = """
:root { --ink:#1d2733; --muted:#5b6776; --line:#dde3ea; --accent:#1f5fa8; --good:#1b7f3b;
        --bad:#b42318; --paper:#ffffff; --band:#f4f7fb; }
* { box-sizing: border-box; }
body { margin:0; background:#eef2f6; color:var(--ink);
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
header.top { background: var(--accent); color: #fff; padding: 28px 24px 22px; }
header.top .inner { max-width: 1180px; margin: 0 auto; }
header.top h1 { margin: 0 0 6px; font-size: 28px; font-weight: 650; }
header.top p { margin: 0; opacity: .9; }
nav { margin-top: 14px; display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 14px; }
nav a { color: #fff; text-decoration: none; border-bottom: 1px solid rgba(255,255,255,.5); }
section { background: var(--paper); border-radius: 10px; padding: 20px 24px; margin: 0 0 20px;
          box-shadow: 0 1px 3px rgba(16,24,40,.08); }
h2 { margin: 0 0 12px; font-size: 21px; }
h3 { margin: 18px 0 8px; font-size: 16px; }
p.lead { color: var(--muted); margin: 0 0 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px;
         margin-bottom: 16px; }
.card { background: var(--band); border-radius: 8px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 13px; }
.card .value { font-size: 24px; font-weight: 650; margin-top: 2px; }
.card .was { font-size: 13px; color: var(--muted); }
.better { color: var(--good); } .worse { color: var(--bad); }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 6px 0 8px; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: right;
         white-space: nowrap; }
th { background: var(--band); font-weight: 600; }
.scroll th { position: sticky; top: 0; z-index: 1; }
th.l, td.l { text-align: left; white-space: normal; }
tr:hover td { background: #fafcff; }
.scroll { max-height: 460px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
.scroll table { margin: 0; }
figure { margin: 8px 0 14px; }
figure img { width: 100%; height: auto; display: block; border: 1px solid var(--line);
             border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.note { color: var(--muted); font-size: 13px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
        background: var(--band); color: var(--ink); }
.pill.ok { background: #e3f4e8; color: var(--good); } .pill.warn { background: #fdecea;
        color: var(--bad); }
.plan { page-break-before: always; break-before: page; }
.plan .facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr));
               gap: 10px; margin: 10px 0 4px; }
.plan .fact { background: var(--band); border-radius: 8px; padding: 8px 12px; }
.plan .fact .label { color: var(--muted); font-size: 12px; }
.plan .fact .value { font-size: 19px; font-weight: 650; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 10px 0 30px; }
@media print {
  body { background: #fff; font-size: 11pt; }
  header.top { background: #fff; color: var(--ink); border-bottom: 2px solid var(--accent); }
  header.top nav { display: none; }
  main { padding: 0; max-width: none; }
  section { box-shadow: none; border-radius: 0; padding: 8px 0; }
  .scroll { max-height: none; overflow: visible; border: 0; }
  .scroll th { position: static; }
  figure, table, .cards { break-inside: avoid; }
}
"""
