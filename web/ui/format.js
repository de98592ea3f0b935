// Times in the viewer's own time zone, and durations in words.

const dateTime = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "short",
});

/** An RFC 3339 time as the viewer's local date and time. */
export function when(rfc3339) {
  return rfc3339 ? dateTime.format(new Date(rfc3339)) : "never";
}

/** How long ago an RFC 3339 time was, in a few words. */
export function ago(rfc3339, now = Date.now()) {
  if (!rfc3339) return "never";
  const seconds = Math.max(0, Math.round((now - Date.parse(rfc3339)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

/** An uptime share in percent, with two decimals unless it is whole. */
export function percent(value) {
  return value == null ? "no checks" : `${value.toFixed(value >= 99.995 ? 0 : 2)} %`;
}

/** A duration in milliseconds, in ms under 10 s and in seconds above. */
export function millis(value) {
  if (value == null) return "";
  // Under 10 ms the fraction matters (a ping's round trip, an axis's
  // ticks between 1 and 2 ms): kept to two significant figures.
  if (value < 10) return `${+value.toFixed(value < 1 ? 2 : 1)} ms`;
  return value < 10_000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}

/** An API name (`confirmed_outage`) as words. */
export function words(name) {
  return name.replaceAll("_", " ");
}

/** A size in bytes, in B, KB or MB (0 B: from the cache). */
export function bytes(value) {
  if (value == null) return "";
  if (value < 1024) return `${value} B`;
  return value < 1024 * 1024 ? `${(value / 1024).toFixed(1)} KB` : `${(value / 1024 / 1024).toFixed(1)} MB`;
}

/** A length of time in words: "1 min", "15 min", "2 h", "1 day". */
export function span(ms) {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86400_000) return `${Math.round(ms / 3600_000)} h`;
  const days = Math.round(ms / 86400_000);
  return `${days} day${days === 1 ? "" : "s"}`;
}
