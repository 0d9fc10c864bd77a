// The labelling page: one image at a time, keyboard first. Every label is saved by the server
// (DIR/labels.csv) before the page moves on; the page keeps no state the server does not have.
"use strict";

const page = {
  current: null,      // the item shown: {file, label, reading, skipped, error, image}
  prefill: "",        // what the input was filled with (to know whether the user typed)
  history: [],        // files labelled or skipped, oldest first (from the server, then this tab)
  pos: null,          // index into history while going back; null = at the queue
  alphabet: null,
  modelVersion: 0,
  busy: false,
};

function showError(message) {
  const el = $("error");
  el.textContent = message;
  el.hidden = !message;
}

function setProgress(p) {
  const parts = [`<b>${p.labelled}</b> / ${p.images} labelled`, `${p.entered} this session`,
                 `${p.remaining} to go`];
  if (p.skipped) parts.push(`${p.skipped} skipped`);
  if (p.unreadable) parts.push(`${p.unreadable} unreadable`);
  $("progress").innerHTML = parts.join(" · ");
}

function checkAlphabet() {
  const input = $("label");
  const value = input.value;
  let msg = "";
  if (page.alphabet) {
    const bad = [...new Set([...value].filter((c) => !page.alphabet.includes(c)))];
    if (bad.length) msg = `not in the alphabet: ${bad.join(" ")}`;
  }
  input.classList.toggle("warn", !!msg);
  $("hint").textContent = msg;
}

function show(item, upcoming) {
  page.current = item;
  showError("");
  $("work").hidden = !item;
  $("done").hidden = !!item;
  if (!item) {
    $("done").textContent = "Every image is labelled. Train on them with: captcha-ocr train " + ($("where").dataset.root || "DIR");
    const again = document.createElement("div");
    const button = document.createElement("button");
    button.textContent = "Back to fix a label";
    button.addEventListener("click", back);
    again.appendChild(button);
    $("done").appendChild(again);
    return;
  }
  const img = $("image");
  img.onload = () => fitImage(img, Math.max(200, $("work").clientWidth - 40), 260);
  img.src = item.image;
  let where = item.file;
  if (item.label !== null) where += " · labelled";
  if (item.skipped) where += " · skipped before";
  if (page.pos !== null) where += ` · going back (${page.history.length - page.pos} of ${page.history.length})`;
  $("file").textContent = where;
  const r = item.reading;
  if (r) {
    confidenceSpans($("reading"), r.text, r.char_confidences);
    $("reading-note").textContent = `model reading, confidence ${(100 * r.confidence).toFixed(1)}%`;
  } else {
    $("reading").textContent = "";
    $("reading-note").textContent = item.error || "";
  }
  const text = item.label !== null ? item.label : (r ? r.text : "");
  page.prefill = text;
  const input = $("label");
  input.value = text;
  input.focus();
  input.select();
  checkAlphabet();
  for (const url of upcoming || []) new Image().src = url;  // preload
}

function remember(file) {
  if (!page.history.includes(file)) page.history.push(file);
}

async function loadNext() {
  const data = await api("GET", "/api/next");
  setProgress(data.progress);
  show(data.next, data.upcoming);
}

async function showHistory() {
  const item = await api("GET", `/api/item?file=${encodeURIComponent(page.history[page.pos])}`);
  show(item);
}

// after saving or passing over an image while going back: the next one back, else the queue
async function forward() {
  page.pos += 1;
  if (page.pos >= page.history.length) {
    page.pos = null;
    await loadNext();
  } else {
    await showHistory();
  }
}

async function guarded(action) {
  if (page.busy) return;
  page.busy = true;
  try {
    await action();
  } catch (e) {
    showError(e.message);
  } finally {
    page.busy = false;
  }
}

function save() {
  return guarded(async () => {
    const item = page.current;
    if (!item) return;
    const data = await api("POST", "/api/label", { file: item.file, label: $("label").value });
    remember(item.file);
    setProgress(data.progress);
    if (page.pos !== null) await forward();
    else show(data.next, data.upcoming);
  });
}

function skip() {
  return guarded(async () => {
    const item = page.current;
    if (!item) return;
    if (page.pos !== null) return forward();  // going back: pass over it, as it is
    const data = await api("POST", "/api/skip", { file: item.file });
    remember(item.file);
    setProgress(data.progress);
    show(data.next, data.upcoming);
  });
}

function back() {
  return guarded(async () => {
    if (!page.history.length) throw new Error("nothing to go back to yet");
    if (page.pos === null) {
      const at = page.current ? page.history.indexOf(page.current.file) : -1;
      page.pos = at >= 0 ? at - 1 : page.history.length - 1;
    } else {
      page.pos -= 1;
    }
    if (page.pos < 0) {
      page.pos = 0;
      throw new Error("this is the first image labelled");
    }
    await showHistory();
  });
}

// ---------------------------------------------------------------- model, retraining

function showModel(model) {
  if (!model) return;
  $("model").innerHTML = "";
  const src = document.createElement("div");
  src.textContent = model.source;
  $("model").appendChild(src);
  if (model.note) {
    const note = document.createElement("div");
    note.textContent = model.note;
    $("model").appendChild(note);
  }
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.id = "model-version";
  badge.textContent = `model ${model.version}`;
  $("model").appendChild(badge);
}

function showTraining(t) {
  const bar = $("train-bar");
  const running = t.state === "training" || t.state === "refreshing";
  $("retrain").disabled = running;
  bar.hidden = !running;
  if (running) {
    bar.value = t.epochs ? Math.min(1, t.epoch / t.epochs) : Math.min(0.99, (t.elapsed_s || 0) / (t.budget_s || 60));
  }
  let text = "";
  if (t.state === "training") {
    text = `training on ${t.labels} labels (${t.run}): ` + (t.epochs ? `epoch ${t.epoch} of ${t.epochs}` : "starting") +
      (t.val_accuracy !== null && t.val_accuracy !== undefined ? `, validation accuracy ${(100 * t.val_accuracy).toFixed(0)}%` : "") +
      `, ${Math.round(t.elapsed_s || 0)} s` + (t.budget_s ? ` of ${Math.round(t.budget_s)} s` : "");
  } else if (t.state === "refreshing") {
    text = "trained; reading the unlabelled images with the new model…";
  } else if (t.state === "done") {
    text = t.message;
  } else if (t.state === "failed") {
    text = `retraining failed: ${t.message}`;
  }
  $("train-status").textContent = text;
  $("train-status").className = t.state === "failed" ? "error" : "muted";
  return running;
}

async function refreshModel() {
  const st = await api("GET", "/api/state");
  showModel(st.model);
  const version = st.model ? st.model.version : 0;
  if (version !== page.modelVersion) {
    page.modelVersion = version;
    // switch the pre-fill to the new model's reading unless the user has typed
    const item = page.current;
    if (item && item.label === null && $("label").value === page.prefill && !page.busy) {
      show(await api("GET", `/api/item?file=${encodeURIComponent(item.file)}`));
    }
  }
}

let polling = false;
async function pollTraining() {
  if (polling) return;
  polling = true;
  try {
    for (;;) {
      const t = await api("GET", "/api/retrain");
      const running = showTraining(t);
      if (!running) {
        await refreshModel();
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (e) {
    $("train-status").textContent = e.message;
  } finally {
    polling = false;
  }
}

async function retrain() {
  try {
    showTraining(await api("POST", "/api/retrain"));
    pollTraining();
  } catch (e) {
    showError(e.message);
  }
}

// ---------------------------------------------------------------- start

async function start() {
  const st = await api("GET", "/api/state");
  page.alphabet = st.alphabet;
  page.history = st.recent;
  page.modelVersion = st.model ? st.model.version : 0;
  showModel(st.model);
  $("where").textContent = `saved to ${st.labels_csv} as you go` +
    (st.alphabet ? `; alphabet ${st.alphabet}` : "") +
    (st.retrain_every ? `; retrains every ${st.retrain_every} labels` : "");
  $("where").dataset.root = st.root;
  const bad = Object.entries(st.unreadable);
  if (bad.length) $("unreadable").textContent = `unreadable (left out): ${bad.map(([f, e]) => e).join("; ")}`;
  if (showTraining(st.retrain)) pollTraining();
  await loadNext();
}

$("label").addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    save();
  } else if (e.key === "Tab") {
    e.preventDefault();
    if (e.shiftKey) back(); else skip();
  }
});
$("label").addEventListener("input", checkAlphabet);
$("form").addEventListener("submit", (e) => e.preventDefault());
$("save").addEventListener("click", save);
$("skip").addEventListener("click", skip);
$("back").addEventListener("click", back);
$("retrain").addEventListener("click", retrain);
// retraining every N labels starts on the server: look now and then
setInterval(() => { if (!polling) api("GET", "/api/retrain").then((t) => { if (showTraining(t)) pollTraining(); }).catch(() => {}); }, 5000);
start().catch((e) => showError(e.message));
