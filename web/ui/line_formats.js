// The one-per-line text forms of a check's lists and maps, as forms show
// them and read them back: request headers (`Name: value`), values taken
// from an answer (`token = $.data.token`, `id = header X-Request-Id`,
// `code = regex code=(\w+)`) and conditions on a JSON answer
// (`$.status == "ok"`, `$.items[0] exists`, `$.error missing`).
// Each pair turns a document's value into text and that text back into
// exactly the document the API takes.

const lines = (text) => text.split("\n").map((line) => line.trim()).filter(Boolean);

/** Splits `line` at the first `separator`; `[line, ""]` without one. */
function split(line, separator) {
  const at = line.indexOf(separator);
  return at < 0 ? [line, ""] : [line.slice(0, at).trim(), line.slice(at + separator.length).trim()];
}

/** `name = value` lines as an object. */
export function variablesOf(text) {
  return Object.fromEntries(lines(text).map((line) => split(line, "=")));
}

export function variablesText(variables) {
  return Object.entries(variables ?? {}).map(([name, value]) => `${name} = ${value}`).join("\n");
}

/** `Name: value` lines as a headers object. */
export function headersOf(text) {
  return Object.fromEntries(lines(text).map((line) => split(line, ":")));
}

export function headersText(headers) {
  return Object.entries(headers ?? {}).map(([name, value]) => `${name}: ${value}`).join("\n");
}

/** `name = source` lines as extractions: a JSON path, `header X`, or `regex …`. */
export function extractionsOf(text) {
  return lines(text).map((line) => {
    const [name, source] = split(line, "=");
    if (source.startsWith("header ")) return { name, header: source.slice(7).trim() };
    if (source.startsWith("regex ")) return { name, regex: source.slice(6).trim() };
    return { name, json_path: source };
  });
}

export function extractionsText(extractions) {
  return (extractions ?? [])
    .map((e) => {
      if (e.header != null) return `${e.name} = header ${e.header}`;
      if (e.regex != null) return `${e.name} = regex ${e.regex}`;
      return `${e.name} = ${e.json_path ?? ""}`;
    })
    .join("\n");
}

/** `$.path == value`, `$.path exists` and `$.path missing` lines as JSON assertions. */
export function assertionsOf(text) {
  return lines(text).map((line) => {
    if (line.endsWith(" exists")) return { path: line.slice(0, -7).trim(), exists: true };
    if (line.endsWith(" missing")) return { path: line.slice(0, -8).trim(), exists: false };
    const [path, expected] = split(line, "==");
    if (!line.includes("==")) return { path };
    try {
      return { path, equals: JSON.parse(expected) };
    } catch {
      return { path, equals: expected };
    }
  });
}

export function assertionsText(assertions) {
  return (assertions ?? [])
    .map((a) => {
      if (a.equals !== undefined) return `${a.path} == ${JSON.stringify(a.equals)}`;
      return `${a.path} ${a.exists === false ? "missing" : "exists"}`;
    })
    .join("\n");
}
