// Talking to the ui: JSON-RPC over POST /rpc (the project named in X-Hero-Project), uploads with
// progress, and the ui's own ui.* methods. Errors come back as RpcError carrying the server's message.

let nextId = 1;

export class RpcError extends Error {
  constructor(code, message, data = null, project = null) {
    super(message);
    this.code = code;
    this.data = data;
    this.project = project;
  }
}

/**
 * What to show for a caught error: its message, or the thrown value itself when it is not an Error.
 * @param {unknown} err
 * @returns {string}
 */
export function errorMessage(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The JSON-RPC error code of a caught error (null when it is not an RpcError).
 * @param {unknown} err
 * @returns {number | null}
 */
export function errorCode(err) {
  return err instanceof RpcError ? err.code : null;
}

export const UNAUTHENTICATED = -32001;
export const NOT_FOUND = -32003;
export const INVALID_TOKEN = -32007;
export const RATE_LIMITED = -32005;

function headersFor(project) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (project) headers["X-Hero-Project"] = project;
  return headers;
}

async function post(project, payload, { keepalive = false } = {}) {
  let response;
  try {
    response = await fetch("/rpc", {
      method: "POST",
      headers: headersFor(project),
      body: JSON.stringify(payload),
      credentials: "same-origin",
      keepalive,
    });
  } catch (err) {
    throw new RpcError(-32603, "The app cannot reach its server. Is hero-assistance ui still running?", null, project);
  }
  if (response.status === 204) return null;
  let reply;
  try {
    reply = await response.json();
  } catch {
    throw new RpcError(-32603, `The server answered HTTP ${response.status}`, null, project);
  }
  return reply;
}

function unwrap(reply, project) {
  if (reply && reply.error) {
    const { code, message, data } = reply.error;
    throw new RpcError(code, message, data ?? null, project);
  }
  return reply ? reply.result : null;
}

// One call to a project (or to the ui itself when project is null and the method is ui.*).
export async function rpc(project, method, params = {}, options = {}) {
  const reply = await post(project, { jsonrpc: "2.0", id: nextId++, method, params }, options);
  return unwrap(reply, project);
}

export function ui(method, params = {}) {
  return rpc(null, method, params);
}

// Several calls to one project in one request. Resolves to [{ok, value}|{ok:false, error}] in order.
export async function batch(project, calls) {
  if (!calls.length) return [];
  const requests = calls.map(([method, params]) => ({ jsonrpc: "2.0", id: nextId++, method, params: params || {} }));
  const reply = await post(project, requests);
  if (!Array.isArray(reply)) {
    unwrap(reply, project); // throws the batch-level error
    throw new RpcError(-32603, "unexpected answer to a batch", null, project);
  }
  const byId = new Map(reply.map((r) => [r.id, r]));
  return requests.map((req) => {
    const r = byId.get(req.id);
    if (!r) return { ok: false, error: new RpcError(-32603, "no answer", null, project) };
    if (r.error) return { ok: false, error: new RpcError(r.error.code, r.error.message, r.error.data, project) };
    return { ok: true, value: r.result };
  });
}

// Every page of a list method, up to `max` items.
export async function listAll(project, method, params = {}, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await rpc(project, method, { ...params, limit: 200, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

function readAsBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(new RpcError(-32602, `Cannot read ${file.name || "the file"}`));
    reader.readAsDataURL(file);
  });
}

/**
 * attachment.upload with progress: fetch() cannot report upload progress, XMLHttpRequest can.
 * @param {string} project
 * @param {File} file
 * @param {(fraction: number) => void} [onProgress]
 * @returns {Promise<any>} the attachment record
 */
export async function upload(project, file, onProgress = () => {}) {
  const data = await readAsBase64(file);
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: nextId++,
    method: "attachment.upload",
    params: { filename: file.name || "screenshot.png", content_type: file.type || "application/octet-stream", data },
  });
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/rpc");
    for (const [k, v] of Object.entries(headersFor(project))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      try {
        resolve(unwrap(JSON.parse(xhr.responseText), project));
      } catch (err) {
        reject(err instanceof RpcError ? err : new RpcError(-32603, `Upload failed (HTTP ${xhr.status})`, null, project));
      }
    };
    xhr.onerror = () => reject(new RpcError(-32603, "Upload failed: the server could not be reached", null, project));
    xhr.send(body);
  });
}

export function attachmentUrl(project, id, thumb = false) {
  return `/attachments/${encodeURIComponent(project)}/${id}${thumb ? "/thumb" : ""}`;
}
