// What the captcha-ocr pages share: calling the JSON API, colouring confidences, scaling images.
"use strict";

const $ = (id) => document.getElementById(id);

// fetch + JSON; a 4xx/5xx answer throws an Error with the server's own message ("422: ...").
async function api(method, url, body) {
  const opts = { method, headers: {} };
  if (body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(url, opts);
  } catch (e) {
    throw new Error(`the server does not answer (${e.message}); is it still running?`);
  }
  let data = null;
  try { data = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) {
    const d = data && data.detail;
    const what = typeof d === "string" ? d : (d ? JSON.stringify(d) : r.statusText);
    const err = new Error(`${r.status}: ${what}`);
    err.status = r.status;
    throw err;
  }
  return data;
}

// a background for a confidence in [0, 1]: green when sure, red when not
function confidenceColour(c) {
  const hue = Math.round(120 * Math.max(0, Math.min(1, c)));
  return `hsl(${hue}, 70%, 85%)`;
}

// text with one span per character, coloured by its confidence
function confidenceSpans(el, text, confidences) {
  el.textContent = "";
  [...text].forEach((ch, i) => {
    const s = document.createElement("span");
    s.textContent = ch;
    const c = confidences && confidences[i];
    if (c !== undefined) {
      s.style.background = confidenceColour(c);
      s.title = `${(100 * c).toFixed(1)}%`;
    }
    el.appendChild(s);
  });
}

// show a small captcha large: an integer zoom (crisp pixels) that fits maxW x maxH
function fitImage(img, maxW, maxH) {
  const w = img.naturalWidth, h = img.naturalHeight;
  if (!w || !h) return;
  let scale = Math.min(maxW / w, maxH / h);
  if (scale >= 1) scale = Math.min(12, Math.floor(scale));
  img.style.width = `${Math.round(w * scale)}px`;
  img.style.height = `${Math.round(h * scale)}px`;
}
