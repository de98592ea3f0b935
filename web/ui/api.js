// Calls to the public /api/v1 API with the session cookie. Errors keep the
// API's shape ({code, message, field, errors}) so that forms can show them
// by field, every one of them where the API lists several.

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `the server answered ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.field = body && body.field;
    this.errors = (body && body.errors) || [];
  }
}

/** Sends a request; resolves to the parsed JSON body (or null for 204). */
export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api/v1${path}`, init);
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

export const get = (path) => api("GET", path);
