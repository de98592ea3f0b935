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
