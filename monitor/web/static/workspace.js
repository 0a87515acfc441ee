// The analyst's workspace (monitor.web.workspace): rules, preview while typing, stories,
// triage, the rule panel. Hand-written, no dependencies, no build step.
//
// Safety: every value from the API is put into the page as text (textContent, attributes
// set one by one, links only when http/https). The one exception is a snippet's `html`
// from the server: escaped text with <mark> around hits. It goes through one Trusted
// Types policy that refuses anything else (the page's CSP requires it), and falls back
// to the snippet's plain text.
"use strict";

(() => {
  const DEBOUNCE_MS = 250;
  const POLL_MS = 4000;
  const PAGE = 25;
  const STATES = {relevant: "relevant", dismiss: "dismissed", reset: "new",
                  mute_story: "muted", mute_source: "dismissed"};
  const MARKED = /^(?:[^<>]|<mark>|<\/mark>)*$/;

  const marks = (window.trustedTypes && window.trustedTypes.createPolicy)
    ? window.trustedTypes.createPolicy("workspace-marks", {createHTML: checkMarked})
    : {createHTML: checkMarked};

  function checkMarked(html) {
    if (typeof html !== "string" || !MARKED.test(html)) {
      throw new TypeError("not escaped text with <mark>");
    }
    return html;
  }

  const state = {
    session: {signed_in: false}, rules: [], channels: [], editing: null, stories: [],
    next: null, newest: null, applied: new URLSearchParams(), cursor: -1, previewSeq: 0, previewTimer: 0,
    lastCount: null, baseline: null, polling: 0,
  };

  // -- small DOM helpers ------------------------------------------------------------------

  const $ = (sel, root = document) => root.querySelector(sel);

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function svg(tag, attrs = {}) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    return node;
  }

  function safeHref(url) {
    try {
      const parsed = new URL(String(url), window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(url, text) {
    const href = safeHref(url);
    return href ? el("a", {href, rel: "noreferrer noopener", text: text || url})
      : el("span", {text: text || url});
  }

  function setMarked(node, html, text) {
    try {
      node.innerHTML = marks.createHTML(html);
    } catch (e) {
      node.textContent = text || "";
    }
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function show(node, visible) { node.hidden = !visible; }

  // -- the API ----------------------------------------------------------------------------

  async function api(method, path, body, csrf) {
    const init = {method, headers: {Accept: "application/json"}, credentials: "same-origin"};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const token = csrf || state.session.csrf;
    if (method !== "GET" && token) init.headers["X-CSRF-Token"] = token;
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      return {ok: false, status: 0, data: {error: "the server did not answer"}};
    }
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return {ok: response.ok, status: response.status, data: data || {}};
  }

  const canEdit = () => state.session.signed_in && state.session.role === "editor";

  // -- session ----------------------------------------------------------------------------

  async function loadSession() {
    const got = await api("GET", "/api/session");
    state.session = got.ok ? got.data : {signed_in: false};
    const s = state.session;
    $("#whoami").textContent = s.signed_in ? `signed in as ${s.name} (${s.role})`
      : "not signed in: read-only";
    show($("#signin"), !s.signed_in);
    show($("#signout"), !!s.signed_in);
    document.body.classList.toggle("can-edit", canEdit());
    renderEditorMode();
    renderStories();
  }

  async function signIn(event) {
    event.preventDefault();
    const form = event.target;
    const error = $("#signin-error");
    error.textContent = "";
    let token = "";
    try {
      token = (await fetch("/login", {credentials: "same-origin"})).headers.get("X-CSRF-Token");
    } catch (e) { token = ""; }
    const got = await api("POST", "/login", {name: form.name.value,
                                              password: form.password.value}, token);
    if (!got.ok) {
      error.textContent = got.data.error || `sign-in failed (${got.status})`;
      return;
    }
    form.reset();
    await loadSession();
  }

  async function signOut() {
    await api("POST", "/logout");
    await loadSession();
  }

  // -- rules --------------------------------------------------------------------------------

  async function loadRules() {
    const [rules, channels] = await Promise.all([api("GET", "/api/rules"),
                                                 api("GET", "/api/channels")]);
    state.rules = rules.ok ? rules.data.rules || [] : [];
    state.channels = channels.ok ? (channels.data.channels || []).map((c) => c.name) : [];
    renderRules();
    renderChannels();
    fillSelect($("#filter-rule"), state.rules.filter((r) => r.id).map((r) => [r.id, r.name]));
  }

  function fillSelect(select, options) {
    const keep = select.value;
    while (select.options.length > 1) select.remove(1);
    for (const [value, label] of options) select.append(el("option", {value, text: label}));
    select.value = keep;
  }

  function renderRules() {
    const list = $("#rules");
    list.replaceChildren();
    for (const rule of state.rules) {
      const chosen = state.editing && state.editing.id === rule.id;
      const item = el("li", {class: "rule-item" + (chosen ? " chosen" : ""),
                             dataset: {id: rule.id}},
        el("button", {type: "button", class: "rule-name", text: rule.name,
                      onclick: () => editRule(rule)}),
        el("span", {class: "badge", text: rule.managed_by === "config" ? "managed by config"
          : rule.enabled ? "web" : "web, disabled"}),
        el("code", {class: "rule-query", text: rule.query}));
      list.append(item);
    }
  }

  function renderChannels(selected = []) {
    const box = $("#rule-channels");
    box.replaceChildren(el("legend", {text: "Channels"}));
    if (!state.channels.length) box.append(el("span", {class: "muted", text: "none configured"}));
    for (const name of state.channels) {
      box.append(el("label", {class: "inline"},
        el("input", {type: "checkbox", name: "channel", value: name,
                     checked: selected.includes(name)}), ` ${name}`));
    }
  }

  function editRule(rule) {
    state.editing = rule;
    const form = $("#rule-form");
    form.name.value = rule ? rule.name : "";
    form.query.value = rule ? rule.query : "";
    form.feeds.value = rule ? (rule.feeds || []).join(", ") : "";
    form.match.value = (rule && rule.match) || "variants";
    form.digest.value = (rule && rule.digest) || "";
    form.max_alerts_per_hour.value = (rule && rule.max_alerts_per_hour) || "";
    form.languages.value = rule ? (rule.languages || []).join(", ") : "";
    form.max_age.value = rule ? ageText(rule.max_age) : "";
    const spike = (rule && rule.spike) || {};
    $("#rule-spike-on").checked = !!(rule && rule.spike);
    $("#rule-spike-factor").value = spike.factor || 3;
    $("#rule-spike-min-hits").value = spike.min_hits || 5;
    $("#rule-spike-baseline").value = spike.baseline_days || 14;
    $("#rule-enabled").checked = rule ? rule.enabled !== false : true;
    renderChannels(rule ? rule.channels || [] : state.channels);
    $("#save-status").textContent = "";
    state.baseline = null;
    $("#preview-delta").textContent = "";
    renderEditorMode();
    renderRules();
    schedulePreview(0);
    loadPanel();
  }

  // a rule's max_age (seconds; null: each feed's; 0: off) as the editor writes it
  function ageText(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (!seconds) return "off";
    for (const [unit, size] of [["w", 604800], ["d", 86400], ["h", 3600], ["m", 60]]) {
      if (seconds % size === 0) return `${seconds / size}${unit}`;
    }
    return `${seconds}s`;
  }

  function spikeBody() {
    if (!$("#rule-spike-on").checked) return null;
    const spike = {};
    for (const [key, id] of [["factor", "#rule-spike-factor"], ["min_hits", "#rule-spike-min-hits"],
                             ["baseline_days", "#rule-spike-baseline"]]) {
      const text = $(id).value.trim();  // a blank one is the default; a bad one the API names
      if (text) spike[key] = Number(text);
    }
    return spike;
  }

  function renderEditorMode() {
    const rule = state.editing;
    const config = !!rule && rule.managed_by === "config";
    $("#editor-title").textContent = rule ? `Rule: ${rule.name}` : "New rule";
    show($("#managed"), config);
    for (const input of $("#rule-form").querySelectorAll("input, textarea, select")) {
      input.readOnly = config;
      if (input.type === "checkbox" || input.tagName === "SELECT") input.disabled = config;
    }
    $("#rule-query").readOnly = false;  // a config rule's query can still be tried
    show($("#save-rule"), !config && canEdit());
    show($("#toggle-rule"), !!rule && !config && canEdit());
    show($("#delete-rule"), !!rule && !config && canEdit());
    if (rule && !config) $("#toggle-rule").textContent = rule.enabled ? "Disable" : "Enable";
  }

  function ruleBody() {
    const form = $("#rule-form");
    const body = {name: form.name.value.trim(), query: form.query.value.trim(),
                  match: form.match.value, enabled: $("#rule-enabled").checked,
                  channels: [...form.querySelectorAll("input[name=channel]:checked")]
                    .map((c) => c.value),
                  feeds: form.feeds.value.split(",").map((f) => f.trim()).filter(Boolean)};
    // an emptied field is sent as null: a PUT clears the rule's key (one left out stays)
    body.digest = form.digest.value.trim() || null;
    body.max_alerts_per_hour = form.max_alerts_per_hour.value
      ? Number(form.max_alerts_per_hour.value) : null;
    const languages = form.languages.value.split(/[\s,]+/).filter(Boolean);
    body.languages = languages.length ? languages : null;
    body.max_age = form.max_age.value.trim() || null;
    body.spike = spikeBody();
    return body;
  }

  async function saveRule(event) {
    event.preventDefault();
    const rule = state.editing;
    const status = $("#save-status");
    const got = rule ? await api("PUT", `/api/rules/${rule.id}`, ruleBody())
      : await api("POST", "/api/rules", ruleBody());
    if (!got.ok) {
      status.textContent = "";
      showQueryError(got.data.error || `not saved (${got.status})`, got.data.column);
      return;
    }
    await loadRules();
    const saved = state.rules.find((r) => r.id === got.data.id) || got.data;
    editRule(saved);
    $("#save-status").textContent = "Saved.";
  }

  async function toggleRule() {
    const rule = state.editing;
    const got = await api("PUT", `/api/rules/${rule.id}`, {enabled: !rule.enabled});
    if (got.ok) {
      await loadRules();
      editRule(state.rules.find((r) => r.id === rule.id) || got.data);
      $("#save-status").textContent = got.data.enabled ? "Enabled." : "Disabled.";
    } else {
      $("#save-status").textContent = got.data.error || "not changed";
    }
  }

  async function deleteRule() {
    const rule = state.editing;
    if (!window.confirm(`Delete the rule ${rule.name}?`)) return;
    const got = await api("DELETE", `/api/rules/${rule.id}`);
    if (!got.ok) {
      $("#save-status").textContent = got.data.error || "not deleted";
      return;
    }
    await loadRules();
    editRule(null);
    $("#save-status").textContent = "Deleted.";
  }

  // -- preview while typing -------------------------------------------------------------------

  function schedulePreview(delay = DEBOUNCE_MS) {
    window.clearTimeout(state.previewTimer);
    state.previewTimer = window.setTimeout(runPreview, delay);
  }

  function showQueryError(message, column) {
    const box = $("#query-error");
    box.replaceChildren();
    if (!message) {
      show(box, false);
      return;
    }
    box.append(el("span", {text: column ? `column ${column}: ${message}` : message}));
    const query = $("#rule-query").value;
    if (column && column <= query.length + 1) {
      box.append(el("pre", {class: "caret"},
        el("span", {text: query.split("\n")[0]}), "\n",
        el("span", {text: " ".repeat(column - 1) + "^"})));
    }
    show(box, true);
  }

  async function runPreview() {
    const query = $("#rule-query").value.trim();
    const seq = ++state.previewSeq;
    if (!query) {
      showQueryError("");
      renderPreview(null);
      return;
    }
    const got = await api("GET", "/api/preview?" + new URLSearchParams({q: query, limit: "10"}));
    if (seq !== state.previewSeq) return;  // a newer keystroke's answer is coming
    if (!got.ok) {
      showQueryError(got.data.error || `preview failed (${got.status})`, got.data.column);
      return;
    }
    showQueryError("");
    renderPreview(got.data);
  }

  function renderPreview(data) {
    const count = $("#preview-count");
    const list = $("#preview-hits");
    list.replaceChildren();
    if (!data) {
      count.textContent = "";
      $("#preview-chart").replaceChildren();
      return;
    }
    count.textContent = `${data.matched} match${data.matched === 1 ? "" : "es"} in 30 days`;
    count.dataset.count = data.matched;
    if (state.baseline !== null) {
      const drop = state.baseline - data.matched;
      $("#preview-delta").textContent = `was ${state.baseline}, ${drop >= 0 ? "removes" : "adds"} ${Math.abs(drop)}`;
    }
    barChart($("#preview-chart"), (data.days || []).map((d) => [d.day, d.count]), new Set());
    for (const w of data.warnings || []) list.append(el("li", {class: "warning", text: `Warning: ${w}`}));
    for (const hit of data.hits || []) list.append(previewHit(hit));
  }

  function previewHit(hit) {
    const article = hit.article || {};
    const snippet = el("q", {class: "snippet"});
    const first = (hit.terms || []).flatMap((t) => t.snippets || [])[0];
    setMarked(snippet, hit.html || "", first ? first.text : "");
    return el("li", {class: "hit"},
      el("h4", {}, link(article.url, article.title || article.url)),
      el("div", {class: "meta", text: [article.source, when(hit.stored_at)].filter(Boolean).join(" · ")}),
      snippet);
  }

  function barChart(box, bars, spikes) {
    const width = 8, gap = 2, height = 48;
    const most = Math.max(1, ...bars.map((b) => b[1]));
    const chart = svg("svg", {class: "bars", width: bars.length * (width + gap),
                              height: height + 10, role: "img"});
    bars.forEach(([day, count], i) => {
      const h = count ? Math.max(2, Math.round(count / most * height)) : 1;
      const bar = svg("rect", {x: i * (width + gap), y: height + 10 - h, width, height: h,
                               class: count ? "bar" : "bar zero"});
      const title = svg("title");
      title.textContent = `${day}: ${count}${spikes.has(day) ? " (spike)" : ""}`;
      bar.append(title);
      chart.append(bar);
      if (spikes.has(day)) {
        chart.append(svg("path", {class: "spike", d: `M${i * (width + gap)} 0 h${width} l${-width / 2} 7 z`}));
      }
    });
    chart.setAttribute("aria-label", `${bars.reduce((n, b) => n + b[1], 0)} over ${bars.length} days`);
    box.replaceChildren(chart);
  }

  // -- the rule panel: precision, hits per day with spikes, feed, exclusions ------------------

  async function loadPanel() {
    const rule = state.editing;
    const panel = $("#rule-panel");
    if (!rule || !rule.id) {
      show(panel, false);
      return;
    }
    show(panel, true);
    $("#panel-title").textContent = `How ${rule.name} performs`;
    const [stats, spikes, feed] = await Promise.all([
      api("GET", `/api/rules/${rule.id}/stats?days=30`),
      api("GET", `/api/rules/${rule.id}/spikes?days=30`),
      api("GET", `/api/rules/${rule.id}/feed`)]);
    if (!state.editing || state.editing.id !== rule.id) return;
    renderStats(stats.ok ? stats.data : null, spikes.ok ? spikes.data.spikes || [] : []);
    const anchor = $("#rule-feed");
    const href = feed.ok ? safeHref(feed.data.url) : null;
    anchor.textContent = href || (feed.ok ? "" : "not available");
    if (href) anchor.setAttribute("href", href); else anchor.removeAttribute("href");
  }

  function renderStats(stats, spikes) {
    const precision = $("#rule-precision");
    const exclusions = $("#rule-exclusions");
    exclusions.replaceChildren();
    if (!stats) {
      precision.textContent = "–";
      $("#rule-judged").textContent = "(no statistics)";
      $("#rule-chart").replaceChildren();
      return;
    }
    precision.textContent = stats.precision === null || stats.precision === undefined ? "–"
      : `${Math.round(stats.precision * 100)}%`;
    precision.dataset.precision = stats.precision === null ? "" : stats.precision;
    $("#rule-judged").textContent = `${stats.relevant} relevant of ${stats.judged} judged, ` +
      `${stats.dismissed} dismissed, ${stats.muted} muted`;
    const spikeDays = new Set(spikes.map((s) => String(s.hour).slice(0, 10)));
    barChart($("#rule-chart"), (stats.hits_per_day || []).map((d) => [d.day, d.hits]), spikeDays);
    if (!(stats.exclusions || []).length) {
      exclusions.append(el("li", {class: "muted", text: "None yet: dismiss some hits first."}));
    }
    for (const ex of stats.exclusions || []) {
      exclusions.append(el("li", {class: "exclusion", dataset: {term: ex.term}},
        el("code", {text: ex.term}),
        el("span", {class: "muted", text: ` in ${ex.dismissed} dismissed, ${ex.relevant} relevant` +
          (ex.removes !== undefined ? `; removes ${ex.removes}` : "")}),
        el("button", {type: "button", class: "add-exclusion small",
                      text: `add NOT ${ex.term}`, onclick: () => addExclusion(ex.term)})));
    }
  }

  function addExclusion(term) {
    const box = $("#rule-query");
    const count = Number($("#preview-count").dataset.count);
    state.baseline = Number.isFinite(count) ? count : null;
    const plain = /^[\p{L}\p{N}]+$/u.test(term) && !/^(AND|OR|NOT|NEAR)$/.test(term);
    box.value = `${box.value.trim()} NOT ${plain ? term : JSON.stringify(term)}`;
    $("#save-status").textContent = "Not saved yet: check the preview, then Save.";
    box.focus();
    schedulePreview(0);
  }

  // -- stories ----------------------------------------------------------------------------

  function filters() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData($("#story-filters"))) {
      if (value) params.set(key, value);
    }
    return params;
  }

  async function loadStories(more = false) {
    if (!more) state.applied = filters();  // what the list shows, and new stories follow
    const params = new URLSearchParams(state.applied);
    params.set("limit", String(PAGE));
    if (more && state.next) params.set("before", state.next);
    const got = await api("GET", "/api/stories?" + params);
    const error = $("#stories-error");
    show(error, !got.ok);
    if (!got.ok) {
      error.textContent = got.data.error || `stories unavailable (${got.status})`;
      return;
    }
    const stories = got.data.stories || [];
    state.stories = more ? state.stories.concat(stories) : stories;
    state.next = got.data.next || null;
    if (!more) {
      state.newest = got.data.newest || null;
      state.cursor = state.stories.length ? 0 : -1;
    }
    renderStories();
  }

  async function pollNew() {
    if (!state.newest || document.hidden) return;
    const params = new URLSearchParams(state.applied);
    params.set("after", state.newest);
    params.set("limit", String(PAGE));
    const got = await api("GET", "/api/stories?" + params);
    if (!got.ok) return;
    const fresh = got.data.stories || [];
    if (got.data.newest) state.newest = got.data.newest;
    if (!fresh.length) return;
    const ids = new Set(fresh.map((s) => s.story_id));
    const current = state.stories[state.cursor];
    state.stories = fresh.map((s) => ({...s, fresh: true}))
      .concat(state.stories.filter((s) => !ids.has(s.story_id)));
    state.cursor = current ? state.stories.findIndex((s) => s.story_id === current.story_id) : 0;
    $("#stories-fresh").textContent = `${state.stories.filter((s) => s.fresh).length} new`;
    renderStories();
  }

  async function startPolling() {
    if (!state.newest) await loadStories();
    window.clearInterval(state.polling);
    state.polling = window.setInterval(async () => {
      if (state.newest) await pollNew(); else await loadStories();
    }, POLL_MS);
  }

  function renderStories() {
    const box = $("#stories");
    box.replaceChildren(...state.stories.map(storyCard));
    show($("#stories-empty"), !state.stories.length);
    show($("#stories-more"), !!state.next);
    markCursor(false);
  }

  function storyCard(story, index) {
    const copies = story.copies || [];
    const card = el("article", {class: "story" + (story.fresh ? " fresh" : ""), tabindex: "-1",
                                dataset: {storyId: story.story_id}},
      el("h3", {}, link(story.url, story.title || story.url)),
      el("div", {class: "meta", text: [story.source,
                                       story.feed !== story.source ? story.feed : null,
                                       `first seen ${when(story.first_seen)}`]
        .filter(Boolean).join(" · ")}));
    const snippet = story.snippet || {};
    if (snippet.text || snippet.html) {
      const q = el("q", {class: "snippet"});
      setMarked(q, snippet.html || "", snippet.text || "");
      card.append(el("p", {}, q));
    }
    card.append(el("ul", {class: "hits"}, ...(story.rules || []).map((hit) => hitRow(story, hit))));
    const outlets = story.outlets || copies.length + 1;
    const label = `${outlets} outlet${outlets === 1 ? "" : "s"}`;
    card.append(!copies.length ? el("p", {class: "outlets muted", text: label})
      : el("details", {class: "outlets"}, el("summary", {text: label}),
        el("ul", {}, ...copies.map((c) => el("li", {},
          link(c.url, c.title || c.url),
          el("span", {class: "muted", text: ` ${c.source || ""} · ${when(c.first_seen)}`}))))));
    card.addEventListener("click", () => { state.cursor = index; markCursor(false); });
    return card;
  }

  function hitRow(story, hit) {
    const row = el("li", {class: `hit-row state-${hit.state}`, dataset: {hitId: hit.hit_id}},
      el("span", {class: `chip state-${hit.state}`},
        el("span", {class: "chip-rule", text: hit.rule}),
        el("span", {class: "chip-state", text: hit.state})));
    if (hit.note) row.append(el("span", {class: "note", text: hit.note}));
    if (canEdit()) {
      const note = el("input", {class: "note-input", placeholder: "note", "aria-label": "Note",
                                value: hit.note || ""});
      const button = (action, label) => el("button", {type: "button", class: `small triage ${action}`,
        text: label, dataset: {action}, onclick: () => triage(hit, action, note.value)});
      row.append(el("span", {class: "triage-buttons"}, button("relevant", "Relevant"),
        button("dismiss", "Dismiss"), button("mute_story", "Mute story"),
        button("mute_source", "Mute source"),
        hit.state !== "new" ? button("reset", "Reset") : null, note));
    }
    return row;
  }

  async function triage(hit, action, note) {
    const body = {action};
    if (note && note.trim()) body.note = note.trim();
    const got = await api("POST", `/api/hits/${hit.hit_id}/triage`, body);
    if (!got.ok) {
      const error = $("#stories-error");
      error.textContent = got.data.error || `not saved (${got.status})`;
      show(error, true);
      return;
    }
    hit.state = got.data.state || STATES[action];
    if (body.note) hit.note = body.note;
    renderStories();
    if (state.editing && state.editing.id === hit.rule_id) loadPanel();
  }

  // -- keyboard ---------------------------------------------------------------------------

  function markCursor(scroll) {
    const cards = document.querySelectorAll("#stories .story");
    cards.forEach((card, i) => card.classList.toggle("selected", i === state.cursor));
    const card = cards[state.cursor];
    if (card && scroll) {
      card.scrollIntoView({block: "nearest"});
      card.focus({preventScroll: true});
    }
  }

  function currentHit() {
    const story = state.stories[state.cursor];
    if (!story) return null;
    const hits = story.rules || [];
    const rule = $("#filter-rule").value;
    return hits.find((h) => rule && String(h.rule_id) === rule)
      || hits.find((h) => h.state === "new") || hits[0] || null;
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    const move = {j: 1, k: -1}[event.key];
    if (move) {
      state.cursor = Math.max(0, Math.min(state.stories.length - 1, state.cursor + move));
      markCursor(true);
      event.preventDefault();
      return;
    }
    if (event.key === "/") {
      $("#filter-q").focus();
      event.preventDefault();
      return;
    }
    const action = {r: "relevant", d: "dismiss", m: "mute_story"}[event.key];
    const hit = action && canEdit() ? currentHit() : null;
    if (hit) {
      event.preventDefault();
      triage(hit, action, "");
    }
  }

  // -- deep link: /workspace#rule=ID (a spike notice's link) opens that rule ---------------

  function linkedRule() {
    const id = new URLSearchParams(window.location.hash.slice(1)).get("rule");
    return (id && state.rules.find((r) => r.id && String(r.id) === id)) || null;
  }

  function openLinked() {
    const rule = linkedRule();
    if (!rule) return false;
    $("#filter-rule").value = String(rule.id);  // its stories, as the rule filter shows them
    editRule(rule);
    return true;
  }

  // -- wiring -----------------------------------------------------------------------------

  async function start() {
    $("#signin").addEventListener("submit", signIn);
    $("#signout").addEventListener("click", signOut);
    $("#new-rule").addEventListener("click", () => editRule(null));
    $("#rule-form").addEventListener("submit", saveRule);
    $("#toggle-rule").addEventListener("click", toggleRule);
    $("#delete-rule").addEventListener("click", deleteRule);
    $("#rule-query").addEventListener("input", () => schedulePreview());
    $("#story-filters").addEventListener("submit", (event) => {
      event.preventDefault();
      $("#stories-fresh").textContent = "";
      loadStories();
    });
    $("#stories-more").addEventListener("click", () => loadStories(true));
    document.addEventListener("keydown", onKey);
    const feeds = await api("GET", "/api/feeds");
    const feedList = feeds.ok ? feeds.data.feeds || [] : [];
    fillSelect($("#filter-feed"), feedList.map((f) => [f.name, f.name]));
    const tags = [...new Set(feedList.flatMap((f) => f.tags || []))].sort();
    fillSelect($("#filter-tag"), tags.map((tag) => [tag, tag]));
    show($("#filter-tag-label"), tags.length > 0);
    await loadSession();
    await loadRules();
    if (!openLinked()) editRule(null);
    await startPolling();
    window.addEventListener("hashchange", () => { if (openLinked()) loadStories(); });
    document.body.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", start);
})();
