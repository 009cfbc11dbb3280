// kostyorc serve: the page's live part.  Everything from the server is put
// into the page with textContent (never innerHTML), so a host name or a
// step's output is shown as text, whatever it contains.
"use strict";

const page = document.body.dataset.page;
const state = { run: null, steps: [], connected: false, storeError: null };

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function clock(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleTimeString([], { hour12: false });
}

function seconds(value) {
  if (value === null || value === undefined) return "";
  const s = Math.max(0, Math.round(value));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(r).padStart(2, "0")}s`;
  const precise = Math.max(0, value);
  return precise < 10 ? `${precise.toFixed(1)}s` : `${r}s`;
}

function setConnection(connected, text) {
  state.connected = connected;
  const node = document.getElementById("connection");
  node.dataset.state = connected ? "live" : "lost";
  node.textContent = text;
  document.body.dataset.connected = connected ? "yes" : "no";
  if (page === "run") updateControls();
}

function showStore(problem) {
  state.storeError = problem && problem.error ? problem : null;
  const node = document.getElementById("store-problem");
  if (state.storeError) {
    node.textContent = `${state.storeError.error} — showing the state as of ${clock(new Date(state.storeError.since * 1000).toISOString())}; it may be out of date`;
    node.hidden = false;
    document.body.dataset.stale = "yes";
  } else {
    node.hidden = true;
    document.body.dataset.stale = "no";
  }
  if (page === "run") updateControls();
}

// ---- the run page ----

// Each step's row and cells, found once: a 2,000-step page applies many updates.
const rows = [];
function rowOf(index) {
  if (rows[index] === undefined) {
    const row = document.getElementById(`step-${index}`);
    rows[index] = row && {
      row,
      state: row.querySelector(".step-state"),
      started: row.querySelector(".started"),
      duration: row.querySelector(".duration"),
      attempts: row.querySelector(".attempts"),
      tail: row.querySelector(".tail pre"),
      output: row.querySelector("button.output"),
      actions: row.querySelector(".actions"),
      id: row.querySelector(".id").textContent,
      lane: (row.closest(".lane").querySelector(".host") || { textContent: "run" }).textContent,
    };
  }
  return rows[index];
}

function applyStep(index, step) {
  state.steps[index] = step;
  const cells = rowOf(index);
  if (!cells) return;
  cells.row.dataset.state = step.state;
  cells.state.textContent = step.state + (step.progress ? ` (${step.progress})` : "");
  cells.started.textContent = clock(step.started);
  cells.duration.textContent = durationOf(step);
  cells.attempts.textContent = step.attempts > 1 ? `attempt ${step.attempts}` : "";
  cells.tail.textContent = step.tail || "";
  cells.output.hidden = !(step.tail || step.more);
  markFailed(index, step);
}

function durationOf(step) {
  if (step.duration !== null && step.duration !== undefined) return seconds(step.duration);
  if (step.state === "running" && step.started) return seconds((Date.now() - Date.parse(step.started)) / 1000);
  return "";
}

function show(id, text) {
  const node = document.getElementById(id);
  node.hidden = !text;
  if (text) node.textContent = text;
}

function applyRun(run) {
  state.run = run;
  const badge = document.getElementById("run-state");
  badge.textContent = run.state;
  badge.dataset.state = run.state;
  document.body.dataset.runState = run.state;
  document.getElementById("progress").value = run.done;
  document.getElementById("line").textContent = run.line;
  show("pause-reason", run.state === "paused" && run.pause_reason && !run.gate ? `paused: ${run.pause_reason}` : "");
  show("run-error", run.error && run.state !== "paused" ? run.error : "");
  const gate = document.getElementById("gate");
  if (run.gate && run.state === "paused") {
    gate.hidden = false;
    document.getElementById("gate-step").textContent = run.gate.step;
    document.getElementById("gate-message").textContent = run.gate.message;
    gate.querySelector("button").dataset.gate = run.gate.step;
  } else {
    gate.hidden = true;
  }
  if (run.no_return) {
    show("no-return", run.no_return_passed
      ? `past the point of no return (${run.no_return}): the old release cannot simply be restored`
      : `point of no return: ${run.no_return} (not reached yet)`);
    document.getElementById("no-return").dataset.passed = run.no_return_passed ? "yes" : "no";
  }
  show("disabled", (run.disabled || []).map((left) =>
    `hypervisor ${left.host} left with scheduling disabled (after ${left.disabled_in}` +
    (left.stopped_at ? `, stopped at ${left.stopped_at} ${left.stopped_state}` : `, run ${left.stopped_state}`) +
    `): enable it again with \`${left.enable}\``).join("\n"));
  for (const [stage, batchState] of Object.entries(run.batches || {})) {
    const node = document.querySelector(`#stage-${stage} .stage-state`);
    if (node) node.textContent = batchState;
  }
  document.querySelectorAll(".stage").forEach((node) => {
    const index = Number(node.id.slice(6));
    node.dataset.current = index === run.stage && (run.state === "running" || run.state === "paused") ? "yes" : "no";
  });
  applyBudgets(run.budgets || []);
  applyGroups(run.groups || []);
  applyWindow(run.window);
  updateControls();
}

function applyBudgets(budgets) {
  const body = document.getElementById("budgets");
  body.replaceChildren();
  for (const budget of budgets) {
    const row = el("tr");
    row.dataset.headroom = budget.headroom;
    for (const value of [budget.name, `${budget.rule} ${budget.amount}`, budget.selected, budget.allowed,
      budget.down, budget.headroom, budget.failed_hosts.join(", "), budget.upgrading.join(", ")]) {
      row.append(el("td", value));
    }
    body.append(row);
  }
}

function applyGroups(groups) {
  const list = document.getElementById("groups");
  list.replaceChildren();
  let any = false;
  for (const group of groups) {
    const failed = Object.entries(group.failed_hosts || {});
    if (!failed.length) continue;
    any = true;
    list.append(el("li", `group ${group.name}: ${failed.length} failed of ${group.hosts}, tolerates ${group.tolerates}: ` +
      failed.map(([host, step]) => `${host} (${step})`).join(", ")));
  }
  document.getElementById("groups-section").hidden = !any;
}

function applyWindow(win) {
  if (!win) return;
  document.getElementById("expected").textContent = seconds(win.expected);
  document.getElementById("left").textContent = win.left === null ? "" :
    `${seconds(win.left)} (from ${win.timed} timed steps, ${win.concurrency} at once)`;
  document.getElementById("eta").textContent = win.eta ? clock(new Date(win.eta * 1000).toISOString()) :
    (state.run && state.run.state === "paused" ? "paused" : "");
  tickSpent();
}

function tickSpent() {
  const starts = state.steps.map((s) => s && s.started && Date.parse(s.started)).filter(Boolean);
  if (!starts.length || !state.run) return;
  const first = Math.min(...starts);
  let last = Date.now();
  if (["succeeded", "failed", "cancelled"].includes(state.run.state)) {
    const ends = state.steps.map((s) => s && s.finished && Date.parse(s.finished)).filter(Boolean);
    if (ends.length) last = Math.max(...ends);
  }
  document.getElementById("spent").textContent = seconds((last - first) / 1000);
}

function updateControls() {
  const maySteer = document.body.dataset.maySteer === "yes";
  const verbs = new Set((state.run && state.run.verbs) || []);
  const live = state.connected && !state.storeError;
  document.querySelectorAll("button[data-verb]").forEach((button) => {
    button.disabled = !(maySteer && live && verbs.has(button.dataset.verb));
  });
  document.querySelectorAll("button.retry-step").forEach((button) => {
    button.disabled = !(maySteer && live && verbs.has("retry"));
  });
}

function markFailed(index, step) {
  const cells = rowOf(index);
  let button = cells.actions.querySelector("button.retry-step");
  if (step.state === "failed") {
    if (!button) {
      button = el("button", "retry", "retry-step");
      button.type = "button";
      button.addEventListener("click", () => steer("retry", {}));
      cells.actions.append(button);
      updateControls();
    }
  } else if (button) {
    button.remove();
  }
}

function applyState(whole) {
  if (!whole) return;
  whole.steps.forEach((step, index) => applyStep(index, step));
  applyRun(whole.run);
  scheduleTimeline();
}

function applyUpdate(change) {
  for (const [index, step] of Object.entries(change.steps || {})) applyStep(Number(index), step);
  if (change.run) applyRun(change.run);
  scheduleTimeline();
}

async function steer(verb, body) {
  const message = document.getElementById("message");
  message.hidden = false;
  message.dataset.kind = "pending";
  message.textContent = `${verb}…`;
  let answer;
  try {
    const response = await fetch(`/runs/${encodeURIComponent(document.body.dataset.run)}/${verb}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    answer = await response.json();
  } catch (error) {
    answer = { error: `no answer from the server: ${error}` };
  }
  message.dataset.kind = answer.ok ? "ok" : "error";
  message.textContent = `${clock(new Date().toISOString())} ${verb}: ${answer.ok || answer.error}`;
}

function setUpControls() {
  document.querySelectorAll("button[data-verb]").forEach((button) => {
    button.addEventListener("click", () => {
      const verb = button.dataset.verb;
      if (verb === "cancel") return openCancel();
      const body = verb === "approve" ? { gate: button.dataset.gate } : {};
      steer(verb, body);
    });
  });
  const dialog = document.getElementById("cancel-dialog");
  const input = document.getElementById("cancel-confirm");
  const go = document.getElementById("cancel-go");
  input.addEventListener("input", () => { go.disabled = input.value.trim() !== document.body.dataset.confirm; });
  go.addEventListener("click", () => {
    dialog.close();
    steer("cancel", { confirm: input.value.trim(), now: document.getElementById("cancel-now").checked });
  });
  document.getElementById("cancel-back").addEventListener("click", () => dialog.close());
  document.querySelectorAll("button.output").forEach((button) => {
    button.addEventListener("click", async () => {
      const index = button.closest("tr").dataset.index;
      const response = await fetch(`/runs/${encodeURIComponent(document.body.dataset.run)}/steps/${index}/output`,
        { credentials: "same-origin" });
      document.getElementById("output-text").textContent = await response.text();
      document.getElementById("output-dialog").showModal();
    });
  });
}

function openCancel() {
  const input = document.getElementById("cancel-confirm");
  input.value = "";
  document.getElementById("cancel-go").disabled = true;
  document.getElementById("cancel-dialog").showModal();
  input.focus();
}

// ---- the timeline: the run's steps per host lane, as `simulate --plot` draws them ----

let timelinePending = false;
function scheduleTimeline() {
  if (timelinePending) return;
  timelinePending = true;
  setTimeout(() => { timelinePending = false; drawTimeline(); }, 250);
}

const SVG = "http://www.w3.org/2000/svg";
function drawTimeline() {
  const svg = document.getElementById("timeline");
  if (!svg) return;
  // The past as the record has it; what is not finished yet as the ETA's
  // simulation sees it from now on (lighter bars), as `simulate --plot` draws it.
  const rows = new Map();
  const bar = (index, start, end, cls) => {
    const cells = rowOf(index);
    const lane = cells ? cells.lane : "run";
    if (!rows.has(lane)) rows.set(lane, []);
    rows.get(lane).push({ start, end, cls, index });
  };
  let first = Infinity, last = 0;
  const now = Date.now();
  state.steps.forEach((step, index) => {
    if (!step || !step.started) return;
    const start = Date.parse(step.started);
    const end = step.finished ? Date.parse(step.finished) : now;
    first = Math.min(first, start);
    last = Math.max(last, end);
    bar(index, start, end, step.state);
  });
  const win = state.run && state.run.window;
  if (win && win.ahead && state.run.state === "running") {
    const shift = Math.max(now, win.at * 1000);
    for (const [index, start, end] of win.ahead) {
      const step = state.steps[index];
      if (!step || step.state !== "pending") continue;
      bar(index, shift + start * 1000, shift + end * 1000, "predicted");
      first = Math.min(first, shift + start * 1000);
      last = Math.max(last, shift + end * 1000);
    }
  }
  svg.replaceChildren();
  if (!rows.size) { svg.setAttribute("height", "0"); return; }
  const width = 1000, label = 140, height = 14, gap = 4;
  const span = Math.max(1, last - first);
  const x = (moment) => label + ((moment - first) / span) * (width - label);
  svg.setAttribute("viewBox", `0 0 ${width} ${rows.size * (height + gap)}`);
  svg.setAttribute("height", String(rows.size * (height + gap)));
  let y = 0;
  for (const [lane, bars] of rows) {
    const text = document.createElementNS(SVG, "text");
    text.setAttribute("x", "0");
    text.setAttribute("y", String(y + height - 3));
    text.textContent = lane;
    svg.append(text);
    for (const item of bars) {
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String(x(item.start)));
      rect.setAttribute("y", String(y));
      rect.setAttribute("width", String(Math.max(1, x(item.end) - x(item.start))));
      rect.setAttribute("height", String(height));
      rect.setAttribute("class", `bar ${item.cls}`);
      const title = document.createElementNS(SVG, "title");
      title.textContent = rowOf(item.index).id + (item.cls === "predicted" ? " (expected)" : "");
      rect.append(title);
      svg.append(rect);
    }
    y += height + gap;
  }
  if (now > first && now < last) {
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", String(x(now)));
    line.setAttribute("x2", String(x(now)));
    line.setAttribute("y1", "0");
    line.setAttribute("y2", String(y));
    line.setAttribute("class", "now");
    svg.append(line);
  }
}

// ---- the list of runs ----

function applyRuns(reading) {
  const body = document.getElementById("runs");
  body.replaceChildren();
  if (!reading.runs.length) {
    const row = el("tr", undefined, "none");
    const cell = el("td", "no runs yet");
    cell.colSpan = 7;
    row.append(cell);
    body.append(row);
  }
  for (const run of reading.runs) {
    const row = el("tr");
    row.dataset.run = run.run;
    const link = el("a", run.run);
    link.href = `/runs/${encodeURIComponent(run.run)}`;
    const first = el("td");
    first.append(link);
    const stateCell = el("td", run.state, "state");
    stateCell.dataset.state = run.state;
    row.append(first, stateCell);
    if (run.state === "unreadable") {
      const cell = el("td", run.error, "problem");
      cell.colSpan = 5;
      row.append(cell);
    } else {
      const progress = el("td");
      const bar = el("progress");
      bar.max = run.total;
      bar.value = run.done;
      progress.append(bar, ` ${run.done}/${run.total}`);
      row.append(el("td", run.plan), el("td", run.strategy), el("td", clock(run.created)), progress,
        el("td", run.eta ? clock(run.eta) : ""));
    }
    body.append(row);
  }
}

// ---- wiring ----

function connect(url, handlers) {
  const source = new EventSource(url);
  source.addEventListener("open", () => setConnection(true, "live"));
  source.addEventListener("error", () => setConnection(false, "disconnected: reconnecting…"));
  source.addEventListener("snapshot", (event) => {
    const data = JSON.parse(event.data);
    handlers.whole(data.state);
    showStore(data.store);
  });
  source.addEventListener("update", (event) => handlers.change(JSON.parse(event.data)));
  source.addEventListener("store", (event) => showStore(JSON.parse(event.data)));
}

document.addEventListener("DOMContentLoaded", () => {
  const since = encodeURIComponent(document.body.dataset.since || "");
  if (page === "run") {
    const initial = JSON.parse(document.getElementById("initial").textContent);
    applyState(initial.state);
    showStore(initial.store);
    setUpControls();
    setInterval(() => {
      state.steps.forEach((step, index) => {
        if (step && step.state === "running" && rowOf(index)) {
          rowOf(index).duration.textContent = durationOf(step);
        }
      });
      tickSpent();
      if (state.steps.some((step) => step && step.state === "running")) scheduleTimeline();
    }, 1000);
    connect(`/runs/${encodeURIComponent(document.body.dataset.run)}/events?since=${since}`,
      { whole: applyState, change: applyUpdate });
  } else if (page === "runs") {
    document.querySelectorAll("td.time").forEach((cell) => { cell.textContent = clock(cell.dataset.time); });
    connect(`/events?since=${since}`, { whole: applyRuns, change: applyRuns });
  }
});
