// The leadshop console. Every S3 request goes to /s3/… on this origin, where the server signs
// it with the signed-in key and hands it to its S3 layer: the console can do exactly what
// that key's policies allow, no more.
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import AwsS3 from '@uppy/aws-s3';
import { AlarmBanner, Dashboard as MetricsDashboard } from './dashboard.js';

const html = htm.bind(h);
let csrf = '';

// ---- HTTP ---------------------------------------------------------------------------------

class S3Failure extends Error {
  constructor(status, code, message) {
    super(`${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new S3Failure(res.status, 'ConsoleError', data.error || res.statusText);
  return data;
}

const encodeKey = (key) => key.split('/').map(encodeURIComponent).join('/');

// The gateway's path names the bucket alone; an object key rides in the `leadshop-key`
// parameter, because a browser resolves `.` and `..` in a URL path (a key such as
// `../other-bucket/x` would otherwise reach another bucket).
function s3Path(bucket) {
  return bucket ? `/s3/${encodeURIComponent(bucket)}` : '/s3/';
}

function queryString(query) {
  const parts = Object.entries(query || {})
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`));
  return parts.length ? `?${parts.join('&')}` : '';
}

async function s3(method, bucket, key, { query, headers, body } = {}) {
  const withKey = key === undefined ? query : { 'leadshop-key': key, ...(query || {}) };
  const res = await fetch(s3Path(bucket) + queryString(withKey), {
    method,
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrf, ...(headers || {}) },
    body,
  });
  const text = method === 'HEAD' ? '' : await res.text();
  if (!res.ok) {
    if (res.status === 401) throw new S3Failure(401, 'SignedOut', 'Sign in again.');
    const doc = text ? new DOMParser().parseFromString(text, 'application/xml') : null;
    const code = (doc && first(doc, 'Code')) || `HTTP${res.status}`;
    const message = (doc && first(doc, 'Message')) || res.statusText;
    throw new S3Failure(res.status, code, message);
  }
  return { res, text, xml: text && text.startsWith('<') ? new DOMParser().parseFromString(text, 'application/xml') : null };
}

function first(node, tag) {
  const el = node.getElementsByTagName(tag)[0];
  return el ? el.textContent : '';
}

function children(node, tag) {
  return Array.from(node.children).filter((c) => c.localName === tag);
}

const bytes = (n) => {
  if (n === undefined || n === null || n === '') return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
};

// ---- Sign-in ------------------------------------------------------------------------------

function SignIn({ onSignedIn }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    setBusy(true);
    setError('');
    try {
      onSignedIn(await api('POST', '/api/session', {
        accessKeyId: form.get('accessKeyId'),
        secretAccessKey: form.get('secretAccessKey'),
      }));
    } catch (err) {
      setError(err.message.replace(/^ConsoleError: /, ''));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="container">
      <article style="max-width: 32rem; margin: 4rem auto;">
        <header><h2>leadshop console</h2></header>
        <form onSubmit=${submit}>
          <label>Access key id
            <input id="access-key-id" name="accessKeyId" autocomplete="username" required />
          </label>
          <label>Secret access key
            <input id="secret-access-key" name="secretAccessKey" type="password" autocomplete="current-password" required />
          </label>
          ${error && html`<p id="sign-in-error" class="error" role="alert">${error}</p>`}
          <button id="sign-in" type="submit" aria-busy=${busy}>Sign in</button>
        </form>
        <footer class="muted"><small>${'Your keys: '}<code>leadshop keys list</code>${', or the '}<code>credentials</code>${' file of the data directory; '}<code>leadshop env</code>${' prints them for the AWS CLI and SDKs.'}</small></footer>
      </article>
    </main>`;
}

// ---- Buckets ------------------------------------------------------------------------------

function Buckets({ go, session }) {
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    s3('GET', '').then(({ xml }) => {
      const buckets = Array.from(xml.getElementsByTagName('Bucket')).map((b) => ({
        name: first(b, 'Name'), created: first(b, 'CreationDate'),
      }));
      setState({ buckets });
    }).catch((err) => setState({ error: err }));
  }, []);
  const open = (e) => {
    e.preventDefault();
    const name = new FormData(e.target).get('bucket').trim();
    if (name) go(`#/b/${encodeURIComponent(name)}/`);
  };
  return html`
    <section>
      <h3>Buckets</h3>
      ${state.loading && html`<p aria-busy="true">Loading buckets…</p>`}
      ${state.error && html`<p class="error" id="buckets-error">${state.error.message}</p>`}
      ${state.error && session.policyBuckets && session.policyBuckets.length > 0 && html`
        <p id="policy-buckets">Buckets this key's policy names:
          ${session.policyBuckets.map((b) => html` <a href=${`#/b/${encodeURIComponent(b)}/`}>${b}</a>`)}</p>`}
      ${state.buckets && html`
        <div class="table-scroll"><table id="buckets">
          <thead><tr><th>Name</th><th>Created</th></tr></thead>
          <tbody>${state.buckets.map((b) => html`
            <tr><td><a href=${`#/b/${encodeURIComponent(b.name)}/`}>${b.name}</a></td><td class="modified"><time datetime=${b.created}>${when(b.created)}</time></td></tr>`)}
          </tbody>
        </table></div>`}
      <form onSubmit=${open} role="group">
        <input id="open-bucket" name="bucket" placeholder="Open a bucket by name (e.g. leadshop-assets)" />
        <button type="submit">Open</button>
      </form>
    </section>`;
}

// ---- Objects ------------------------------------------------------------------------------

function Uploader({ bucket, prefix, onUploaded }) {
  const el = useRef(null);
  useEffect(() => {
    const uppy = new Uppy({ autoProceed: true, id: `upload-${bucket}` });
    uppy.use(Dashboard, {
      inline: true,
      target: el.current,
      height: 220,
      proudlyDisplayPoweredByUppy: false,
      note: `Drop files to upload to ${bucket}/${prefix} (a presigned POST, encrypted at rest).`,
    });
    uppy.use(AwsS3, {
      shouldUseMultipart: false,
      generateObjectKey: (file) => `${prefix}${file.name}`,
      signRequest: async (request) => {
        if (request.method !== 'PUT') throw new Error('only single uploads are signed here');
        const form = await api('POST', '/api/upload-form', {
          bucket, key: request.key, contentType: request.contentType || '',
        });
        return { url: new URL(form.url, window.location.origin).href, fields: form.fields };
      },
    });
    uppy.on('upload-success', () => onUploaded());
    return () => uppy.destroy();
  }, [bucket, prefix]);
  return html`<div id="uploader" ref=${el}></div>`;
}

// One page of a listing (PAGE keys); `from` is where the previous page ended.
const PAGE = 100;

async function listObjects(bucket, prefix, versions, from) {
  const query = versions
    ? { versions: '', prefix, delimiter: '/', 'max-keys': PAGE, 'key-marker': from && from.keyMarker, 'version-id-marker': from && from.versionIdMarker }
    : { 'list-type': '2', prefix, delimiter: '/', 'max-keys': PAGE, 'continuation-token': from && from.token };
  const { xml } = await s3('GET', bucket, undefined, { query });
  const root = xml.documentElement;
  const prefixes = Array.from(root.getElementsByTagName('CommonPrefixes')).map((p) => first(p, 'Prefix'));
  const rows = [];
  for (const node of Array.from(root.children)) {
    const kind = node.localName;
    if (kind !== 'Contents' && kind !== 'Version' && kind !== 'DeleteMarker') continue;
    rows.push({
      key: first(node, 'Key'),
      versionId: versions ? first(node, 'VersionId') : undefined,
      latest: versions ? first(node, 'IsLatest') === 'true' : true,
      deleteMarker: kind === 'DeleteMarker',
      size: first(node, 'Size'),
      modified: first(node, 'LastModified'),
      storageClass: first(node, 'StorageClass'),
    });
  }
  // S3 lists a key's versions newest first; the XML groups versions and delete markers apart.
  rows.sort((a, b) => (a.key === b.key ? b.modified.localeCompare(a.modified) : a.key.localeCompare(b.key)));
  const truncated = children(root, 'IsTruncated').some((n) => n.textContent === 'true');
  let next = null;
  if (truncated) {
    next = versions
      ? { keyMarker: first(root, 'NextKeyMarker'), versionIdMarker: first(root, 'NextVersionIdMarker') }
      : { token: first(root, 'NextContinuationToken') };
  }
  return { prefixes, rows, next };
}

async function headEncryption(bucket, row) {
  if (row.deleteMarker) return '—';
  const query = row.versionId ? { versionId: row.versionId } : {};
  try {
    const { res } = await s3('HEAD', bucket, row.key, { query });
    return res.headers.get('x-amz-server-side-encryption') || 'none';
  } catch (err) {
    return err.code;
  }
}

function Objects({ bucket, prefix, perms }) {
  const [versions, setVersions] = useState(false);
  const [state, setState] = useState({ loading: true });
  const [message, setMessage] = useState('');
  const [tick, setTick] = useState(0);
  // The pages walked so far: where each began, so "Previous" can go back.
  const [pages, setPages] = useState([null]);
  const refresh = () => setTick((t) => t + 1);
  const mayVersions = perms && perms.ListObjectVersions;
  const from = pages[pages.length - 1];
  useEffect(() => { setPages([null]); }, [bucket, prefix, versions]);

  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    listObjects(bucket, prefix, versions && mayVersions, from).then(async (list) => {
      const enc = await Promise.all(list.rows.map((r) => headEncryption(bucket, r)));
      list.rows.forEach((r, i) => { r.encryption = enc[i]; });
      if (live) setState({ ...list });
    }).catch((err) => live && setState({ error: err }));
    return () => { live = false; };
  }, [bucket, prefix, versions, tick, mayVersions, from]);

  const act = async (what, fn) => {
    setMessage('');
    try {
      await fn();
      setMessage(what);
      refresh();
    } catch (err) {
      setMessage(`${what} failed: ${err.message}`);
    }
  };
  const download = async (row) => {
    try {
      const { url } = await api('POST', '/api/download-url', { bucket, key: row.key, versionId: row.versionId });
      const a = document.createElement('a');
      a.href = url;
      a.rel = 'noopener';
      document.body.appendChild(a);
      a.click();
      a.remove();
    } catch (err) {
      setMessage(`Download failed: ${err.message}`);
    }
  };
  const remove = (row) => act(`Deleted ${row.key}`, () => s3('DELETE', bucket, row.key));
  const removeVersion = (row) => act(
    `Deleted version ${row.versionId} of ${row.key}`,
    () => s3('DELETE', bucket, row.key, { query: { versionId: row.versionId } }),
  );
  const restore = (row) => act(`Restored ${row.key} from version ${row.versionId}`, () => s3('PUT', bucket, row.key, {
    headers: { 'x-amz-copy-source': `/${encodeURIComponent(bucket)}/${encodeKey(row.key)}?versionId=${encodeURIComponent(row.versionId)}` },
  }));

  // Every segment of the prefix, empty ones and `.`/`..` included: they are parts of keys of
  // this bucket, never a way into another, and are shown as such.
  // A bucket that does not exist: its error alone, nothing to upload into.
  const missing = state.error && state.error.code === 'NoSuchBucket';
  const crumbs = [['', bucket]];
  let acc = '';
  const segments = prefix.split('/').slice(0, -1);
  for (const part of segments) {
    acc += `${part}/`;
    crumbs.push([acc, part]);
  }
  const dotted = segments.some((p) => p === '' || p === '.' || p === '..');
  const link = (p) => `#/b/${encodeURIComponent(bucket)}/${encodeKey(p)}`;
  return html`
    <section>
      <nav class="crumbs" aria-label="breadcrumb">
        ${crumbs.map(([p, label], i) => html`<a href=${link(p)}>${i === 0 ? label : html`<code>${label === '' ? '(empty)' : label}</code>`}</a> / `)}
      </nav>
      ${dotted && html`<p id="dotted-prefix" class="muted">The prefix <code>${prefix}</code> holds
        empty, <code>.</code> or <code>..</code> segments: these are keys of <strong>${bucket}</strong>, not paths
        into another bucket.</p>`}
      ${!missing && html`
        <${Uploader} bucket=${bucket} prefix=${prefix} onUploaded=${refresh} />
        <label>
          <input type="checkbox" role="switch" id="show-versions" checked=${versions}
            disabled=${!mayVersions} onChange=${(e) => setVersions(e.target.checked)} />
          Show versions${!mayVersions && html` <small class="muted">(this key may not list versions)</small>`}
        </label>`}
      ${message && html`<p id="object-message" role="status">${message}</p>`}
      ${state.error && html`<p class="error" id="objects-error">${state.error.message}</p>`}
      ${state.loading && !state.rows && html`<p aria-busy="true">Loading…</p>`}
      ${state.rows && html`
        <div class="table-scroll"><table id="objects">
          <thead><tr><th>Key</th><th>Version</th><th>Size</th><th>Last modified</th><th>Class</th><th>Encryption</th><th></th></tr></thead>
          <tbody>
            ${state.prefixes.map((p) => html`
              <tr><td colspan="7"><a href=${link(p)}>${p.slice(prefix.length)}</a></td></tr>`)}
            ${state.rows.map((r) => html`
              <tr class=${r.latest ? 'current' : 'noncurrent'} data-key=${r.key} data-version=${r.versionId || ''}>
                <td>${r.key.slice(prefix.length)}</td>
                <td>${r.versionId ? html`<code title=${r.versionId}>…${r.versionId.slice(-10)}</code>${r.latest ? ' (current)' : ''}` : ''}
                  ${r.deleteMarker ? html` <mark>delete marker</mark>` : ''}</td>
                <td class="size">${r.deleteMarker ? '' : bytes(r.size)}</td>
                <td class="modified"><time datetime=${r.modified} title=${r.modified}>${when(r.modified)}</time></td>
                <td>${r.deleteMarker ? '' : (r.storageClass || 'STANDARD')}</td>
                <td class="encryption">${r.encryption}</td>
                <td class="actions">
                  ${!r.deleteMarker && html`<button class="download secondary" onClick=${() => download(r)}>Download</button>`}
                  ${r.latest && !r.deleteMarker && html`<button class="delete contrast" onClick=${() => remove(r)}>Delete</button>`}
                  ${r.versionId && !r.latest && !r.deleteMarker && html`<button class="restore" onClick=${() => restore(r)}>Restore</button>`}
                  ${r.versionId && r.deleteMarker && html`<button class="undelete" onClick=${() => removeVersion(r)}>Remove delete marker</button>`}
                </td>
              </tr>`)}
          </tbody>
        </table></div>
        <div role="group" class="pager">
          <button id="previous-page" class="secondary outline" disabled=${pages.length < 2}
            onClick=${() => setPages((p) => p.slice(0, -1))}>Previous ${PAGE}</button>
          <button id="next-page" class="secondary outline" disabled=${!state.next}
            onClick=${() => setPages((p) => [...p, state.next])}>Next ${PAGE}</button>
        </div>`}
    </section>`;
}

// ---- Settings -----------------------------------------------------------------------------

const SETTINGS = [
  ['policy', 'Bucket policy'],
  ['publicAccessBlock', 'Public access block'],
  ['encryption', 'Default encryption'],
  ['versioning', 'Versioning'],
  ['cors', 'CORS'],
  ['lifecycle', 'Lifecycle'],
  ['logging', 'Access logging'],
  ['replication', 'Replication'],
];

// Elements that S3's JSON (and the spec documents, config/buckets/*/*.json) hold as lists,
// under their plural names.
const LISTS = {
  Rule: 'Rules', CORSRule: 'CORSRules', Transition: 'Transitions',
  NoncurrentVersionTransition: 'NoncurrentVersionTransitions', Tag: 'Tags', Grant: 'Grants',
  TargetGrant: 'TargetGrants', AllowedHeader: 'AllowedHeaders', AllowedMethod: 'AllowedMethods',
  AllowedOrigin: 'AllowedOrigins', ExposeHeader: 'ExposeHeaders',
};
// Text kept as text even when it looks like a number or a boolean.
const TEXT = new Set(['ID', 'Prefix', 'Key', 'Value', 'TargetPrefix', 'KMSMasterKeyID']);

// An S3 XML document as the JSON of the same setting: element names as keys, the list
// elements under their plural names, numbers and booleans as such.
function xmlToJson(el) {
  const kids = Array.from(el.children);
  if (kids.length === 0) {
    const t = el.textContent;
    if (TEXT.has(el.localName)) return t;
    if (t === 'true' || t === 'false') return t === 'true';
    return /^-?\d+$/.test(t) ? Number(t) : t;
  }
  const out = {};
  for (const k of kids) {
    const value = xmlToJson(k);
    const list = LISTS[k.localName];
    if (list) (out[list] ||= []).push(value);
    else out[k.localName] = value;
  }
  return out;
}

const prettyJsonOfXml = (xml) => JSON.stringify(xml ? xmlToJson(xml.documentElement) : {}, null, 2);

// A timestamp as one unbreakable token: `2026-12-07 10:15:42 UTC`.
const when = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '');

function corsToJson(xml) {
  const rules = Array.from(xml.getElementsByTagName('CORSRule')).map((r) => {
    const all = (tag) => children(r, tag).map((c) => c.textContent);
    const rule = {};
    if (first(r, 'ID')) rule.ID = first(r, 'ID');
    rule.AllowedHeaders = all('AllowedHeader');
    rule.AllowedMethods = all('AllowedMethod');
    rule.AllowedOrigins = all('AllowedOrigin');
    rule.ExposeHeaders = all('ExposeHeader');
    if (first(r, 'MaxAgeSeconds')) rule.MaxAgeSeconds = Number(first(r, 'MaxAgeSeconds'));
    return rule;
  });
  return JSON.stringify({ CORSRules: rules }, null, 2);
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function corsToXml(text) {
  const doc = JSON.parse(text);
  const rules = (doc.CORSRules || []).map((r) => {
    const many = (tag, list) => (list || []).map((v) => `<${tag}>${esc(v)}</${tag}>`).join('');
    return `<CORSRule>${r.ID ? `<ID>${esc(r.ID)}</ID>` : ''}${many('AllowedHeader', r.AllowedHeaders)}${many('AllowedMethod', r.AllowedMethods)}${many('AllowedOrigin', r.AllowedOrigins)}${many('ExposeHeader', r.ExposeHeaders)}${r.MaxAgeSeconds !== undefined ? `<MaxAgeSeconds>${Number(r.MaxAgeSeconds)}</MaxAgeSeconds>` : ''}</CORSRule>`;
  }).join('');
  return `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${rules}</CORSConfiguration>`;
}

// What the replication worker last counted for a bucket's rules: versions and bytes waiting,
// replicated and FAILED since the server started, the last replication latency.
function Backlog({ bucket, tick }) {
  const [rows, setRows] = useState(null);
  useEffect(() => {
    api('GET', `/api/replication?bucket=${encodeURIComponent(bucket)}`)
      .then((r) => setRows(r.rules)).catch(() => setRows([]));
  }, [bucket, tick]);
  if (!rows) return html`<p aria-busy="true"></p>`;
  if (rows.length === 0) return html`<p class="muted" id="replication-backlog">Nothing waiting; nothing replicated since the server started.</p>`;
  return html`
    <table id="replication-backlog">
      <thead><tr><th>Rule</th><th>Pending</th><th>Pending bytes</th><th>Replicated</th><th>Failed</th><th>Last latency</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr>
        <td>${r.rule}</td><td>${r.pendingOperations}</td><td>${bytes(r.pendingBytes)}</td>
        <td>${r.completed}</td><td>${r.failed}</td>
        <td>${r.lastLatencySeconds === null ? '–' : `${r.lastLatencySeconds.toFixed(1)} s`}</td></tr>`)}
      </tbody>
    </table>`;
}

function Settings({ bucket, perms }) {
  const [values, setValues] = useState({});
  const [tick, setTick] = useState(0);
  const [message, setMessage] = useState('');
  useEffect(() => {
    let live = true;
    Promise.all(SETTINGS.map(async ([q]) => {
      try {
        const { text, xml } = await s3('GET', bucket, undefined, { query: { [q]: '' } });
        if (q === 'policy') return [q, { text: JSON.stringify(JSON.parse(text), null, 2) }];
        if (q === 'cors') return [q, { text: corsToJson(xml) }];
        if (q === 'versioning') return [q, { text: first(xml, 'Status') || 'Never enabled' }];
        return [q, { text: prettyJsonOfXml(xml) }];
      } catch (err) {
        return [q, { error: err }];
      }
    })).then((entries) => live && setValues(Object.fromEntries(entries)));
    return () => { live = false; };
  }, [bucket, tick]);

  const save = async (what, fn) => {
    setMessage('');
    try {
      await fn();
      setMessage(`${what} saved.`);
      setTick((t) => t + 1);
    } catch (err) {
      setMessage(`${what} not saved: ${err.message}`);
    }
  };
  const mayEdit = perms && (perms.PutBucketPolicy || perms.PutBucketCors || perms.PutBucketVersioning);
  const versioningXml = (status) => `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${status}</Status></VersioningConfiguration>`;
  const editor = (q, label, onSave) => html`
    <form class="editor" id=${`edit-${q}`} onSubmit=${(e) => {
      e.preventDefault();
      const text = new FormData(e.target).get('doc');
      save(label, () => onSave(text));
    }}>
      <textarea name="doc" rows="10" spellcheck="false">${values[q] && values[q].text}</textarea>
      <button type="submit">Save ${label}</button>
    </form>`;

  return html`
    <section class="settings" id="settings">
      ${!mayEdit && html`<p class="muted" id="read-only-note">This key may not change this bucket's settings; they are shown read-only.</p>`}
      ${message && html`<p id="settings-message" role="status">${message}</p>`}
      ${SETTINGS.map(([q, label]) => {
        const v = values[q];
        const editable = (q === 'policy' && perms.PutBucketPolicy) || (q === 'cors' && perms.PutBucketCors);
        return html`
          <article id=${`setting-${q}`}>
            <header><strong>${label}</strong></header>
            ${!v && html`<p aria-busy="true"></p>`}
            ${v && v.error && html`<p class="muted">${v.error.code === 'AccessDenied' ? 'Not visible to this key (AccessDenied)' : v.error.message}</p>`}
            ${v && !v.error && !editable && html`<pre>${v.text}</pre>`}
            ${q === 'replication' && v && !v.error && html`<${Backlog} bucket=${bucket} tick=${tick} />`}
            ${v && editable && q === 'policy' && editor(q, 'bucket policy', (text) => s3('PUT', bucket, undefined, {
              query: { policy: '' }, headers: { 'Content-Type': 'application/json' }, body: text,
            }))}
            ${v && editable && q === 'cors' && editor(q, 'CORS', (text) => s3('PUT', bucket, undefined, {
              query: { cors: '' }, headers: { 'Content-Type': 'application/xml' }, body: corsToXml(text),
            }))}
            ${q === 'versioning' && perms.PutBucketVersioning && html`
              <div role="group" id="versioning-controls">
                <button onClick=${() => save('Versioning', () => s3('PUT', bucket, undefined, { query: { versioning: '' }, body: versioningXml('Enabled') }))}>Enable</button>
                <button class="secondary" onClick=${() => save('Versioning', () => s3('PUT', bucket, undefined, { query: { versioning: '' }, body: versioningXml('Suspended') }))}>Suspend</button>
              </div>`}
          </article>`;
      })}
    </section>`;
}

// ---- Shell --------------------------------------------------------------------------------

function Bucket({ bucket, prefix, tab, go }) {
  const [perms, setPerms] = useState(null);
  useEffect(() => {
    api('GET', `/api/permissions?bucket=${encodeURIComponent(bucket)}`).then(setPerms).catch(() => setPerms({}));
  }, [bucket]);
  const base = `#/b/${encodeURIComponent(bucket)}/`;
  return html`
    <section>
      <h3><a href="#/">Buckets</a> / ${bucket}</h3>
      <div class="tabs" role="group">
        <button id="tab-objects" class=${tab === 'objects' ? '' : 'outline'} onClick=${() => go(`${base}${encodeKey(prefix)}`)}>Objects</button>
        <button id="tab-settings" class=${tab === 'settings' ? '' : 'outline'} onClick=${() => go(`#/s/${encodeURIComponent(bucket)}`)}>Settings</button>
      </div>
      ${perms && tab === 'objects' && html`<${Objects} bucket=${bucket} prefix=${prefix} perms=${perms} />`}
      ${perms && tab === 'settings' && html`<${Settings} bucket=${bucket} perms=${perms} />`}
    </section>`;
}

function parseRoute(hash) {
  const m = hash.match(/^#\/b\/([^/]+)\/(.*)$/);
  if (m) return { bucket: decodeURIComponent(m[1]), prefix: m[2].split('/').map(decodeURIComponent).join('/'), tab: 'objects' };
  const s = hash.match(/^#\/s\/([^/]+)$/);
  if (s) return { bucket: decodeURIComponent(s[1]), prefix: '', tab: 'settings' };
  if (hash === '#/dashboard') return { dashboard: true };
  return {};
}

function App() {
  const [session, setSession] = useState(undefined);
  const [hash, setHash] = useState(window.location.hash);
  const [alarm, setAlarm] = useState(null);
  useEffect(() => {
    // The budget alarm's banner, on every page of a key that may read metrics.
    if (session) api('GET', '/api/dashboard').then(setAlarm).catch(() => setAlarm(null));
  }, [session, hash]);
  useEffect(() => {
    const onHash = () => setHash(window.location.hash);
    window.addEventListener('hashchange', onHash);
    api('GET', '/api/session').then((s) => { csrf = s.csrf; setSession(s); }).catch(() => setSession(null));
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const go = (h2) => { window.location.hash = h2; };
  if (session === undefined) return html`<main class="container"><p aria-busy="true">Loading…</p></main>`;
  if (!session) return html`<${SignIn} onSignedIn=${(s) => { csrf = s.csrf; setSession(s); }} />`;
  const signOut = async () => {
    await api('DELETE', '/api/session').catch(() => {});
    csrf = '';
    setSession(null);
  };
  const route = parseRoute(hash);
  return html`
    <main class="container">
      <header class="topbar">
        <h2><a href="#/">leadshop</a></h2>
        <div>
          Signed in as <strong id="signed-in-user">${session.user}</strong>
          <small class="muted"> (<code>${session.accessKeyId}</code>) · S3 endpoint <code>${session.s3Endpoint}</code></small>
        </div>
        <a href="#/dashboard" id="dashboard-link">Dashboard</a>
        <button id="sign-out" class="secondary outline" style="width:auto" onClick=${signOut}>Sign out</button>
      </header>
      ${!route.dashboard && html`<${AlarmBanner} data=${alarm} />`}
      ${route.dashboard ? html`<${MetricsDashboard} api=${api} />` : route.bucket
        ? html`<${Bucket} key=${route.bucket} bucket=${route.bucket} prefix=${route.prefix} tab=${route.tab} go=${go} />`
        : html`<${Buckets} go=${go} session=${session} />`}
    </main>`;
}

render(html`<${App} />`, document.getElementById('app'));
