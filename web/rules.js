/* global document, structuredClone */
// The business-rules page (issue 20): view the active tables of a ruleset, open a draft from them,
// edit its cells, run its tests, activate it, roll back; the versions and the audit trail. Every
// request carries the planner role's API key (web/key.js), asked for once.
import { apiKey, keyedFetch } from '/web/key.js';

const auth = { key: '' };
const fetch = keyedFetch('planner', auth);
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const when = (iso) => (iso ? iso.slice(5, 16).replace('T', ' ') : '');
const state = { id: '', ruleset: null, draft: null };

async function json(url, init) {
  const r = await fetch(url, init);
  return { ok: r.ok, body: await r.json() };
}
const post = (url, body) => json(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
const errorText = (b) => `${b.error.code}: ${b.error.message}`;

/** One decision table as HTML: input columns, then outputs; cells as text or, in a draft, inputs. */
function tableHtml(node, editable) {
  const c = node.content;
  const cols = [...c.inputs.map((i) => ({ ...i, kind: 'in' })), ...c.outputs.map((o) => ({ ...o, kind: 'out' }))];
  const head = cols.map((col) => `<th class="${col.kind}">${esc(col.name ?? col.id)}<small>${esc(col.field)}</small></th>`).join('');
  const rows = c.rules.map((r, ri) => `<tr>${cols.map((col) => {
    const v = r[col.id] ?? '';
    return editable ? `<td><input data-node="${esc(node.id)}" data-row="${ri}" data-col="${esc(col.id)}" value="${esc(v)}"></td>` : `<td>${esc(v)}</td>`;
  }).join('')}</tr>`).join('');
  return `<div class="rules-table" data-table="${esc(node.id)}"><h3>${esc(node.name)} <span class="mute">· ${esc(c.hitPolicy)}${c.executionMode === 'loop' ? ' · per line' : ''}</span></h3>
    <table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></div>`;
}
const tablesHtml = (graph, editable) => graph.nodes.filter((n) => n.type === 'decisionTableNode').map((n) => tableHtml(n, editable)).join('');

async function loadRulesets() {
  const { body } = await json('/v1/rulesets');
  const sel = $('#ruleset');
  sel.innerHTML = body.items.map((r) => `<option value="${esc(r.id)}">${esc(r.id)} · ${esc(r.name)}</option>`).join('');
  if (body.items.some((r) => r.id === state.id)) sel.value = state.id;
  state.id = sel.value;
  await show();
}

// Each refresh reads everything it shows first and then draws it in one go, so the "active vN"
// label never stands above an older version's tables; a refresh overtaken by a later one (two
// clicks in quick succession) draws nothing.
let showSeq = 0;
async function show() {
  if (!state.id) return;
  const seq = ++showSeq;
  const id = encodeURIComponent(state.id);
  const { body: rs } = await json(`/v1/rulesets/${id}`);
  const active = rs.activeVersion ? (await json(`/v1/rulesets/${id}/versions/${rs.activeVersion}`)).body : null;
  const { body: audit } = await json(`/v1/rulesets/${id}/audit`);
  if (seq !== showSeq) return;
  state.ruleset = rs;
  $('#active').textContent = rs.activeVersion ? `active v${rs.activeVersion} · in force here v${rs.inForce ?? '–'}` : 'no active version';
  $('#versions tbody').innerHTML = [...rs.versions].reverse().map((v) => `<tr data-version="${v.version}"><td>v${v.version}</td><td class="state-${v.state}">${v.state}</td><td>${esc(v.name)}</td>
    <td>${when(v.createdAt)}</td><td>${esc(v.createdBy)}</td><td>${when(v.activatedAt)}</td>
    <td>${v.state === 'draft' ? `<button class="small" data-open="${v.version}">编辑 edit</button>` : ''} ${v.state !== 'active' ? `<button class="small" data-activate="${v.version}">生效 activate</button>` : ''}</td></tr>`).join('');
  $('#active-title').textContent = active ? `v${active.version} · ${active.name} · failMode ${active.failMode}` : '';
  $('#active-tables').innerHTML = active ? tablesHtml(active.graph, false) : '';
  $('#audit tbody').innerHTML = [...audit.items].reverse().map((a) => `<tr><td>${when(a.at)}</td><td>${esc(a.by)}</td><td>${esc(a.what)}</td><td>v${a.version}</td></tr>`).join('');
}

function openDraft(v) {
  state.draft = v;
  $('#draft-title').textContent = `v${v.version} · ${v.name}`;
  $('#draft-tables').innerHTML = tablesHtml(v.graph, true);
  for (const b of ['#save', '#test', '#activate']) $(b).disabled = false;
  $('#tests tbody').innerHTML = '';
}

/** The open draft with the edited cells written back into its graph. */
function editedDraft() {
  const d = structuredClone(state.draft);
  for (const input of document.querySelectorAll('#draft-tables input')) {
    const node = d.graph.nodes.find((n) => n.id === input.dataset.node);
    node.content.rules[Number(input.dataset.row)][input.dataset.col] = input.value;
  }
  return d;
}

function say(msg, bad) {
  $('#draft-msg').textContent = msg;
  $('#draft-msg').className = bad ? 'error' : 'mute';
}

$('#ruleset').addEventListener('change', async (ev) => {
  state.id = ev.target.value;
  await show();
});
$('#draft-tables').addEventListener('input', (ev) => ev.target.classList.add('changed'));
$('#new-draft').addEventListener('click', async () => {
  const rs = state.ruleset;
  if (!rs?.activeVersion) return say('no active version to start from', true);
  const { body: v } = await json(`/v1/rulesets/${encodeURIComponent(state.id)}/versions/${rs.activeVersion}`);
  const r = await post(`/v1/rulesets/${encodeURIComponent(state.id)}/versions`, { name: `${v.name} (draft)`, description: v.description, failMode: v.failMode, graph: v.graph, tests: v.tests });
  if (!r.ok) return say(errorText(r.body), true);
  openDraft(r.body);
  say(`draft v${r.body.version} created from v${v.version}`);
  await show();
});
$('#versions').addEventListener('click', async (ev) => {
  const open = ev.target.closest('[data-open]');
  const act = ev.target.closest('[data-activate]');
  if (open) {
    const { body } = await json(`/v1/rulesets/${encodeURIComponent(state.id)}/versions/${open.dataset.open}`);
    openDraft(body);
  } else if (act) {
    const r = await post(`/v1/rulesets/${encodeURIComponent(state.id)}/versions/${act.dataset.activate}/activate`);
    $('#rollback-msg').textContent = r.ok ? `v${r.body.version} active (was v${r.body.previous ?? '–'})` : errorText(r.body);
    await show();
  }
});
$('#save').addEventListener('click', async () => {
  const d = editedDraft();
  const r = await json(`/v1/rulesets/${encodeURIComponent(state.id)}/versions/${d.version}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: d.name, description: d.description, failMode: d.failMode, graph: d.graph, tests: d.tests }),
  });
  if (!r.ok) return say(errorText(r.body), true);
  openDraft(r.body);
  say(`draft v${r.body.version} saved`);
  await show();
});
$('#test').addEventListener('click', async () => {
  const r = await post(`/v1/rulesets/${encodeURIComponent(state.id)}/versions/${state.draft.version}/test`);
  if (!r.ok) return say(errorText(r.body), true);
  $('#tests tbody').innerHTML = r.body.tests.map((t) => `<tr><td>${esc(t.name)}</td><td class="${t.passed ? 'pass' : 'fail'}">${t.passed ? 'pass' : 'FAIL'}</td><td>${esc(t.expected.join(', '))}</td><td>${esc(t.got.join(', '))}${t.error ? ` ${esc(t.error)}` : ''}</td></tr>`).join('');
  say(r.body.passed ? `all ${r.body.tests.length} tests pass (saved cells)` : 'some tests fail', !r.body.passed);
});
$('#activate').addEventListener('click', async () => {
  const r = await post(`/v1/rulesets/${encodeURIComponent(state.id)}/versions/${state.draft.version}/activate`);
  if (!r.ok) return say(errorText(r.body), true);
  say(`v${r.body.version} is active (was v${r.body.previous ?? '–'}); every instance follows within RULES_POLL_MS`);
  for (const b of ['#save', '#test', '#activate']) $(b).disabled = true;
  await show();
});
$('#rollback').addEventListener('click', async () => {
  const r = await post(`/v1/rulesets/${encodeURIComponent(state.id)}/rollback`, {});
  $('#rollback-msg').textContent = r.ok ? `rolled back to v${r.body.version} (was v${r.body.previous ?? '–'})` : errorText(r.body);
  await show();
});

apiKey('planner').then((k) => {
  auth.key = k;
  return loadRulesets();
});
