// The min_score slider of both pages: grey out the ranked passages scoring below it (what a `min_score` cut
// would drop), without scoring anything again.

/** Mark each `li` of `list` (its `data-score`) below the slider's value as dropped; say how many stay. */
export function applyCut(list, slider, valueLabel, note) {
  const cut = Number(slider.value);
  valueLabel.textContent = cut.toFixed(2);
  let kept = 0;
  for (const li of list.children) {
    const dropped = Number(li.dataset.score) < cut;
    li.classList.toggle("dropped", dropped);
    kept += !dropped;
  }
  note.textContent = cut > 0 ? `${kept} of ${list.children.length} passages kept` : "";
}
