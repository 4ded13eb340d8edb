// Small hand-written SVG charts for the planner page: a heatmap, an UpSet plot and a
// line chart. No library: each function takes plain arrays and returns an <svg>
// element; every chart on the page also has a table beside it (the accessible form).
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function newSvg(width, height, title) {
  const svg = svgEl("svg", {xmlns: SVG_NS, width, height, viewBox: `0 0 ${width} ${height}`,
                           role: "img", "aria-label": title, "font-family": "sans-serif",
                           "font-size": "11"});
  svg.appendChild(svgEl("title", {}, title));
  svg.appendChild(svgEl("rect", {x: 0, y: 0, width, height, fill: "#ffffff"}));
  return svg;
}

function shorten(s, n) {
  s = String(s);
  return s.length > n ? s.slice(0, n - 1) + "\u2026" : s;
}

// White to dark blue; text switches to white on dark cells (contrast >= 4.5:1).
function blue(t) {
  t = Math.max(0, Math.min(1, t));
  const r = Math.round(255 - t * (255 - 8)), g = Math.round(255 - t * (255 - 48));
  const b = Math.round(255 - t * (255 - 107));
  return {fill: `rgb(${r},${g},${b})`, text: t > 0.5 ? "#ffffff" : "#111111"};
}

// matrix: rows of numbers or null (suppressed); labels: creator names.
function heatmap(labels, matrix, opts) {
  const n = labels.length, cell = n > 12 ? 34 : 48, left = 160, top = 120;
  const svg = newSvg(left + n * cell + 100, top + n * cell + 10, opts.title);
  const off = [];
  matrix.forEach((row, i) => row.forEach((v, j) => { if (i !== j && v !== null) off.push(v); }));
  const max = off.length ? Math.max(...off) : 1;
  // colour: 0..max, except lift, where 1 (independence) is white, on a log scale
  const shade = opts.lift ? v => Math.log(Math.max(v, 1)) / Math.log(Math.max(max, 2))
    : v => (max > 0 ? v / max : 0);
  labels.forEach((name, i) => {
    svg.appendChild(svgEl("text", {x: left - 6, y: top + i * cell + cell / 2 + 4,
                                   "text-anchor": "end"}, shorten(name, 24)));
    const x = left + i * cell + cell / 2, y = top - 6;
    svg.appendChild(svgEl("text", {x, y, transform: `rotate(-45 ${x} ${y})`},
                          shorten(name, 24)));
  });
  matrix.forEach((row, i) => row.forEach((v, j) => {
    const diag = i === j;
    const c = v === null ? {fill: "#e6e6e6", text: "#111111"}
      : diag ? {fill: "#f5f5f5", text: "#555555"} : blue(shade(v));
    const g = svgEl("g", {});
    g.appendChild(svgEl("rect", {x: left + j * cell, y: top + i * cell, width: cell - 1,
                                 height: cell - 1, fill: c.fill}));
    g.appendChild(svgEl("text", {x: left + j * cell + cell / 2, y: top + i * cell + cell / 2 + 4,
                                 "text-anchor": "middle", fill: c.text},
                        v === null ? "\u2013" : opts.format(v)));
    g.appendChild(svgEl("title", {}, `${labels[i]} / ${labels[j]}: ${v === null ? "suppressed" : opts.format(v)}`));
    svg.appendChild(g);
  }));
  return svg;
}

// regions: [{creators: [index...], count}] sorted by count; labels: names by index.
function upset(labels, regions, title) {
  const shown = regions.slice(0, 24), n = labels.length;
  const col = 26, left = 160, barH = 140, row = 18, top = 20;
  const width = left + Math.max(1, shown.length) * col + 10;
  const svg = newSvg(width, top + barH + 10 + n * row + 10, title);
  const max = shown.length ? Math.max(...shown.map(r => r.count)) : 1;
  shown.forEach((r, k) => {
    const h = max > 0 ? (r.count / max) * barH : 0, x = left + k * col + 4;
    svg.appendChild(svgEl("rect", {x, y: top + barH - h, width: col - 8, height: h,
                                   fill: "#08306b"}));
    svg.appendChild(svgEl("text", {x: x + (col - 8) / 2, y: top + barH - h - 3,
                                   "text-anchor": "middle", "font-size": "9"},
                          compact(r.count)));
  });
  const y0 = top + barH + 10;
  labels.forEach((name, i) => {
    svg.appendChild(svgEl("text", {x: left - 6, y: y0 + i * row + 12, "text-anchor": "end"},
                          shorten(name, 24)));
  });
  shown.forEach((r, k) => {
    const cx = left + k * col + col / 2, members = new Set(r.creators);
    const ys = [];
    for (let i = 0; i < n; i++) {
      const on = members.has(i), cy = y0 + i * row + 8;
      if (on) ys.push(cy);
      svg.appendChild(svgEl("circle", {cx, cy, r: 5, fill: on ? "#08306b" : "#d0d0d0"}));
    }
    if (ys.length > 1) {
      svg.appendChild(svgEl("line", {x1: cx, x2: cx, y1: Math.min(...ys), y2: Math.max(...ys),
                                     stroke: "#08306b", "stroke-width": 2}));
    }
  });
  return svg;
}

// series: [{name, color, points: [[x, y]...]}]
function lineChart(series, opts) {
  const width = 560, height = 260, left = 70, right = 150, top = 16, bottom = 40;
  const svg = newSvg(width, height, opts.title);
  const xs = series.flatMap(s => s.points.map(p => p[0]));
  const ys = series.flatMap(s => s.points.map(p => p[1]));
  const xMax = Math.max(1, ...xs), yMax = Math.max(1, ...ys);
  const px = x => left + (x / xMax) * (width - left - right);
  const py = y => height - bottom - (y / yMax) * (height - top - bottom);
  svg.appendChild(svgEl("line", {x1: left, x2: width - right, y1: height - bottom,
                                 y2: height - bottom, stroke: "#333"}));
  svg.appendChild(svgEl("line", {x1: left, x2: left, y1: top, y2: height - bottom,
                                 stroke: "#333"}));
  for (const f of [0, 0.5, 1]) {
    svg.appendChild(svgEl("text", {x: left - 4, y: py(f * yMax) + 4, "text-anchor": "end"},
                          compact(f * yMax)));
  }
  svg.appendChild(svgEl("text", {x: (left + width - right) / 2, y: height - 8,
                                 "text-anchor": "middle"}, opts.xLabel));
  series.forEach((s, k) => {
    const pts = s.points.map(p => `${px(p[0])},${py(p[1])}`).join(" ");
    svg.appendChild(svgEl("polyline", {points: pts, fill: "none", stroke: s.color,
                                       "stroke-width": 2, "stroke-dasharray": s.dash || ""}));
    s.points.forEach(p => svg.appendChild(svgEl("circle", {cx: px(p[0]), cy: py(p[1]), r: 3,
                                                           fill: s.color})));
    svg.appendChild(svgEl("rect", {x: width - right + 10, y: top + k * 18, width: 12,
                                   height: 3, fill: s.color}));
    svg.appendChild(svgEl("text", {x: width - right + 28, y: top + k * 18 + 5}, s.name));
  });
  return svg;
}

function compact(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
  if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

window.charts = {heatmap, upset, lineChart, compact};
