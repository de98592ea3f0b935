// Performance API marks for the moment a screen first shows all its data,
// so that how long a screen takes to be complete can be measured in a real
// browser (`performance.getEntriesByName("sightline:overview-complete")`).

/** Marks `name` once per page load: the first complete view of a screen. */
export function markComplete(name) {
  if (performance.getEntriesByName(name, "mark").length === 0) performance.mark(name);
}
