// LeadFactory's upload component: presigned POST (or PUT) straight to the bucket, with
// progress, then a presigned GET to read the file back and check its SHA-256.
const $ = (id) => document.getElementById(id);

async function presign(body) {
  const r = await fetch("/api/presign", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`presign failed: ${r.status} ${await r.text()}`);
  return r.json();
}

// XMLHttpRequest for upload progress (fetch has none). Listening to upload progress makes
// the browser send a CORS preflight first, for POST too.
function send(method, url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) $("progress").value = (100 * e.loaded) / e.total;
    };
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300
        ? resolve({
            status: xhr.status,
            etag: xhr.getResponseHeader("ETag"),
            versionId: xhr.getResponseHeader("x-amz-version-id"),
          })
        : reject(new Error(`upload refused: ${xhr.status} ${xhr.responseText.slice(0, 300)}`));
    xhr.onerror = () => reject(new Error("network error (blocked by CORS, or unreachable)"));
    xhr.send(body);
  });
}

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function upload() {
  const file = $("file").files[0];
  if (!file) return;
  const method = $("method").value;
  const type = file.type || "application/octet-stream";
  const key = `tmp/browser/${Date.now()}-${file.name}`;
  document.body.dataset.state = "uploading";
  $("status").textContent = `uploading ${file.name} (${file.size} bytes) with ${method}`;
  const result = { key, method, size: file.size };
  try {
    const t0 = performance.now();
    if (method === "POST") {
      const { url, fields } = await presign({ method, key, content_type: type, size: file.size });
      result.uploadUrl = url.split("?")[0];
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append("file", file); // the file comes last
      Object.assign(result, await send("POST", url, form));
    } else {
      const { url } = await presign({ method, key, content_type: type });
      result.uploadUrl = url.split("?")[0];
      Object.assign(result, await send("PUT", url, file, { "Content-Type": type }));
    }
    result.uploadMs = Math.round(performance.now() - t0);
    // Read it back the way the app's downloads work: a presigned GET.
    const { url } = await presign({ method: "GET", key });
    const r = await fetch(url);
    if (!r.ok) throw new Error(`download failed: ${r.status}`);
    const back = await r.arrayBuffer();
    result.downloaded = back.byteLength;
    result.sha256 = hex(await crypto.subtle.digest("SHA-256", back));
    result.downloadEtag = r.headers.get("ETag");
    result.ok = true;
    document.body.dataset.state = "done";
  } catch (e) {
    result.ok = false;
    result.error = String(e);
    document.body.dataset.state = "failed";
  }
  $("status").textContent = JSON.stringify(result, null, 2);
}

$("upload").addEventListener("click", upload);
