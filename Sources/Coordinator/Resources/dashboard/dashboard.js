// The Reel dashboard: polls /v1/farm every second and draws jobs, the selected job's segment
// timeline and preview/film, and the workers. Plain JavaScript, no build step, no CDN.
"use strict";

const $ = (id) => document.getElementById(id);
let selected = new URLSearchParams(location.search).get("job");
let videoSource = "";

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function duration(seconds) {
  if (seconds == null || !isFinite(seconds)) return "–";
  seconds = Math.round(seconds);
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function bar(done, total) {
  const outer = document.createElement("span");
  outer.className = "bar";
  const inner = document.createElement("span");
  inner.style.width = `${total ? (100 * done) / total : 0}%`;
  outer.appendChild(inner);
  return outer;
}

async function post(path) {
  const response = await fetch(path, { method: "POST" });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    alert(body.error || `${path}: HTTP ${response.status}`);
  }
  refresh();
}

function drawJobs(jobs) {
  const body = $("jobs").tBodies[0];
  body.replaceChildren();
  $("no-jobs").hidden = jobs.length > 0;
  for (const job of [...jobs].reverse()) {
    const row = document.createElement("tr");
    row.className = "selectable" + (job.id === selected ? " selected" : "");
    row.onclick = () => { selected = job.id; history.replaceState(null, "", `?job=${job.id}`); refresh(); };
    row.appendChild(text("td", job.id));
    row.appendChild(text("td", job.summary.length > 60 ? job.summary.slice(0, 57) + "…" : job.summary));
    const state = document.createElement("td");
    state.appendChild(text("span", job.state, `state ${job.state}`));
    row.appendChild(state);
    const progress = document.createElement("td");
    progress.appendChild(bar(job.segmentsDone, job.segmentsTotal));
    progress.appendChild(text("span", ` ${job.segmentsDone}/${job.segmentsTotal}`));
    row.appendChild(progress);
    row.appendChild(text("td", job.levels.map((l) => `L×${l.stride} ${l.done}/${l.total}`).join("  ")));
    row.appendChild(text("td", `${job.framesWritten}/${job.framesTotal}`));
    const finished = ["done", "failed", "cancelled"].includes(job.state);
    row.appendChild(text("td", finished ? "" : duration(job.etaSeconds)));
    const actions = document.createElement("td");
    if (!finished) {
      const cancel = text("button", "cancel");
      cancel.onclick = (e) => { e.stopPropagation(); if (confirm(`Cancel ${job.id}?`)) post(`/v1/jobs/${job.id}/cancel`); };
      actions.appendChild(cancel);
    }
    if (job.state === "failed") {
      const retry = text("button", "requeue");
      retry.title = "run the failed segments again; finished ones are kept";
      retry.onclick = (e) => { e.stopPropagation(); post(`/v1/jobs/${job.id}/retry`); };
      actions.appendChild(retry);
    }
    row.appendChild(actions);
    body.appendChild(row);
  }
}

function drawDetail(job) {
  $("detail").hidden = !job;
  if (!job) return;
  $("detail-id").textContent = job.id;
  $("detail-state").textContent = `${job.state} · seed ${job.seed} · ${job.strategy} · ${job.duration} s`;
  $("detail-error").hidden = !job.error;
  $("detail-error").textContent = job.error || "";

  const timeline = $("timeline");
  timeline.replaceChildren();
  const levels = [...new Set(job.segments.map((s) => s.level))].sort((a, b) => a - b);
  const frames = Math.max(1, ...job.segments.map((s) => s.startFrame + 16 * s.stride));
  for (const level of levels) {
    const row = document.createElement("div");
    row.className = "row";
    const segs = job.segments.filter((s) => s.level === level);
    row.appendChild(text("span", `L${level} ×${segs[0].stride}`, "label"));
    for (const s of segs) {
      const cell = text("span", "", `cell ${s.state}`);
      cell.style.flex = `0 0 ${Math.max(6, (600 * 16 * s.stride) / frames / 2)}px`;
      cell.title = `${s.id}: ${s.state}` + (s.worker ? ` on ${s.worker}` : "") + ` · attempts ${s.attempts}` +
        (s.step != null ? ` · step ${s.step}/${s.steps}` : "") + (s.seconds != null ? ` · ${s.seconds.toFixed(1)} s` : "");
      row.appendChild(cell);
    }
    timeline.appendChild(row);
  }

  const body = $("segments").tBodies[0];
  body.replaceChildren();
  for (const s of job.segments) {
    const row = document.createElement("tr");
    for (const value of [s.id, s.level, `${s.startFrame}+16×${s.stride}`]) row.appendChild(text("td", String(value)));
    const state = document.createElement("td");
    state.appendChild(text("span", "", `cell ${s.state}`));
    state.appendChild(text("span", ` ${s.state === "leased" ? "rendering" : s.state}`));
    row.appendChild(state);
    row.appendChild(text("td", s.worker || "–"));
    const attempts = text("td", String(s.attempts));
    if (s.failures.length) attempts.title = s.failures.join("\n");
    row.appendChild(attempts);
    row.appendChild(text("td", s.step != null ? `${s.step}/${s.steps}` : "–"));
    row.appendChild(text("td", s.seconds != null ? s.seconds.toFixed(1) : "–"));
    body.appendChild(row);
  }

  // The finished film when there is one, else the growing preview.
  const video = $("video");
  let source = "";
  if (job.filmReady) {
    source = `/v1/jobs/${job.id}/film`;
    $("video-title").textContent = "Film";
    $("video-note").textContent = `${job.framesTotal} frames · download: ${location.origin}${source}`;
  } else if (job.framesWritten > 0) {
    source = `/v1/jobs/${job.id}/preview?frames=${Math.floor(job.framesWritten / 32)}`;
    $("video-title").textContent = "Preview (growing)";
    $("video-note").textContent = `${job.framesWritten} of ${job.framesTotal} frames written so far`;
  } else {
    $("video-title").textContent = "Preview";
    $("video-note").textContent = "appears when the first frames are stitched";
  }
  if (source !== videoSource) {
    videoSource = source;
    if (source) { video.src = source; video.load(); } else { video.removeAttribute("src"); }
  }
}

function drawWorkers(workers) {
  const body = $("workers").tBodies[0];
  body.replaceChildren();
  $("no-workers").hidden = workers.length > 0;
  for (const w of workers) {
    const row = document.createElement("tr");
    row.appendChild(text("td", w.name));
    row.appendChild(text("td", `${w.heartbeatAge.toFixed(1)} s ago`, w.heartbeatAge > 3 ? "error" : ""));
    row.appendChild(text("td", `${w.attempts.length}/${w.credit}`));
    row.appendChild(text("td", w.attempts.map((a) => a.split(".").slice(1).join(".")).join(", ") || "idle"));
    row.appendChild(text("td", String(w.segmentsDone)));
    row.appendChild(text("td", w.segmentsPerMinute.toFixed(1)));
    row.appendChild(text("td", w.draining ? "draining" : ""));
    body.appendChild(row);
  }
}

async function refresh() {
  try {
    const response = await fetch("/v1/farm", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const farm = await response.json();
    if (!selected && farm.jobs.length) selected = farm.jobs[farm.jobs.length - 1].id;
    drawJobs(farm.jobs);
    drawDetail(farm.jobs.find((j) => j.id === selected));
    drawWorkers(farm.workers);
    const running = farm.jobs.filter((j) => !["done", "failed", "cancelled"].includes(j.state)).length;
    $("summary").textContent = `${farm.jobs.length} jobs (${running} active) · ${farm.workers.length} workers`;
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    $("updated").className = "muted";
  } catch (error) {
    $("updated").textContent = `coordinator unreachable (${error.message}); retrying`;
    $("updated").className = "error";
  }
}

refresh();
setInterval(refresh, 1000);
