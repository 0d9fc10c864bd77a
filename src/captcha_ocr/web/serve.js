// The try-the-model page: drop, paste or pick an image; POST /predict reads it.
"use strict";

let currentFile = null;  // the File or Blob last given
let reading = 0;         // answers to older requests are dropped

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function query() {
  const q = new URLSearchParams({ decoder: $("decoder").value, alignment: "true" });
  for (const name of ["length", "allow", "beam_width"]) {
    const v = $(name).value.trim();
    if (v) q.set(name, v);
  }
  return q;
}

function showPrediction(p) {
  confidenceSpans($("text"), p.text, p.char_confidences);
  if (!p.text) $("text").textContent = "(nothing read)";
  $("confidence").textContent = `confidence ${(100 * p.confidence).toFixed(2)}%`;
  // one column per character: the character, then its confidence, coloured by it
  const table = $("chars");
  table.innerHTML = "";
  const rows = [["character", (ch) => ch], ["confidence", (ch, c) => `${(100 * c).toFixed(1)}%`]];
  for (const [title, text] of rows) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = title;
    tr.appendChild(th);
    [...p.text].forEach((ch, i) => {
      const td = document.createElement("td");
      td.className = "c";
      td.textContent = text(ch, p.char_confidences[i]);
      td.style.background = confidenceColour(p.char_confidences[i]);
      tr.appendChild(td);
    });
    table.appendChild(tr);
  }
  const al = $("alignment");
  al.textContent = "";
  for (const ch of p.alignment || "") {
    const el = document.createElement(ch === "-" ? "span" : "b");
    el.textContent = ch;
    al.appendChild(el);
  }
  al.title = `${(p.alignment || "").length} frames`;
  const t = p.timing_ms;
  $("timing").textContent = `server: ${t.total_ms.toFixed(1)} ms (decode image ${t.decode_ms.toFixed(1)}, model ${t.model_ms.toFixed(1)}, CTC ${t.ctc_ms.toFixed(1)})`;
}

async function read() {
  if (!currentFile) return;
  const mine = ++reading;
  const form = new FormData();
  form.append("file", currentFile, currentFile.name || "pasted.png");
  try {
    const data = await api("POST", `/predict?${query()}`, form);
    if (mine !== reading) return;
    showError("");
    showPrediction(data.predictions[0]);
    $("result").hidden = false;
  } catch (e) {
    if (mine !== reading) return;
    $("text").textContent = "";
    $("confidence").textContent = "";
    $("chars").innerHTML = "";
    $("alignment").textContent = "";
    $("timing").textContent = "";
    showError(e.message);
  }
}

function take(file) {
  if (!file) return;
  currentFile = file;
  $("name").textContent = `${file.name || "pasted image"} · ${file.size} bytes`;
  const img = $("image");
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.onload = () => fitImage(img, Math.max(200, $("drop").clientWidth - 40), 200);
  img.src = URL.createObjectURL(file);
  $("result").hidden = false;
  read();
}

async function start() {
  const info = await api("GET", "/model");
  $("model").textContent = `${info.source || "model"} (${info.backend})`;
  $("model-info").innerHTML = "";
  const lines = [
    `characters: ${info.charset}`,
    `input: ${info.image.width}x${info.image.height}, ${info.image.channels === 1 ? "grey" : "colour"}`,
    `label lengths seen: ${info.lengths.join(", ")}`,
    `largest image: ${info.limits.max_bytes} bytes, ${info.limits.max_pixels} pixels`,
  ];
  for (const line of lines) {
    const d = document.createElement("div");
    d.textContent = line;
    $("model-info").appendChild(d);
  }
  // the decoders the API offers, from its own OpenAPI description
  const spec = await api("GET", "/openapi.json");
  const params = spec.paths["/predict"].post.parameters || [];
  const decoder = params.find((p) => p.name === "decoder");
  const schema = (decoder && decoder.schema) || {};
  const names = schema.enum || (schema.anyOf || []).flatMap((s) => s.enum || []);
  if (names.length) {
    $("decoder").innerHTML = "";
    for (const n of names) {
      const o = document.createElement("option");
      o.textContent = n;
      $("decoder").appendChild(o);
    }
    $("decoder").value = schema.default || names[0];
  }
}

$("file").addEventListener("change", (e) => take(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  e.stopPropagation();
  drop.classList.remove("over");
  take(e.dataTransfer.files[0]);
});
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => { e.preventDefault(); take(e.dataTransfer.files[0]); });
document.addEventListener("paste", (e) => {
  const target = e.target;
  if (target && target.tagName === "INPUT" && target.type !== "file") return;  // pasting into an option
  const files = [...(e.clipboardData ? e.clipboardData.files : [])];
  if (files.length) {
    e.preventDefault();
    take(files[0]);
  }
});
for (const name of ["decoder", "length", "allow", "beam_width"]) $(name).addEventListener("change", read);
start().catch((e) => showError(e.message));
