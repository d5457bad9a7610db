// What both pages share: the passages typed into the box, and the ranking drawn as a list (the static demo,
// demo.js, and the page of `crossrank serve`, served.js).
import { applyCut as applyCutTo } from "./cut.js";

const $ = (id) => document.getElementById(id);

/** The passages in the box: one per line, or blocks separated by a blank line. */
export function passages() {
  const text = $("passages").value.replace(/\r/g, "");
  const parts = /\n\s*\n/.test(text) ? text.split(/\n\s*\n/) : text.split("\n");
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** Draw `results` ([{index, score, scoredBy?}], best first) of `docs` as the list, then grey out the cut. */
export function showResults(docs, results) {
  const list = $("results");
  list.innerHTML = "";
  results.forEach((r, rank) => {
    const li = document.createElement("li");
    li.dataset.index = r.index;
    li.dataset.score = r.score;
    if (r.scoredBy) li.dataset.scoredBy = r.scoredBy;
    const moved = r.index - rank;
    const arrow = moved > 0 ? `<span class="up">▲ ${moved}</span>` : moved < 0 ? `<span class="down">▼ ${-moved}</span>` : "<span>=</span>";
    li.innerHTML = `<div class="meta"><strong>#${rank + 1}</strong><span class="score">${r.score.toFixed(3)}</span>` +
      `<span class="bar" aria-hidden="true"><span style="width:${Math.round(r.score * 100)}%"></span></span>` +
      `<span>was #${r.index + 1}</span>${arrow}</div><div class="text"></div>`;
    li.querySelector(".text").textContent = docs[r.index];
    list.appendChild(li);
  });
  applyCut();
}

/** Grey out the passages scoring below the slider's minimum (what `min_score` would drop); no rescoring. */
export function applyCut() {
  applyCutTo($("results"), $("min-score"), $("min-score-value"), $("cut-note"));
}
